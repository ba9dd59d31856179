"""`kdial bench health`: line-health and caller-ID quarantine decisions on simulated traffic.

Everything runs in-process with the same pure functions the operator uses
(`kdial.routing.destinations.evaluate`, which folds each callee network's calls into its
routes' health and the trunks' into theirs with `kdial.routing.health.evaluate`;
`kdial.routing.weights`, `kdial.routing.quarantine.review`): Bernoulli outcome streams at
`--cps` calls per second per trunk (1, 5 and 20 by default) on a three-trunk pool, to callees of
three networks (`NETWORKS`: 45%, a third, the rest), each call routed as workers route it, by
the weight of the worse of its trunk's state and its route's, and none to a network down on
every trunk (its contacts wait), at the default `HealthPolicy`. The trunks' counts carry the
cause classes, the routes' do not (as workers count them).

Trunk scenarios (trunk `a` changes at the onset, `b` and `c` hold; healthy traffic answers 30%
and loses 2% of calls, by cause class 0.8% congestion (503), 0.4% timeouts (408), 0.2% server
errors (5xx) and 0.6% other line failures; besides, 0.2% of calls are refused (403/603) and 1%
dial unallocated numbers (404), which are not line failures):

- `hard-failure`: `a` loses 50% of its calls (the healthy cause mix); `soft-failure`: 10%;
  `asr-collapse`: `a` answers 10%; `outage`: `a` loses every call, to 503s; `cause-failure`:
  `a`'s server errors rise from 0.2% to 50% of its calls. Reported: attempts dialled on `a`
  from the onset to its ejection, and seconds, median and p95 over the trials; then `a`
  recovers at once and `seconds_to_restore` is the time until it is Healthy again (rest, then
  probe). `false_ejections` counts the other trunks' ejections, recovery included, and
  `false_exclusions` the other trunks' routes excluded (and networks found down).
- `network-failure`: `a` loses every call to one callee network (`FAILING`, a third of the
  traffic), to 503s. The attempts and seconds columns run to the exclusion of that route: the
  attempts are `a`'s to that network; `trunk_ejected` is the share of trials in which `a`
  itself was ejected (target: never). It runs `CONTROL_ATTEMPTS` attempts on `a`, as a control.
- `control-list-wide-drop`: every trunk answers 10% (the list got worse, not the lines);
  `control-self-503`: `a` gets 30% of its attempts answered with 503 because our pace exceeded
  its limit, which the worker marks self-inflicted; `network-down`: the callee network of
  `network-failure` fails on every trunk (the far side is down, not the lines: finding the
  network down is right, any trunk ejected or route excluded is not). They run
  `CONTROL_ATTEMPTS` attempts per trunk after the onset; any ejection or exclusion is false.
  `trunk_weeks` is how much traffic that was: healthy traffic has false ejections too, at the
  `healthy` rate, and a control can only be judged against that.
- `healthy`: the state machine over `--healthy-weeks` weeks of the pool's healthy traffic
  (three trunk-weeks each): `false_ejections` (trunks), `false_exclusions` (routes, and
  networks found down), `trunk_weeks` and `false_ejections_per_trunk_week`, both together per
  trunk-week, the figure the target is about; `false_ejections_by_reason` and
  `false_exclusions_by_reason` (JSON only) say which detector or rule did it.
  `false_alarms_per_trunk_week` is what the loss and ASR detectors of a trunk and of its
  routes alone would do, computed exactly (`calibration.alarm_rate`) at the healthy
  baselines: the share of the budget the thresholds were set to, which the state machine's
  noisy references, holds and confirmations move either way. The traffic runs in independent
  chunks of at most `HEALTHY_CHUNK_WEEKS`, each from a pool warmed on its own with a seed of
  its own, so that `--jobs` processes share them and the figures are the same however many
  there are; chunk i of `--seed s` is the first chunk of seed s + i, so a full run can also be
  split by seed across machines or sessions and added up. The default, `FULL_WEEKS`, is the
  24 trunk-weeks per rate issue 16 asks for: about 15 CPU-hours in all.

Every trial starts from a pool warmed with healthy traffic and runs healthy traffic for
`--prelude` (3) to one more times the references' memory before the onset, at a random point
between two evaluations: the trials are independent, and find the detectors anywhere in their
healthy range. That stretch is most of a trial's cost; a shorter one leaves the trials sharing
more of the warm pool's references. `--quick` runs every scenario at 5 and 20 calls/s with a
few trials and a short stretch: a check that all runs, in under a minute of CPU.

The stretch before an onset runs at one-second batches but for its last `FINE_SECONDS`, at the
operator's cadence: only the CUSUMs depend on the cadence, and they forget within tens of
attempts.

Caller-ID scenarios (a fifth of `--trials`): a pool of `CID_NUMBERS` numbers sharing `--cps`
calls per second, reviewed every `CID_REVIEW_SECONDS`. `cid-marked`: one number's answer rate
drops from 30% to 5% (marked as spam); `cid-control`: every number's drops to 10% for an hour.
The eject figures are attempts presenting the marked number until its quarantine;
`seconds_to_restore` is the time until its release (the cooling time).

Outcomes arrive as they happen: the ASR figures count attempts after the changed outcomes
arrive (add the ring time, ~30 s, for wall time). Like the operator, the bench evaluates the
pool every `health.EVALUATION_SECONDS` with the outcomes counted meanwhile (at 20 calls/s a
decision can come every 5 attempts), and the attempts of the evaluation that ejects a trunk
count.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import groupby, repeat
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kdial.api.calleridpool import Quarantine
from kdial.api.trunkpool import HealthPolicy, TrunkState
from kdial.causes import CLASSES, CauseClass
from kdial.routing import destinations, health, quarantine
from kdial.routing.calibration import alarm_rate, attempts_per_evaluation
from kdial.routing.destinations import Change, Destinations
from kdial.routing.detectors import Cusum
from kdial.routing.health import DEFAULT_TUNING, Observation, PoolHealth, Tuning
from kdial.routing.weights import RoutedTrunk, table

TRUNKS = ("a", "b", "c")
ANSWER, LOSS = 0.30, 0.02
# The call loss by cause class (shares of it), and the failures that are not line failures (of
# every attempt): what a healthy line shows.
LOSS_MIX = {
    CauseClass.CONGESTION: 0.4,
    CauseClass.TIMEOUT: 0.2,
    CauseClass.SERVER_ERROR: 0.1,
    CauseClass.OTHER: 0.3,
}
REFUSED, UNALLOCATED = 0.002, 0.01
LINE_FAILURES = frozenset(LOSS_MIX)
# The callee networks and their shares of the traffic; FAILING carries the third that
# network-failure and network-down fail.
FAILING = "cn-china-unicom"
NETWORKS = {"cn-china-mobile": 0.45, FAILING: 1 / 3, "cn-china-telecom": 1 - 0.45 - 1 / 3}
_FORBIDDEN = CLASSES.index(CauseClass.FORBIDDEN)
RATES = (1, 5, 20)
WEEK = 7 * 86_400.0
WARMUP_SECONDS = 600.0
TICK = health.EVALUATION_SECONDS  # the operator's cadence, and the thresholds'
COARSE = 1.0  # the healthy stretch before an onset, but for its last FINE_SECONDS
FINE_SECONDS = 120.0
MAX_ATTEMPTS = 3000  # per trial after the onset: a trunk not ejected by then counts as missed
CONTROL_ATTEMPTS = 300
CID_NUMBERS = 10
CID_MAX_SECONDS = 3 * 3600.0
CID_CONTROL_SECONDS = 3600.0

Pair = tuple[str, str]
"""(trunk, callee network)."""
PAIRS: tuple[Pair, ...] = tuple((t, n) for t in TRUNKS for n in NETWORKS)


@dataclass(frozen=True)
class Rates:
    """Per-attempt probabilities of one trunk's outcomes (to one callee network)."""

    answer: float = ANSWER
    loss: float = LOSS
    self_inflicted: float = 0.0
    """Extra attempts our own pace provoked (carrier 503), on top of the judged ones."""
    failing: tuple[CauseClass, float] | None = None
    """This share of the attempts fails with this cause, before anything else happens to them."""


