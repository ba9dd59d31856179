"""kdial.agent_choice: the Ready agent longest in Ready takes the answered call."""

from __future__ import annotations

from kdial.agent_choice import next_agent
from kdial.agent_state import AgentState
from kdial.state.agents import AgentRecord


def agent(state: AgentState, since_ms: int, endpoint: str | None = "1001") -> AgentRecord:
    return AgentRecord(state=state, since_ms=since_ms, endpoint=endpoint)


def test_the_agent_longest_in_ready_first() -> None:
    floor = {
        "ana": agent(AgentState.READY, 300),
        "bob": agent(AgentState.READY, 100),
        "cy": agent(AgentState.TALKING, 50),
        "dee": agent(AgentState.NOT_READY, 10),
    }
    assert next_agent(floor) == "bob"
    assert next_agent(floor, passed_over=["bob"]) == "ana", "after one who did not answer"
    assert next_agent(floor, passed_over=["bob", "ana"]) is None


def test_ties_go_by_name_and_an_agent_without_an_endpoint_is_never_chosen() -> None:
    floor = {"zed": agent(AgentState.READY, 5), "amy": agent(AgentState.READY, 5)}
    assert next_agent(floor) == "amy"
    assert next_agent({"ghost": agent(AgentState.READY, 1, endpoint=None)}) is None


def test_nobody_ready_nobody_chosen() -> None:
    assert next_agent({}) is None
    assert next_agent({"ana": agent(AgentState.WRAP_UP, 1)}) is None
