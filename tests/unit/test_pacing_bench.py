"""`kdial bench pacing`'s parts: the simulated call centre and the baselines it measures the
pacer against (the bench itself runs in tests/integration/test_bench_smoke.py)."""

from __future__ import annotations

import pytest

from kdial.pacing import Outcomes, ProgressivePacer, Snapshot
from kdial_cli.bench.pacing.baselines import (
    AdaptAverage,
    FixedRatio,
    erlang_b,
    erlang_load,
    vicidial_launches,
)
from kdial_cli.bench.pacing.sim import SCENARIOS, Draws, simulate


def test_erlang_b_and_its_inverse() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_b(20, erlang_load(20, 0.03)) == pytest.approx(0.03, abs=1e-6)


def test_vicidial_level_counts_agents_in_calls_and_subtracts_calls_up() -> None:
    snapshot = Snapshot(now=0.0, ready=2, talking=[1.0] * 3, wrapping=[1.0], ringing=[1.0])
    assert vicidial_launches(1.0, snapshot) == 6 - (1 + 3)
    assert vicidial_launches(2.0, snapshot) == 12 - (1 + 3)


def test_adapt_average_halves_its_level_when_the_day_is_over_the_target() -> None:
    adapt = AdaptAverage(target=0.03, start=2.0)
    busy = Snapshot(now=0.0, ready=0, talking=[1.0] * 10)
    adapt.decide(busy)
    over = Outcomes(answered=[20.0] * 100, connected=90, abandoned=10)
    adapt.decide(Snapshot(now=15.0, ready=0, talking=[1.0] * 10, outcomes=over))
    assert adapt.level == 1.0


def test_adapt_average_raises_its_level_while_agents_wait() -> None:
    adapt = AdaptAverage()
    for second in range(16):
        adapt.decide(Snapshot(now=float(second), ready=5, talking=[1.0] * 5))
    assert adapt.level == pytest.approx(1.5)


def test_common_random_numbers_every_policy_dials_the_same_list() -> None:
    s1 = SCENARIOS["S1"]
    a, b = Draws(s1, 3), Draws(s1, 3)
    a.ensure(10)
    b.ensure(5000)
    assert a.talk[:10] == b.talk[:10] and a.u[:10] == b.u[:10]


def test_progressive_abandons_nothing_and_a_high_fixed_level_abandons_much() -> None:
    s1 = SCENARIOS["S1"]
    calm = simulate(s1, 1, ProgressivePacer(), 1.0, Draws(s1, 1)).figures()
    assert calm["abandon_daily"] == 0.0
    assert 30 < calm["talk_min_per_agent_hour"] < s1.clairvoyant()
    wild = simulate(s1, 1, FixedRatio(2.0), 1.0, Draws(s1, 1)).figures()
    assert wild["abandon_daily"] > 0.1
    assert wild["talk_min_per_agent_hour"] > calm["talk_min_per_agent_hour"]


def test_churn_leaves_agent_hours_out_of_the_count() -> None:
    s6 = SCENARIOS["S6"]
    run = simulate(s6, 1, ProgressivePacer(), 2.0, Draws(s6, 1))
    assert 0 < run.staffed < s6.agents * 2 * 3600
