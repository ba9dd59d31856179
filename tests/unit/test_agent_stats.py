"""Agent statistics from the change stream (pure)."""

from __future__ import annotations

import pytest

from kdial.agent_state import AgentAction, AgentState, next_state
from kdial.agent_stats import AgentStats, StatsFold, agent_stats, total
from kdial.state.agents import AgentChange

A = AgentAction


def day(agent: str, *steps: tuple[int, AgentAction, str | None]) -> list[AgentChange]:
    """The changes of `agent` taking `steps` (at ms, action, disposition) from LoggedOut."""
    state, out = AgentState.LOGGED_OUT, []
    for at_ms, action, disposition in steps:
        after = next_state(state, action, ready=action is A.LOGIN)
        out.append(
            AgentChange(
                agent=agent,
                action=action,
                before=state,
                after=after,
                at_ms=at_ms,
                disposition=disposition,
            )
        )
        state = after
    return out


ANA = day(
    "ana",
    (0, A.LOGIN, None),  # Ready at once
    (10_000, A.RESERVE, None),
    (12_000, A.TALK, None),
    (72_000, A.WRAP_UP, None),
    (87_000, A.END_WRAP_UP, "Sale"),
    (100_000, A.RESERVE, None),
    (105_000, A.NOT_READY, None),  # did not answer
    (165_000, A.READY, None),
)


def test_each_interval_counts_in_the_state_it_was_spent_in() -> None:
    (ana,) = agent_stats(ANA, now_ms=175_000).values()
    assert ana == AgentStats(
        calls=1,
        missed=1,
        idle_ms=10_000 + 13_000 + 10_000,  # the last 10 s are still open at now
        reserved_ms=2_000 + 5_000,
        talk_ms=60_000,
        wrap_up_ms=15_000,
        not_ready_ms=60_000,
        dispositions={"Sale": 1},
    )
    assert ana.occupancy == pytest.approx((7_000 + 60_000 + 15_000) / (33_000 + 82_000))


def test_a_talk_its_worker_lost_is_a_call_handled_and_a_reservation_lost_no_miss() -> None:
    bo = day(
        "bo",
        (0, A.LOGIN, None),
        (1_000, A.RESERVE, None),
        (2_000, A.TALK, None),
        (30_000, A.CALL_LOST, None),  # WrapUp on the call
        (40_000, A.END_WRAP_UP, "Sale"),
        (41_000, A.RESERVE, None),
        (50_000, A.CALL_LOST, None),  # NotReady
    )
    (stats,) = agent_stats(bo, now_ms=50_000).values()
    assert (stats.calls, stats.missed, stats.talk_ms, stats.wrap_up_ms) == (1, 0, 28_000, 10_000)
    assert stats.dispositions == {"Sale": 1}


def test_agents_are_counted_apart_and_summed_for_the_campaign() -> None:
    bo = day("bo", (50_000, A.LOGIN, None), (60_000, A.LOGOUT, None))
    stream = sorted(ANA + bo, key=lambda c: c.at_ms)
    per_agent = agent_stats(stream, now_ms=175_000)
    assert set(per_agent) == {"ana", "bo"}
    assert per_agent["bo"] == AgentStats(idle_ms=10_000), "logged out time counts nowhere"
    campaign = total(per_agent.values())
    assert (campaign.calls, campaign.idle_ms) == (1, 43_000)
    assert campaign.dispositions == {"Sale": 1}


def test_a_fold_fed_in_pieces_gives_what_one_fed_at_once_does() -> None:
    fold = StatsFold()
    for change in ANA[:4]:
        fold.add(change)
    assert fold.stats(80_000)["ana"].wrap_up_ms == 8_000, "the wrap-up under way so far"
    for change in ANA[4:]:
        fold.add(change)
    assert fold.stats(175_000) == agent_stats(ANA, 175_000)
    assert fold.states() == {"ana": AgentState.READY}


def test_no_time_available_has_no_occupancy() -> None:
    assert AgentStats(not_ready_ms=5_000).occupancy is None
