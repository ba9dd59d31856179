"""Routing weights (kdial.routing.weights)."""

from __future__ import annotations

from kdial.api.trunkpool import Trunk, TrunkState
from kdial.routing.weights import (
    PROBE_WEIGHT,
    SCALE,
    RoutedTrunk,
    carrier_fit,
    region_fit,
    table,
    weight_for,
)


def trunk(**kw: object) -> RoutedTrunk:
    base: dict[str, object] = {"name": "t", "max_concurrent_calls": 100}
    return RoutedTrunk(**(base | kw))  # type: ignore[arg-type]


def test_a_default_healthy_idle_free_trunk_weighs_scale() -> None:
    assert weight_for(trunk()) == SCALE


def test_health_states() -> None:
    assert weight_for(trunk(state=TrunkState.EJECTED)) == 0
    assert weight_for(trunk(state=TrunkState.DEGRADED)) == SCALE // 2
    # Probing is a small fixed share whatever the priority, cost or fit.
    assert weight_for(trunk(state=TrunkState.PROBING, priority=1000)) == PROBE_WEIGHT
    assert weight_for(trunk(state=TrunkState.PROBING, regions=("CN-GD",)), "CN-BJ") == 100


def test_priority_cost_and_headroom_scale_the_weight() -> None:
    assert weight_for(trunk(priority=200)) == 2 * SCALE
    assert weight_for(trunk(priority=0)) == SCALE // 100  # listed trunks stay usable
    assert weight_for(trunk(cost_per_minute_micros=100_000)) == SCALE // 2
    assert weight_for(trunk(active_calls=75)) == SCALE // 4
    assert weight_for(trunk(active_calls=100)) == 0  # full
    assert weight_for(trunk(state=TrunkState.PROBING, active_calls=100)) == 0
    # Rounding never takes a usable trunk out.
    assert weight_for(trunk(priority=0, cost_per_minute_micros=10**9, active_calls=99)) == 1


def test_region_and_carrier_fit() -> None:
    assert region_fit((), "CN-GD") == 1.0
    assert region_fit(("CN-GD",), None) == 1.0
    assert region_fit(("CN",), "CN-GD") == 2.0  # a country contains its provinces
    assert region_fit(("cn-gd",), "CN-GD") == 2.0
    assert region_fit(("CN-GD",), "CN") == 1.0  # callee known only to the country
    assert region_fit(("CN-BJ",), "CN-GD") == 0.25
    assert carrier_fit(("China Mobile",), "china mobile") == 2.0
    assert carrier_fit(("China Mobile",), "China Unicom") == 0.25
    assert carrier_fit(("China Mobile",), "") == 1.0
    served = trunk(regions=("CN-GD",), carriers=("China Mobile",))
    assert weight_for(served, "CN-GD", "China Mobile") == 4 * SCALE
    assert weight_for(served, "CN-BJ", "China Unicom") == round(SCALE / 16)


def test_from_the_spec_and_the_table() -> None:
    spec = Trunk(name="gd", sip_uri="gw.example", max_concurrent_calls=30, max_calls_per_second=5)
    routed = RoutedTrunk.of(spec, TrunkState.HEALTHY, active_calls=15)
    other = RoutedTrunk.of(spec.model_copy(update={"name": "x"}), TrunkState.EJECTED)
    assert table([routed, other]) == {"gd": SCALE // 2, "x": 0}
