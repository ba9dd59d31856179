"""Line health per (trunk, callee network) pair: route around a trunk that lost its route to one
network while it keeps the others, and wait out a network that is down on every trunk.

A carrier that loses its route to one mobile network fails only that network's numbers: judged
as a whole the trunk looks a little worse, and either stays in service and burns that network's
contacts, or is ejected and takes every other network's calls down with it. So each callee
network (`kdial.networks`) is judged on its own, as a pool whose "trunks" are the routes to it:

- **Pairs.** Every evaluation, the network's calls on each trunk are folded into its pairs by
  the trunk health state machine itself (`kdial.routing.health.evaluate`): the same detectors,
  each pair judged against the same network on the other trunks, the same confirmation,
  Envoy-style rest and probes, and never the last route in service excluded. A pair out of
  service (Ejected, Probing) or suspect (Degraded) is what the routing table carries for its
  trunk (`pair_states`); the worker weighs the trunk for that network's callees by it and the
  trunk keeps every other network.
- **A network down.** When every trunk in service fails the network at once (each pair's call
  loss over the window confidently above the policy's ceiling, at least one with
  ``minSamples`` attempts), the callee side is down, not the lines: no pair is excluded, the
  pairs' evidence is set aside, and the network's contacts wait (`waiting`) instead of burning
  their attempts. The network rests ``ejectSeconds``, doubled per consecutive outage up to
  ``maxEjectSeconds``, then probes with ``probeCalls`` calls on every route in service, as an
  ejected trunk does; its pairs are judged again, from fresh evidence, once it is back.

**The trunk's own judgement.** A trunk that fails one network of three loses a third of its
calls, which ejects it as a whole long before the route's pair has enough calls to be judged.
So the calls of a network the trunk is *suspect* on (its pair not Healthy, or a loss detector
past the level a Degraded trunk clears at) are held back from the trunk's own judgement until
its *witness* says whether the failure is the trunk's (`_verdict`): the trunk's calls, since the
hold began, to its other networks in health, suspect or not. Held calls confidently worse than
the witness are the route's and are dropped (the pair judges them); held calls no worse than
the witness's loss rate show the trunk failing everywhere and join its evidence, so a trunk
losing half its calls everywhere is judged on every call, as it would be without pairs. (A
witness of the networks not suspect alone would keep only the lucky ones: a network that loses
a call turns suspect.) A trunk whose calls
nearly all go to the suspect networks (a list of one network) is judged on everything. Held
calls wait for a witness however long: lost calls end sooner than answered ones, so a run of
them with nothing else finished in between says nothing about the trunk. A trunk ejected as a
whole speaks for its routes, which start over when it is back.

**A trunk's probe.** A probe of a few calls is judged as a whole, so a trunk that came back but
for one network (a third of its calls) would fail most probes and rest longer each time. When
the lost calls of a probe that would fail it all went to one network, and the trunk's calls to
the others connected, that route is excluded (``TrunkProbeFailed``) and its calls leave the
probe, which goes on with the other networks (`_probed`).

Pure, like `kdial.routing.health`: `evaluate` takes and returns both the trunks' `PoolHealth`
and the routes' `Destinations`; the caller keeps them for the next call and turns the returned
transitions and `Change`s into status, Events and a new routing generation.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from kdial.api.trunkpool import HealthPolicy, TrunkState
from kdial.causes import CLASSES, CauseClass
from kdial.plural import plural
from kdial.routing import health
from kdial.routing.detectors import wilson
from kdial.routing.health import DEFAULT_TUNING, Observation, PoolHealth, TrunkHealth, Tuning

__all__ = [
    "Change",
    "Destinations",
    "NetworkHealth",
    "evaluate",
    "next_probe",
    "pair_states",
    "restored",
    "route_tuning",
    "waiting",
]

HEALTHY, DEGRADED, EJECTED, PROBING = (
    TrunkState.HEALTHY,
    TrunkState.DEGRADED,
    TrunkState.EJECTED,
    TrunkState.PROBING,
)
IN_SERVICE = frozenset({HEALTHY, DEGRADED})
_NONE = TrunkHealth("")
#: Calls to networks a trunk is suspect on are held back from its judgement only while its
#: other networks carry at least this share of its calls: without them the route cannot be
#: told from the trunk.
MIN_WITNESS_SHARE = 0.1
#: A network rarer than this is judged as if it carried this share of the calls: the margin
#: of a route (`route_tuning`) stays a few losses.
MIN_ROUTE_SHARE = 0.01
#: A route excluded by its trunk's probe (`_probed`).
TRUNK_PROBE = "TrunkProbeFailed"
#: The reasons a route is excluded for lost calls (not for answer rate).
LOSS_REASONS = frozenset({"CallLoss", "CallLossCeiling", TRUNK_PROBE})
NO_CALLS = Observation()
#: The cause classes of lost calls (call loss); refusals and unallocated numbers are not.
LINE_FAILURES = frozenset(CLASSES) - {CauseClass.FORBIDDEN, CauseClass.UNALLOCATED}


@dataclass(frozen=True, slots=True)
class NetworkHealth:
    """One callee network: each trunk's route to it, and whether it is down everywhere."""

    name: str
    pairs: PoolHealth
    """The routes to this network, one per trunk of the pool, judged as trunks are."""
    state: TrunkState = HEALTHY
    """Healthy while reachable; Ejected while down on every trunk (its contacts wait);
    Probing while its probe calls go out."""
    since: float = 0.0
    reason: str = "Started"
    message: str = ""
    outages: int = 0
    """Consecutive outages; sets the rest time."""
    probe_attempts: int = 0
    probe_losses: int = 0