HEALTHY_RATES = Rates()


@dataclass(frozen=True)
class Scenario:
    name: str
    after: dict[str, Rates]
    """Each changed trunk's rates, to every network."""
    target: str | None = None
    """The trunk that should be ejected; None for controls."""
    kept: str | None = None
    """A trunk that fails `FAILING` only: its route there should be excluded and the trunk
    kept (`trunk_ejected` reports how often it was not)."""
    routes: dict[Pair, Rates] = field(default_factory=dict)
    """Rates of single routes, over ``after``."""

    def rates(self, pair: Pair) -> Rates | None:
        """The pair's rates from the onset; None where they do not change."""
        return self.routes.get(pair) or self.after.get(pair[0])

    @property
    def network_down(self) -> bool:
        """`FAILING` fails on every trunk: finding it down is right, not a false alarm."""
        return all((t, FAILING) in self.routes for t in TRUNKS)


DOWN = Rates(failing=(CauseClass.CONGESTION, 1.0))
SCENARIOS = (
    Scenario("hard-failure", {"a": Rates(loss=0.5)}, "a"),
    Scenario("soft-failure", {"a": Rates(loss=0.10)}, "a"),
    Scenario("asr-collapse", {"a": Rates(answer=0.10)}, "a"),
    Scenario("outage", {"a": DOWN}, "a"),
    Scenario("cause-failure", {"a": Rates(failing=(CauseClass.SERVER_ERROR, 0.5))}, "a"),
    Scenario("network-failure", {}, kept="a", routes={("a", FAILING): DOWN}),
    Scenario("control-list-wide-drop", {t: Rates(answer=0.10) for t in TRUNKS}),
    Scenario("control-self-503", {"a": Rates(self_inflicted=0.30)}),
    Scenario("network-down", {}, routes={(t, FAILING): DOWN for t in TRUNKS}),
)


@dataclass(frozen=True)
class Judge:
    """What the operator keeps of a pool between evaluations: its trunks' health and its
    routes' (`destinations.evaluate`)."""

    trunks: PoolHealth
    routes: Destinations = field(default_factory=Destinations)

    def evaluate(
        self, obs: Observations, now: float, *, policy: HealthPolicy, tuning: Tuning
    ) -> tuple[Judge, tuple[health.Transition, ...], tuple[Change, ...]]:
        trunks, routes, transitions, changes = destinations.evaluate(
            self.trunks, self.routes, obs.trunks, obs.pairs, policy=policy, now=now, tuning=tuning
        )
        return Judge(trunks, routes), transitions, changes

    def routing(self, policy: HealthPolicy) -> Routing:
        """What workers route by: each trunk's state, each route out of health, the networks
        whose contacts wait."""
        return Routing(
            tuple(self.trunks.states.items()),
            tuple(
                (trunk, network, state)
                for trunk, states in sorted(destinations.pair_states(self.routes).items())
                for network, state in sorted(states.items())
            ),
            frozenset(destinations.waiting(self.routes, policy)),
        )


