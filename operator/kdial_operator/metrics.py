"""Every Prometheus metric of the operator, in one place: status as metrics.

In the cert-manager style, a state is one series per possible value, 1 on the current one, so
an alert reads `kdial_trunk_state{state="Ejected"} == 1`. Labels are bounded: pools and trunks
are objects someone declared, states a closed enum. Never a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
CAMPAIGN_CONTACTS = Gauge(
    "kdial_campaign_contacts",
    "The campaign's contacts by where its ledger holds them (status.progress): pending, "
    "inFlight, closed.",
    ["campaign", "state"],
)
CAMPAIGN_WAITING = Gauge(
    "kdial_campaign_waiting_contacts",
    "Pending contacts not due yet, by why (status.waiting): window, retry, cap, trunk, held.",
    ["campaign", "reason"],
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


#: The series of `CAMPAIGN_CONTACTS` and `CAMPAIGN_WAITING`: status fields, a closed set.
LEDGER_STATES = ("pending", "inFlight", "closed")
WAIT_REASONS = ("window", "retry", "cap", "trunk", "held")


def campaign_contacts(key: str, status: Mapping[str, Any]) -> None:
    """A campaign's contacts by ledger state and its waiting ones by reason, as its status
    (written by the operator's last pass) says; 0 for a field status leaves out."""
    progress, waiting = status.get("progress", {}), status.get("waiting", {})
    for state in LEDGER_STATES:
        CAMPAIGN_CONTACTS.labels(key, state).set(int(progress.get(state, 0)))
    for reason in WAIT_REASONS:
        CAMPAIGN_WAITING.labels(key, reason).set(int(waiting.get(reason, 0)))


def forget(key: str, *gauges: Gauge) -> None:
    """Drops a deleted object's series, so no alert fires on an object that is gone."""
    for gauge in gauges:
        for labels in list(gauge._metrics):  # prometheus_client has no public lookup by prefix
            if labels[0] == key:
                gauge.remove(*labels)
