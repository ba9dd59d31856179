"""Sequential detectors and confidence bounds (kdial.routing.detectors)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import numpy as np
import pytest

from kdial.routing.calibration import alarm_indices, alarm_rate
from kdial.routing.detectors import (
    Comparison,
    Cusum,
    Design,
    Scheme,
    difference_bounds,
    wilson,
)


def test_wilson_matches_the_closed_form() -> None:
    low, high = wilson(5, 10, 1.96)
    assert low == pytest.approx(0.2366, abs=1e-3)
    assert high == pytest.approx(0.7634, abs=1e-3)
    assert wilson(0, 0, 2.0) == (0.0, 1.0)
    assert wilson(0, 20, 2.0).low == 0.0
    assert wilson(0, 20, 2.0).high == pytest.approx(4 / 24)


def test_difference_bounds_exclude_zero_only_for_a_real_difference() -> None:
    assert difference_bounds(50, 100, 10, 100, 2.0).low > 0
    assert difference_bounds(10, 100, 50, 100, 2.0).high < 0
    same = difference_bounds(30, 100, 30, 100, 2.0)
    assert same.low < 0 < same.high


def test_design_log_likelihood_ratios() -> None:
    d = Design.of(0.02, 0.5, 10.0)
    assert d.hit == pytest.approx(math.log(25))
    assert d.miss == pytest.approx(math.log(0.5 / 0.98))
    assert d.llr(2, 10) == pytest.approx(2 * d.hit + 8 * d.miss)
    with pytest.raises(ValueError, match="design"):
        Design.of(0.3, 0.3, 5.0)


def test_cusum_reflects_at_zero_and_alarms_on_a_dead_stream() -> None:
    d = Design.of(0.02, 0.5, 10.0)
    c = Cusum().step(d, 0, 5)
    assert c == Cusum()  # good news never goes below zero
    for _ in range(4):
        c = c.step(d, 1, 1, ref_events=0, ref_trials=2)
    assert c.alarmed(d)
    assert (c.events, c.trials, c.ref_trials) == (4, 4, 8)  # the run it blames
    assert c.confirmed(2.0, worse_if_higher=True, baseline=0.02)
    held = c.capped(d.threshold)
    assert held.statistic == d.threshold and held.trials == 4


def test_alarm_indices_is_the_same_recursion_as_step() -> None:
    rng = random.Random(3)
    d = Design.of(0.3, 0.1, 4.0)
    trials = np.array([rng.randint(1, 3) for _ in range(5000)], dtype=np.int64)
    events = np.array([sum(rng.random() < 0.2 for _ in range(n)) for n in trials], dtype=np.int64)
    expected, c = [], Cusum()
    for i, (e, n) in enumerate(zip(events.tolist(), trials.tolist(), strict=True)):
        c = c.step(d, e, n)
        if c.alarmed(d):
            expected.append(i)
            c = Cusum()
    got = alarm_indices(d, events, trials, chunk=257)
    assert expected and got.tolist() == expected


SCHEME = Scheme(
    ratios=(1 / 3,), thresholds=(10.0,), guard_threshold=8.0, block_threshold=4.0, min_reference=50
)


def test_comparison_tracks_the_others_and_is_idle_without_a_reference() -> None:
    c = Comparison()
    c = c.step(SCHEME, 1.0, (0, 10), (3, 10))
    assert c.baseline is None and c.own[0].statistic == 0.0  # no prior: idle until 50
    for _ in range(10):
        c = c.step(SCHEME, 1.0, (3, 10), (6, 20))
    assert c.baseline == pytest.approx(0.3, abs=0.01)


def test_guard_rebases_when_the_others_shift_and_holds_meanwhile() -> None:
    c = Comparison()
    for _ in range(50):
        c = c.step(SCHEME, 0.99, (3, 10), (6, 20))
    rebased = held = False
    for _ in range(20):
        c = c.step(SCHEME, 0.99, (1, 10), (2, 20))  # everybody dropped to 10%
        held = held or c.held(SCHEME, 2.0)
        if c.rebased:
            rebased = True
            break
    assert held and rebased
    assert c.own[0].statistic == 0.0  # the old evidence is void
    # The reference starts over from the others' recent attempts, which follow the shift.
    assert (c.ref_events, c.ref_trials) == (c.recent_events, c.recent_trials)
    assert c.ref_events / c.ref_trials < 0.2


def test_alarm_rate_agrees_with_a_long_simulation() -> None:
    d = Design.of(0.3, 0.135, 5.0)
    rate = alarm_rate(d, 5, 0.3)
    rng = np.random.default_rng(4)
    batches = 2_000_000
    events = rng.binomial(5, 0.3, size=batches).astype(np.int64)
    alarms = len(alarm_indices(d, events, np.full(batches, 5, dtype=np.int64)))
    expected = rate * batches
    assert abs(alarms - expected) < 4 * math.sqrt(expected)  # Poisson noise
    assert alarm_rate(Design.of(0.3, 0.135, 6.0), 5, 0.3) < rate  # higher threshold, rarer
    with pytest.raises(ValueError, match="batch"):
        alarm_rate(d, 0, 0.3)


def test_common_holds_an_alarm_only_when_the_others_moved_with_the_stream() -> None:
    # An answer-rate run of 100 attempts at 10% against a 30% baseline.
    everyone = Cusum(12.0, 10, 100, ref_events=24, ref_trials=200)  # the others fell to 12%
    alone = Cusum(12.0, 10, 100, ref_events=58, ref_trials=200)  # the others held at 29%
    for cusum, held in ((everyone, True), (alone, False)):
        assert cusum.common(2.0, 0.3, worse_if_higher=False, baseline=0.3) is held
    # Call loss: half of 20 lost; two of the others' 40 lost is past 2%, but not by enough.
    dead = Cusum(14.0, 10, 20, ref_events=2, ref_trials=40)
    assert not dead.common(2.0, 0.3, worse_if_higher=True, baseline=0.02)
    assert not Cusum(14.0, 10, 20).common(2.0, 0.3, worse_if_higher=True, baseline=0.02)


def test_shared_needs_the_guard_up_and_the_others_moving_too() -> None:
    base = Comparison(
        ref_events=300.0,
        ref_trials=1000.0,
        recent_events=6.0,
        recent_trials=60.0,  # the others lately at 10%
        own_events=2.0,
        own_trials=30.0,  # this stream lately at 7%
        guard=Cusum(5.0),
        own=(Cusum(),),
        baseline=0.3,
    )
    assert base.shared(SCHEME, 0.3)
    assert not replace(base, guard=Cusum(1.0)).shared(SCHEME, 0.3)  # guard down
    assert not replace(base, recent_events=18.0).shared(SCHEME, 0.3)  # the others at 30%


def test_capped_takes_thresholds_from_the_caller() -> None:
    c = Comparison(own=(Cusum(20.0, 5, 50),))
    assert c.capped(SCHEME).own[0].statistic == 10.0
    assert c.capped(SCHEME, (15.0,)).own[0].statistic == 15.0


LOSS = Scheme(
    ratios=(15.0,),
    thresholds=(13.0,),
    guard_threshold=10.0,
    block_threshold=5.0,
    floor=0.02,
    prior=0.02,
    guard_ratio=2.0,
)


def test_a_run_is_compared_with_every_attempt_of_the_others_over_its_span() -> None:
    # At 1 call/s and four evaluations a second, most batches have the others' calls only:
    # they belong to the run as much as those of the batches the stream shared.
    c = Comparison(ref_events=200.0, ref_trials=10_000.0)
    c = c.step(LOSS, 1.0, (1, 1), (0, 1))  # a loss starts a run
    c = c.step(LOSS, 1.0, None, (1, 1))
    c = c.step(LOSS, 1.0, (0, 0), (0, 2))
    assert c.own[0].statistic > 0.0
    assert (c.own[0].trials, c.own[0].ref_events, c.own[0].ref_trials) == (1, 1, 4)
    assert Cusum().witness(1, 2) == Cusum(), "no run, nothing to compare"


def test_the_others_since_their_change_point_hold_an_alarm_when_they_moved_too() -> None:
    # A trunk lost 5 of its last 6 calls; its alarm's run saw 1 of the others' 7 lost. Since
    # their guard's change point they lost 10 of 45: the shift is theirs too.
    moved = Comparison(guard=Cusum(4.0, 10, 45), own=(Cusum(13.0, 5, 6, 1, 7),), baseline=0.02)
    assert moved.moved_since_change(LOSS, 1.5, 2.0, 0.1, 5 / 6)
    # Their guard at rest, or barely up from a loss or two: an outage of the trunk alone.
    assert not replace(moved, guard=Cusum()).moved_since_change(LOSS, 1.5, 2.0, 0.1, 5 / 6)
    assert not replace(moved, guard=Cusum(1.0, 2, 9)).moved_since_change(LOSS, 1.5, 2.0, 0.1, 1.0)
    # Up, but over a long run that shows them near the baseline (3 of 60): not moved enough.
    steady = replace(moved, guard=Cusum(1.6, 3, 60))
    assert not steady.moved_since_change(LOSS, 1.5, 2.0, 0.1, 5 / 6)
