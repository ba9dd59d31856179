"""The predictive and progressive pacers' decisions, through the snapshot interface a worker
uses."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

from kdial.pacing import (
    REGULATORY,
    STRICT,
    Outcomes,
    PredictivePacer,
    ProgressivePacer,
    Snapshot,
)
from kdial.pacing.predictive import RESOLUTION, launches, outlook, poisson_binomial
from kdial.predictive import recalled


def learned(
    mode: object = REGULATORY,
    abandoned: int = 0,
    recalled: Sequence[tuple[float, int, int]] = (),
) -> PredictivePacer:
    """A pacer that has seen an hour of S1-like outcomes, the last a minute ago (their calls'
    cohorts long ended): answer rate 0.3 after 20 s of ring, talk Exp(180 s), wrap-up 15 s;
    after, if it took over, recalling the campaign's `recalled` minutes."""
    assert isinstance(mode, type(REGULATORY))
    rng = np.random.default_rng(5)
    pacer = PredictivePacer(mode)
    pacer.recall(recalled)
    pacer.decide(
        Snapshot(
            now=-60.0,
            ready=0,
            outcomes=Outcomes(
                answered=[20.0] * 300,
                unanswered=[20.0] * 700,
                talks=rng.exponential(180.0, 300).tolist(),
                wraps=[15.0] * 300,
                connected=300 - abandoned,
                abandoned=abandoned,
            ),
        )
    )
    return pacer


