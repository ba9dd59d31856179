"""Which campaign modes kdial can dial today (pure).

Predictive, Progressive and Preview hand answered callees to agents, and kdial has no agent
support yet. Dialling in those modes would leave every answered callee in silence, the worst
thing a dialer can do, so the operator does not dial them (Ready=False) and a worker refuses a
config that asks it to (a config an older operator compiled, say).
"""

from __future__ import annotations

from kdial.api.campaign import CampaignMode

__all__ = ["AGENTS_UNAVAILABLE", "AGENT_MODES", "agents_unavailable"]

#: The Ready condition's reason for a campaign whose mode needs agents.
AGENTS_UNAVAILABLE = "AgentsUnavailable"
AGENT_MODES = frozenset({CampaignMode.PREDICTIVE, CampaignMode.PROGRESSIVE, CampaignMode.PREVIEW})


def agents_unavailable(mode: CampaignMode) -> str | None:
    """Why a campaign in `mode` may not dial, for people; None when it may."""
    if mode not in AGENT_MODES:
        return None
    return (
        f"mode {mode.value} hands answered calls to agents, and kdial has no agent support yet: "
        "dialling would leave answered callees in silence, so nothing is dialled. Only mode "
        "Agentless with a destination (an IVR extension or a SIP URI) dials today; set those, "
        "or keep this campaign until agent support arrives"
    )
