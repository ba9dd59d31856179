"""`kdial bench health`: line-health and caller-ID quarantine decisions on simulated traffic.

Everything runs in-process with the same pure functions the operator uses
(`kdial.routing.health.evaluate`, `kdial.routing.weights`, `kdial.routing.quarantine.review`):
Bernoulli outcome streams at `--cps` calls per second per trunk (1, 5 and 20 by default) on a
three-trunk pool, routed by the weights the health states give, at the default `HealthPolicy`.

Trunk scenarios (trunk `a` changes at the onset, `b` and `c` hold; healthy traffic answers 30%
and loses 2% of calls, by cause class 0.8% congestion (503), 0.4% timeouts (408), 0.2% server
errors (5xx) and 0.6% other line failures; besides, 0.2% of calls are refused (403/603) and 1%
dial unallocated numbers (404), which are not line failures):

- `hard-failure`: `a` loses 50% of its calls (the healthy cause mix); `soft-failure`: 10%;
  `asr-collapse`: `a` answers 10%; `outage`: `a` loses every call, to 503s; `cause-failure`:
  `a`'s server errors rise from 0.2% to 50% of its calls. Reported: attempts dialled on `a`
  from the onset to its ejection, and seconds, median and p95 over the trials; then `a`
  recovers at once and `seconds_to_restore` is the time until it is Healthy again (rest, then
  probe). `false_ejections` counts the other trunks' ejections, recovery included.
- `network-failure`: `a` loses every call to one callee network, a third of its traffic, to
  503s. The target is that the (trunk, network) pair is excluded and the trunk never ejected:
  the trunk-level judge here knows no networks, so the row reports how often and how soon it
  ejects `a` (`trunk_ejected`, and the attempts columns over the trials that did), and
  `false_ejections` counts the other trunks'. It runs like a control, `CONTROL_ATTEMPTS`.
- `control-list-wide-drop`: every trunk answers 10% (the list got worse, not the lines);
  `control-self-503`: `a` gets 30% of its attempts answered with 503 because our pace exceeded
  its limit, which the worker marks self-inflicted; `network-down`: the callee network of
  `network-failure` fails on every trunk (the far side is down, not the lines). They run
  `CONTROL_ATTEMPTS` attempts per trunk after the onset; any ejection is false. `trunk_weeks`
  is how much traffic that was: healthy traffic has false ejections too, at the `healthy`
  rate, and a control can only be judged against that.
- `healthy`: the state machine over `--healthy-weeks` weeks of the pool's healthy traffic
  (three trunk-weeks each): `false_ejections`, `trunk_weeks` and their ratio,
  `false_ejections_per_trunk_week`, the figure the target is about, and
  `false_ejections_by_reason` (JSON only), which detector or rule ejected.
  `false_alarms_per_trunk_week` is what the detectors alone would do, computed exactly
  (`calibration.alarm_rate`) at the healthy baselines: the share of the budget the thresholds
  were set to, which the state machine's noisy references, holds and confirmations move
  either way.

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
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from kdial.api.calleridpool import Quarantine
from kdial.api.trunkpool import HealthPolicy, TrunkState
from kdial.causes import CLASSES, CauseClass
from kdial.routing import health, quarantine
from kdial.routing.calibration import alarm_rate, attempts_per_evaluation
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
NETWORK_SHARE = 1 / 3  # of the traffic: the callee network of network-failure and network-down
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


@dataclass(frozen=True)
class Rates:
    """Per-attempt probabilities of one trunk's outcomes."""

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
    target: str | None = None
    """The trunk that should be ejected; None for controls."""
    kept: str | None = None
    """A trunk that fails some destinations only: it should stay, and its ejection is reported
    apart from the others' (`trunk_ejected`)."""


NETWORK_DOWN = Rates(failing=(CauseClass.CONGESTION, NETWORK_SHARE))
SCENARIOS = (
    Scenario("hard-failure", {"a": Rates(loss=0.5)}, "a"),
    Scenario("soft-failure", {"a": Rates(loss=0.10)}, "a"),
    Scenario("asr-collapse", {"a": Rates(answer=0.10)}, "a"),
    Scenario("outage", {"a": Rates(failing=(CauseClass.CONGESTION, 1.0))}, "a"),
    Scenario("cause-failure", {"a": Rates(failing=(CauseClass.SERVER_ERROR, 0.5))}, "a"),
    Scenario("network-failure", {"a": NETWORK_DOWN}, kept="a"),
    Scenario("control-list-wide-drop", {t: Rates(answer=0.10) for t in TRUNKS}),
    Scenario("control-self-503", {"a": Rates(self_inflicted=0.30)}),
    Scenario("network-down", dict.fromkeys(TRUNKS, NETWORK_DOWN)),
)


