"""The worker's local pacer and its choice of trunk and caller ID."""

from __future__ import annotations

import random

import pytest

from kdial.state.keys import PoolKeys
from kdial_worker.choice import pick_caller_id, pick_trunk
from kdial_worker.pacing import Pacer
from kdial_worker.runtime import CallerId, Trunk

pytestmark = pytest.mark.unit

POOL = PoolKeys("tp", "ns", "lines")


def trunk(name: str, weight: int = 100, gateway: str | None = "gw") -> Trunk:
    return Trunk(POOL, name, gateway, max_concurrent=10, max_cps=10, weight=weight, state="Healthy")


def test_pacer_spreads_claims_evenly_at_the_rate() -> None:
    pacer = Pacer(last=0.0)
    granted = [pacer.take(i * 0.02, rate=50, want=20) for i in range(1, 501)]  # 10 s of 20 ms ticks
    assert sum(granted) in range(495, 501)
    assert max(granted) <= 5, "never more than a tenth of a second's worth at once"


def test_pacer_after_a_pause_bursts_at_most_a_tenth_of_a_second() -> None:
    pacer = Pacer(last=0.0)
    assert pacer.take(60.0, rate=100, want=1000) == 10


def test_pacer_gives_nothing_without_a_rate() -> None:
    assert Pacer().take(10.0, rate=0, want=5) == 0


def test_trunks_are_chosen_by_weight_never_ejected_or_unroutable() -> None:
    rng = random.Random(1)
    trunks = [trunk("a", 300), trunk("b", 100), trunk("ejected", 0), trunk("no-gateway", 100, None)]
    picks = [pick_trunk(trunks, rng) for _ in range(4000)]
    names = [p.name for p in picks if p]
    assert set(names) == {"a", "b"}
    assert 2.6 < names.count("a") / names.count("b") < 3.4


def test_a_lost_call_is_redialled_on_another_trunk_when_there_is_one() -> None:
    rng = random.Random(2)
    assert {pick_trunk([trunk("a"), trunk("b")], rng, avoid="a").name for _ in range(50)} == {"b"}  # type: ignore[union-attr]
    assert pick_trunk([trunk("a")], rng, avoid="a").name == "a"  # type: ignore[union-attr]
    assert pick_trunk([trunk("x", 0)], rng) is None


def test_caller_id_falls_back_to_the_pool_default() -> None:
    rng = random.Random(3)
    default = CallerId(PoolKeys("cidp", "ns", "ids"), "+862012345678", None, None)
    assert pick_caller_id([], default, rng) is default
    assert pick_caller_id([], None, rng) is None
