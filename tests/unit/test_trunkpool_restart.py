"""An operator restart keeps each trunk's state, and each route to a callee network's: what
status said is where health starts."""

from __future__ import annotations

from kdial.api.trunkpool import HealthPolicy, TrunkState
from kdial.routing import destinations, health
from kdial_operator.trunkpool_reconcile import previous_routes, previous_states


def test_trunk_states_are_read_back_from_status() -> None:
    status = {
        "trunks": [
            {"name": "a", "state": "Healthy", "lastTransitionTime": "2026-11-23T10:00:00Z"},
            {"name": "b", "state": "Ejected", "lastTransitionTime": "2026-11-23T10:05:00Z"},
            {"name": "c", "state": "NotAState"},
        ]
    }
    previous = previous_states(status)  # type: ignore[arg-type]

    assert set(previous) == {"a", "b"}
    assert previous["b"] == (TrunkState.EJECTED, 1795428300.0)
    pool = health.initial(["a", "b", "c"], now=1795428400.0, previous=previous)
    assert pool.states == {
        "a": TrunkState.HEALTHY,
        "b": TrunkState.EJECTED,
        "c": TrunkState.HEALTHY,
    }


def test_routes_to_callee_networks_and_networks_down_are_read_back_from_status() -> None:
    status = {
        "networkRoutes": [
            {
                "trunk": "a",
                "network": "cn-china-unicom",
                "state": "Ejected",
                "lastTransitionTime": "2026-11-23T10:05:00Z",
            },
            {"trunk": "b", "network": "cn-china-unicom", "state": "NotAState"},
        ],
        "networksDown": [
            {
                "network": "cn-china-telecom",
                "state": "Ejected",
                "lastTransitionTime": "2026-11-23T10:06:00Z",
            }
        ],
    }
    now = 1795428400.0
    dest = destinations.restored(["a", "b"], now, *previous_routes(status))  # type: ignore[arg-type]

    assert destinations.pair_states(dest) == {"a": {"cn-china-unicom": TrunkState.EJECTED}}
    policy = HealthPolicy(eject_seconds=60)
    assert destinations.waiting(dest, policy) == {"cn-china-telecom": 1795428360.0 + 60}