@dataclass(frozen=True, slots=True)
class Hold:
    """A trunk's calls to one network held back from its judgement, and their witness: the
    trunk's calls since to its other networks in health."""

    calls: Observation = NO_CALLS
    witness: Observation = NO_CALLS


@dataclass(frozen=True, slots=True)
class Destinations:
    """Every callee network a pool's calls reached, in the order first seen."""

    networks: tuple[NetworkHealth, ...] = ()
    held: Mapping[tuple[str, str], Hold] = field(default_factory=dict)
    """Each trunk's calls to each network it is suspect on, not yet given to its judgement
    ({(trunk, network): hold})."""
    probes: Mapping[str, Mapping[str, Observation]] = field(default_factory=dict)
    """Each probing trunk's probe calls so far, per network ({trunk: {network: calls}})."""

    def get(self, name: str) -> NetworkHealth | None:
        return next((n for n in self.networks if n.name == name), None)


@dataclass(frozen=True, slots=True)
class Change:
    """A pair's change of state, or the whole network's (``trunk`` None): an Event and a new
    routing generation."""

    network: str
    trunk: str | None
    source: TrunkState
    target: TrunkState
    reason: str
    message: str
    at: float

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)


def evaluate(
    pool: PoolHealth,
    destinations: Destinations,
    trunks: Mapping[str, Observation],
    networks: Mapping[str, Mapping[str, Observation]],
    *,
    policy: HealthPolicy,
    now: float,
    tuning: Tuning = DEFAULT_TUNING,
) -> tuple[PoolHealth, Destinations, tuple[health.Transition, ...], tuple[Change, ...]]:
    """One evaluation of a pool: each network's counts on each trunk (``networks``: {network:
    {trunk: counts}}) folded into the routes' health, then each trunk's (``trunks``) into the
    trunks', on what `_judged` leaves them. Returns both, and the transitions of each.

    The routes go first, so that a trunk is judged on the suspicion its routes' calls of this
    very evaluation raise (a late batch of a failing network's calls is not the trunk's). A
    trunk ejected as a whole speaks for its routes: one it would exclude in the same
    evaluation is not."""
    destinations, changes = _routes(
        destinations, networks, pool.states, policy=policy, now=now, tuning=tuning
    )
    destinations, judged = _judged(destinations, trunks, networks, tuning)
    pool, destinations, judged, excluded = _probed(
        pool, destinations, judged, networks, policy=policy, now=now
    )
    pool, transitions = health.evaluate(pool, judged, policy, now, tuning=tuning)
    changes += excluded
    # A trunk out of service speaks for its routes: what it held back is void, and a probe's
    # tally lasts as long as the probe.
    states = pool.states
    held = {k: hold for k, hold in destinations.held.items() if states.get(k[0]) in IN_SERVICE}
    probes = {t: calls for t, calls in destinations.probes.items() if states.get(t) is PROBING}
    destinations = replace(destinations, held=held, probes=probes)
    ejected = {t.trunk for t in transitions if t.target is EJECTED}
    if ejected:
        destinations, changes = _spoken_for(destinations, changes, ejected, now)
    return pool, destinations, transitions, changes


