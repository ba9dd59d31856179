"""Line health: each trunk's state, decided for the whole pool at once from counted outcomes.

States (`TrunkState`): Healthy -> Degraded -> Ejected -> Probing -> Healthy, and Probing ->
Ejected when the probe fails. A trunk may go from Healthy to Ejected in one evaluation when the
evidence is already conclusive (a dead line should not wait a step).

Per trunk and per evaluation, `evaluate` folds in the outcomes counted since the last one:

- **Call loss** (line failures, never our own throttles or CPS-limit 503s) is judged against the
  other trunks' loss rate (floored at 2%, so that a pool of excellent lines does not make 2%
  look like a failure) by two CUSUMs: a fast one for a hard failure (-> 50%, tuned to 15x the
  baseline) and a slow one for a soft failure (-> 10%, tuned to 4x).
- **Answer rate (ASR)** is judged against the other trunks' answer rate by a CUSUM tuned for a
  drop to 45% of it (a collapse 30% -> 10% is the target): a list that got worse lowers every
  trunk's rate and the baseline with it. The baseline is the others' rate less one standard
  error of it (`ASR_MARGIN_Z`): the thresholds are calibrated for the true rate, and an
  estimate's error, above all just after a rebase, would raise false alarms many times over.
- **Each cause class** (`kdial.causes`: congestion, timeouts, server errors, refusals,
  unallocated numbers, other line failures) is judged against the same class on the other
  trunks by a CUSUM tuned for a rise to 100x (at most 95%). A class rare on healthy lines is
  conclusive in a few attempts: a run of four or five failures of one cause on a trunk that
  was completing calls ejects it at once (`Outage`), a rise to half the attempts within a
  dozen or so (`FailureCause`). Refusals and unallocated numbers count here though they are
  no line failures: on one trunk alone they are the trunk's (its account blocked, its route
  wrong), and a flagged caller ID or a bad list shows on every trunk alike.
- The references remember the other trunks' last few thousand attempts
  (`Tuning.reference_attempts`, more for call loss, whose events are rare) or the policy
  window, whichever is longer: a baseline known from a few hundred attempts is off often
  enough to make a healthy trunk look worse, or a failing one look better, than it is.
- The thresholds depend on the trunk's rate (`thresholds`, `Calibration`): the target is a
  false-ejection rate per trunk-week, and a busy trunk dials more attempts in a week.
- The baseline lags a change common to all trunks (the list got worse, the hour changed), so
  a trunk's alarm is *held* while the others moved too: over the attempts the alarm blames they
  are confidently past the baseline, by a good share of the way the trunk moved
  (`Cusum.common`); or their guard CUSUM is up and lately they moved by that share
  (`Comparison.shared`); or, for call loss and causes, their guard is a little up and since
  its change point they moved by a smaller share (`Comparison.moved_since_change`): a longer
  sample of their shift than the alarm's run, which at 1 call/s holds a dozen of their calls.
  Each way the test is what the others did *while* the trunk went wrong, so a trunk that fails
  alone is not held by noise on the others, nor by the others' references, which its own
  failure pushes. The guard soon rebases the reference on the
  others' new rate and voids the evidence gathered against the old one.
- An alarm ejects the trunk when it is *confirmed*: the attempts the CUSUM blames are worse than
  what the other trunks did over the same span of time (every evaluation of it, also those
  without a call of the trunk's: `Cusum.witness`), by a Newcombe bound. An unconfirmed alarm
  degrades it.
- The policy's absolute rules, on the exponentially weighted window (``windowSeconds``):
  call loss confidently above ``callLossCeilingPercent`` ejects (degrades, while the trunk
  still connects calls and the others lately lose as many: a callee network down behind every
  trunk); ASR confidently below ``asrFloorPercent`` degrades.
- No rule judges a trunk with fewer than ``minSamples`` attempts in its window.
- Degraded clears only when no rule holds and every CUSUM has fallen below half its threshold
  (hysteresis), and the window's ASR is back at the floor.
- Ejected rests ``ejectSeconds``, doubled for each consecutive ejection up to
  ``maxEjectSeconds``, then probes: after ``probeCalls`` attempts with at most
  ``callLossCeilingPercent`` of them lost it is Healthy again, otherwise Ejected again. The count
  of consecutive ejections is forgotten after ``maxEjectSeconds`` of health.
- The pool decides together: trunks to eject are taken worst first, and the last trunk in
  service (Healthy or Degraded) is never ejected; it stays Degraded and is ejected as soon as
  another trunk is back, if the evidence still holds.

The operator evaluates every pool every `EVALUATION_SECONDS` (a quarter second) with the counts
that arrived meanwhile, and the thresholds are calibrated for that cadence: an alarm acts in the
evaluation that raises it, so at 20 calls/s a decision can come every 5 attempts. A held or
unconfirmed alarm is capped at its threshold and decided again at the next evaluation.

Everything is pure: the caller keeps the returned `PoolHealth` for the next call and turns the
returned `Transition`s into status, Events and a new routing generation.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import NamedTuple

from kdial.api.trunkpool import HealthPolicy, TrunkState
from kdial.causes import CLASSES, CauseClass
from kdial.outcomes import Outcome, counts_against_trunk, is_answered
from kdial.plural import plural
from kdial.routing.detectors import Comparison, Cusum, Scheme, difference_bounds, wilson

__all__ = [
    "DEFAULT_TUNING",
    "EVALUATION_SECONDS",
    "Calibration",
    "Observation",
    "PoolHealth",
    "Transition",
    "TrunkHealth",
    "Tuning",
    "Window",
    "eject_seconds",
    "evaluate",
    "initial",
    "sync_trunks",
    "tally",
    "thresholds",
]

HEALTHY, DEGRADED, EJECTED, PROBING = (
    TrunkState.HEALTHY,
    TrunkState.DEGRADED,
    TrunkState.EJECTED,
    TrunkState.PROBING,
)
IN_SERVICE = frozenset({HEALTHY, DEGRADED})


@dataclass(frozen=True, slots=True)
class Observation:
    """Outcomes of one trunk counted since the last evaluation.

    ``attempts`` counts attempts the trunk is judged on: every dialled attempt except
    ``self_inflicted`` ones (our switch's throttle, our cancellations, and carrier 503s that our
    own pace provoked, which the worker recognises by its token bucket and Retry-After).
    ``call_loss`` is the line failures among them; ``risk_blocked`` lowers ASR like any
    unanswered attempt but is no line failure (a flagged caller ID is not a broken line).
    ``causes`` counts the failed attempts by cause class (`kdial.causes.CLASSES` order), risk
    blocks and unallocated numbers included: each class is judged against the same class on
    the other trunks, where a flagged caller ID or a bad list shows as much as here.
    """

    attempts: int = 0
    answered: int = 0
    call_loss: int = 0
    risk_blocked: int = 0
    self_inflicted: int = 0
    causes: tuple[int, ...] = (0,) * len(CLASSES)

    def __add__(self, other: Observation) -> Observation:
        return Observation(
            self.attempts + other.attempts,
            self.answered + other.answered,
            self.call_loss + other.call_loss,
            self.risk_blocked + other.risk_blocked,
            self.self_inflicted + other.self_inflicted,
            tuple([a + b for a, b in zip(self.causes, other.causes, strict=True)]),
        )


EMPTY = Observation()


def tally(outcomes: Iterable[tuple[Outcome, bool]]) -> Observation:
    """Count attempts for health: each item is an outcome and whether our side caused it."""
    attempts = answered = loss = risk = mine = 0
    for outcome, self_inflicted in outcomes:
        if self_inflicted or outcome is Outcome.CANCELLED:
            mine += 1
            continue
        attempts += 1
        answered += is_answered(outcome)
        loss += counts_against_trunk(outcome)
        risk += outcome is Outcome.RISK_BLOCKED
    return Observation(attempts, answered, loss, risk, mine)


@dataclass(frozen=True, slots=True)
class Window:
    """Exponentially weighted counts over the policy window (time constant windowSeconds)."""

    attempts: float = 0.0
    answered: float = 0.0
    call_loss: float = 0.0
    risk_blocked: float = 0.0
    seconds: float = 0.0
    """The elapsed time, weighted the same way: attempts over it is the trunk's rate."""

    def fold(self, decay: float, obs: Observation, seconds: float = 0.0) -> Window:
        return Window(
            self.attempts * decay + obs.attempts,
            self.answered * decay + obs.answered,
            self.call_loss * decay + obs.call_loss,
            self.risk_blocked * decay + obs.risk_blocked,
            self.seconds * decay + seconds,
        )

    @property
    def rate(self) -> float:
        """Attempts per second over the window (0 before any time has passed)."""
        return self.attempts / self.seconds if self.seconds > 0 else 0.0

    @property
    def asr(self) -> float | None:
        return self.answered / self.attempts if self.attempts > 0 else None

    @property
    def call_loss_rate(self) -> float | None:
        return self.call_loss / self.attempts if self.attempts > 0 else None


