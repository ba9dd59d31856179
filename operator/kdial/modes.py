"""Which campaign modes hand answered calls to agents (pure).

Agentless campaigns hand answered calls to a destination. The agent modes bridge each answered
callee to a Ready agent: Progressive dials one call per Ready agent, Predictive dials ahead of
the agents as the campaign's pacer allows (`kdial.predictive`), and Preview dials the record an
agent previewed and chose to dial, the agent's phone first (`kdial_worker.preview`).
"""

from __future__ import annotations

from kdial.api.campaign import CampaignMode

__all__ = ["AGENT_MODES"]

#: Modes whose answered calls go to agents (who log in to them through `kdial api`).
AGENT_MODES = frozenset({CampaignMode.PREDICTIVE, CampaignMode.PROGRESSIVE, CampaignMode.PREVIEW})
