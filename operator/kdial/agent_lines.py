"""How many calls a campaign's agents can take at once (pure): what the operator scales workers
to, and what a predictive campaign's permits never take it past."""

from __future__ import annotations

import math
from collections.abc import Iterable

from kdial.agent_state import AgentState
from kdial.api.campaign import CampaignMode

__all__ = ["DEFAULT_PREDICTIVE_RATIO", "DIALLED_FOR", "agent_lines", "predictive_cap"]

#: Lines per agent a Predictive campaign without `maxDialRatio` may keep: Cisco
#: UCCX's ceiling (`maxLinesPerAgent` <= 3), and more than a 10% answer rate needs.
DEFAULT_PREDICTIVE_RATIO = 3.0


def agent_lines(mode: CampaignMode, max_dial_ratio: str | None, agents: int) -> float:
    """Most calls in flight that `agents` of a campaign in `mode` can take: one each in
    Progressive and Preview, `maxDialRatio` each in Predictive; an Agentless campaign has no
    agents to bound it. The operator sizes workers for the logged-in agents (one back from a
    break finds them running); the permits count only those dialled for (`predictive_cap`)."""
    if mode is CampaignMode.AGENTLESS:
        return math.inf
    if mode is CampaignMode.PREDICTIVE:
        ratio = float(max_dial_ratio) if max_dial_ratio else DEFAULT_PREDICTIVE_RATIO
        return math.ceil(agents * ratio)
    return agents


#: The agents a Predictive campaign's calls in flight are sized against, `maxDialRatio` each:
#: logged in and not NotReady. A predictive dialer calls ahead of agents who will be free, so
#: an agent Reserved, Talking or in WrapUp counts as much as one Ready now (else the calls it
#: launches while everyone talks would fall to nothing); one NotReady, on a break, takes no
#: call soon, and calls launched for them would be abandoned.
DIALLED_FOR = frozenset(
    {AgentState.READY, AgentState.RESERVED, AgentState.TALKING, AgentState.WRAP_UP}
)


def predictive_cap(states: Iterable[AgentState], max_dial_ratio: str | None) -> int:
    """Most calls a Predictive campaign may have in flight while its pacer's permits hold:
    `maxDialRatio` per agent it dials for (`DIALLED_FOR`)."""
    agents = sum(1 for state in states if state in DIALLED_FOR)
    return int(agent_lines(CampaignMode.PREDICTIVE, max_dial_ratio, agents))
