"""Sequential detectors and confidence bounds (kdial.routing.detectors)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from kdial.routing.detectors import (
    Comparison,
    Cusum,
    Design,
    Scheme,
    alarm_indices,
    difference_bounds,
    wilson,
)

pytestmark = pytest.mark.unit


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
    assert c.ref_trials == 0.0 and c.own[0].statistic == 0.0  # the old evidence is void