# How often the operator evaluates a pool, and what the thresholds below are calibrated for. A
# second's batch at 20 calls/s would let a hard failure run 20 attempts past the evidence that
# condemns it; a quarter second costs the operator a few Redis reads and ~0.1 ms per pool.
EVALUATION_SECONDS = 0.25


# Detector thresholds by the trunk's rate, interpolated in log(rate) between the rates
# calibrated, held outside them: kdial.routing.calibration says how they were found, and
# tests/unit/test_health.py holds them to their false-alarm budgets.
CALIBRATED_RATES = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
LOSS_FAST_THRESHOLDS = (12.9, 13.92, 14.93, 15.27, 15.27, 15.27)
LOSS_SLOW_THRESHOLDS = (12.29, 12.29, 13.2, 13.64, 13.82, 14.33)
ASR_THRESHOLDS = (12.48, 12.89, 13.4, 14.1, 14.43, 14.88)
# The guards watch the other trunks against a trunk's reference: past the guard threshold they
# rebase it (the others moved), past the block level they hold its alarms if the others also
# moved with it lately (`Comparison.shared`).
LOSS_GUARD_THRESHOLD = 10.0
LOSS_BLOCK_THRESHOLD = 5.0
ASR_GUARD_THRESHOLD = 8.0
ASR_BLOCK_THRESHOLD = 4.0
# Alarm rates, as ratios of the baseline. Each is a little short of the change it is there for
# (hard failure 2% -> 50%, soft 2% -> 10%, ASR 30% -> 10%): at the same false-alarm rate that
# trades a few attempts of median delay for a shorter tail, and the targets are p95.
LOSS_FAST_RATIO = 15.0
LOSS_SLOW_RATIO = 4.0
ASR_RATIO = 0.45
# The ASR baseline is the others' answer rate less this many standard errors of it. The
# thresholds hold the detector to its budget at the true baseline, but the others' rate is an
# estimate, and the false-alarm rate is steeply convex in its error: at 1 call/s, computed
# (`calibration.alarm_rate` over the estimate's distribution), an exact baseline gives 0.15
# false alarms per trunk-week, the estimate from the others' 2400 attempts 0.24 and from the
# 300 after a rebase 2.6; one standard error below it, 0.09 and 0.26.
ASR_MARGIN_Z = 1.0
# The call-loss guard watches for a doubling: the slow detector's 4x is clamped at the alarm
# rate's 50% once the others lose a fifth of their calls, and would not see them lose more.
LOSS_GUARD_RATIO = 2.0
# Each cause class against the same class on the other trunks: one CUSUM tuned for a rise to
# 100x the baseline, at most 95%. For a class rare on healthy lines (0.2% to 1%) an event
# weighs ln 100 and a miss as much as an event when the alarm rate is 95%: it alarms on a run
# of four or five failures of that class with none between (a line that is down), and on a
# few more spread over a dozen attempts (a cause rising to half of them). Its thresholds hold
# each class within 0.02 false alarms per trunk-week at every baseline from 0.2% to 10%
# (`calibration`), the worst being near 5%: a rarer class alarms far less.
CAUSE_RATIO = 100.0
CAUSE_THRESHOLDS = (16.0, 17.75, 18.25, 18.25, 18.25, 18.25)
# The others' guard watches for a rise to 5x: a callee network down behind every trunk fails a
# third of their calls, which a design for 95% sees as evidence against (it waits for runs).
CAUSE_GUARD_RATIO = 5.0
CAUSE_GUARD_THRESHOLD = 14.0
CAUSE_BLOCK_THRESHOLD = 7.0


