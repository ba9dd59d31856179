"""One pass over a TrunkPool: counted outcomes in, trunk states, routing generation and status out.

The daemon (`trunkpools.py`) runs a pass every `health_interval_seconds` and keeps a `Watch`
between passes: the pool's health (`kdial.routing.health.PoolHealth`, seeded from status after
a restart so an ejected trunk stays out), the last counter bucket read, and recent post-dial
delays. A pass:

1. reads the counter buckets completed since the last pass (`kdial.routing.counters`);
2. folds each trunk's calls, but those to a network it alone fails, into the trunk health
   state machine, then each callee network's calls into its routes' health
   (`kdial.routing.destinations`); both return transitions;
3. with status, and when the trunks change, reads the gateways' credentials and applies the
   pool's gateways Secret (`gateway_secret`), before the routing table that names its
   generation;
4. writes the routing table when it changed (a state, the spec or the gateways), and with
   status; its generation moves only when its content does, and workers read it within a
   second;
5. posts one Event per transition and patches status on a transition, or every
   `status_interval_seconds` for the rates.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from kdial.api.conditions import Cond, merged
from kdial.api.kinds import TRUNK_POOL
from kdial.api.meta import explain
from kdial.api.trunkpool import (
    HealthPolicy,
    NetworkDownStatus,
    NetworkRouteStatus,
    Trunk,
    TrunkPoolSpec,
    TrunkPoolStatus,
    TrunkState,
    TrunkStatus,
)
from kdial.plural import plural
from kdial.routing import counters, destinations, health
from kdial.routing.destinations import Change, Destinations
from kdial.routing.health import PoolHealth, Transition
from kdial.state.keys import PoolKeys
from kdial.state.routing_table import RoutingTable
from kdial_operator import dataplane, gateway_secret, gateway_status, metrics, routing
from kdial_operator.gateway_secret import Applied
from kdial_operator.gateway_status import GatewaySummary
from kdial_operator.indexes import key_of


@dataclass
class Watch:
    """What a TrunkPool's daemon keeps between passes."""

    health: PoolHealth | None = None
    destinations: Destinations = field(default_factory=Destinations)
    """The health of each trunk's route to each callee network."""
    seen: dict[int, dict[str, str]] = field(default_factory=dict)
    """The recent counter buckets as last read, by second (`counters.fresh`)."""
    pdd: deque[tuple[int, dict[str, list[int]]]] = field(default_factory=deque)
    """Post-dial-delay histograms of recent passes, by bucket second, for the window's p50."""
    status_at: float = 0.0
    invalid: str | None = None
    table: RoutingTable | None = None
    """The routing table as last written, and its generation."""
    generation: int = 0
    gateways: Applied | None = None
    """The gateways Secret as last applied, and for which trunks."""
    gateway_trunks: list[Trunk] | None = None
    gateways_problem: str | None = None
    """The gateways' problem last announced in an Event."""
    gateways_down: dict[str, bool] = field(default_factory=dict)
    """Whether each gateway was down on some switch at the last pass, for its Events."""


