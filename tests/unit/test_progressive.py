"""kdial.progressive: one call in flight per Ready agent, counted over the agents' states."""

from __future__ import annotations

from kdial.agent_state import AgentState
from kdial.progressive import progressive_cap

S = AgentState


def test_no_ready_agent_no_call() -> None:
    assert progressive_cap([]) == 0
    assert progressive_cap([S.NOT_READY, S.WRAP_UP, S.LOGGED_OUT]) == 0


def test_one_call_per_ready_agent_besides_the_calls_agents_already_took() -> None:
    # Two Ready agents may get a call each; the Reserved and the Talking one hold theirs, still
    # in flight. Wrap-up and NotReady hold nothing.
    floor = [S.READY, S.READY, S.RESERVED, S.TALKING, S.WRAP_UP, S.NOT_READY]
    assert progressive_cap(floor) == 4


def test_the_campaigns_own_cap_still_holds() -> None:
    assert progressive_cap([S.READY] * 5, max_concurrency=3) == 3
    assert progressive_cap([S.READY], max_concurrency=3) == 1
