"""How many calls a campaign's agents can take at once (pure): what the operator scales workers
to, and what a predictive campaign's permits never take it past."""

from __future__ import annotations

import math

from kdial.api.campaign import CampaignMode

__all__ = ["DEFAULT_PREDICTIVE_RATIO", "agent_lines"]

#: Lines per logged-in agent a Predictive campaign without `maxDialRatio` may keep: Cisco
#: UCCX's ceiling (`maxLinesPerAgent` <= 3), and more than a 10% answer rate needs.
DEFAULT_PREDICTIVE_RATIO = 3.0


def agent_lines(mode: CampaignMode, max_dial_ratio: str | None, logged_in: int) -> float:
    """Most calls in flight that `logged_in` agents of a campaign in `mode` can take: one each
    in Progressive and Preview, `maxDialRatio` each in Predictive; an Agentless campaign has
    no agents to bound it."""
    if mode is CampaignMode.AGENTLESS:
        return math.inf
    if mode is CampaignMode.PREDICTIVE:
        ratio = float(max_dial_ratio) if max_dial_ratio else DEFAULT_PREDICTIVE_RATIO
        return math.ceil(logged_in * ratio)
    return logged_in
