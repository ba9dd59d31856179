"""`kdial bench health`: line-health and caller-ID quarantine decisions on simulated traffic.

Everything runs in-process with the same pure functions the operator uses
(`kdial.routing.health.evaluate`, `kdial.routing.weights`, `kdial.routing.quarantine.review`):
Bernoulli outcome streams at `--cps` calls per second per trunk (1, 5 and 20 by default) on a
three-trunk pool, routed by the weights the health states give, at the default `HealthPolicy`.

Trunk scenarios (trunk `a` changes at the onset, `b` and `c` hold; healthy traffic answers 30%
and loses 2% of calls):

- `hard-failure`: `a` loses 50% of its calls; `soft-failure`: 10%; `asr-collapse`: `a` answers
  10%. Reported: attempts dialled on `a` from the onset to its ejection, and seconds, median and
  p95 over the trials; then `a` recovers at once and `seconds_to_restore` is the time until it
  is Healthy again (rest, then probe).
- `control-list-wide-drop`: every trunk answers 10% (the list got worse, not the lines);
  `control-self-503`: `a` gets 30% of its attempts answered with 503 because our pace exceeded
  its limit, which the worker marks self-inflicted. Both run `CONTROL_ATTEMPTS` attempts per
  trunk after the onset; any ejection is false.
- `healthy`: a healthy run. `false_ejections` counts what the state machine did over
  `--healthy-ticks` evaluations (`trunk_weeks` of traffic); a trunk-week at 20 calls/s is 12
  million attempts, more than a bench can push through it, so `false_alarms_per_trunk_week`
  comes from the detectors alone, run vectorised (`detectors.alarm_indices`, the same
  recursion) over `--healthy-weeks` trunk-weeks at the healthy baselines: an upper bound, as an
  alarm still needs confirming.

Caller-ID scenarios (a fifth of `--trials`): a pool of `CID_NUMBERS` numbers sharing `--cps`
calls per second, reviewed every `CID_REVIEW_SECONDS`. `cid-marked`: one number's answer rate
drops from 30% to 5% (marked as spam); `cid-control`: every number's drops to 10% for an hour.
The eject figures are attempts presenting the marked number until its quarantine;
`seconds_to_restore` is the time until its release (the cooling time).

Outcomes arrive as they happen: the ASR figures count attempts after the changed outcomes
arrive (add the ring time, ~30 s, for wall time). The operator evaluates a pool each time
outcomes arrive (`1/cps` apart here: one outcome per trunk per evaluation); while a trunk rests
or probes, once a second.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from kdial.api.calleridpool import Quarantine
from kdial.api.trunkpool import HealthPolicy, TrunkState
from kdial.routing import health, quarantine
from kdial.routing.detectors import Cusum, Design, alarm_indices
from kdial.routing.health import DEFAULT_TUNING, Observation, PoolHealth, Tuning
from kdial.routing.weights import RoutedTrunk, table

TRUNKS = ("a", "b", "c")
ANSWER, LOSS = 0.30, 0.02
RATES = (1, 5, 20)
WEEK = 7 * 86_400.0
WARMUP_SECONDS = 600.0
PRE_ONSET_TICKS = 120
MAX_ATTEMPTS = 3000  # per trial after the onset: a trunk not ejected by then counts as missed
CONTROL_ATTEMPTS = 300
HEALTHY_TICKS = 10_000
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


HEALTHY_RATES = Rates()


@dataclass(frozen=True)
class Scenario:
    name: str
    after: dict[str, Rates]
    target: str | None = None
    """The trunk that should be ejected; None for controls."""


SCENARIOS = (
    Scenario("hard-failure", {"a": Rates(loss=0.5)}, "a"),
    Scenario("soft-failure", {"a": Rates(loss=0.10)}, "a"),
    Scenario("asr-collapse", {"a": Rates(answer=0.10)}, "a"),
    Scenario("control-list-wide-drop", {t: Rates(answer=0.10) for t in TRUNKS}),
    Scenario("control-self-503", {"a": Rates(self_inflicted=0.30)}),
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

    def _draw(
        self, states: dict[str, TrunkState], dt: float, ticks: int
    ) -> list[dict[str, Observation]]:
        weights = table(RoutedTrunk(t, s, max_concurrent_calls=10**6) for t, s in states.items())
        total = sum(weights.values()) or 1
        block: list[dict[str, Observation]] = [{} for _ in range(ticks)]
        for name in TRUNKS:
            per_tick = self.pool_rate * dt * weights[name] / total
            cum = self.carry[name] + per_tick * np.arange(1, ticks + 1)
            counts = np.diff(np.floor(cum), prepend=math.floor(self.carry[name])).astype(np.int64)
            self.carry[name] = float(cum[-1] - math.floor(cum[-1])) + 0.0
            r = self.rates[name]
            answered = self.rng.binomial(counts, r.answer)
            lost = self.rng.binomial(counts - answered, min(r.loss / (1.0 - r.answer), 1.0))
            mine = self.rng.binomial(counts, r.self_inflicted) if r.self_inflicted else 0 * counts
            for i, (n, a, lo, m) in enumerate(
                zip(counts.tolist(), answered.tolist(), lost.tolist(), mine.tolist(), strict=True)
            ):
                block[i][name] = Observation(n, a, lo, 0, m)
        return block


@dataclass
class Trial:
    attempts: float | None = None
    seconds: float | None = None
    restore: float | None = None
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


def run_trial(
    rng: np.random.Generator,
    scenario: Scenario,
    cps: float,
    warm: PoolHealth,
    *,
    policy: HealthPolicy,
    tuning: Tuning,
) -> Trial:
    pool = warm
    now = warm.evaluated_at or 0.0
    dt = 1.0 / cps
    traffic = Traffic(rng, 3 * cps)
    # A random stretch of healthy traffic first, so that the onset finds the detectors anywhere
    # in their healthy range rather than all at rest.
    for _ in range(int(rng.integers(PRE_ONSET_TICKS // 2, PRE_ONSET_TICKS))):
        now += dt
        pool, _ = health.evaluate(pool, traffic.next(pool.states, dt), policy, now, tuning=tuning)
    onset = now
    traffic.rates.update(scenario.after)
    traffic.reroute()
    result = Trial()
    budget = MAX_ATTEMPTS if scenario.target else CONTROL_ATTEMPTS
    attempts = 0
    target = scenario.target
    while attempts < budget:
        now += dt
        obs = traffic.next(pool.states, dt)
        attempts += obs[target or "a"].attempts + obs[target or "a"].self_inflicted
        pool, transitions = health.evaluate(pool, obs, policy, now, tuning=tuning)
        for t in transitions:
            if t.target is TrunkState.EJECTED:
                if t.trunk == target and result.attempts is None:
                    result.attempts, result.seconds = attempts, now - onset
                else:
                    result.false_ejections += 1
        if result.attempts is not None:
            break
    if target is None or result.attempts is None:
        return result
    # The line recovers the moment it is ejected: how long until it is Healthy again?
    traffic.rates[target] = HEALTHY_RATES
    recovered = now
    while now - recovered < 4 * policy.max_eject_seconds:
        now += 1.0
        pool, transitions = health.evaluate(
            pool, traffic.next(pool.states, 1.0), policy, now, tuning=tuning
        )
        for t in transitions:
            if t.target is TrunkState.EJECTED and t.trunk != target:
                result.false_ejections += 1
        if pool.states[target] is TrunkState.HEALTHY:
            result.restore = now - recovered
            break
    return result


def _percentile(values: Sequence[float | None], q: float) -> float | None:
    """The q-th percentile, a missed detection counting as infinitely late; None if undefined."""
    if not values:
        return None
    data = np.array([math.inf if v is None else v for v in values], dtype=float)
    value = float(np.percentile(data, q, method="higher"))
    return None if math.isinf(value) else round(value, 2)


def trunk_scenario(
    scenario: Scenario, cps: float, trials: int, *, seed: int, policy: HealthPolicy, tuning: Tuning
) -> dict[str, Any]:
    rng = np.random.default_rng([seed, int(cps), SCENARIOS.index(scenario)])
    warm = warm_pool(rng, cps, policy, tuning)
    results = [
        run_trial(rng, scenario, cps, warm, policy=policy, tuning=tuning) for _ in range(trials)
    ]
    false = sum(r.false_ejections for r in results)
    row: dict[str, Any] = {"name": scenario.name, "cps": cps, "trials": trials}
    if scenario.target is None:
        return row | _null_eject() | {"false_ejections": false}
    attempts = [r.attempts for r in results]
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
    cps: float, ticks: int, weeks: float, *, seed: int, policy: HealthPolicy, tuning: Tuning
) -> dict[str, Any]:
    """The state machine over `ticks` evaluations, and the detectors over `weeks`."""
    rng = np.random.default_rng([seed, int(cps), 99])
    pool = warm_pool(rng, cps, policy, tuning)
    traffic = Traffic(rng, 3 * cps)
    now = start = pool.evaluated_at or 0.0
    dt = 1.0 / cps
    false = 0
    for _ in range(ticks):
        now += dt
        pool, transitions = health.evaluate(
            pool, traffic.next(pool.states, dt), policy, now, tuning=tuning
        )
        false += sum(t.target is TrunkState.EJECTED for t in transitions)
    simulated = len(TRUNKS) * (now - start) / WEEK
    alarms = detector_alarms(rng, cps, weeks, tuning)
    return (
        {"name": "healthy", "cps": cps, "trials": 1}
        | _null_eject()
        | {
            "false_ejections": false,
            "trunk_weeks": round(simulated, 4),
            "false_alarms_per_trunk_week": round(alarms, 3),
        }
    )


def detector_alarms(rng: np.random.Generator, cps: float, weeks: float, tuning: Tuning) -> float:
    """False alarms per trunk-week of the trunk detectors on healthy traffic (one attempt per
    evaluation, baselines at the healthy rates), with `detectors.alarm_indices`."""
    attempts = int(weeks * WEEK * cps)
    designs: list[tuple[Design, float]] = []
    for scheme, p in ((tuning.loss, LOSS), (tuning.asr, ANSWER)):
        p0 = scheme.baseline(p * 1e6, 1e6) or p
        for d in scheme.designs(p0):
            designs.append((d, p))
    total = 0
    chunk = 4_000_000
    for design, p in designs:
        done = 0
        while done < attempts:
            n = min(chunk, attempts - done)
            events = rng.binomial(1, p, size=n).astype(np.int64)
            total += len(alarm_indices(design, events, np.ones(n, dtype=np.int64)))
            done += n
    return total / weeks if weeks > 0 else 0.0


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
        help="trunk-weeks of healthy traffic per rate for the detectors' false alarms (1)",
    )
    p.add_argument(
        "--healthy-ticks",
        type=int,
        default=HEALTHY_TICKS,
        help=f"evaluations of the healthy run per rate ({HEALTHY_TICKS})",
    )
    p.add_argument("--only", nargs="+", default=None, help="run only these scenarios")
    return p


def run(args: argparse.Namespace, policy: HealthPolicy | None = None) -> dict[str, Any]:
    policy = policy or HealthPolicy()
    tuning = DEFAULT_TUNING
    wanted: Callable[[str], bool] = lambda name: args.only is None or name in args.only  # noqa: E731
    started = time.process_time()
    rows: list[dict[str, Any]] = []
    for cps in args.cps:
        for scenario in SCENARIOS:
            if wanted(scenario.name):
                rows.append(
                    trunk_scenario(
                        scenario, cps, args.trials, seed=args.seed, policy=policy, tuning=tuning
                    )
                )
        if wanted("healthy"):
            rows.append(
                healthy_scenario(
                    cps,
                    args.healthy_ticks,
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
    ("false_ejections", "false", 6),
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