def state(**changes: object) -> Snapshot:
    base = Snapshot(
        now=1.0,
        ready=2,
        talking=[30.0, 60.0, 90.0, 120.0, 150.0, 200.0, 250.0, 300.0] * 2,
        wrapping=[5.0, 12.0],
        ringing=[3.0, 8.0, 15.0],
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def decide(snapshot: Snapshot, mode: object = REGULATORY) -> int:
    return learned(mode).decide(snapshot)


def convolved(p: np.ndarray) -> np.ndarray:
    direct = np.ones(1)
    for q in p:
        direct = np.convolve(direct, [1 - q, q])
    return direct


def test_poisson_binomial_is_the_convolution_of_its_trials() -> None:
    rng = np.random.default_rng(3)
    on_grid = rng.integers(0, RESOLUTION + 1, (2, 40)) / RESOLUTION
    for row, p in zip(poisson_binomial(on_grid), on_grid, strict=True):
        assert row == pytest.approx(convolved(p), abs=1e-12)
    anywhere = rng.random((2, 40))
    for row, p in zip(poisson_binomial(anywhere), anywhere, strict=True):
        assert row == pytest.approx(convolved(p), abs=1e-3), "probabilities grouped to 1/256"


def test_outlook_with_ready_agents_only_is_certain() -> None:
    c = outlook(3, 0, np.zeros((1, 0)), np.zeros((1, 0)), 1)
    assert c.tolist() == [0.0, 0.0, 0.0, 1.0]


def test_launches_are_monotone_in_the_threshold_and_the_answer_rate() -> None:
    c = outlook(4, 0, np.full((1, 10), 0.2), np.full((1, 5), 0.3), 1)
    by_threshold = [launches(c, 0.3, t, 500) for t in (0.01, 0.03, 0.1, 0.3)]
    assert by_threshold == sorted(by_threshold) and by_threshold[0] < by_threshold[-1]
    by_rate = [launches(c, p, 0.05, 500) for p in (0.1, 0.2, 0.3, 0.5)]
    assert by_rate == sorted(by_rate, reverse=True) and by_rate[0] > by_rate[-1]


def test_more_ready_agents_never_mean_fewer_calls() -> None:
    counts = [decide(state(ready=r)) for r in range(6)]
    assert counts == sorted(counts)
    assert counts[-1] > counts[0]


def test_more_calls_ringing_or_waiting_never_mean_more_calls() -> None:
    ringing = [decide(state(ringing=[10.0] * k)) for k in range(0, 12, 2)]
    assert ringing == sorted(ringing, reverse=True) and ringing[0] > ringing[-1]
    waiting = [decide(state(waiting=w)) for w in range(4)]
    assert waiting == sorted(waiting, reverse=True) and waiting[0] > waiting[-1]


def test_agents_in_wrap_up_count_as_free_soon_and_agents_starting_to_talk_do_not() -> None:
    talking = list(state().talking)
    wrapping = decide(state(ready=0, wrapping=[5.0] * 6, talking=talking))
    starting = decide(state(ready=0, wrapping=[], talking=[*talking, *[1.0] * 6]))
    assert wrapping >= starting + 6, "each agent free within the ring time is worth ~1/p calls"


def test_dials_ahead_of_the_agents_about_to_be_free() -> None:
    snapshot = state(ready=0, ringing=[], wrapping=[10.0] * 4)
    assert ProgressivePacer().decide(snapshot) == 0
    assert decide(snapshot) >= 4, "four agents free within the ring time, each worth 1/p calls"


def test_strict_mode_dials_no_more_than_regulatory() -> None:
    for ready in range(5):
        assert decide(state(ready=ready), STRICT) <= decide(state(ready=ready), REGULATORY)


def test_nobody_staffed_means_no_call() -> None:
    assert decide(Snapshot(now=1.0, ready=0)) == 0


def test_an_unknown_campaign_dials_little_more_than_progressive() -> None:
    fresh = PredictivePacer(REGULATORY)
    snapshot = Snapshot(now=0.0, ready=10, talking=[30.0] * 10)
    assert 10 <= fresh.decide(snapshot) <= 12, "no answer rate known: its bound is 1"


def test_a_burst_of_quick_failures_at_the_start_does_not_open_the_floodgates() -> None:
    """The day starts with a call for each of 100 Ready agents; 3 s later a fifth of them have
    failed fast and none answered yet (answers take longer). Those first outcomes say the rate
    is near 0; launched on, they would bring hundreds of answers at once. Until the cohort has
    ended, the pacer dials only for the agents no ringing call may take."""
    pacer = PredictivePacer(REGULATORY)
    assert pacer.decide(Snapshot(now=0.0, ready=100)) == 100
    quick = Outcomes(unanswered=[3.0] * 19)
    after = Snapshot(now=3.0, ready=100, ringing=[3.0] * 81, outcomes=quick)
    assert pacer.decide(after) == 100 - 81, "one call for each agent the failures freed"
    # Once the cohort has ended, what it says is the rate: 30 answers in 100.
    answers = Outcomes(answered=[8.0] * 30)
    pacer.decide(Snapshot(now=8.0, ready=70, ringing=[8.0] * 51, outcomes=answers))
    rest = Outcomes(unanswered=[25.0] * 51)
    ended = pacer.decide(Snapshot(now=25.0, ready=70, outcomes=rest))
    assert 70 < ended <= 70 / 0.2, "dialling ahead again, at a rate near the truth"


def test_the_brake_drops_to_progressive_over_the_limit_and_lets_go_after_recovery() -> None:
    pacer = learned(abandoned=30)  # 10% of answers abandoned in the window
    snapshot = state(ready=3, ringing=[5.0])
    assert pacer.decide(snapshot) == 2, "progressive: one call per Ready agent not yet served"
    clean = Outcomes(connected=400)
    pacer.decide(dataclasses.replace(snapshot, now=1801.0, outcomes=clean))
    assert pacer.decide(dataclasses.replace(snapshot, now=1802.0)) > 2


def test_a_pacer_taking_over_is_braked_by_the_abandons_its_predecessor_saw() -> None:
    """The campaign abandoned 60 of 300 answers in the minutes before the takeover: with its
    own hour's outcomes clean, the window is at 10%, and the new pacer dials progressive."""
    snapshot = state(ready=3, ringing=[5.0])
    assert learned().decide(snapshot) > 2, "a clean campaign dials ahead"
    assert learned(recalled=[(-600.0, 240, 60)]).decide(snapshot) == 2


def test_a_takeover_starts_braked_between_the_release_and_the_brake_levels() -> None:
    """Its predecessor may have been braked: a window between the levels (36 abandoned of
    800 answers, 4.5%) brakes a pacer that takes over, not one that saw it all itself."""
    snapshot = state(ready=3, ringing=[5.0])
    assert learned(recalled=[(-600.0, 464, 36)]).decide(snapshot) == 2
    itself = learned()
    itself.window.add(-59.0, 464, 36)
    assert itself.window.rate() == 36 / 800
    assert itself.decide(snapshot) > 2


def test_abandons_older_than_the_window_are_forgotten() -> None:
    snapshot = state(ready=3, ringing=[5.0])
    assert learned(recalled=[(-1900.0, 240, 60)]).decide(snapshot) > 2


def test_the_minute_counters_recalled_are_the_calls_connected_and_abandoned() -> None:
    buckets = {
        29_000_001: {"outcome:AnsweredHuman": "7", "abandoned": "1", "answered": "9"},
        29_000_000: {"outcome:AnsweredHuman": "3", "answered": "4", "attempts": "20"},
        29_000_002: {"attempts": "5", "outcome:NoAnswer": "5"},
    }
    assert recalled(buckets) == [(29_000_001 * 60.0, 3, 0), (29_000_002 * 60.0, 7, 1)]


def test_progressive_dials_one_call_per_ready_agent_not_yet_served() -> None:
    assert ProgressivePacer().decide(Snapshot(now=0.0, ready=5, ringing=[1.0, 2.0])) == 3
    assert ProgressivePacer().decide(Snapshot(now=0.0, ready=2, ringing=[1.0], waiting=2)) == 0
