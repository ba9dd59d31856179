"""The worker's choice of trunk (weights per callee) and caller ID (local presence)."""

from __future__ import annotations

import random
from dataclasses import replace

from kdial.api.calleridpool import CallerId
from kdial.api.trunkpool import TrunkState
from kdial.routing.presence import place_of
from kdial.routing.weights import RoutedTrunk, weight_for
from kdial.state.keys import PoolKeys
from kdial_worker.choice import pick_caller_id, pick_trunk
from kdial_worker.runtime import CallerIds, Trunk, _caller_id, _candidates

POOL = PoolKeys("tp", "ns", "lines")
IDS = PoolKeys("cidp", "ns", "ids")


def trunk(
    name: str,
    priority: int = 100,
    state: TrunkState = TrunkState.HEALTHY,
    gateway: str | None = "gw",
    regions: tuple[str, ...] = (),
) -> Trunk:
    routed = RoutedTrunk(name, state, priority, max_concurrent_calls=10, regions=regions)
    return Trunk(POOL, name, gateway, 10, 10, weight_for(routed), state.value, routed)


def test_trunks_are_chosen_by_weight_never_ejected_or_unroutable() -> None:
    rng = random.Random(1)
    trunks = [
        trunk("a", 300),
        trunk("b", 100),
        trunk("ejected", 100, TrunkState.EJECTED),
        trunk("no-gateway", 100, gateway=None),
    ]
    names = [p.name for p in (pick_trunk(trunks, rng) for _ in range(4000)) if p]
    assert set(names) == {"a", "b"}
    assert 2.6 < names.count("a") / names.count("b") < 3.4


def test_a_callee_prefers_the_trunks_serving_their_region() -> None:
    rng = random.Random(4)
    trunks = [trunk("south", regions=("CN-GD",)), trunk("north", regions=("CN-BJ",))]
    names = [
        p.name for p in (pick_trunk(trunks, rng, callee_region="CN-GD") for _ in range(2000)) if p
    ]
    # Fit 2 against 0.25: eight to one.
    assert 6 < names.count("south") / names.count("north") < 10


def test_a_busy_trunk_weighs_less_but_is_never_shut_out_by_a_stale_count() -> None:
    rng = random.Random(5)
    trunks = [trunk("busy"), trunk("idle")]
    names = [
        p.name for p in (pick_trunk(trunks, rng, in_use={"busy": 50}) for _ in range(3000)) if p
    ]
    assert 0 < names.count("busy") < names.count("idle") / 5


def test_a_lost_call_is_redialled_on_another_trunk_when_there_is_one() -> None:
    rng = random.Random(2)
    assert {pick_trunk([trunk("a"), trunk("b")], rng, avoid="a").name for _ in range(50)} == {"b"}  # type: ignore[union-attr]
    assert pick_trunk([trunk("a")], rng, avoid="a").name == "a"  # type: ignore[union-attr]
    assert pick_trunk([trunk("x", state=TrunkState.EJECTED)], rng) is None


def pool(**extra: object) -> CallerIds:
    entries = [
        {"number": "+862081234567"},  # Guangzhou
        {"number": "+8675581234567"},  # Shenzhen
        {"number": "+861081234567"},  # Beijing
    ]
    specs = [CallerId.model_validate(e) for e in entries]
    return CallerIds(
        numbers=tuple(_caller_id(IDS, n) for n in specs),
        candidates=_candidates(specs),
        default="+861081234567",
        **extra,  # type: ignore[arg-type]
    )


SHENZHEN = place_of("Guangdong", "Shenzhen")


def test_the_callee_sees_a_number_from_their_city_then_province_then_default() -> None:
    rng = random.Random(6)
    ids = pool()
    assert pick_caller_id(ids, SHENZHEN, rng, now=0).number == "+8675581234567"  # type: ignore[union-attr]
    capped = {"+8675581234567"}
    assert pick_caller_id(ids, SHENZHEN, rng, capped=capped, now=0).number == "+862081234567"  # type: ignore[union-attr]
    far = place_of("Xinjiang", "Urumqi")
    assert pick_caller_id(ids, far, rng, now=0).number == "+861081234567"  # type: ignore[union-attr]


def test_quarantined_numbers_are_never_shown() -> None:
    rng = random.Random(7)
    ids = pool(quarantined=frozenset({"+8675581234567", "+862081234567"}))
    shown = {pick_caller_id(ids, SHENZHEN, rng, now=0).number for _ in range(50)}  # type: ignore[union-attr]
    assert shown == {"+861081234567"}


def test_a_callee_does_not_see_the_same_number_within_the_cooldown() -> None:
    rng = random.Random(8)
    ids = pool(cooldown_days=7)
    day = 86_400.0
    seen = {"+8675581234567": 100 * day}
    chosen = pick_caller_id(ids, SHENZHEN, rng, shown=seen, now=103 * day)
    assert chosen is not None and chosen.number == "+862081234567"
    after = pick_caller_id(ids, SHENZHEN, rng, shown=seen, now=108 * day)
    assert after is not None and after.number == "+8675581234567"


def test_nothing_is_chosen_when_every_number_rests() -> None:
    ids = pool(quarantined=frozenset(n.number for n in pool().numbers))
    assert pick_caller_id(ids, SHENZHEN, random.Random(9), now=0) is None


def test_a_trunk_whose_route_to_the_callees_network_is_excluded_keeps_the_other_networks() -> None:
    rng = random.Random(5)
    a = replace(trunk("a"), networks={"cn-china-unicom": TrunkState.EJECTED})
    b = trunk("b")
    unicom = [pick_trunk([a, b], rng, callee_network="cn-china-unicom") for _ in range(500)]
    mobile = [pick_trunk([a, b], rng, callee_network="cn-china-mobile") for _ in range(500)]
    assert {t.name for t in unicom if t} == {"b"}
    assert 0.4 < sum(t is not None and t.name == "a" for t in mobile) / 500 < 0.6
    assert pick_trunk([a], rng, callee_network="cn-china-unicom") is None


def test_a_route_on_probation_gets_a_probes_share_of_its_networks_calls() -> None:
    rng = random.Random(6)
    a = replace(trunk("a"), networks={"cn-china-unicom": TrunkState.PROBING})
    names = [
        p.name
        for p in (
            pick_trunk([a, trunk("b")], rng, callee_network="cn-china-unicom") for _ in range(4000)
        )
        if p
    ]
    # PROBE_WEIGHT 100 against SCALE 1000.
    assert 0.05 < names.count("a") / len(names) < 0.13
