"""Preview mode's hand-over from the agent API to the campaign's workers.

An agent previews a record: the API claims the contact from the ledger (the workers' own
claim script) under a lease long enough to read it, and reserves the agent for that attempt.
When the agent chooses to dial, the API pushes a `DialRequest` on `CampaignKeys.preview_dials`;
a worker pops it, rings the agent first and dials the contact once the agent is on the line.
"""

from __future__ import annotations

from typing import ClassVar

from kdial.state.wire import WireValue

__all__ = ["PREVIEW_LEASE_MS", "DialRequest"]

#: The lease on a previewed contact (ms): time for an agent to read the record and choose,
#: then for a worker to pop the request and start the call, which renews it from then on.
PREVIEW_LEASE_MS = 300_000


class DialRequest(WireValue):
    """A previewed record the agent chose to dial."""

    KIND: ClassVar[str] = "preview dial request"

    attempt: str
    """The attempt the contact was claimed under for the preview."""
    agent: str
    """The agent reserved for it, whose phone is rung first."""
    endpoint: str
    """The agent's SIP endpoint, as they logged in with it."""
