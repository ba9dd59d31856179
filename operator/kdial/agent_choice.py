"""Which Ready agent takes an answered call (pure): the one longest in Ready, so that calls
spread evenly over the floor and nobody waits while a colleague takes call after call."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from kdial.agent_state import AgentState
from kdial.state.agents import AgentRecord

__all__ = ["next_agent"]


def next_agent(agents: Mapping[str, AgentRecord], passed_over: Collection[str] = ()) -> str | None:
    """The Ready agent with an endpoint who has been Ready longest (ties by name), leaving out
    `passed_over` (agents this call already tried); None when there is none."""
    ready = [
        (record.since_ms, name)
        for name, record in agents.items()
        if record.state is AgentState.READY and record.endpoint and name not in passed_over
    ]
    return min(ready)[1] if ready else None