async def reconcile(body: kopf.Body, memo: kopf.Memo, watch: Watch) -> None:
    namespace, name = key_of(body)
    try:
        spec = TrunkPoolSpec.model_validate(dict(body.spec))
    except ValidationError as error:
        await _invalid(body, memo, watch, explain(error))
        return
    watch.invalid = None
    keys = PoolKeys("tp", namespace, name)
    now = time.time()
    names = [t.name for t in spec.trunks]
    if watch.health is None:
        watch.health = health.initial(names, now, previous_states(body.status))
        watch.destinations = destinations.restored(names, now, *previous_routes(body.status))
    else:
        watch.health = health.sync_trunks(watch.health, names, now)

    buckets = await dataplane.new_counts(memo.redis, keys, watch.seen, int(now))
    observations = counters.trunk_observations(b for _, b in buckets)
    by_network = counters.pair_observations(b for _, b in buckets)
    watch.health, watch.destinations, transitions, changes = destinations.evaluate(
        watch.health, watch.destinations, observations, by_network, policy=spec.health, now=now
    )
    _keep_pdd(watch, buckets, int(now) - spec.health.window_seconds)

    status_due = (
        bool(transitions or changes)
        or now - watch.status_at >= memo.settings.status_interval_seconds
    )
    # With status, too, so that a rotated password or a Secret created late is taken up.
    if status_due or watch.gateways is None or spec.trunks != watch.gateway_trunks:
        await _apply_gateways(body, memo, watch, spec.trunks)
    assert watch.gateways is not None
    table = routing.routing_table(
        spec,
        watch.health.states,
        watch.gateways.generation,
        watch.gateways.unconfigured,
        routes=destinations.pair_states(watch.destinations),
        down=destinations.waiting(watch.destinations, spec.health),
        fingerprints=watch.gateways.fingerprints,
    )
    # Passes come four times a second; the table changes with a state, the spec or the
    # gateways. Rewriting it with status as well puts it back should Redis have lost it.
    if table != watch.table or status_due:
        watch.generation = await dataplane.write_config(memo.redis, keys.config, table)
        watch.table = table
    metrics.trunk_states(f"{namespace}/{name}", watch.health, table, transitions)
    for transition in transitions:
        _announce(body, transition)
    for change in changes:
        _announce_route(body, change)
    gateways = await _gateways(body, memo, watch, keys, spec)
    if status_due:
        active = await dataplane.trunk_calls(memo.redis, keys, names)
        status = status_of(
            body, watch, table, active, watch.generation, policy=spec.health, gateways=gateways
        )
        await memo.kube.patch_status(TRUNK_POOL.plural, namespace, name, status.as_patch())
        watch.status_at = now


async def _apply_gateways(
    body: kopf.Body, memo: kopf.Memo, watch: Watch, trunks: list[Trunk]
) -> None:
    namespace, name = key_of(body)
    uid = str(body.meta.uid)
    watch.gateways = await gateway_secret.refresh(
        memo.kube, namespace, name, uid, trunks, last=watch.gateways
    )
    watch.gateway_trunks = trunks
    problem = watch.gateways.problem
    if problem and problem[1] != watch.gateways_problem:
        kopf.warn(body, reason=problem[0], message=problem[1])
    watch.gateways_problem = problem[1] if problem else None


async def _gateways(
    body: kopf.Body, memo: kopf.Memo, watch: Watch, keys: PoolKeys, spec: TrunkPoolSpec
) -> dict[str, GatewaySummary]:
    """The gateways as the switches report them; an Event when one goes down or comes back."""
    names = [t.name for t in spec.trunks if t.gateway is not None]
    reports = await gateway_status.read(memo.redis, keys)
    summaries = gateway_status.summarize(names, reports, int(time.time() * 1000))
    for gateway, down in gateway_status.transitions(watch.gateways_down, summaries):
        summary = summaries[gateway]
        message = (
            f"gateway {gateway}: {summary.state}/{summary.status}; dialable on "
            f"{summary.dialable} of {plural(summary.switches, 'switch', 'switches')}"
        )
        if down:
            kopf.warn(body, reason="GatewayDown", message=message)
        else:
            kopf.info(body, reason="GatewayUp", message=message)
    watch.gateways_down = {g: s.down for g, s in summaries.items()}
    return summaries


def _keep_pdd(watch: Watch, buckets: list[tuple[int, dict[str, int]]], horizon: int) -> None:
    for second, bucket in buckets:
        histograms = counters.pdd_histograms([bucket])
        if histograms:
            watch.pdd.append((second, histograms))
    while watch.pdd and watch.pdd[0][0] <= horizon:
        watch.pdd.popleft()


async def _invalid(body: kopf.Body, memo: kopf.Memo, watch: Watch, message: str) -> None:
    """An invalid spec: status says why, once; the last routing table stays as it was, so
    campaigns keep dialling on the last valid pool rather than stopping."""
    if watch.invalid == message:
        return
    namespace, name = key_of(body)
    cond = Cond("Ready", False, "InvalidSpec", message)
    status = _with_conditions(body, TrunkPoolStatus.model_validate(dict(body.status)), [cond])
    await memo.kube.patch_status(TRUNK_POOL.plural, namespace, name, status.as_patch())
    kopf.warn(body, reason="InvalidSpec", message=message)
    # Only now: a failed patch may still have been written, and the next pass must warn.
    watch.invalid = message


