"""Preview mode's hand-over from the agent API to the campaign's workers.

An agent previews a record: the API claims the contact from the ledger (the workers' own
claim script) under a lease long enough to read it, and reserves the agent for that attempt.
When the agent chooses to dial, the API pushes a `DialRequest` on `CampaignKeys.preview_dials`;
a worker pops it, rings the agent first and dials the contact once the agent is on the line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from kdial.agent_state import AgentState
from kdial.state.agents import AgentRecord
from kdial.state.wire import WireValue

__all__ = ["PREVIEW_LEASE_MS", "SKIPPED", "DialRequest", "overdue"]

#: The lease on a previewed contact (ms): longer than any preview timeout a worker skips
#: records after (`WorkerSettings.preview_timeout_seconds`, at most half of it), so a record
#: is skipped before its lease could run out and a reclaim count an attempt nobody made; a
#: worker renews it once it dials.
PREVIEW_LEASE_MS = 300_000
#: The campaign's totals counter of previewed records skipped (by the agent or at timeout).
SKIPPED = "previewSkipped"


def overdue(
    agents: Mapping[str, AgentRecord], now_ms: int, timeout_ms: int
) -> list[tuple[str, str]]:
    """(agent, attempt) of each agent Reserved for a call for `timeout_ms` or longer: in
    Preview mode, a record they have neither dialled nor skipped in time (a Reserved agent
    whose record they dialled is no preview any more, and the skip that follows finds that)."""
    return [
        (name, record.attempt)
        for name, record in sorted(agents.items())
        if record.state is AgentState.RESERVED
        and record.attempt is not None
        and now_ms - record.since_ms >= timeout_ms
    ]


class DialRequest(WireValue):
    """A previewed record the agent chose to dial."""

    KIND: ClassVar[str] = "preview dial request"

    attempt: str
    """The attempt the contact was claimed under for the preview."""
    agent: str
    """The agent reserved for it, whose phone is rung first."""
    endpoint: str
    """The agent's SIP endpoint, as they logged in with it."""