@dataclass(frozen=True, slots=True)
class Calibration:
    """A scheme's CUSUM thresholds by the trunk's rate (attempts per second)."""

    rates: tuple[float, ...]
    """Increasing."""
    thresholds: tuple[tuple[float, ...], ...]
    """One row per alarm ratio of the scheme, one threshold per rate."""

    def __post_init__(self) -> None:
        if not self.rates or any(b <= a for a, b in itertools.pairwise(self.rates)):
            raise ValueError("calibrated rates must increase")
        if any(len(row) != len(self.rates) for row in self.thresholds):
            raise ValueError("one threshold per calibrated rate")

    def at(self, rate: float) -> tuple[float, ...]:
        """The thresholds for ``rate``: interpolated in log(rate), held outside the table."""
        rates = self.rates
        if rate <= rates[0]:
            return tuple(row[0] for row in self.thresholds)
        if rate >= rates[-1]:
            return tuple(row[-1] for row in self.thresholds)
        i = bisect.bisect_left(rates, rate)  # rates[i - 1] < rate <= rates[i]
        f = math.log(rate / rates[i - 1]) / math.log(rates[i] / rates[i - 1])
        return tuple([row[i - 1] + f * (row[i] - row[i - 1]) for row in self.thresholds])


def _loss_calibration() -> Calibration:
    return Calibration(CALIBRATED_RATES, (LOSS_FAST_THRESHOLDS, LOSS_SLOW_THRESHOLDS))


def _asr_calibration() -> Calibration:
    return Calibration(CALIBRATED_RATES, (ASR_THRESHOLDS,))


def _cause_calibration() -> Calibration:
    return Calibration(CALIBRATED_RATES, (CAUSE_THRESHOLDS,))


def _loss_scheme() -> Scheme:
    return Scheme(
        ratios=(LOSS_FAST_RATIO, LOSS_SLOW_RATIO),
        thresholds=_loss_calibration().at(0.0),
        guard_threshold=LOSS_GUARD_THRESHOLD,
        block_threshold=LOSS_BLOCK_THRESHOLD,
        # Below 2% call loss is noise worth nobody's attention. Above, the baseline follows
        # the others as far as the alarm rate: a trunk as bad as they are is no worse (a
        # callee network down behind every trunk fails a third of each one's calls).
        floor=0.02,
        ceiling=0.45,
        max_alarm=0.5,
        prior=0.02,
        min_reference=50.0,
        guard_ratio=LOSS_GUARD_RATIO,
    )


def _asr_scheme() -> Scheme:
    return Scheme(
        ratios=(ASR_RATIO,),
        thresholds=_asr_calibration().at(0.0),
        guard_threshold=ASR_GUARD_THRESHOLD,
        block_threshold=ASR_BLOCK_THRESHOLD,
        floor=0.01,
        prior=None,
        # A thin reference of a low answer rate misjudges every trunk: wait for 300 attempts.
        min_reference=300.0,
        margin_z=ASR_MARGIN_Z,
    )


