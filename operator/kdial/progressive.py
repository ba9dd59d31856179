"""Progressive pacing: one call per Ready agent (渐进式), as a cap on calls in flight (pure).

An answered call takes its agent out of Ready (Reserved, then Talking), and holds a place
among the campaign's calls in flight until it ends. So the calls in flight that no agent has
taken yet stay at most the Ready agents exactly when all calls in flight stay at most the
agents who are Ready, Reserved or Talking. That count is the cap the ledger's claim enforces
campaign-wide, across every worker, in one atomic step.
"""

from __future__ import annotations

from collections.abc import Iterable

from kdial.agent_state import AgentState

__all__ = ["progressive_cap"]

#: Agents whose call, if any, is still in flight: each may hold one.
_HOLDING = frozenset({AgentState.READY, AgentState.RESERVED, AgentState.TALKING})


def progressive_cap(states: Iterable[AgentState], max_concurrency: int | None = None) -> int:
    """Most calls the campaign may have in flight: one per agent Ready or on a call still up,
    within the campaign's own `max_concurrency` when it sets one."""
    cap = sum(1 for state in states if state in _HOLDING)
    return cap if max_concurrency is None else min(cap, max_concurrency)