@dataclass
class Traffic:
    """Attempts per trunk per evaluation, routed by weight, with Bernoulli outcomes.

    Counts are deterministic (a fractional carry per trunk), outcomes are drawn in blocks for
    speed and redrawn whenever the routing or the rates change.
    """

    rng: np.random.Generator
    pool_rate: float
    rates: dict[str, Rates] = field(default_factory=lambda: dict.fromkeys(TRUNKS, HEALTHY_RATES))
    carry: dict[str, float] = field(default_factory=lambda: dict.fromkeys(TRUNKS, 0.0))
    _block: list[dict[str, Observation]] = field(default_factory=list)
    _key: tuple[Any, ...] = ()

    def next(self, states: dict[str, TrunkState], dt: float) -> dict[str, Observation]:
        key = (tuple(states.values()), tuple(self.rates.values()), dt)
        if key != self._key or not self._block:
            self._key = key
            self._block = self._draw(states, dt, 64)
            self._block.reverse()
        return self._block.pop()

    def reroute(self) -> None:
        self._block = []

    def onset(
        self, states: dict[str, TrunkState], after: dict[str, Rates], phase: float
    ) -> tuple[dict[str, Observation], dict[str, int]]:
        """One second in which the rates change ``phase`` of the way through: each attempt falls
        before or after the change at random. Returns the observations and, per trunk, the
        attempts after the change; the new rates hold from then on."""
        counts = self._counts(states, TICK, 1)
        obs: dict[str, Observation] = {}
        later: dict[str, int] = {}
        for name in TRUNKS:
            n = int(counts[name][0])
            before = int(self.rng.binomial(n, phase))
            old = self._outcomes(self.rates[name], np.array([before], dtype=np.int64))[0]
            new = self._outcomes(
                after.get(name, self.rates[name]), np.array([n - before], dtype=np.int64)
            )[0]
            obs[name], later[name] = old + new, n - before
        self.rates.update(after)
        self.reroute()
        return obs, later

    def _draw(
        self, states: dict[str, TrunkState], dt: float, ticks: int
    ) -> list[dict[str, Observation]]:
        counts = self._counts(states, dt, ticks)
        block: list[dict[str, Observation]] = [{} for _ in range(ticks)]
        for name in TRUNKS:
            for i, o in enumerate(self._outcomes(self.rates[name], counts[name])):
                block[i][name] = o
        return block

    def _counts(
        self, states: dict[str, TrunkState], dt: float, ticks: int
    ) -> dict[str, npt.NDArray[np.int64]]:
        """Attempts per trunk for the next ``ticks`` evaluations, shared by routing weight."""
        weights = table(RoutedTrunk(t, s, max_concurrent_calls=10**6) for t, s in states.items())
        total = sum(weights.values()) or 1
        out = {}
        for name in TRUNKS:
            per_tick = self.pool_rate * dt * weights[name] / total
            cum = self.carry[name] + per_tick * np.arange(1, ticks + 1)
            out[name] = np.diff(np.floor(cum), prepend=math.floor(self.carry[name])).astype(
                np.int64
            )
            self.carry[name] = float(cum[-1] - math.floor(cum[-1]))
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
    """Attempts on the changed trunk from the onset to its ejection (None: not ejected)."""
    seconds: float | None = None
    """Seconds from the onset to the ejection."""
    restore: float | None = None
    ran: float = 0.0
    """For a control, seconds it ran after the onset."""
    false_ejections: int = 0