def _cause_scheme() -> Scheme:
    return Scheme(
        ratios=(CAUSE_RATIO,),
        thresholds=_cause_calibration().at(0.0),
        guard_threshold=CAUSE_GUARD_THRESHOLD,
        block_threshold=CAUSE_BLOCK_THRESHOLD,
        # Below 0.2% a class is rare, whatever the others show; above half the attempts the
        # others are failing as badly as any trunk could.
        floor=0.002,
        ceiling=0.5,
        max_alarm=0.95,
        prior=None,
        min_reference=200.0,
        guard_ratio=CAUSE_GUARD_RATIO,
    )


@dataclass(frozen=True, slots=True)
class Tuning:
    """Detector parameters below the policy: what a user should not need to touch."""

    loss: Scheme = field(default_factory=_loss_scheme)
    """Call loss against the other trunks': fast (hard failure, -> 50%) and slow (-> 10%)."""
    asr: Scheme = field(default_factory=_asr_scheme)
    """Answer rate against the other trunks': a drop to under half."""
    causes: Scheme = field(default_factory=_cause_scheme)
    """Each cause class's failures against the same class on the other trunks."""
    loss_thresholds: Calibration = field(default_factory=_loss_calibration)
    """The loss scheme's thresholds by rate (the scheme's own are those of the lowest)."""
    asr_thresholds: Calibration = field(default_factory=_asr_calibration)
    cause_thresholds: Calibration = field(default_factory=_cause_calibration)
    reference_attempts: float = 2400.0
    """The ASR reference remembers at least this many of the other trunks' attempts, however
    short the policy window: an answer rate known from 600 attempts (a 300 s window at 1 call/s
    on two other trunks) is off by two points often enough to make a healthy trunk look
    worse several times as often as the thresholds allow."""
    loss_reference_attempts: float = 10_000.0
    """The same for call loss: at 2% the others' 3000 attempts hold 60 losses, and the floor
    keeps only the high side of their noise, so the baseline sits above 2% and a soft failure
    to 10% takes a tail of ~30 attempts longer to show at p95."""
    reference_max_windows: float = 4.0
    """...but no more than this many policy windows of time."""
    loss_confirm_z: float = 2.0
    """Standard errors by which a blamed run's call loss must exceed the others' over it."""
    cause_confirm_z: float = 3.5
    """The same for a cause class: its alarms blame a handful of attempts, over which the
    other trunks made only a dozen or so; when all of them fail alike (a callee network down
    behind every trunk) one trunk's unlucky handful against the others' lucky dozen would
    pass a looser bound. A line that is down still passes it (4 of 4 against 0 of 8)."""
    asr_confirm_z: float = 3.0
    """The same for ASR: stricter, because a list that got worse makes every trunk look bad
    against its reference for a while, and the unluckiest one most."""
    hold_z: float = 2.0
    hold_share: float = 0.2
    cause_hold_share: float = 0.2
    """`hold_share` for the cause classes: an alarm there blames a short run that failed
    whole, and a callee network down behind every trunk fails a third of the others' calls
    over it."""
    """An alarm is held when the other trunks, over the attempts it blames, are past the
    baseline themselves by ``hold_z`` standard errors and by this share of the way the trunk
    moved (`Cusum.common`); or while the others' guard is up and, lately, they moved this
    share of the way (`Comparison.shared`): the run an alarm blames may reach back before a
    change the others share, where they were still fine."""
    change_fraction: float = 0.3
    """An alarm of call loss or of a cause is also held while the others' guard is past this
    share of its block level and the others, since its change point, moved with the trunk
    (`Comparison.moved_since_change`): a couple of their losses more than usual, close
    together, date a shift that a short alarm run's few attempts of theirs may not show."""
    change_share: float = 0.1
    """`hold_share` for that hold: the share of the way the trunk moved that the others must
    have moved since their change point. Lower, because a longer sample of theirs is judged
    against the alarm's run, which is the trunk's worst stretch."""
    bound_z: float = 3.0
    """Standard errors for the policy's absolute floor and ceiling."""
    witness_z: float = 2.0
    """Standard errors by which a trunk's calls to a network it is suspect on must lose more
    often than its other calls to be held back any longer from its judgement
    (`kdial.routing.destinations`). Looser than `bound_z`: a route that fails loses every call,
    and a trunk that fails everywhere should not keep half its evidence back."""
    clear_fraction: float = 0.5
    """A Degraded trunk clears when every statistic is below this share of its threshold."""
    route_budget_share: float = 0.5
    """The share of a trunk's false-alarm budget its routes to the callee networks spend
    together (`kdial.routing.destinations`), each by its share of the calls. They judge the
    trunk's calls a second time: judged as trunks, a trunk's three routes would alarm 1.1 and
    1.35 times a trunk-week at 5 and 20 calls/s against the trunk's own 0.49 and 0.48
    (computed, tests/unit/test_destinations.py)."""
    threshold_margin: float = 0.0
    """Added to every alarm threshold: what a route's share of the budget costs
    (`kdial.routing.destinations`); 0 for trunks."""


DEFAULT_TUNING = Tuning()