def _probed(
    pool: PoolHealth,
    destinations: Destinations,
    judged: Mapping[str, Observation],
    observations: Mapping[str, Mapping[str, Observation]],
    *,
    policy: HealthPolicy,
    now: float,
) -> tuple[PoolHealth, Destinations, dict[str, Observation], tuple[Change, ...]]:
    """The probing trunks' calls of this evaluation added to their probes' per network; a
    route that alone fails its trunk's probe excluded, and its calls taken out of the probe
    (the module's docstring)."""
    judged = dict(judged)
    probes = dict(destinations.probes)
    trunks: list[TrunkHealth] = []
    changes: list[Change] = []
    for trunk in pool.trunks:
        name, probing = trunk.name, trunk
        if trunk.state is not PROBING:
            trunks.append(trunk)
            continue
        calls = {
            n: by_trunk[name]
            for n, by_trunk in observations.items()
            if name in by_trunk and _reachable(destinations, n)
        }
        tally = dict(probes.get(name, {}))
        for n, counts in calls.items():
            tally[n] = tally.get(n, NO_CALLS) + counts
        network = _failing_route(tally, policy)
        if network is not None and _served_elsewhere(pool, destinations, name, network):
            lost = tally.pop(network)
            probing, judged[name] = _without(probing, judged[name], lost, calls.get(network))
            others = sum(tally.values(), NO_CALLS)
            why = (
                f"trunk {name}'s probe lost {lost.call_loss} of its "
                f"{plural(lost.attempts, 'call')} to this network and none of its "
                f"{others.attempts} to others"
            )
            destinations = _exclude(destinations, network, name, why, now)
            changes.append(Change(network, name, HEALTHY, EJECTED, TRUNK_PROBE, why, now))
        probes[name] = tally
        trunks.append(probing)
    pool = PoolHealth(tuple(trunks), pool.evaluated_at)
    return pool, replace(destinations, probes=probes), judged, tuple(changes)


def _without(
    trunk: TrunkHealth, judged: Observation, route: Observation, now: Observation | None
) -> tuple[TrunkHealth, Observation]:
    """A probing trunk and this evaluation's counts without one route's probe calls
    (``route``, of which ``now`` came in this evaluation)."""
    earlier = _minus(route, now or NO_CALLS)
    trunk = replace(
        trunk,
        probe_attempts=trunk.probe_attempts - earlier.attempts,
        probe_losses=trunk.probe_losses - earlier.call_loss,
    )
    if now is None:
        return trunk, judged
    return trunk, _minus(judged, _split(judged, {"route": now})["route"])


def _failing_route(tally: Mapping[str, Observation], policy: HealthPolicy) -> str | None:
    """The network whose probe calls lost more than a probe allows while the trunk's calls to
    every other network connected, if any."""
    allowed = policy.probe_calls * policy.call_loss_ceiling_percent // 100
    for network, calls in tally.items():
        others = sum((c for n, c in tally.items() if n != network), NO_CALLS)
        if calls.call_loss > allowed and others.attempts > 0 and not others.call_loss:
            return network
    return None


def _reachable(destinations: Destinations, network: str) -> bool:
    """Not down (nor probing) on every trunk: what such a network loses is the callee side's."""
    known = destinations.get(network)
    return known is not None and known.state is HEALTHY