def warm_pool(
    rng: np.random.Generator, cps: float, policy: HealthPolicy, tuning: Tuning
) -> PoolHealth:
    """A pool that has carried healthy traffic for a while (shared by the trials: immutable)."""
    pool = health.initial(TRUNKS, 0.0)
    traffic = Traffic(rng, 3 * cps)
    now = 0.0
    while now < WARMUP_SECONDS:
        now += 1.0
        pool, _ = health.evaluate(pool, traffic.next(pool.states, 1.0), policy, now, tuning=tuning)
    return pool


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
    warm: PoolHealth,
    *,
    policy: HealthPolicy,
    tuning: Tuning,
    prelude: float = 3.0,
) -> Trial:
    pool = warm
    now = warm.evaluated_at or 0.0
    traffic = Traffic(rng, 3 * cps)
    # A random stretch of healthy traffic first, so that the onset finds the detectors anywhere
    # in their healthy range rather than all at rest, and long enough for the references to
    # forget the warm pool the trials share: trials that share a reference are not independent.
    # Only the CUSUMs depend on the cadence, and they forget their past within tens of
    # attempts: the stretch runs at one-second batches but for its last FINE_SECONDS.
    memory = reference_memory(cps, policy, tuning)
    for _ in range(int(rng.integers(round(prelude * memory), round((prelude + 1) * memory)))):
        now += COARSE
        pool, _ = health.evaluate(
            pool, traffic.next(pool.states, COARSE), policy, now, tuning=tuning
        )
    for _ in range(round(FINE_SECONDS / TICK)):
        pool, _, now, _ = advance(pool, traffic, now, policy=policy, tuning=tuning)
    # The line does not know the operator's cadence: the change starts at a random point
    # between two evaluations, and only the attempts after it count.
    phase = float(rng.random())
    onset = now + phase * TICK
    budget = MAX_ATTEMPTS if scenario.target else CONTROL_ATTEMPTS
    target = scenario.target
    watched = target or "a"
    result = Trial()
    now += TICK
    obs, after = traffic.onset(pool.states, scenario.after, phase)
    attempts = after[watched] + obs[watched].self_inflicted
    while True:
        pool, transitions = health.evaluate(pool, obs, policy, now, tuning=tuning)
        for t in transitions:
            if t.target is not TrunkState.EJECTED:
                continue
            if t.trunk in (target, scenario.kept) and result.attempts is None:
                result.attempts, result.seconds = attempts, now - onset
            elif t.trunk != scenario.kept:
                result.false_ejections += 1
        if (target and result.attempts is not None) or attempts >= budget:
            break
        now, obs = _outcomes(traffic, pool, now)
        attempts += obs[watched].attempts + obs[watched].self_inflicted
    if target is None:
        result.ran = now - onset
        return result
    if result.attempts is None:
        return result
    # The line recovers the moment it is ejected: how long until it is Healthy again?
    traffic.rates[target] = HEALTHY_RATES
    result.restore, false = _restore(pool, traffic, target, now, policy=policy, tuning=tuning)
    result.false_ejections += false
    return result


def _outcomes(
    traffic: Traffic, pool: PoolHealth, now: float
) -> tuple[float, dict[str, Observation]]:
    """The next evaluation's time and outcomes, skipping evaluations without any: they would
    only decay what the next one decays anyway. (A rest that ends in such a gap ends at the next
    evaluation with outcomes, at most a second late at 1 call/s.)"""
    while True:
        now += TICK
        obs = traffic.next(pool.states, TICK)
        if any(o.attempts or o.self_inflicted for o in obs.values()):
            return now, obs


def advance(
    pool: PoolHealth, traffic: Traffic, now: float, *, policy: HealthPolicy, tuning: Tuning
) -> tuple[PoolHealth, tuple[health.Transition, ...], float, dict[str, Observation]]:
    """One evaluation of the pool with the next outcomes (`_outcomes`)."""
    now, obs = _outcomes(traffic, pool, now)
    pool, transitions = health.evaluate(pool, obs, policy, now, tuning=tuning)
    return pool, transitions, now, obs


def _restore(
    pool: PoolHealth,
    traffic: Traffic,
    target: str,
    now: float,
    *,
    policy: HealthPolicy,
    tuning: Tuning,
) -> tuple[float | None, int]:
    """Seconds until ``target`` is Healthy again (None: not within four maximal rests), and
    the other trunks' ejections meanwhile."""
    recovered = now
    false = 0
    while now - recovered < 4 * policy.max_eject_seconds:
        pool, transitions, now, _ = advance(pool, traffic, now, policy=policy, tuning=tuning)
        false += sum(t.target is TrunkState.EJECTED and t.trunk != target for t in transitions)
        if pool.states[target] is TrunkState.HEALTHY:
            return now - recovered, false
    return None, false


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
    false = sum(r.false_ejections for r in results)
    row: dict[str, Any] = {"name": scenario.name, "cps": cps, "trials": trials}
    attempts = [r.attempts for r in results]
    if scenario.target is None:
        exposure = len(TRUNKS) * sum(r.ran for r in results) / WEEK
        row |= _null_eject() | {"false_ejections": false, "trunk_weeks": round(exposure, 4)}
        if scenario.kept is None:
            return row
        return row | {
            "trunk_ejected": sum(a is not None for a in attempts) / max(trials, 1),
            "attempts_to_eject_median": _percentile(attempts, 50),
            "attempts_to_eject_p95": _percentile(attempts, 95),
        }
    seconds = [r.seconds for r in results]
    return row | {
        "attempts_to_eject_median": _percentile(attempts, 50),
        "attempts_to_eject_p95": _percentile(attempts, 95),
        "seconds_to_eject_median": _percentile(seconds, 50),
        "seconds_to_eject_p95": _percentile(seconds, 95),
        "seconds_to_restore": _percentile([r.restore for r in results], 50),
        "detected": sum(a is not None for a in attempts) / max(trials, 1),
        "false_ejections": false,
    }