@dataclass(frozen=True)
class Routing:
    """A routing table, as far as the bench's traffic needs it."""

    trunks: tuple[tuple[str, TrunkState], ...]
    routes: tuple[tuple[str, str, TrunkState], ...]
    waiting: frozenset[str]

    def weights(self, network: str) -> dict[str, int]:
        """Each trunk's weight for a callee of ``network`` (the worse of the trunk's state and
        its route's, as workers weigh it); all 0 while the network's contacts wait."""
        if network in self.waiting:
            return dict.fromkeys(TRUNKS, 0)
        routes = {(t, n): s for t, n, s in self.routes}
        return table(
            RoutedTrunk(t, worse(s, routes.get((t, network))), max_concurrent_calls=10**6)
            for t, s in self.trunks
        )


_SEVERITY = (TrunkState.HEALTHY, TrunkState.DEGRADED, TrunkState.PROBING, TrunkState.EJECTED)


def worse(trunk: TrunkState, route: TrunkState | None) -> TrunkState:
    """The state a trunk is weighed by for one network: its own or its route's, whichever
    takes fewer calls."""
    return trunk if route is None else max(trunk, route, key=_SEVERITY.index)


@dataclass(frozen=True)
class Observations:
    """One evaluation's counts: per trunk, and per callee network and trunk, as the operator
    reads them (`counters.trunk_observations`, `counters.pair_observations`)."""

    trunks: dict[str, Observation]
    pairs: dict[str, dict[str, Observation]]

    def on(self, pair: Pair) -> int:
        """Attempts on one route."""
        trunk, network = pair
        return self.pairs.get(network, {}).get(trunk, NO_CALLS).attempts

    @property
    def dialled(self) -> bool:
        return any(o.attempts or o.self_inflicted for o in self.trunks.values())


def observations(by_pair: dict[Pair, Observation]) -> Observations:
    """The counts of each route, summed per trunk; a route's counts carry what the workers
    count per network (`kdial.state.counters`): no cause classes, no self-inflicted attempts."""
    trunks = {t: NO_CALLS for t in TRUNKS}
    pairs: dict[str, dict[str, Observation]] = {}
    for (trunk, network), o in by_pair.items():
        trunks[trunk] = trunks[trunk] + o
        if o.attempts:
            route = Observation(o.attempts, o.answered, o.call_loss, o.risk_blocked)
            pairs.setdefault(network, {})[trunk] = route
    return Observations(trunks, pairs)


NO_CALLS = Observation()


@dataclass
class Traffic:
    """Attempts per route per evaluation, routed by weight, with Bernoulli outcomes.

    Counts are deterministic (a fractional carry per route), outcomes are drawn in blocks for
    speed and redrawn whenever the routing or the rates change.
    """

    rng: np.random.Generator
    pool_rate: float
    rates: dict[Pair, Rates] = field(default_factory=lambda: dict.fromkeys(PAIRS, HEALTHY_RATES))
    carry: dict[Pair, float] = field(default_factory=lambda: dict.fromkeys(PAIRS, 0.0))
    _block: list[Observations] = field(default_factory=list)
    _key: tuple[Any, ...] = ()

    def next(self, routing: Routing, dt: float) -> Observations:
        key = (routing, tuple(self.rates.values()), dt)
        if key != self._key or not self._block:
            self._key = key
            self._block = self._draw(routing, dt, 64)
            self._block.reverse()
        return self._block.pop()

    def reroute(self) -> None:
        self._block = []

    def onset(
        self, routing: Routing, scenario: Scenario, phase: float
    ) -> tuple[Observations, dict[Pair, int]]:
        """One evaluation in which the rates change ``phase`` of the way through: each attempt
        falls before or after the change at random. Returns the observations and, per route,
        the attempts after the change; the new rates hold from then on."""
        counts = self._counts(routing, TICK, 1)
        by_pair: dict[Pair, Observation] = {}
        later: dict[Pair, int] = {}
        for pair in PAIRS:
            n = int(counts[pair][0])
            before = int(self.rng.binomial(n, phase))
            after = scenario.rates(pair) or self.rates[pair]
            old = self._outcomes(self.rates[pair], np.array([before], dtype=np.int64))[0]
            new = self._outcomes(after, np.array([n - before], dtype=np.int64))[0]
            by_pair[pair], later[pair] = old + new, n - before
            self.rates[pair] = after
        self.reroute()
        return observations(by_pair), later

    def _draw(self, routing: Routing, dt: float, ticks: int) -> list[Observations]:
        counts = self._counts(routing, dt, ticks)
        drawn = {pair: self._outcomes(self.rates[pair], counts[pair]) for pair in PAIRS}
        return [observations({pair: drawn[pair][i] for pair in PAIRS}) for i in range(ticks)]

    def _counts(self, routing: Routing, dt: float, ticks: int) -> dict[Pair, npt.NDArray[np.int64]]:
        """Attempts per route for the next ``ticks`` evaluations: each network's share of the
        pool's calls, shared among the trunks by their weight for it."""
        out = {}
        for network, share in NETWORKS.items():
            weights = routing.weights(network)
            total = sum(weights.values()) or 1
            for trunk in TRUNKS:
                pair = (trunk, network)
                per_tick = self.pool_rate * share * dt * weights[trunk] / total
                carry = self.carry[pair]
                cum = carry + per_tick * np.arange(1, ticks + 1)
                out[pair] = np.diff(np.floor(cum), prepend=math.floor(carry)).astype(np.int64)
                self.carry[pair] = float(cum[-1] - math.floor(cum[-1]))
        return out

    def _outcomes(self, r: Rates, counts: npt.NDArray[np.int64]) -> list[Observation]:
        binomial = self.rng.binomial
        causes = {c: np.zeros_like(counts) for c in CLASSES}
        rest = counts
        if r.failing is not None:
            cause, share = r.failing
            causes[cause] = binomial(counts, share)
            rest = counts - causes[cause]
        answered = binomial(rest, r.answer)
        left, mass = rest - answered, 1.0 - r.answer
        for cause, p in (
            *((c, r.loss * part) for c, part in LOSS_MIX.items()),
            (CauseClass.FORBIDDEN, REFUSED),
            (CauseClass.UNALLOCATED, UNALLOCATED),
        ):
            drawn = binomial(left, min(p / mass, 1.0)) if mass > 0 else 0 * left
            causes[cause] = causes[cause] + drawn
            left, mass = left - drawn, mass - p
        lost = np.zeros_like(counts)
        for cause in LINE_FAILURES:
            lost = lost + causes[cause]
        mine = binomial(counts, r.self_inflicted) if r.self_inflicted else 0 * counts
        by_class = np.stack([causes[c] for c in CLASSES], axis=1).tolist()
        return [
            Observation(n, a, lo, k[_FORBIDDEN], m, tuple(k))
            for n, a, lo, m, k in zip(
                counts.tolist(),
                answered.tolist(),
                lost.tolist(),
                mine.tolist(),
                by_class,
                strict=True,
            )
        ]