def _served_elsewhere(
    pool: PoolHealth, destinations: Destinations, trunk: str, network: str
) -> bool:
    """Whether another trunk in service has its route to ``network`` in service: the last
    route to a network is never excluded."""
    known = destinations.get(network)
    routes = {p.name: p for p in known.pairs.trunks} if known is not None else {}
    return any(
        t.name != trunk and t.in_service and t.name in routes and routes[t.name].in_service
        for t in pool.trunks
    )


def _exclude(
    destinations: Destinations, network: str, trunk: str, why: str, now: float
) -> Destinations:
    """The trunk's route to ``network`` (known: `_routes` adds every network called) excluded
    on its first exclusion: it rests and probes as any excluded route does."""
    excluded = TrunkHealth(trunk, EJECTED, now, TRUNK_PROBE, why, ejections=1)

    def without(n: NetworkHealth) -> NetworkHealth:
        pairs = tuple(excluded if p.name == trunk else p for p in n.pairs.trunks)
        return replace(n, pairs=PoolHealth(pairs, n.pairs.evaluated_at))

    networks = tuple(without(n) if n.name == network else n for n in destinations.networks)
    return replace(destinations, networks=networks)


def _spoken_for(
    destinations: Destinations, changes: tuple[Change, ...], ejected: set[str], now: float
) -> tuple[Destinations, tuple[Change, ...]]:
    """The routes of trunks just ejected as a whole that were excluded in the same evaluation,
    back in service (and their exclusions unsaid)."""
    undone = {(c.network, c.trunk) for c in changes if c.trunk in ejected and c.target is EJECTED}
    networks = tuple(
        replace(
            network,
            pairs=PoolHealth(
                tuple(
                    TrunkHealth(p.name, HEALTHY, now) if (network.name, p.name) in undone else p
                    for p in network.pairs.trunks
                ),
                network.pairs.evaluated_at,
            ),
        )
        for network in destinations.networks
    )
    kept = tuple(c for c in changes if (c.network, c.trunk) not in undone)
    return replace(destinations, networks=networks), kept


def _routes(
    destinations: Destinations,
    observations: Mapping[str, Mapping[str, Observation]],
    trunks: Mapping[str, TrunkState],
    *,
    policy: HealthPolicy,
    now: float,
    tuning: Tuning,
) -> tuple[Destinations, tuple[Change, ...]]:
    """Every network's routes after this evaluation; ``trunks`` are the pool's trunks, in
    order, with their own state as of the last evaluation. A trunk out of service (Ejected, Probing)
    speaks for all its routes: theirs starts over from its return, but for a route already
    excluded, which keeps its own rest and probe."""
    names = list(trunks)
    known = {n.name: n for n in destinations.networks}
    order = [*known, *sorted(set(observations) - set(known))]
    shares = _shares(destinations)
    networks: list[NetworkHealth] = []
    changes: list[Change] = []
    for name in order:
        network = known.get(name) or NetworkHealth(name, health.initial(names, now), since=now)
        pairs = health.sync_trunks(network.pairs, names, now)
        pairs = PoolHealth(
            tuple(
                TrunkHealth(p.name, HEALTHY, now)
                if p.in_service and trunks.get(p.name) not in IN_SERVICE
                else p
                for p in pairs.trunks
            ),
            pairs.evaluated_at,
        )
        calls = {
            trunk: counts
            for trunk, counts in observations.get(name, {}).items()
            if trunks.get(trunk) in IN_SERVICE or (pairs.get(trunk) or _NONE).state is PROBING
        }
        network, changed = _step(
            replace(network, pairs=pairs),
            calls,
            trunks,
            policy,
            now=now,
            tuning=route_tuning(tuning, shares.get(name, 0.0)),
        )
        networks.append(network)
        changes += changed
    return replace(destinations, networks=tuple(networks)), tuple(changes)