def thresholds(indicator: str, rate: float, tuning: Tuning = DEFAULT_TUNING) -> tuple[float, ...]:
    """The CUSUM thresholds of ``indicator`` ("loss", "asr" or "cause", every class alike) for
    a trunk dialling ``rate`` attempts per second, one per alarm ratio."""
    calibration = {
        "loss": tuning.loss_thresholds,
        "asr": tuning.asr_thresholds,
        "cause": tuning.cause_thresholds,
    }[indicator]
    limits = calibration.at(rate)
    if not tuning.threshold_margin:
        return limits
    return tuple([h + tuning.threshold_margin for h in limits])


@dataclass(frozen=True, slots=True)
class TrunkHealth:
    """What the pool remembers about one trunk between evaluations."""

    name: str
    state: TrunkState = HEALTHY
    since: float = 0.0
    """When the trunk entered its state (seconds since the epoch)."""
    reason: str = "Started"
    """CamelCase cause of the state, as for a Kubernetes Event's reason."""
    message: str = ""
    """Why the trunk is in its state, for people."""
    ejections: int = 0
    """Consecutive ejections; sets the rest time."""
    window: Window = field(default_factory=Window)
    loss: Comparison = field(default_factory=Comparison)
    asr: Comparison = field(default_factory=Comparison)
    probe_attempts: int = 0
    probe_losses: int = 0
    causes: tuple[Comparison, ...] = (Comparison(),) * len(CLASSES)
    """One per cause class, in `kdial.causes.CLASSES` order."""

    @property
    def in_service(self) -> bool:
        return self.state in IN_SERVICE


@dataclass(frozen=True, slots=True)
class PoolHealth:
    """The health of every trunk of one pool."""

    trunks: tuple[TrunkHealth, ...]
    evaluated_at: float | None = None

    def get(self, name: str) -> TrunkHealth | None:
        for trunk in self.trunks:
            if trunk.name == name:
                return trunk
        return None

    @property
    def states(self) -> dict[str, TrunkState]:
        return {t.name: t.state for t in self.trunks}


@dataclass(frozen=True, slots=True)
class Transition:
    """One trunk's change of state: the stuff of an Event and of a new routing generation."""

    trunk: str
    source: TrunkState
    target: TrunkState
    reason: str
    """CamelCase cause (Event reason)."""
    message: str
    """What happened, for people (Event message, TrunkStatus.reason)."""
    at: float
    """Seconds since the epoch."""

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)


def initial(
    names: Iterable[str],
    now: float,
    previous: Mapping[str, tuple[TrunkState, float]] | None = None,
) -> PoolHealth:
    """A pool's first state. ``previous`` (state and since, e.g. read back from
    TrunkPool.status after an operator restart) keeps ejected trunks out and probing trunks
    probing; Degraded starts over as Healthy, its evidence being gone."""
    previous = previous or {}
    trunks = []
    for name in names:
        state, since = previous.get(name, (HEALTHY, now))
        if state is EJECTED:
            trunks.append(TrunkHealth(name, EJECTED, since, "Restored", "ejected before", 1))
        elif state is PROBING:
            trunks.append(TrunkHealth(name, PROBING, since, "Restored", "probing before", 1))
        else:
            trunks.append(TrunkHealth(name, HEALTHY, now, "Started", ""))
    return PoolHealth(tuple(trunks))


def sync_trunks(pool: PoolHealth, names: Iterable[str], now: float) -> PoolHealth:
    """The pool with exactly ``names`` (a TrunkPool edit): new trunks start Healthy, removed
    ones are forgotten, the others keep their state, in the order given."""
    known = {t.name: t for t in pool.trunks}
    trunks = tuple(known.get(name) or TrunkHealth(name, HEALTHY, now) for name in names)
    return PoolHealth(trunks, pool.evaluated_at)


def eject_seconds(policy: HealthPolicy, ejections: int) -> float:
    """Rest time after the ``ejections``-th consecutive ejection: doubling, capped."""
    doubling = 2.0 ** min(max(ejections - 1, 0), 30)
    return float(min(policy.eject_seconds * doubling, policy.max_eject_seconds))


@dataclass(frozen=True, slots=True)
class _Verdict:
    """What one trunk's evidence says, before the pool-level rule."""

    trunk: TrunkHealth  # with the evaluation folded in, state unchanged
    target: TrunkState
    reason: str = ""
    message: str = ""
    severity: float = 0.0