@dataclass
class Trial:
    attempts: float | None = None
    """Attempts on the changed trunk from the onset to its ejection (None: not ejected); for a
    kept trunk, on its failing route until the route's exclusion."""
    seconds: float | None = None
    """Seconds from the onset to the ejection (or exclusion)."""
    restore: float | None = None
    ran: float = 0.0
    """For a control, seconds it ran after the onset."""
    false_ejections: int = 0
    false_exclusions: int = 0
    """Routes excluded that should not have been (or networks found down)."""
    kept_ejected: bool = False
    """The kept trunk was ejected as a whole."""


def warm_pool(rng: np.random.Generator, cps: float, policy: HealthPolicy, tuning: Tuning) -> Judge:
    """A pool that has carried healthy traffic for a while (shared by the trials: immutable)."""
    judge = Judge(health.initial(TRUNKS, 0.0))
    traffic = Traffic(rng, 3 * cps)
    now = 0.0
    while now < WARMUP_SECONDS:
        now += 1.0
        obs = traffic.next(judge.routing(policy), 1.0)
        judge, _, _ = judge.evaluate(obs, now, policy=policy, tuning=tuning)
    return judge


def reference_memory(cps: float, policy: HealthPolicy, tuning: Tuning) -> float:
    """Seconds the longer of the trunk references remembers at ``cps`` per trunk
    (`Tuning.reference_attempts`)."""
    others = (len(TRUNKS) - 1) * cps
    window = float(policy.window_seconds)
    longest = tuning.reference_max_windows * window
    attempts = max(tuning.reference_attempts, tuning.loss_reference_attempts)
    return min(max(window, attempts / others), longest)


def run_trial(
    rng: np.random.Generator,
    scenario: Scenario,
    cps: float,
    warm: Judge,
    *,
    policy: HealthPolicy,
    tuning: Tuning,
    prelude: float = 3.0,
) -> Trial:
    judge = warm
    now = warm.trunks.evaluated_at or 0.0
    traffic = Traffic(rng, 3 * cps)
    # A random stretch of healthy traffic first, so that the onset finds the detectors anywhere
    # in their healthy range rather than all at rest, and long enough for the references to
    # forget the warm pool the trials share: trials that share a reference are not independent.
    # Only the CUSUMs depend on the cadence, and they forget their past within tens of
    # attempts: the stretch runs at one-second batches but for its last FINE_SECONDS.
    memory = reference_memory(cps, policy, tuning)
    for _ in range(int(rng.integers(round(prelude * memory), round((prelude + 1) * memory)))):
        now += COARSE
        obs = traffic.next(judge.routing(policy), COARSE)
        judge, _, _ = judge.evaluate(obs, now, policy=policy, tuning=tuning)
    for _ in range(round(FINE_SECONDS / TICK)):
        judge, _, _, now, _ = advance(judge, traffic, now, policy=policy, tuning=tuning)
    # The line does not know the operator's cadence: the change starts at a random point
    # between two evaluations, and only the attempts after it count.
    phase = float(rng.random())
    onset = now + phase * TICK
    budget = MAX_ATTEMPTS if scenario.target else CONTROL_ATTEMPTS
    target, kept = scenario.target, scenario.kept
    watched = target or "a"
    route = (kept, FAILING) if kept else None
    result = Trial()
    now += TICK
    obs, after = traffic.onset(judge.routing(policy), scenario, phase)
    attempts = sum(after[(watched, n)] for n in NETWORKS) + obs.trunks[watched].self_inflicted
    on_route = after[route] if route else 0
    while True:
        judge, transitions, changes = judge.evaluate(obs, now, policy=policy, tuning=tuning)
        found = attempts if target else on_route
        score(result, scenario, transitions, changes, attempts=found, seconds=now - onset)
        if (target and result.attempts is not None) or attempts >= budget:
            break
        now, obs = _outcomes(traffic, judge, now, policy)
        attempts += obs.trunks[watched].attempts + obs.trunks[watched].self_inflicted
        on_route += obs.on(route) if route else 0
    if target is None:
        result.ran = now - onset
        return result
    if result.attempts is None:
        return result
    # The line recovers the moment it is ejected: how long until it is Healthy again?
    for network in NETWORKS:
        traffic.rates[(target, network)] = HEALTHY_RATES
    traffic.reroute()
    restore = _restore(judge, traffic, target, now, policy=policy, tuning=tuning)
    result.restore = restore[0]
    result.false_ejections += restore[1]
    result.false_exclusions += restore[2]
    return result