def route_tuning(tuning: Tuning, share: float) -> Tuning:
    """The tuning a network's routes are judged with, the network carrying ``share`` of the
    pool's calls: each route spends that share of `Tuning.route_budget_share` of its trunk's
    false-alarm budget. A CUSUM's false alarms fall about e-fold per unit of threshold, so the
    margin is the log of the budget's cut (held by tests/unit/test_destinations.py against
    the computed rates)."""
    cut = max(share, MIN_ROUTE_SHARE) * tuning.route_budget_share
    return replace(tuning, threshold_margin=math.log(1.0 / cut))


def _shares(destinations: Destinations) -> dict[str, float]:
    """Each network's share of the pool's calls over the window."""
    calls = {n.name: sum(p.window.attempts for p in n.pairs.trunks) for n in destinations.networks}
    total = sum(calls.values())
    return {name: count / total for name, count in calls.items()} if total > 0 else {}


def _judged(
    destinations: Destinations,
    trunks: Mapping[str, Observation],
    observations: Mapping[str, Mapping[str, Observation]],
    tuning: Tuning,
) -> tuple[Destinations, dict[str, Observation]]:
    """What each trunk is judged on this evaluation: its calls, but those to networks it alone
    is suspect on (the module's docstring)."""
    suspect = _suspect(destinations, tuning)
    witnesses = _witnesses(destinations)
    held = dict(destinations.held)
    out: dict[str, Observation] = {}
    for trunk, counts in trunks.items():
        mine = suspect.get(trunk, frozenset())
        calls = {n: observations.get(n, {}).get(trunk, NO_CALLS) for n in observations}
        doubtful = _split(counts, {n: calls[n] for n in sorted(mine) if n in calls})
        rest = _minus(counts, sum(doubtful.values(), NO_CALLS))
        holding = sorted({n for t, n in held if t == trunk} | set(doubtful))
        if _share(destinations, trunk, mine) > 1 - MIN_WITNESS_SHARE:
            # No other network to tell the route from the trunk by: everything is its evidence.
            for network in holding:
                rest += held.pop((trunk, network), Hold()).calls + doubtful.get(network, NO_CALLS)
            out[trunk] = rest
            continue
        judged = rest
        for network in holding:
            hold = held.pop((trunk, network), Hold())
            kept = hold.calls + doubtful.get(network, NO_CALLS)
            others = (c for n, c in calls.items() if n != network and n in witnesses[trunk])
            witness = sum(others, hold.witness)
            verdict = _verdict(kept, witness, tuning) if kept.attempts else False
            if verdict is None and network not in mine:
                # Suspect no more: the trunk's, never shown to be the route's; unless the route
                # started over because the network's calls on the other trunks failed alike (a
                # callee network failing everywhere is no line's).
                verdict = not _rebased(destinations, trunk, network)
            if verdict:
                judged += kept  # it fails elsewhere as much: every call is the trunk's evidence
            elif verdict is None:
                held[(trunk, network)] = Hold(kept, witness)
        out[trunk] = judged
    return replace(destinations, held=held), out


def _rebased(destinations: Destinations, trunk: str, network: str) -> bool:
    """Whether the trunk's route to ``network`` started its loss detectors over in this
    evaluation, the other trunks' calls to the network having shifted."""
    known = destinations.get(network)
    pair = known.pairs.get(trunk) if known is not None else None
    return pair is not None and pair.loss.rebased


def _verdict(held: Observation, witness: Observation, tuning: Tuning) -> bool | None:
    """Whether held calls are the trunk's evidence: True when the trunk's other calls (the
    witness) lose about as many, so that the failure is the trunk's; False when the held calls
    lose confidently more than the witness could (at the stricter `Tuning.bound_z`: the check
    is made every evaluation, and a trunk failing everywhere must not lose its evidence to
    one unlucky stretch of the witness), so that it is the route's; None while the witness
    cannot tell yet."""
    if witness.attempts <= 0:
        return None
    rate = witness.call_loss / witness.attempts
    if wilson(held.call_loss, held.attempts, tuning.witness_z).low <= rate:
        return True
    witnessed = wilson(witness.call_loss, witness.attempts, tuning.bound_z)
    if witnessed.high < wilson(held.call_loss, held.attempts, tuning.bound_z).low:
        return False
    return None


