"""kdial.agent_lines.predictive_cap: `maxDialRatio` calls in flight per agent a Predictive
campaign dials for, logged in and not NotReady."""

from __future__ import annotations

from kdial.agent_lines import DEFAULT_PREDICTIVE_RATIO, predictive_cap
from kdial.agent_state import AgentState

S = AgentState


def test_agents_on_a_call_count_as_much_as_ready_ones() -> None:
    # Everyone talking or wrapping up: the dialer keeps calling ahead of them.
    busy = [S.RESERVED, S.TALKING, S.WRAP_UP, S.READY]
    assert predictive_cap(busy, "2.5") == 10
    assert predictive_cap([S.TALKING, S.WRAP_UP], "1.5") == 3


def test_an_agent_not_ready_or_logged_out_counts_for_no_call() -> None:
    floor = [S.READY, S.TALKING, S.NOT_READY, S.NOT_READY, S.LOGGED_OUT]
    assert predictive_cap(floor, "2.5") == 5, "2 agents dialled for, not the 4 logged in"
    assert predictive_cap([S.NOT_READY, S.LOGGED_OUT], "3") == 0


def test_the_ratio_defaults_and_rounds_up() -> None:
    assert predictive_cap([S.READY, S.READY], None) == 2 * DEFAULT_PREDICTIVE_RATIO
    assert predictive_cap([S.READY], "1.01") == 2