def previous_states(status: kopf.Status) -> dict[str, tuple[TrunkState, float]]:
    """Each trunk's state and since when, from status (an operator restart)."""
    out = {}
    for row in status.get("trunks", []):
        try:
            state = TrunkState(row.get("state", TrunkState.HEALTHY))
        except ValueError:
            continue
        since = row.get("lastTransitionTime")
        at = datetime.fromisoformat(since).timestamp() if since else time.time()
        out[str(row["name"])] = (state, at)
    return out


def previous_routes(
    status: kopf.Status,
) -> tuple[dict[str, dict[str, tuple[TrunkState, float]]], dict[str, tuple[TrunkState, float]]]:
    """The routes to callee networks out of health ({network: {trunk: (state, since)}}) and
    the networks down ({network: (state, since)}), from status (an operator restart)."""
    routes: dict[str, dict[str, tuple[TrunkState, float]]] = {}
    for row in status.get("networkRoutes", []):
        try:
            state = TrunkState(row.get("state"))
        except ValueError:
            continue
        routes.setdefault(str(row["network"]), {})[str(row["trunk"])] = (state, _since(row))
    down: dict[str, tuple[TrunkState, float]] = {}
    for row in status.get("networksDown", []):
        try:
            down[str(row["network"])] = (TrunkState(row.get("state")), _since(row))
        except ValueError:
            continue
    return routes, down


def _since(row: Mapping[str, Any]) -> float:
    since = row.get("lastTransitionTime")
    return datetime.fromisoformat(since).timestamp() if since else time.time()


def status_of(
    body: kopf.Body,
    watch: Watch,
    table: RoutingTable,
    active: dict[str, int],
    generation: int,
    *,
    policy: HealthPolicy,
    gateways: Mapping[str, GatewaySummary] | None = None,
) -> TrunkPoolStatus:
    """TrunkPool.status from the pool's health (pure but for the body it merges into)."""
    assert watch.health is not None
    # A gateway trunk's sofia gateway bears the trunk's name (`kdial.gateways`).
    gateway_trunks = {t.name for t in table.trunks if t.gateway is not None}
    weights = {t.name: t.weight for t in table.trunks}
    capacity = {t.name: t.max_concurrent_calls for t in table.trunks}
    pdd = _pdd(watch)
    rows: list[TrunkStatus] = []
    for trunk in watch.health.trunks:
        window = trunk.window
        row = TrunkStatus(
            name=trunk.name,
            state=trunk.state,
            weight=weights.get(trunk.name, 0),
            attempts=round(window.attempts),
            asr=_percent(window.asr),
            call_loss_rate=_percent(window.call_loss_rate),
            risk_blocked_rate=_percent(
                window.risk_blocked / window.attempts if window.attempts > 0 else None
            ),
            pdd_p50_ms=counters.percentile_ms(pdd.get(trunk.name, ()), 0.5),
            pdd_p95_ms=counters.percentile_ms(pdd.get(trunk.name, ()), 0.95),
            active_calls=active.get(trunk.name, 0),
            concurrency_use=_percent(
                active.get(trunk.name, 0) / capacity[trunk.name]
                if capacity.get(trunk.name)
                else None
            ),
            reason=trunk.message or trunk.reason,
            last_transition_time=_second(trunk.since),
        )
        shown = (gateways or {}).get(trunk.name) if trunk.name in gateway_trunks else None
        rows.append(_with_gateway(row, shown))
    serving = sum(t.state is not TrunkState.EJECTED for t in watch.health.trunks)
    out = [t for t in watch.health.trunks if t.state is not TrunkState.HEALTHY]
    problem = watch.gateways.problem if watch.gateways else None
    conditions = [
        Cond("Ready", False, *problem)
        if problem
        else Cond(
            "Ready", True, "Routable", f"{serving} of {plural(len(rows), 'trunk')} in service"
        ),
        Cond(
            "Degraded",
            True,
            "TrunksOutOfService",
            "; ".join(f"{t.name} is {t.state.value}" for t in out),
        )
        if out
        else Cond("Degraded", False, "AllHealthy", "every trunk is Healthy"),
    ]
    status = TrunkPoolStatus(
        trunks=rows,
        healthy=f"{serving}/{len(rows)}",
        routing_generation=generation,
        network_routes=_network_routes(watch.destinations, policy),
        networks_down=_networks_down(watch.destinations, policy),
    )
    return _with_conditions(body, status, conditions)