def _witnesses(destinations: Destinations) -> dict[str, set[str]]:
    """{trunk: networks} whose calls on the trunk witness for its held calls to any other
    network: its routes in health, suspect or not (a network suspect because it lost a call
    or two is as good a witness as any; leaving it out would keep only the lucky ones)."""
    out: dict[str, set[str]] = defaultdict(set)
    for network in destinations.networks:
        for pair in network.pairs.trunks:
            if network.state is HEALTHY and pair.state is HEALTHY:
                out[pair.name].add(network.name)
    return out


def _share(destinations: Destinations, trunk: str, networks: frozenset[str]) -> float:
    """The share of ``networks`` in the trunk's calls over the window (1 with none)."""
    if not networks:
        return 0.0
    mine = every = 0.0
    for network in destinations.networks:
        pair = network.pairs.get(trunk)
        if pair is not None:
            every += pair.window.attempts
            mine += pair.window.attempts if network.name in networks else 0.0
    return mine / every if every > 0 else 1.0


def _suspect(destinations: Destinations, tuning: Tuning) -> dict[str, frozenset[str]]:
    """{trunk: networks} whose pair is out of health or whose loss detector is past the
    level a Degraded trunk clears at, and every network down or probing (what its probe calls
    lose is the callee side's)."""
    out: dict[str, set[str]] = {}
    for network in destinations.networks:
        for pair in network.pairs.trunks:
            limits = health.thresholds("loss", pair.window.rate, tuning)
            own = zip(pair.loss.own, limits, strict=False)  # none before a first call
            rising = any(c.statistic >= tuning.clear_fraction * h for c, h in own)
            if network.state is not HEALTHY or pair.state is not HEALTHY or rising:
                out.setdefault(pair.name, set()).add(network.name)
    return {trunk: frozenset(networks) for trunk, networks in out.items()}


def _split(whole: Observation, parts: Mapping[str, Observation]) -> dict[str, Observation]:
    """Parts of a trunk's calls (counted per network, without cause classes) with their shares
    of the trunk's failures by cause class: the line failures' by their share of the calls lost,
    the others' by their share of the calls; never more of a class than the trunk had. Exact
    when the parts are none or all of the calls, which is when the trunk's verdict can turn on
    them (an outage fails them all)."""
    left = list(whole.causes)
    out: dict[str, Observation] = {}
    for name, part in parts.items():
        lost = part.call_loss / whole.call_loss if whole.call_loss else 0.0
        calls = part.attempts / whole.attempts if whole.attempts else 0.0
        causes = []
        for i, (cause, count) in enumerate(zip(CLASSES, whole.causes, strict=True)):
            share = round(count * (lost if cause in LINE_FAILURES else calls))
            causes.append(min(share, left[i]))
            left[i] -= causes[-1]
        out[name] = replace(part, causes=tuple(causes))
    return out


def _minus(whole: Observation, part: Observation) -> Observation:
    return Observation(
        whole.attempts - part.attempts,
        whole.answered - part.answered,
        whole.call_loss - part.call_loss,
        whole.risk_blocked - part.risk_blocked,
        whole.self_inflicted,
        tuple([a - b for a, b in zip(whole.causes, part.causes, strict=True)]),
    )


def restored(
    trunks: Iterable[str],
    now: float,
    routes: Mapping[str, Mapping[str, tuple[TrunkState, float]]],
    down: Mapping[str, tuple[TrunkState, float]],
) -> Destinations:
    """A pool's routes after an operator restart, from what status said ({network: {trunk:
    (state, since)}} of the routes out of health, {network: (state, since)} of the networks
    down): an excluded route stays out and a probing one probes, a network down stays down;
    their evidence starts over, as a restarted trunk's does (`health.initial`)."""
    names = list(trunks)
    networks = []
    for name in [*routes, *(n for n in down if n not in routes)]:
        pairs = health.initial(names, now, routes.get(name))
        state, since = down.get(name, (HEALTHY, now))
        outages = int(state is not HEALTHY)
        message = f"{state.value.lower()} before" if outages else ""
        networks.append(NetworkHealth(name, pairs, state, since, "Restored", message, outages))
    return Destinations(tuple(networks))