def _null_eject() -> dict[str, Any]:
    return {
        "attempts_to_eject_median": None,
        "attempts_to_eject_p95": None,
        "seconds_to_eject_median": None,
        "seconds_to_eject_p95": None,
        "seconds_to_restore": None,
    }


def healthy_scenario(
    cps: float, weeks: float, *, seed: int, policy: HealthPolicy, tuning: Tuning
) -> dict[str, Any]:
    """The state machine over ``weeks`` of the pool's healthy traffic."""
    rng = np.random.default_rng([seed, int(cps), 99])
    pool = warm_pool(rng, cps, policy, tuning)
    traffic = Traffic(rng, 3 * cps)
    now = start = pool.evaluated_at or 0.0
    reasons: Counter[str] = Counter()
    while now - start < weeks * WEEK:
        pool, transitions, now, _ = advance(pool, traffic, now, policy=policy, tuning=tuning)
        reasons.update(t.reason for t in transitions if t.target is TrunkState.EJECTED)
    false = sum(reasons.values())
    simulated = len(TRUNKS) * (now - start) / WEEK
    return (
        {"name": "healthy", "cps": cps, "trials": 1}
        | _null_eject()
        | {
            "false_ejections": false,
            "trunk_weeks": round(simulated, 4),
            "false_ejections_per_trunk_week": round(false / simulated, 3) if simulated else None,
            "false_alarms_per_trunk_week": round(detector_alarms(cps, tuning), 3),
            "false_ejections_by_reason": dict(sorted(reasons.items())),
        }
    )


def detector_alarms(cps: float, tuning: Tuning) -> float:
    """False alarms per trunk-week of the trunk detectors alone on healthy traffic: batches of
    one evaluation's attempts, baselines at the healthy rates, thresholds for this rate."""
    batch = attempts_per_evaluation(cps)
    total = 0.0
    for indicator, scheme, p in (("loss", tuning.loss, LOSS), ("asr", tuning.asr, ANSWER)):
        p0 = scheme.baseline(p * 1e6, 1e6) or p
        limits = health.thresholds(indicator, cps, tuning)
        for design, h in zip(scheme.designs(p0), limits, strict=True):
            total += alarm_rate(replace(design, threshold=h), batch, p)
    return total * cps * WEEK / batch


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
        default=1.0,
        help="weeks of the pool's healthy traffic per rate, three trunk-weeks each (1)",
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
        "--quick",
        action="store_true",
        help=f"every scenario at 5 and 20 calls/s, {QUICK_TRIALS} trials, {QUICK_WEEKS} weeks of "
        "healthy traffic and a shorter healthy stretch before each onset: a check that "
        "everything runs and roughly where it lands, in under a minute",
    )
    return p


QUICK_RATES = (5.0, 20.0)
QUICK_TRIALS = 2
QUICK_WEEKS = 0.002
QUICK_PRELUDE = 0.25  # reference memories of healthy traffic before each onset (3 in full)


def run(args: argparse.Namespace, policy: HealthPolicy | None = None) -> dict[str, Any]:
    policy = policy or HealthPolicy()
    tuning = DEFAULT_TUNING
    prelude = args.prelude
    if args.quick:
        args.cps, args.trials, args.healthy_weeks = list(QUICK_RATES), QUICK_TRIALS, QUICK_WEEKS
        prelude = QUICK_PRELUDE
    wanted: Callable[[str], bool] = lambda name: args.only is None or name in args.only  # noqa: E731
    started = time.process_time()
    rows: list[dict[str, Any]] = []
    for cps in args.cps:
        for scenario in SCENARIOS:
            if wanted(scenario.name):
                rows.append(
                    trunk_scenario(
                        scenario,
                        cps,
                        args.trials,
                        seed=args.seed,
                        policy=policy,
                        tuning=tuning,
                        prelude=prelude,
                    )
                )
        if wanted("healthy"):
            rows.append(
                healthy_scenario(
                    cps,
                    args.healthy_weeks,
                    seed=args.seed,
                    policy=policy,
                    tuning=tuning,
                )
            )
        for name in ("cid-marked", "cid-control"):
            if wanted(name):
                rows.append(cid_scenario(name, cps, max(args.trials // 5, 1), args.seed))
    return {
        "policy": policy.model_dump(mode="json", by_alias=True),
        "seed": args.seed,
        "trials": args.trials,
        "cpu_seconds": round(time.process_time() - started, 1),
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


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0