def score(
    result: Trial,
    scenario: Scenario,
    transitions: Sequence[health.Transition],
    changes: Sequence[Change],
    *,
    attempts: int,
    seconds: float,
) -> None:
    """Count one evaluation's ejections and exclusions into ``result``: the one the scenario
    is about with the ``attempts`` and ``seconds`` it took, the kept trunk's apart, the rest
    false."""
    target, kept = scenario.target, scenario.kept
    for t in transitions:
        if t.target is not TrunkState.EJECTED:
            continue
        if t.trunk == target:
            if result.attempts is None:
                result.attempts, result.seconds = attempts, seconds
        elif t.trunk == kept:
            result.kept_ejected = True
        else:
            result.false_ejections += 1
    for c in changes:
        if c.target is not TrunkState.EJECTED:
            continue
        if kept is not None and (c.trunk, c.network) == (kept, FAILING):
            if result.attempts is None:
                result.attempts, result.seconds = attempts, seconds
        elif c.trunk != target and not (c.trunk is None and scenario.network_down):
            result.false_exclusions += 1


def _outcomes(
    traffic: Traffic, judge: Judge, now: float, policy: HealthPolicy
) -> tuple[float, Observations]:
    """The next evaluation's time and outcomes, skipping evaluations without any: they would
    only decay what the next one decays anyway. (A rest that ends in such a gap ends at the next
    evaluation with outcomes, at most a second late at 1 call/s.)"""
    routing = judge.routing(policy)
    while True:
        now += TICK
        obs = traffic.next(routing, TICK)
        if obs.dialled:
            return now, obs


def advance(
    judge: Judge, traffic: Traffic, now: float, *, policy: HealthPolicy, tuning: Tuning
) -> tuple[Judge, tuple[health.Transition, ...], tuple[Change, ...], float, Observations]:
    """One evaluation of the pool with the next outcomes (`_outcomes`)."""
    now, obs = _outcomes(traffic, judge, now, policy)
    judge, transitions, changes = judge.evaluate(obs, now, policy=policy, tuning=tuning)
    return judge, transitions, changes, now, obs


def _restore(
    judge: Judge,
    traffic: Traffic,
    target: str,
    now: float,
    *,
    policy: HealthPolicy,
    tuning: Tuning,
) -> tuple[float | None, int, int]:
    """Seconds until ``target`` is Healthy again (None: not within four maximal rests), and
    the other trunks' ejections and routes' exclusions meanwhile."""
    recovered = now
    false = excluded = 0
    while now - recovered < 4 * policy.max_eject_seconds:
        judge, transitions, changes, now, _ = advance(
            judge, traffic, now, policy=policy, tuning=tuning
        )
        false += sum(t.target is TrunkState.EJECTED and t.trunk != target for t in transitions)
        excluded += sum(c.target is TrunkState.EJECTED and c.trunk != target for c in changes)
        if judge.trunks.states[target] is TrunkState.HEALTHY:
            return now - recovered, false, excluded
    return None, false, excluded


def _percentile(values: Sequence[float | None], q: float) -> float | None:
    """The q-th percentile, a missed detection counting as infinitely late; None if undefined."""
    if not values:
        return None
    data = np.array([math.inf if v is None else v for v in values], dtype=float)
    value = float(np.percentile(data, q, method="higher"))
    return None if math.isinf(value) else round(value, 2)


def trunk_scenario(
    scenario: Scenario,
    cps: float,
    trials: int,
    *,
    seed: int,
    policy: HealthPolicy,
    tuning: Tuning,
    prelude: float = 3.0,
) -> dict[str, Any]:
    rng = np.random.default_rng([seed, int(cps), SCENARIOS.index(scenario)])
    warm = warm_pool(rng, cps, policy, tuning)
    results = [
        run_trial(rng, scenario, cps, warm, policy=policy, tuning=tuning, prelude=prelude)
        for _ in range(trials)
    ]
    row: dict[str, Any] = {
        "name": scenario.name,
        "cps": cps,
        "trials": trials,
        "false_ejections": sum(r.false_ejections for r in results),
        "false_exclusions": sum(r.false_exclusions for r in results),
    }
    attempts = [r.attempts for r in results]
    seconds = [r.seconds for r in results]
    if scenario.target is None and scenario.kept is None:
        exposure = len(TRUNKS) * sum(r.ran for r in results) / WEEK
        return row | _null_eject() | {"trunk_weeks": round(exposure, 4)}
    row |= {
        "attempts_to_eject_median": _percentile(attempts, 50),
        "attempts_to_eject_p95": _percentile(attempts, 95),
        "seconds_to_eject_median": _percentile(seconds, 50),
        "seconds_to_eject_p95": _percentile(seconds, 95),
        "detected": sum(a is not None for a in attempts) / max(trials, 1),
    }
    if scenario.kept is not None:
        exposure = len(TRUNKS) * sum(r.ran for r in results) / WEEK
        return row | {
            "seconds_to_restore": None,
            "trunk_ejected": sum(r.kept_ejected for r in results) / max(trials, 1),
            "trunk_weeks": round(exposure, 4),
        }
    return row | {"seconds_to_restore": _percentile([r.restore for r in results], 50)}


def _null_eject() -> dict[str, Any]:
    return {
        "attempts_to_eject_median": None,
        "attempts_to_eject_p95": None,
        "seconds_to_eject_median": None,
        "seconds_to_eject_p95": None,
        "seconds_to_restore": None,
    }


