"""The predictive pacer's estimators: the answer rate's upper bound, and durations' empirical
distributions."""

from __future__ import annotations

import numpy as np
import pytest

from kdial.pacing.estimators import (
    MIN_SAMPLES,
    AnswerRate,
    Cohorts,
    Empirical,
    wilson_upper,
)


def test_wilson_upper_bound_is_the_textbook_value() -> None:
    assert wilson_upper(30, 100, 1.96) == pytest.approx(0.3959, abs=1e-4)
    assert wilson_upper(0, 0, 1.96) == 1.0, "no trials: nothing is known, assume the worst"


def test_wilson_upper_bound_tightens_towards_the_rate_with_more_trials() -> None:
    bounds = [wilson_upper(0.3 * n, n, 1.64) for n in (50, 200, 1000, 5000)]
    assert all(b > 0.3 for b in bounds)
    assert bounds == sorted(bounds, reverse=True)
    assert bounds[-1] < 0.312


def test_answer_rate_bound_covers_the_true_rate_far_more_often_than_the_point_estimate() -> None:
    covered_upper = covered_point = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        rate = AnswerRate()
        for answered in rng.random(2000) < 0.3:
            rate.update(int(answered), int(not answered))
        covered_upper += rate.upper() >= 0.3
        covered_point += rate.point() >= 0.3
    assert covered_upper >= 180, "a 1.64-sigma bound covers ~95%"
    assert covered_point <= 130, "the point estimate is above the truth about half the time"


def followed(short: float, seed: int) -> tuple[float, float]:
    """The upper bound after 3000 attempts at 0.15, and after 200 more at 0.30."""
    rng = np.random.default_rng(seed)
    rate = AnswerRate(short=short)
    for answered in rng.random(3000) < 0.15:
        rate.update(int(answered), int(not answered))
    before = rate.upper()
    for answered in rng.random(200) < 0.30:
        rate.update(int(answered), int(not answered))
    return before, rate.upper()


def test_answer_rate_follows_a_rise_within_a_couple_of_hundred_attempts() -> None:
    watched = [followed(100.0, seed) for seed in range(10)]
    # A short memory as long as the long one: the restart changes nothing, only the decay follows.
    decayed = [followed(400.0, seed) for seed in range(10)]
    assert max(before for before, _ in watched) < 0.25
    assert np.mean([after for _, after in watched]) > 0.31
    assert np.mean([after for _, after in decayed]) < 0.27


def test_answer_rate_restarts_rarely_at_a_steady_rate() -> None:
    rng = np.random.default_rng(4)
    rate = AnswerRate()
    restarts = 0
    for answered in rng.random(20000) < 0.3:
        before = rate.attempts
        rate.update(int(answered), int(not answered))
        restarts += rate.attempts < before - 1
    assert restarts <= 5


def test_empirical_distribution_says_nothing_until_it_has_enough_samples() -> None:
    wraps = Empirical()
    wraps.add([15.0] * (MIN_SAMPLES - 1))
    assert len(wraps) == 0
    assert wraps.finish_within(np.array([10.0]), np.array([10.0]))[0] == 0.0
    wraps.add([15.0])
    assert len(wraps) == MIN_SAMPLES


def test_fixed_duration_ends_exactly_when_it_is_due() -> None:
    wraps = Empirical()
    wraps.add([15.0] * 100)
    elapsed = np.array([10.0, 10.0, 14.0])
    assert wraps.finish_within(elapsed, np.array([4.0, 5.0, 0.5])).tolist() == [0.0, 1.0, 0.0]


def test_conditional_end_of_an_exponential_duration_does_not_depend_on_elapsed_time() -> None:
    talks = Empirical(size=20000)
    talks.add(np.random.default_rng(2).exponential(180.0, 20000).tolist())
    p = talks.finish_within(np.array([0.0, 60.0, 180.0]), np.array([22.0]))
    assert p == pytest.approx(1 - np.exp(-22 / 180), abs=0.02)


def test_past_every_sample_a_duration_is_expected_to_end_soon_not_never() -> None:
    talks = Empirical()
    talks.add(np.linspace(100.0, 200.0, 100).tolist())
    assert talks.finish_within(np.array([500.0]), np.array([20.0]))[0] > 0.5


def test_outcomes_are_held_until_every_call_launched_with_them_has_ended() -> None:
    cohorts = Cohorts()
    cohorts.add(3.0, [], [3.0, 3.0])  # launched at 0, failed fast
    cohorts.add(8.0, [8.0], [])  # launched at 0, answered
    cohorts.add(12.0, [], [2.0])  # launched at 10
    assert cohorts.release(20.0, [20.0, 20.0, 10.0]) == ([], []), "two launched at 0 ring on"
    assert cohorts.release(24.0, [14.0]) == ([8.0], [3.0, 3.0]), "ringing: only one from 10"
    assert cohorts.release(25.0, [15.0]) == ([], []), "launched together with the ringing one"
    assert cohorts.release(26.0, []) == ([], [2.0]), "nothing ringing: everything has ended"
