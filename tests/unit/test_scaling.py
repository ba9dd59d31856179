"""How many workers a campaign gets: bounded by its cap, trunks, agents and backlog."""

from __future__ import annotations

import math

import pytest

from kdial.agent_lines import DEFAULT_PREDICTIVE_RATIO, agent_lines
from kdial.api.campaign import CampaignMode
from kdial_operator.scaling import Demand, desired_workers


def demand(**changes: object) -> Demand:
    base: dict[str, object] = dict(
        dialing=True,
        max_concurrency=None,
        trunk_capacity=1000,
        due_now=10_000,
        pending=10_000,
        in_flight=0,
    )
    return Demand(**(base | changes))  # type: ignore[arg-type]


def test_a_long_list_gets_what_its_trunks_carry_within_the_bounds() -> None:
    assert desired_workers(demand(trunk_capacity=120), 50, 1, 10) == 3
    assert desired_workers(demand(), 50, 1, 10) == 10


def test_agents_bound_the_workers_of_an_agent_campaign() -> None:
    five = agent_lines(CampaignMode.PROGRESSIVE, None, 5)
    assert desired_workers(demand(agent_lines=five), 2, 1, 10) == 3
    assert desired_workers(demand(agent_lines=0), 2, 1, 10) == 1, "kept warm for logins"


def test_a_campaign_not_dialing_or_without_work_runs_no_worker() -> None:
    assert desired_workers(demand(dialing=False), 50, 1, 10) == 0
    assert desired_workers(demand(due_now=0, pending=0), 50, 1, 10) == 0


@pytest.mark.parametrize(
    ("mode", "ratio", "lines"),
    [
        (CampaignMode.AGENTLESS, None, math.inf),
        (CampaignMode.PROGRESSIVE, "2.5", 4),
        (CampaignMode.PREVIEW, None, 4),
        (CampaignMode.PREDICTIVE, "2.5", 10),
        (CampaignMode.PREDICTIVE, "1.3", 6),
        (CampaignMode.PREDICTIVE, None, 4 * DEFAULT_PREDICTIVE_RATIO),
    ],
)
def test_lines_per_agent_follow_the_mode(
    mode: CampaignMode, ratio: str | None, lines: float
) -> None:
    assert agent_lines(mode, ratio, 4) == lines
