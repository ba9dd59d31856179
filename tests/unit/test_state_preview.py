"""kdial.state.preview: which previews have timed out, and the dial request on the wire."""

from __future__ import annotations

from kdial.agent_state import AgentState
from kdial.state.agents import AgentRecord
from kdial.state.preview import PREVIEW_LEASE_MS, DialRequest, overdue


def record(state: AgentState, since_ms: int, attempt: str | None = None) -> AgentRecord:
    return AgentRecord(state=state, since_ms=since_ms, endpoint="agent1", attempt=attempt)


def test_only_agents_reserved_for_a_record_the_timeout_or_longer_are_overdue() -> None:
    agents = {
        "old": record(AgentState.RESERVED, 1_000, "e1-1"),
        "exact": record(AgentState.RESERVED, 5_000, "e1-2"),
        "fresh": record(AgentState.RESERVED, 5_001, "e1-3"),
        "talking": record(AgentState.TALKING, 0, "e1-4"),
        "ready": record(AgentState.READY, 0),
    }

    assert overdue(agents, now_ms=65_000, timeout_ms=60_000) == [
        ("exact", "e1-2"),
        ("old", "e1-1"),
    ]


def test_the_lease_outlasts_the_longest_preview_timeout_twice() -> None:
    # A record must be skipped before its lease could lapse and a reclaim count an attempt.
    assert PREVIEW_LEASE_MS >= 2 * 150_000


def test_a_dial_request_reads_back_as_written() -> None:
    request = DialRequest(attempt="e1-7", agent="ana", endpoint="sip:agent2@10.0.0.9")

    assert DialRequest.decode(request.encode()) == request
