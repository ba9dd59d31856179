"""Which campaign modes kdial can dial today (pure).

Agentless campaigns hand answered calls to a destination; Progressive ones bridge each answered
callee to a Ready agent (one call per Ready agent); Predictive ones too, dialling ahead of the
agents as the campaign's pacer allows (`kdial.predictive`). Preview needs a part not built yet
(the record offered to an agent). Dialling in that mode would leave answered callees in
silence, the worst thing a dialer can do, so the operator does not dial it (Ready=False) and a
worker refuses a config that asks it to (a config an older operator compiled, say).
"""

from __future__ import annotations

from kdial.api.campaign import CampaignMode

__all__ = ["AGENTS_UNAVAILABLE", "AGENT_MODES", "agents_unavailable"]

#: The Ready condition's reason for a campaign whose mode kdial cannot dial yet.
AGENTS_UNAVAILABLE = "AgentsUnavailable"
#: Modes whose answered calls go to agents (who log in to them through `kdial api`).
AGENT_MODES = frozenset({CampaignMode.PREDICTIVE, CampaignMode.PROGRESSIVE, CampaignMode.PREVIEW})
#: What each mode still waits for.
_MISSING = {
    CampaignMode.PREVIEW: "offering the next record to an agent, who dials or skips it",
}


def agents_unavailable(mode: CampaignMode) -> str | None:
    """Why a campaign in `mode` may not dial, for people; None when it may."""
    missing = _MISSING.get(mode)
    if missing is None:
        return None
    return (
        f"mode {mode.value} hands answered calls to agents, and kdial cannot dial it yet: "
        f"{missing} is not built, so nothing is dialled rather than leave answered callees in "
        "silence. Modes Predictive, Progressive (one call per Ready agent) and Agentless "
        "(with a destination) dial today; use one of those, or keep this campaign until "
        f"{mode.value} arrives"
    )