def evaluate(
    pool: PoolHealth,
    observations: Mapping[str, Observation],
    policy: HealthPolicy,
    now: float,
    *,
    tuning: Tuning = DEFAULT_TUNING,
) -> tuple[PoolHealth, tuple[Transition, ...]]:
    """Fold in the outcomes counted since the last evaluation and decide every trunk's state.

    Observations of trunks the pool does not know are ignored; trunks without one had no
    outcomes. Returns the new pool state and the transitions, in pool order.
    """
    last = pool.evaluated_at
    dt = max(now - last, 0.0) if last is not None else 0.0
    decay = math.exp(-dt / policy.window_seconds)
    total = EMPTY
    for trunk in pool.trunks:
        total = total + observations.get(trunk.name, EMPTY)

    slowest = math.exp(-dt / (tuning.reference_max_windows * policy.window_seconds))
    folded = []
    for trunk in pool.trunks:
        obs = observations.get(trunk.name, EMPTY)
        # The references forget by time (the policy window) or by the others' attempts,
        # whichever is slower, but no slower than `reference_max_windows`.
        others = total.attempts - obs.attempts
        loss, asr = (
            max(decay, min(math.exp(-others / memory), slowest))
            for memory in (tuning.loss_reference_attempts, tuning.reference_attempts)
        )
        folded.append(
            _fold(
                trunk,
                obs,
                total,
                decay=decay,
                references=(loss, asr),
                dt=dt,
                now=now,
                tuning=tuning,
            )
        )
    verdicts = [
        _judge(
            trunk,
            observations.get(trunk.name, EMPTY),
            policy,
            now=now,
            tuning=tuning,
        )
        for trunk in folded
    ]
    verdicts = _keep_last_in_service(verdicts)

    trunks: list[TrunkHealth] = []
    transitions: list[Transition] = []
    for v in verdicts:
        trunk = v.trunk
        if v.target is not trunk.state:
            transitions.append(
                Transition(trunk.name, trunk.state, v.target, v.reason, v.message, now)
            )
            trunk = _enter(trunk, v, now)
        elif v.message and v.message != trunk.message:
            trunk = replace(trunk, reason=v.reason, message=v.message)
        if trunk.state in IN_SERVICE:
            trunk = _capped(trunk, tuning)
        trunks.append(trunk)
    return PoolHealth(tuple(trunks), now), tuple(transitions)


def _fold(
    trunk: TrunkHealth,
    obs: Observation,
    total: Observation,
    *,
    decay: float,
    references: tuple[float, float],
    dt: float,
    now: float,
    tuning: Tuning,
) -> TrunkHealth:
    """The trunk with this evaluation's outcomes folded into its window and comparisons
    (``decay`` for the window, ``references`` for the loss and ASR references)."""
    judged = trunk.state is not EJECTED
    loss = trunk.loss.step(
        tuning.loss,
        references[0],
        (obs.call_loss, obs.attempts) if judged else None,
        (total.call_loss - obs.call_loss, total.attempts - obs.attempts),
    )
    asr = trunk.asr.step(
        tuning.asr,
        references[1],
        (obs.answered, obs.attempts) if judged else None,
        (total.answered - obs.answered, total.attempts - obs.attempts),
    )
    others = total.attempts - obs.attempts
    causes = tuple(
        [
            c.step(
                tuning.causes,
                references[0],
                (mine, obs.attempts) if judged else None,
                (everyone - mine, others),
            )
            for c, mine, everyone in zip(trunk.causes, obs.causes, total.causes, strict=True)
        ]
    )
    return TrunkHealth(
        trunk.name,
        trunk.state,
        trunk.since,
        trunk.reason,
        trunk.message,
        trunk.ejections,
        trunk.window.fold(decay, obs, dt) if judged else trunk.window,
        loss,
        asr,
        trunk.probe_attempts,
        trunk.probe_losses,
        causes,
    )


def _judge(
    trunk: TrunkHealth,
    obs: Observation,
    policy: HealthPolicy,
    *,
    now: float,
    tuning: Tuning,
) -> _Verdict:
    state = trunk.state
    if state is EJECTED:
        rest = eject_seconds(policy, trunk.ejections)
        if now - trunk.since >= rest:
            return _Verdict(
                trunk,
                PROBING,
                "Probing",
                f"rested {rest:.0f} s; probing with {plural(policy.probe_calls, 'call')}",
            )
        return _Verdict(trunk, EJECTED)
    if state is PROBING:
        return _probe(trunk, obs, policy)
    if state is HEALTHY and trunk.ejections and now - trunk.since >= policy.max_eject_seconds:
        trunk = replace(trunk, ejections=0)
    return _judge_in_service(trunk, policy, tuning)


def _probe(trunk: TrunkHealth, obs: Observation, policy: HealthPolicy) -> _Verdict:
    attempts = trunk.probe_attempts + obs.attempts
    losses = trunk.probe_losses + obs.call_loss
    trunk = replace(trunk, probe_attempts=attempts, probe_losses=losses)
    allowed = policy.probe_calls * policy.call_loss_ceiling_percent // 100
    if losses > allowed:
        return _Verdict(
            trunk,
            EJECTED,
            "ProbeFailed",
            f"probe failed: {losses} of {plural(attempts, 'call')} lost",
            severity=math.inf,
        )
    if attempts >= policy.probe_calls:
        passed = f"probe passed: {plural(attempts, 'call')}, {losses} lost"
        return _Verdict(trunk, HEALTHY, "ProbePassed", passed)
    return _Verdict(trunk, PROBING)