def healthy_chunk(
    cps: float, weeks: float, *, seed: int, chunk: int, policy: HealthPolicy, tuning: Tuning
) -> dict[str, Any]:
    """The state machine over ``weeks`` of the pool's healthy traffic, from a pool of its own:
    the trunk-weeks it simulated and its ejections and exclusions by reason."""
    rng = healthy_rng(seed, cps, chunk)
    judge = warm_pool(rng, cps, policy, tuning)
    traffic = Traffic(rng, 3 * cps)
    now = start = judge.trunks.evaluated_at or 0.0
    reasons: Counter[str] = Counter()
    routes: Counter[str] = Counter()
    while now - start < weeks * WEEK:
        judge, transitions, changes, now, _ = advance(
            judge, traffic, now, policy=policy, tuning=tuning
        )
        reasons.update(t.reason for t in transitions if t.target is TrunkState.EJECTED)
        routes.update(
            c.reason if c.trunk else f"Network{c.reason}"
            for c in changes
            if c.target is TrunkState.EJECTED
        )
    simulated = len(TRUNKS) * (now - start) / WEEK
    return {"trunk_weeks": simulated, "ejections": dict(reasons), "exclusions": dict(routes)}


def healthy_rng(seed: int, cps: float, chunk: int) -> np.random.Generator:
    """The random stream of a healthy chunk. Chunk i of seed s is chunk 0 of seed s + i, so
    that a full run split by seed across machines or sessions (``--healthy-weeks 0.25 --seed
    s``, s = 1, 2, …) adds up to the run itself."""
    # 99 keeps these streams apart from the scenarios'; the trailing 0 is where the chunk's
    # index used to go, kept so that chunks run before the split draw what they drew then.
    return np.random.default_rng([seed + chunk, int(cps), 99, 0])


def healthy_chunks(weeks: float) -> list[float]:
    """``weeks`` of healthy traffic in equal chunks of at most `HEALTHY_CHUNK_WEEKS`."""
    n = max(1, math.ceil(weeks / HEALTHY_CHUNK_WEEKS - 1e-9))
    return [weeks / n] * n


def healthy_row(cps: float, chunks: Sequence[dict[str, Any]], tuning: Tuning) -> dict[str, Any]:
    """The `healthy` row of a rate from its chunks (`healthy_chunk`)."""
    reasons: Counter[str] = Counter()
    routes: Counter[str] = Counter()
    for chunk in chunks:
        reasons.update(chunk["ejections"])
        routes.update(chunk["exclusions"])
    false, excluded = sum(reasons.values()), sum(routes.values())
    simulated = sum(chunk["trunk_weeks"] for chunk in chunks)
    per_week = round((false + excluded) / simulated, 3) if simulated else None
    return (
        {"name": "healthy", "cps": cps, "trials": len(chunks)}
        | _null_eject()
        | {
            "false_ejections": false,
            "false_exclusions": excluded,
            "trunk_weeks": round(simulated, 4),
            "false_ejections_per_trunk_week": per_week,
            "false_alarms_per_trunk_week": round(pool_alarms(cps, tuning), 3),
            "false_ejections_by_reason": dict(sorted(reasons.items())),
            "false_exclusions_by_reason": dict(sorted(routes.items())),
        }
    )


def detector_alarms(cps: float, tuning: Tuning) -> float:
    """False alarms per week of the loss and ASR detectors alone on one stream of healthy
    traffic at ``cps``: batches of one evaluation's attempts, baselines at the healthy rates,
    thresholds for this rate."""
    batch = attempts_per_evaluation(cps)
    total = 0.0
    for indicator, scheme, p in (("loss", tuning.loss, LOSS), ("asr", tuning.asr, ANSWER)):
        p0 = scheme.baseline(p * 1e6, 1e6) or p
        limits = health.thresholds(indicator, cps, tuning)
        for design, h in zip(scheme.designs(p0), limits, strict=True):
            total += alarm_rate(replace(design, threshold=h), batch, p)
    return total * cps * WEEK / batch


def pool_alarms(cps: float, tuning: Tuning) -> float:
    """`detector_alarms` per trunk-week of a trunk and of its routes to the bench's networks
    (`destinations.route_tuning`)."""
    routes = (
        detector_alarms(cps * share, destinations.route_tuning(tuning, share))
        for share in NETWORKS.values()
    )
    return detector_alarms(cps, tuning) + sum(routes)


# --- caller-ID quarantine -------------------------------------------------------------------


CID_REVIEW_SECONDS = 10.0
CID_WARMUP_SECONDS = 3600.0


def cid_warm(rng: np.random.Generator, cps: float, rule: Quarantine) -> quarantine.Book:
    """A book after an hour of healthy traffic (shared by the trials, detectors at rest)."""
    numbers = [f"n{i}" for i in range(CID_NUMBERS)]
    book = quarantine.initial(numbers)
    answer = dict.fromkeys(numbers, ANSWER)
    now = 0.0
    while now < CID_WARMUP_SECONDS:
        now += CID_REVIEW_SECONDS
        book, _ = quarantine.review(book, _cid_counts(rng, cps, book, answer), rule, (), now)
    rested = {
        n: replace(s, comparison=replace(s.comparison.reset(), guard=Cusum()))
        for n, s in book.numbers.items()
    }
    return replace(book, numbers=rested)


def _cid_counts(
    rng: np.random.Generator, cps: float, book: quarantine.Book, answer: dict[str, float]
) -> dict[str, quarantine.Counts]:
    active = [n for n in book.numbers if n not in book.quarantined]
    if not active:
        return {}
    total = int(rng.poisson(cps * CID_REVIEW_SECONDS))
    per = rng.multinomial(total, [1.0 / len(active)] * len(active)).tolist()
    rates = np.array([answer[n] for n in active])
    answered = rng.binomial(per, rates).tolist()
    return {n: quarantine.Counts(k, a) for n, k, a in zip(active, per, answered, strict=True)}