def pair_states(destinations: Destinations) -> dict[str, dict[str, TrunkState]]:
    """{trunk: {network: state}} of every pair not Healthy: what the routing table carries."""
    out: dict[str, dict[str, TrunkState]] = {}
    for network in destinations.networks:
        for pair in network.pairs.trunks:
            if pair.state is not HEALTHY:
                out.setdefault(pair.name, {})[network.name] = pair.state
    return out


def waiting(destinations: Destinations, policy: HealthPolicy) -> dict[str, float]:
    """{network: when it will be probed} of every network down on every trunk: its contacts
    wait (seconds since the epoch)."""
    return {
        n.name: n.since + health.eject_seconds(policy, n.outages)
        for n in destinations.networks
        if n.state is EJECTED
    }


def next_probe(since: float, ejections: int, policy: HealthPolicy) -> float:
    """When a pair (or network) out of service since ``since`` will be probed."""
    return since + health.eject_seconds(policy, ejections)


def _step(
    network: NetworkHealth,
    observations: Mapping[str, Observation],
    trunks: Mapping[str, TrunkState],
    policy: HealthPolicy,
    *,
    now: float,
    tuning: Tuning,
) -> tuple[NetworkHealth, list[Change]]:
    if network.state is EJECTED:
        rest = health.eject_seconds(policy, network.outages)
        if now - network.since < rest:
            return network, []
        probing = f"rested {rest:.0f} s; probing with {plural(policy.probe_calls, 'call')}"
        return _enter(network, PROBING, "Probing", probing, now)
    if network.state is PROBING:
        return _probe(network, observations, policy, now)
    if network.outages and now - network.since >= policy.max_eject_seconds:
        network = replace(network, outages=0)
    pairs, transitions = health.evaluate(network.pairs, observations, policy, now, tuning=tuning)
    down = _down(network.pairs, pairs, transitions, trunks=trunks, policy=policy, tuning=tuning)
    if down is not None:
        network, reinstated = _reinstated(network, policy, now)
        entered, changes = _enter(network, EJECTED, "NetworkDown", down, now)
        return entered, [*changes, *reinstated]
    changes = [
        Change(network.name, t.trunk, t.source, t.target, t.reason, t.message, t.at)
        for t in transitions
    ]
    return replace(network, pairs=pairs), changes


def _down(
    before: PoolHealth,
    after: PoolHealth,
    transitions: tuple[health.Transition, ...],
    *,
    trunks: Mapping[str, TrunkState],
    policy: HealthPolicy,
    tuning: Tuning,
) -> str | None:
    """Why the network is down on every trunk in service, or None when it is not.

    Every route in service is losing its calls confidently more often than the policy's
    ceiling (over its window, or over the run its loss detector blames: a few lost in a row),
    and one of them, with the ``minSamples`` any rule needs, was excluded for it in this very
    evaluation or has its alarm held because the other routes moved with it. One route failing
    alone is the line's; all at once, the callee side's."""
    serving = [p.name for p in before.trunks if p.in_service and trunks.get(p.name) in IN_SERVICE]
    excluded = {t.trunk: t for t in transitions if t.target is EJECTED}
    ceiling = policy.call_loss_ceiling_percent / 100.0
    evidence: list[str] = []
    alarmed = False
    for name in serving:
        if name in excluded:
            if excluded[name].reason not in LOSS_REASONS:
                return None
            evidence.append(f"{name}: {excluded[name].message}")
            alarmed = True
            continue
        pair = after.get(name)
        lost = None if pair is None else _lost(pair, ceiling, tuning)
        if pair is None or lost is None:
            return None
        evidence.append(f"{name}: {lost}")
        alarmed = alarmed or (pair.window.attempts >= policy.min_samples and _alarmed(pair, tuning))
    if not alarmed:
        return None
    return f"calls lost on every trunk in service ({'; '.join(evidence)})"


