"""An operator restart keeps each trunk's state: what status said is where health starts."""

from __future__ import annotations

from kdial.api.trunkpool import TrunkState
from kdial.routing import health
from kdial_operator.trunkpool_reconcile import previous_states


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