def cid_trial(
    rng: np.random.Generator, cps: float, marked: bool, rule: Quarantine, warm: quarantine.Book
) -> tuple[float | None, float | None, float | None, int]:
    """(attempts, seconds) to quarantine the marked number, seconds to its release, and
    quarantines of unmarked numbers."""
    book = warm
    now = warm.reviewed_at or 0.0
    answer = dict.fromkeys(book.numbers, ANSWER)
    for _ in range(int(rng.integers(6, 60))):  # healthy minutes before the onset, at random
        now += CID_REVIEW_SECONDS
        book, _ = quarantine.review(book, _cid_counts(rng, cps, book, answer), rule, (), now)
    onset = now
    if marked:
        answer["n0"] = 0.05
    else:
        answer = dict.fromkeys(book.numbers, 0.10)
    false = 0
    attempts_on_marked = 0
    found: tuple[float, float] | None = None
    until = onset + (CID_MAX_SECONDS if marked else CID_CONTROL_SECONDS)
    while now < until:
        now += CID_REVIEW_SECONDS
        counts = _cid_counts(rng, cps, book, answer)
        attempts_on_marked += counts["n0"].attempts if "n0" in counts else 0
        book, changes = quarantine.review(book, counts, rule, (), now)
        for c in changes:
            if c.quarantined and marked and c.number == "n0" and found is None:
                found = (attempts_on_marked, now - onset)
            elif c.quarantined:
                false += 1
        if found is not None:
            break
    if found is None:
        return None, None, None, false
    # Release after the cooling time: rest the number, reviewing every ten minutes.
    quarantined_at = now
    while now - quarantined_at < (rule.cooling_hours + 1) * 3600:
        now += 600.0
        book, changes = quarantine.review(book, {}, rule, (), now)
        if any(c.number == "n0" and not c.quarantined for c in changes):
            return found[0], found[1], now - quarantined_at, false
    return found[0], found[1], None, false


