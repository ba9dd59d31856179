"""kdial.predictive: what the campaign's pacer sees of the stored campaign, and its budget."""

from __future__ import annotations

from kdial.agent_state import AgentState
from kdial.pacing import REGULATORY, STRICT
from kdial.predictive import compliance_mode, outcome, snapshot
from kdial.state.agents import AgentRecord


def agent(state: AgentState, since_ms: int) -> AgentRecord:
    return AgentRecord(state=state, since_ms=since_ms)


def test_the_snapshot_counts_agents_calls_and_outcomes_from_the_stored_campaign() -> None:
    before = {
        "ana": agent(AgentState.WRAP_UP, 90_000),
        "bob": agent(AgentState.TALKING, 95_000),
        "cy": agent(AgentState.READY, 99_000),
    }
    now = {
        "ana": agent(AgentState.READY, 97_500),
        "bob": agent(AgentState.TALKING, 95_000),
        "cy": agent(AgentState.RESERVED, 99_500),
        "dee": agent(AgentState.WRAP_UP, 98_000),
        "eve": agent(AgentState.NOT_READY, 1),
    }
    calls = ["ringing:97000", "ringing:99900", "waiting"]
    events = [outcome("answered", 3), outcome("unanswered", 20), outcome("talk", 60)]
    events += [outcome("connected"), outcome("connected"), outcome("abandoned")]

    seen = snapshot(100_000, now, calls, events, before)

    # cy is Reserved for the waiting call: counted Ready, the two cancel out.
    assert (seen.now, seen.ready, seen.waiting) == (100.0, 2, 1)
    assert list(seen.talking) == [5.0] and list(seen.wrapping) == [2.0]
    assert list(seen.ringing) == [3.0, 0.1]
    o = seen.outcomes
    assert (list(o.answered), list(o.unanswered), list(o.talks)) == ([3.0], [20.0], [60.0])
    assert (o.connected, o.abandoned) == (2, 1)
    assert list(o.wraps) == [7.5], "ana wrapped up from 90 s to 97.5 s"


def test_the_budget_is_the_regulators_at_three_percent_and_stricter_below() -> None:
    assert compliance_mode(3) is REGULATORY and compliance_mode(10) is REGULATORY
    one = compliance_mode(1)
    assert one.brake_at < STRICT.brake_at and one.target < STRICT.target
    assert compliance_mode(0).threshold == 0.0, "no abandon allowed: no call ahead of agents"