def _network_routes(dest: Destinations, policy: HealthPolicy) -> list[NetworkRouteStatus]:
    """Every trunk's route to a callee network that is not Healthy, by network then trunk."""
    rows = []
    for network in dest.networks:
        for pair in network.pairs.trunks:
            if pair.state is TrunkState.HEALTHY:
                continue
            probe = (
                _second(destinations.next_probe(pair.since, pair.ejections, policy))
                if pair.state is TrunkState.EJECTED
                else None
            )
            rows.append(
                NetworkRouteStatus(
                    trunk=pair.name,
                    network=network.name,
                    state=pair.state,
                    reason=pair.message or pair.reason,
                    last_transition_time=_second(pair.since),
                    next_probe_time=probe,
                )
            )
    return rows


def _networks_down(dest: Destinations, policy: HealthPolicy) -> list[NetworkDownStatus]:
    probes = destinations.waiting(dest, policy)
    return [
        NetworkDownStatus(
            network=n.name,
            state=n.state,
            reason=n.message or n.reason,
            last_transition_time=_second(n.since),
            next_probe_time=_second(probes[n.name]) if n.name in probes else None,
        )
        for n in dest.networks
        if n.state is not TrunkState.HEALTHY
    ]


def _with_gateway(row: TrunkStatus, summary: GatewaySummary | None) -> TrunkStatus:
    if summary is None:
        return row
    return row.model_copy(
        update={
            "gateway": summary.state,
            "gateway_dialable": f"{summary.dialable}/{summary.switches}",
        }
    )


def _with_conditions(
    body: kopf.Body, status: TrunkPoolStatus, conds: list[Cond]
) -> TrunkPoolStatus:
    generation = body.meta.get("generation")
    old = list(body.status.get("conditions", []))
    conditions = merged(old, conds, generation, datetime.now(UTC))
    return status.model_copy(update={"observed_generation": generation, "conditions": conditions})


def _pdd(watch: Watch) -> dict[str, list[int]]:
    """Each trunk's post-dial-delay histogram over the window."""
    sums: dict[str, list[int]] = {}
    for _, histograms in watch.pdd:
        for trunk, bins in histograms.items():
            total = sums.setdefault(trunk, [0] * len(bins))
            for i, count in enumerate(bins):
                total[i] += count
    return sums


def _announce(body: kopf.Body, transition: Transition) -> None:
    """One Event per transition: a warning when a trunk leaves service or degrades."""
    reason = f"Trunk{transition.target.value}"
    message = (
        f"trunk {transition.trunk}: {transition.source.value} -> {transition.target.value}: "
        f"{transition.message or transition.reason}"
    )
    if transition.target in (TrunkState.EJECTED, TrunkState.DEGRADED):
        kopf.warn(body, reason=reason, message=message)
    else:
        kopf.info(body, reason=reason, message=message)


def _announce_route(body: kopf.Body, change: Change) -> None:
    """One Event per change of a trunk's route to a callee network, or of the network itself."""
    if change.trunk is None:
        reason = {
            TrunkState.EJECTED: "NetworkDown",
            TrunkState.PROBING: "NetworkProbing",
        }.get(change.target, "NetworkUp")
        subject = f"callee network {change.network} on every trunk"
    else:
        reason = {
            TrunkState.EJECTED: "NetworkRouteExcluded",
            TrunkState.PROBING: "NetworkRouteProbing",
            TrunkState.DEGRADED: "NetworkRouteDegraded",
        }.get(change.target, "NetworkRouteRestored")
        subject = f"trunk {change.trunk} to callee network {change.network}"
    message = (
        f"{subject}: {change.source.value} -> {change.target.value}: "
        f"{change.message or change.reason}"
    )
    if change.target in (TrunkState.EJECTED, TrunkState.DEGRADED):
        kopf.warn(body, reason=reason, message=message)
    else:
        kopf.info(body, reason=reason, message=message)


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{100 * rate:.1f}%"


def _second(at: float) -> datetime:
    """`at` to the second, as status keeps times."""
    return datetime.fromtimestamp(int(at), UTC)
