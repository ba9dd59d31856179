"""Every Prometheus metric of the operator, in one place: status as metrics.

In the cert-manager style, a state is one series per possible value, 1 on the current one, so
an alert reads `kdial_trunk_state{state="Ejected"} == 1`. Labels are bounded: pools and trunks
are objects someone declared, states a closed enum. Never a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge

from kdial.api.trunkpool import TrunkState
from kdial.routing.health import PoolHealth, Transition
from kdial.state.routing_table import RoutingTable

TRUNK_STATE = Gauge(
    "kdial_trunk_state",
    "1 for the trunk's current line-health state, 0 for the others.",
    ["trunkpool", "trunk", "state"],
)
TRUNK_WEIGHT = Gauge(
    "kdial_trunk_weight",
    "The trunk's routing weight in the current generation (0 takes no new calls).",
    ["trunkpool", "trunk"],
)
CAMPAIGN_CONDITION = Gauge(
    "kdial_campaign_condition",
    "1 for each condition's current status (True, False, Unknown), 0 for the others.",
    ["campaign", "condition", "status"],
)
CAMPAIGN_MAX_ABANDON = Gauge(
    "kdial_campaign_max_abandon_ratio",
    "The campaign's cap on abandoned calls over answered ones (spec.pacing.maxAbandonPercent).",
    ["campaign"],
)
CONTACTLIST_CONDITION = Gauge(
    "kdial_contactlist_condition",
    "1 for each condition's current status (True, False, Unknown), 0 for the others.",
    ["contactlist", "condition", "status"],
)
TRUNK_TRANSITIONS = Counter(
    "kdial_trunk_transitions_total",
    "Line-health state changes, by the state entered.",
    ["trunkpool", "trunk", "state"],
)


def trunk_states(
    pool: str, health: PoolHealth, table: RoutingTable, transitions: Iterable[Transition]
) -> None:
    for trunk in health.trunks:
        for state in TrunkState:
            TRUNK_STATE.labels(pool, trunk.name, state.value).set(int(trunk.state is state))
    for row in table.trunks:
        TRUNK_WEIGHT.labels(pool, row.name).set(row.weight)
    for transition in transitions:
        TRUNK_TRANSITIONS.labels(pool, transition.trunk, transition.target.value).inc()


def conditions(gauge: Gauge, key: str, found: Iterable[Mapping[str, object]]) -> None:
    """An object's conditions, as read from its status, as one series per (condition, status)."""
    for condition in found:
        for status in ("True", "False", "Unknown"):
            value = int(condition.get("status") == status)
            gauge.labels(key, str(condition.get("type", "")), status).set(value)


def forget(key: str, *gauges: Gauge) -> None:
    """Drops a deleted object's series, so no alert fires on an object that is gone."""
    for gauge in gauges:
        for labels in list(gauge._metrics):  # prometheus_client has no public lookup by prefix
            if labels[0] == key:
                gauge.remove(*labels)