def cid_scenario(name: str, cps: float, trials: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng([seed, int(cps), 7 if name == "cid-marked" else 8])
    rule = Quarantine()
    marked = name == "cid-marked"
    warm = cid_warm(rng, cps, rule)
    results = [cid_trial(rng, cps, marked, rule, warm) for _ in range(trials)]
    false = sum(r[3] for r in results)
    row: dict[str, Any] = {"name": name, "cps": cps, "trials": trials}
    if not marked:
        return row | _null_eject() | {"false_ejections": false}
    return row | {
        "attempts_to_eject_median": _percentile([r[0] for r in results], 50),
        "attempts_to_eject_p95": _percentile([r[0] for r in results], 95),
        "seconds_to_eject_median": _percentile([r[1] for r in results], 50),
        "seconds_to_eject_p95": _percentile([r[1] for r in results], 95),
        "seconds_to_restore": _percentile([r[2] for r in results], 50),
        "detected": sum(r[0] is not None for r in results) / max(trials, 1),
        "false_ejections": false,
    }


# --- command line ---------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kdial bench health",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="print one JSON object, not a table")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--trials", type=int, default=200, help="trials per scenario and rate")
    p.add_argument(
        "--cps", type=float, nargs="+", default=list(RATES), help="calls/s per trunk (1 5 20)"
    )
    p.add_argument(
        "--healthy-weeks",
        type=float,
        default=FULL_WEEKS,
        help=f"weeks of the pool's healthy traffic per rate, three trunk-weeks each "
        f"({FULL_WEEKS:g}, about 15 CPU-hours in all: use --jobs), run in independent chunks "
        f"of at most {HEALTHY_CHUNK_WEEKS} weeks",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="processes (1); the figures are the same for any number",
    )
    p.add_argument("--only", nargs="+", default=None, help="run only these scenarios")
    p.add_argument(
        "--prelude",
        type=float,
        default=3.0,
        help="healthy traffic before each onset, in reference memories, at least (3): the "
        "trials' independence, most of a trial's cost",
    )
    p.add_argument(
        "--sum",
        nargs="+",
        metavar="FILE",
        help="run nothing: add up the healthy rows of these --json results per rate, a full "
        "run split by --seed across machines or sessions (a chunk counted twice is refused)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"every scenario at 5 and 20 calls/s, {QUICK_TRIALS} trials, {QUICK_WEEKS} weeks of "
        "healthy traffic and a shorter healthy stretch before each onset: a check that "
        "everything runs and roughly where it lands, in under a minute",
    )
    return p


QUICK_RATES = (5.0, 20.0)
QUICK_TRIALS = 2
QUICK_WEEKS = 0.0005
QUICK_PRELUDE = 0.02  # reference memories of healthy traffic before each onset (3 in full)
FULL_WEEKS = 8.0  # of the pool's healthy traffic per rate: 24 trunk-weeks
HEALTHY_CHUNK_WEEKS = 0.25


@dataclass(frozen=True)
class Task:
    """One independent part of a run: a scenario's trials at one rate, or a chunk of healthy
    traffic."""

    name: str
    cps: float
    trials: int = 0
    weeks: float = 0.0
    chunk: int = 0


def run_task(
    task: Task, seed: int, prelude: float, policy: HealthPolicy
) -> tuple[dict[str, Any], float]:
    """The task's row (or healthy chunk) and the CPU seconds it took."""
    started = time.process_time()
    tuning = DEFAULT_TUNING
    if task.name == "healthy":
        row = healthy_chunk(
            task.cps, task.weeks, seed=seed, chunk=task.chunk, policy=policy, tuning=tuning
        )
    elif task.name.startswith("cid-"):
        row = cid_scenario(task.name, task.cps, task.trials, seed)
    else:
        scenario = next(s for s in SCENARIOS if s.name == task.name)
        row = trunk_scenario(
            scenario,
            task.cps,
            task.trials,
            seed=seed,
            policy=policy,
            tuning=tuning,
            prelude=prelude,
        )
    return row, time.process_time() - started


def _healthy_at(done: tuple[Task, Any]) -> tuple[bool, float]:
    """The key that groups a rate's healthy chunks into its row."""
    return done[0].name == "healthy", done[0].cps


def tasks(args: argparse.Namespace) -> list[Task]:
    """Every part of the run the arguments ask for, in the order of its rows."""
    wanted: Callable[[str], bool] = lambda name: args.only is None or name in args.only  # noqa: E731
    out: list[Task] = []
    for cps in args.cps:
        out += [Task(s.name, cps, args.trials) for s in SCENARIOS if wanted(s.name)]
        if wanted("healthy"):
            chunks = healthy_chunks(args.healthy_weeks)
            out += [Task("healthy", cps, weeks=w, chunk=i) for i, w in enumerate(chunks)]
        cid = max(args.trials // 5, 1)
        out += [Task(n, cps, cid) for n in ("cid-marked", "cid-control") if wanted(n)]
    return out


def run(args: argparse.Namespace, policy: HealthPolicy | None = None) -> dict[str, Any]:
    policy = policy or HealthPolicy()
    prelude = args.prelude
    if args.quick:
        args.cps, args.trials, args.healthy_weeks = list(QUICK_RATES), QUICK_TRIALS, QUICK_WEEKS
        prelude = QUICK_PRELUDE
    todo = tasks(args)
    options = (repeat(args.seed), repeat(prelude), repeat(policy))
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            done = list(pool.map(run_task, todo, *options))
    else:
        done = list(map(run_task, todo, *options))
    rows: list[dict[str, Any]] = []
    for (healthy, cps), group in groupby(zip(todo, done, strict=True), key=_healthy_at):
        parts = [row for _, (row, _) in group]
        rows += [healthy_row(cps, parts, DEFAULT_TUNING)] if healthy else parts
    return {
        "policy": policy.model_dump(mode="json", by_alias=True),
        "seed": args.seed,
        "trials": args.trials,
        "cpu_seconds": round(sum(cpu for _, cpu in done), 1),
        "scenarios": rows,
    }


COLUMNS = (
    ("name", "scenario", 22),
    ("cps", "cps", 4),
    ("attempts_to_eject_median", "att p50", 8),
    ("attempts_to_eject_p95", "att p95", 8),
    ("seconds_to_eject_median", "s p50", 7),
    ("seconds_to_eject_p95", "s p95", 7),
    ("seconds_to_restore", "restore s", 9),
    ("trunk_ejected", "trunk ej", 8),
    ("false_ejections", "false", 6),
    ("false_exclusions", "false ex", 8),
    ("false_ejections_per_trunk_week", "false/tw", 8),
    ("false_alarms_per_trunk_week", "alarms/tw", 9),
)


def render(result: dict[str, Any]) -> str:
    lines = [" ".join(f"{title:>{width}}" for _, title, width in COLUMNS)]
    for row in result["scenarios"]:
        cells = []
        for key, _, width in COLUMNS:
            value = row.get(key)
            text = (
                "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
            )
            cells.append(f"{text:>{width}}")
        lines.append(" ".join(cells))
    lines.append(f"cpu {result['cpu_seconds']} s, {result['trials']} trials, seed {result['seed']}")
    return "\n".join(lines)


def summed(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The healthy rows of separate runs (`--json` results) added up per rate. Raises
    `ValueError` on results that do not add up: other scenarios, other policies, or a chunk
    in two of them (run i's seed s and its k chunks are the chunks of seeds s … s + k - 1)."""
    policies = {json.dumps(r["policy"], sort_keys=True) for r in results}
    if len(policies) > 1:
        raise ValueError("the results were run at different health policies")
    seen: dict[tuple[float, int], int] = {}
    rows: dict[float, list[dict[str, Any]]] = {}
    for i, result in enumerate(results):
        for row in result["scenarios"]:
            if row["name"] != "healthy":
                raise ValueError(f"result {i + 1} holds {row['name']!r}: only healthy rows add up")
            for seed in range(result["seed"], result["seed"] + row["trials"]):
                if (row["cps"], seed) in seen:
                    raise ValueError(
                        f"results {seen[row['cps'], seed] + 1} and {i + 1} both hold the "
                        f"healthy chunk of seed {seed} at {row['cps']:g} calls/s"
                    )
                seen[row["cps"], seed] = i
            rows.setdefault(row["cps"], []).append(row)
    return {
        "policy": results[0]["policy"],
        "seed": min(r["seed"] for r in results),
        "trials": len(seen),
        "cpu_seconds": round(sum(r["cpu_seconds"] for r in results), 1),
        "scenarios": [_healthy_sum(cps, parts) for cps, parts in sorted(rows.items())],
    }


def _healthy_sum(cps: float, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    chunks = [
        {
            "trunk_weeks": row["trunk_weeks"],
            "ejections": row["false_ejections_by_reason"],
            "exclusions": row["false_exclusions_by_reason"],
        }
        for row in rows
    ]
    return healthy_row(cps, chunks, DEFAULT_TUNING) | {"trials": sum(r["trials"] for r in rows)}


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.sum:
        try:
            result = summed([json.loads(Path(f).read_text()) for f in args.sum])
        except (OSError, ValueError, KeyError) as error:
            print(f"kdial bench health --sum: {error}", file=sys.stderr)
            return 2
        print(json.dumps(result, indent=2) if args.json else render(result))
        return 0
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