def _lost(pair: TrunkHealth, ceiling: float, tuning: Tuning) -> str | None:
    """How the route is losing calls confidently past ``ceiling``, or None when it is not."""
    window = pair.window
    if wilson(window.call_loss, window.attempts, tuning.bound_z).low > ceiling:
        return f"{round(window.call_loss)} of {plural(round(window.attempts), 'call')} lost"
    for cusum in pair.loss.own:
        if wilson(cusum.events, cusum.trials, tuning.bound_z).low > ceiling:
            return f"{cusum.events} of the last {plural(cusum.trials, 'call')} lost"
    return None


def _alarmed(pair: TrunkHealth, tuning: Tuning) -> bool:
    """A loss detector at its threshold (held there: `health` caps alarms it does not act on)."""
    limits = health.thresholds("loss", pair.window.rate, tuning)
    # A route that saw no call yet has no detectors.
    own = zip(pair.loss.own, limits, strict=False)
    return any(c.statistic >= h * (1 - 1e-9) for c, h in own)


def _probe(
    network: NetworkHealth,
    observations: Mapping[str, Observation],
    policy: HealthPolicy,
    now: float,
) -> tuple[NetworkHealth, list[Change]]:
    calls = sum((o for o in observations.values()), NO_CALLS)
    attempts = network.probe_attempts + calls.attempts
    losses = network.probe_losses + calls.call_loss
    network = replace(network, probe_attempts=attempts, probe_losses=losses)
    allowed = policy.probe_calls * policy.call_loss_ceiling_percent // 100
    if losses > allowed:
        failed = f"probe failed: {losses} of {plural(attempts, 'call')} lost"
        return _enter(network, EJECTED, "ProbeFailed", failed, now)
    if attempts >= policy.probe_calls:
        passed = f"probe passed: {plural(attempts, 'call')}, {losses} lost"
        return _enter(network, HEALTHY, "ProbePassed", passed, now)
    return network, []


def _reinstated(
    network: NetworkHealth, policy: HealthPolicy, now: float
) -> tuple[NetworkHealth, list[Change]]:
    """The network with the routes it lost to lost calls on their first exclusion, still
    resting, back in service: the callee side failing on every trunk is what they were
    excluded for, caught a few calls before the other routes showed it."""
    first_rest = health.eject_seconds(policy, 1)
    pairs: list[TrunkHealth] = []
    changes: list[Change] = []
    for pair in network.pairs.trunks:
        recent = pair.state is EJECTED and pair.ejections == 1 and now - pair.since < first_rest
        if not (recent and pair.reason in LOSS_REASONS):
            pairs.append(pair)
            continue
        why = f"callee network {network.name} down on every trunk, not this route"
        changes.append(Change(network.name, pair.name, EJECTED, HEALTHY, "NetworkDown", why, now))
        pairs.append(TrunkHealth(pair.name, HEALTHY, now))
    return replace(network, pairs=PoolHealth(tuple(pairs), network.pairs.evaluated_at)), changes


def _enter(
    network: NetworkHealth, target: TrunkState, reason: str, message: str, now: float
) -> tuple[NetworkHealth, list[Change]]:
    """The network in its new state. Down or back, its routes start from fresh evidence: what
    they saw while the callee side failed says nothing about the lines. Excluded routes stay
    excluded."""
    change = Change(network.name, None, network.state, target, reason, message, now)
    outages = network.outages + (target is EJECTED)
    pairs = network.pairs
    if target is not PROBING:
        fresh = (p if not p.in_service else TrunkHealth(p.name, HEALTHY, now) for p in pairs.trunks)
        pairs = PoolHealth(tuple(fresh))
    entered = NetworkHealth(network.name, pairs, target, now, reason, message, outages)
    return entered, [change]