def _judge_in_service(trunk: TrunkHealth, policy: HealthPolicy, tuning: Tuning) -> _Verdict:
    window = trunk.window
    if window.attempts < policy.min_samples:
        # Too little evidence for any rule: a quiet trunk keeps its state.
        return _Verdict(trunk, trunk.state)
    eject: list[tuple[float, str, str]] = []  # (severity, reason, message)
    degrade: list[tuple[str, str]] = []
    _ceiling_rule(trunk, policy, tuning, eject, degrade)
    _detector_rules(trunk, tuning, eject, degrade)
    floor = policy.asr_floor_percent / 100.0
    _floor_rule(window, policy, tuning, degrade)
    if eject:
        severity, reason, message = max(eject)
        return _Verdict(trunk, EJECTED, reason, message, severity)
    if degrade:
        reason, message = degrade[0]
        return _Verdict(trunk, DEGRADED, reason, message)
    if trunk.state is DEGRADED:
        if _quiet(trunk, tuning) and window.answered >= floor * window.attempts:
            return _Verdict(trunk, HEALTHY, "Recovered", "no detector alarmed since")
        return _Verdict(trunk, DEGRADED)
    return _Verdict(trunk, HEALTHY)


def _ceiling_rule(
    trunk: TrunkHealth,
    policy: HealthPolicy,
    tuning: Tuning,
    eject: list[tuple[float, str, str]],
    degrade: list[tuple[str, str]],
) -> None:
    """Call loss confidently above the policy's ceiling over the window ejects, unless the
    trunk still connects calls and the other trunks, over the same recent attempts, lose as
    many: a callee network that is down fails every trunk's share of it alike, and ejecting
    one of them moves nothing. (A line that connects nothing is ejected, however the others
    fare, while another serves.)"""
    window = trunk.window
    ceiling = policy.call_loss_ceiling_percent / 100.0
    # The bound is computed only where it could hold (the point estimate is past the line).
    if window.call_loss <= ceiling * window.attempts:
        return
    low = wilson(window.call_loss, window.attempts, tuning.bound_z).low
    if low <= ceiling:
        return
    message = (
        f"call loss {_pct(window.call_loss, window.attempts)} over the window is above "
        f"the {policy.call_loss_ceiling_percent}% ceiling"
    )
    recent = trunk.loss
    connects = trunk.asr.own_events >= 1.0  # about one answer in its last 30 attempts
    if connects and recent.recent_events > ceiling * recent.recent_trials:
        worse = difference_bounds(
            recent.own_events,
            recent.own_trials,
            recent.recent_events,
            recent.recent_trials,
            tuning.bound_z,
        )
        if worse.low <= 0.0:
            others = _pct(recent.recent_events, recent.recent_trials)
            degrade.append(("CallLossCeiling", f"{message}, as on the other trunks ({others})"))
            return
    eject.append((1.0 + low / ceiling, "CallLossCeiling", message))


def _floor_rule(
    window: Window, policy: HealthPolicy, tuning: Tuning, degrade: list[tuple[str, str]]
) -> None:
    """ASR confidently below the policy's floor over the window degrades."""
    floor = policy.asr_floor_percent / 100.0
    if window.answered >= floor * window.attempts:
        return
    if wilson(window.answered, window.attempts, tuning.bound_z).high < floor:
        degrade.append(
            (
                "AnswerRateFloor",
                f"ASR {_pct(window.answered, window.attempts)} over the window is below the "
                f"{policy.asr_floor_percent}% floor",
            )
        )


_CAUSE_LABELS: Mapping[CauseClass, str] = {
    CauseClass.CONGESTION: "congestion (503)",
    CauseClass.TIMEOUT: "timeouts (408)",
    CauseClass.SERVER_ERROR: "server errors (5xx)",
    CauseClass.FORBIDDEN: "refusals (403/603)",
    CauseClass.UNALLOCATED: "unallocated numbers (404/484)",
    CauseClass.OTHER: "other line failures",
}


class _Watch(NamedTuple):
    """One comparison of a trunk, how it is judged, and its thresholds now."""

    name: str
    """What it watches, for people."""
    indicator: str
    """"loss", "asr" or "cause"."""
    comparison: Comparison
    scheme: Scheme
    z: float
    """Standard errors that confirm an alarm."""
    limits: tuple[float, ...]


def _watches(trunk: TrunkHealth, tuning: Tuning) -> Iterator[_Watch]:
    """Every comparison of the trunk, with the thresholds for its rate."""
    rate = trunk.window.rate
    yield _Watch(
        "call loss",
        "loss",
        trunk.loss,
        tuning.loss,
        tuning.loss_confirm_z,
        thresholds("loss", rate, tuning),
    )
    yield _Watch(
        "ASR", "asr", trunk.asr, tuning.asr, tuning.asr_confirm_z, thresholds("asr", rate, tuning)
    )
    limits = thresholds("cause", rate, tuning)
    for cause, comparison in zip(CLASSES, trunk.causes, strict=True):
        yield _Watch(
            _CAUSE_LABELS[cause], "cause", comparison, tuning.causes, tuning.cause_confirm_z, limits
        )


def _detector_rules(
    trunk: TrunkHealth,
    tuning: Tuning,
    eject: list[tuple[float, str, str]],
    degrade: list[tuple[str, str]],
) -> None:
    """The sequential detectors: a confirmed alarm ejects, an unconfirmed one degrades, a held
    one waits (capped) while the other trunks look shifted too."""
    for watch in _watches(trunk, tuning):
        comparison, scheme, limits = watch.comparison, watch.scheme, watch.limits
        baseline = comparison.baseline if comparison.baseline is not None else 0.0
        if all(c.statistic < h for c, h in zip(comparison.own, limits, strict=True)):
            continue
        share = tuning.cause_hold_share if watch.indicator == "cause" else tuning.hold_share
        shared = comparison.shared(scheme, share)
        # The others' change point dates a shift of call loss or of a cause; answer rates
        # wander too much for a short guard run to mean one.
        level = tuning.change_fraction * scheme.block_threshold if scheme.rising else math.inf
        for cusum, threshold in zip(comparison.own, limits, strict=True):
            if cusum.statistic < threshold:
                continue
            own = cusum.events / cusum.trials if cusum.trials else baseline
            if (
                shared
                or cusum.common(
                    tuning.hold_z, share, worse_if_higher=scheme.rising, baseline=baseline
                )
                or comparison.moved_since_change(
                    scheme, level, tuning.hold_z, tuning.change_share, own
                )
            ):
                continue
            reason = _reason(watch, cusum)
            message = (
                f"{watch.name} {_pct(cusum.events, cusum.trials)} over the last "
                f"{plural(cusum.trials, 'attempt')} against {_others(cusum, baseline)} "
                "on the other trunks"
            )
            if cusum.confirmed(watch.z, worse_if_higher=scheme.rising, baseline=baseline):
                eject.append((cusum.statistic / threshold, reason, message))
            else:
                degrade.append((reason + "Unconfirmed", message + " (not yet confirmed)"))


def _reason(watch: _Watch, cusum: Cusum) -> str:
    if watch.indicator == "loss":
        return "CallLoss"
    if watch.indicator == "asr":
        return "AnswerRate"
    # Every attempt the alarm blames failed, with one cause: the line is down.
    return "Outage" if cusum.events == cusum.trials else "FailureCause"


def _quiet(trunk: TrunkHealth, tuning: Tuning) -> bool:
    """Every statistic well below its threshold: the hysteresis that keeps a borderline trunk
    from flapping between Healthy and Degraded."""
    for watch in _watches(trunk, tuning):
        for cusum, threshold in zip(watch.comparison.own, watch.limits, strict=True):
            if cusum.statistic >= tuning.clear_fraction * threshold:
                return False
    return True


def _keep_last_in_service(verdicts: list[_Verdict]) -> list[_Verdict]:
    """Eject worst first while another trunk stays in service; the rest stay Degraded."""
    in_service = sum(1 for v in verdicts if v.trunk.in_service)
    order = sorted(
        (i for i, v in enumerate(verdicts) if v.trunk.in_service and v.target is EJECTED),
        key=lambda i: -verdicts[i].severity,
    )
    result = list(verdicts)
    for i in order:
        if in_service > 1:
            in_service -= 1
            continue
        v = verdicts[i]
        result[i] = replace(
            v,
            target=DEGRADED,
            reason="LastInService",
            message=f"{v.message}; not ejected: the last trunk in service",
        )
    return result


def _enter(trunk: TrunkHealth, v: _Verdict, now: float) -> TrunkHealth:
    """The trunk in its new state, with what that state starts from."""
    trunk = replace(trunk, state=v.target, since=now, reason=v.reason, message=v.message)
    if v.target is EJECTED:
        return replace(
            trunk,
            ejections=trunk.ejections + 1,
            loss=trunk.loss.reset(),
            asr=trunk.asr.reset(),
            probe_attempts=0,
            probe_losses=0,
            causes=tuple([c.reset() for c in trunk.causes]),
        )
    if v.target is PROBING:
        # The probe is judged on its own calls, and the window starts over so that the failure
        # that ejected the trunk does not eject it again once it is back.
        return replace(
            trunk,
            window=Window(),
            loss=trunk.loss.reset(),
            asr=trunk.asr.reset(),
            probe_attempts=0,
            probe_losses=0,
            causes=tuple([c.reset() for c in trunk.causes]),
        )
    return trunk


def _capped(trunk: TrunkHealth, tuning: Tuning) -> TrunkHealth:
    """Alarms not acted on (blocked, unconfirmed, last in service) held at their thresholds."""
    rate = trunk.window.rate
    loss, asr = thresholds("loss", rate, tuning), thresholds("asr", rate, tuning)
    cause = thresholds("cause", rate, tuning)
    if (
        not _over(trunk.loss.own, loss)
        and not _over(trunk.asr.own, asr)
        and not any(_over(c.own, cause) for c in trunk.causes)
    ):
        return trunk
    return replace(
        trunk,
        loss=trunk.loss.capped(tuning.loss, loss),
        asr=trunk.asr.capped(tuning.asr, asr),
        causes=tuple([c.capped(tuning.causes, cause) for c in trunk.causes]),
    )


def _over(cusums: tuple[Cusum, ...], limits: tuple[float, ...]) -> bool:
    return any(c.statistic > h for c, h in zip(cusums, limits, strict=True))


def _pct(events: float, trials: float) -> str:
    return f"{100.0 * events / trials:.1f}%" if trials > 0 else "n/a"


def _others(cusum: Cusum, baseline: float) -> str:
    if cusum.ref_trials > 0:
        return _pct(cusum.ref_events, cusum.ref_trials)
    return f"{100.0 * baseline:.1f}%"
