"""Line health: each trunk's state, decided for the whole pool at once from counted outcomes.

States (`TrunkState`): Healthy -> Degraded -> Ejected -> Probing -> Healthy, and Probing ->
Ejected when the probe fails. A trunk may go from Healthy to Ejected in one evaluation when the
evidence is already conclusive (a dead line should not wait a step).

Per trunk and per evaluation, `evaluate` folds in the outcomes counted since the last one:

- **Call loss** (line failures, never our own throttles or CPS-limit 503s) is judged against the
  other trunks' loss rate (floored at 2%, so that a pool of excellent lines does not make 2%
  look like a failure) by two CUSUMs: a fast one tuned for a hard failure (-> 50%) and a slow one
  for a soft failure (5x the baseline).
- **Answer rate (ASR)** is judged against the other trunks' answer rate by a CUSUM tuned for a
  drop to a third: a list that got worse lowers every trunk's rate and the baseline with it.
- The baseline lags a change common to all trunks (the list got worse, the hour changed), so
  a trunk's alarm is *held* while the others look shifted too: their guard CUSUM is up, or
  their recent rate is confidently off the baseline, or most trunks have just rebased (a pool
  of three has guards that lag one another). The guard soon rebases the reference on the
  others' new rate and voids the evidence gathered against the old one.
- An alarm ejects the trunk when it is *confirmed*: the attempts the CUSUM blames are worse than
  what the other trunks did over the same attempts, by a Newcombe bound. An unconfirmed alarm
  degrades it.
- The policy's absolute rules, on the exponentially weighted window (``windowSeconds``):
  call loss confidently above ``callLossCeilingPercent`` ejects; ASR confidently below
  ``asrFloorPercent`` degrades.
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

Evaluate whenever outcomes arrive (one to a few per trunk per call): an alarm acts at the
evaluation after it, so the cadence adds attempts to every ejection. A held or unconfirmed
alarm is capped at its threshold and decided again at the next evaluation.

Everything is pure: the caller keeps the returned `PoolHealth` for the next call and turns the
returned `Transition`s into status, Events and a new routing generation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from kdial.api.trunkpool import HealthPolicy, TrunkState
from kdial.outcomes import Outcome, counts_against_trunk, is_answered
from kdial.routing.detectors import Comparison, Cusum, Scheme, wilson

__all__ = [
    "DEFAULT_TUNING",
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
    ``call_loss`` is the line failures among them; ``risk_blocked`` is shown, not judged (a
    flagged caller ID is not a broken line), but it lowers ASR like any unanswered attempt.
    """

    attempts: int = 0
    answered: int = 0
    call_loss: int = 0
    risk_blocked: int = 0
    self_inflicted: int = 0

    def __add__(self, other: Observation) -> Observation:
        return Observation(
            self.attempts + other.attempts,
            self.answered + other.answered,
            self.call_loss + other.call_loss,
            self.risk_blocked + other.risk_blocked,
            self.self_inflicted + other.self_inflicted,
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

    def fold(self, decay: float, obs: Observation) -> Window:
        return Window(
            self.attempts * decay + obs.attempts,
            self.answered * decay + obs.answered,
            self.call_loss * decay + obs.call_loss,
            self.risk_blocked * decay + obs.risk_blocked,
        )

    @property
    def asr(self) -> float | None:
        return self.answered / self.attempts if self.attempts > 0 else None

    @property
    def call_loss_rate(self) -> float | None:
        return self.call_loss / self.attempts if self.attempts > 0 else None


# Detector thresholds, tuned with `kdial bench health`. A CUSUM's false alarms come about every
# A*e^h attempts and its detection takes about h/KL attempts, so h trades one for the other: these
# are the lowest that keep each detector near or under one false alarm per trunk-week at 5 calls/s
# (ARL0 ~3.6e6 attempts at 13 for the fast loss CUSUM, ~7e6 at 12 for the slow one, ~3e6 at 12.5
# for ASR, measured with `detectors.alarm_indices`). The guards' thresholds are what keeps the
# list-wide control clean without holding a one-trunk collapse.
LOSS_FAST_THRESHOLD = 13.0
LOSS_SLOW_THRESHOLD = 12.0
LOSS_GUARD_THRESHOLD = 10.0
LOSS_BLOCK_THRESHOLD = 5.0
ASR_THRESHOLD = 12.5
ASR_GUARD_THRESHOLD = 8.0
ASR_BLOCK_THRESHOLD = 4.0


def _loss_scheme() -> Scheme:
    return Scheme(
        ratios=(25.0, 5.0),
        thresholds=(LOSS_FAST_THRESHOLD, LOSS_SLOW_THRESHOLD),
        guard_threshold=LOSS_GUARD_THRESHOLD,
        block_threshold=LOSS_BLOCK_THRESHOLD,
        # Below 2% call loss is noise worth nobody's attention; above 10% the whole pool is
        # failing and a trunk as bad as the others is no worse than they are.
        floor=0.02,
        ceiling=0.10,
        max_alarm=0.5,
        prior=0.02,
        min_reference=50.0,
    )


def _asr_scheme() -> Scheme:
    return Scheme(
        ratios=(1.0 / 3.0,),
        thresholds=(ASR_THRESHOLD,),
        guard_threshold=ASR_GUARD_THRESHOLD,
        block_threshold=ASR_BLOCK_THRESHOLD,
        floor=0.01,
        prior=None,
        # A thin reference of a low answer rate misjudges every trunk: wait for 300 attempts.
        min_reference=300.0,
    )


@dataclass(frozen=True, slots=True)
class Tuning:
    """Detector parameters below the policy: what a user should not need to touch."""

    loss: Scheme = field(default_factory=_loss_scheme)
    """Call loss against the other trunks': fast (hard failure, -> 50%) and slow (5x)."""
    asr: Scheme = field(default_factory=_asr_scheme)
    """Answer rate against the other trunks': a drop to a third."""
    loss_confirm_z: float = 2.0
    """Standard errors by which a blamed run's call loss must exceed the others' over it."""
    asr_confirm_z: float = 3.0
    """The same for ASR: stricter, because a list that got worse makes every trunk look bad
    against its reference for a while, and the unluckiest one most."""
    hold_z: float = 2.0
    """Standard errors by which the others' recent rate must be off the baseline to hold."""
    bound_z: float = 3.0
    """Standard errors for the policy's absolute floor and ceiling."""
    clear_fraction: float = 0.5
    """A Degraded trunk clears when every statistic is below this share of its threshold."""
    rebase_memory_windows: float = 2.0
    """How long, in policy windows, a trunk's rebase counts toward a pool-wide shift
    (`_pool_shifts`): long enough for a reference left behind to turn over."""


DEFAULT_TUNING = Tuning()


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
    loss_rebased_at: float | None = None
    """When the call-loss reference was last rebased (the other trunks shifted)."""
    asr_rebased_at: float | None = None

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

    folded = [
        _fold(
            trunk, observations.get(trunk.name, EMPTY), total, decay=decay, now=now, tuning=tuning
        )
        for trunk in pool.trunks
    ]
    shifts = _pool_shifts(folded, now, policy, tuning)
    verdicts = [
        _judge(
            trunk,
            observations.get(trunk.name, EMPTY),
            policy,
            now=now,
            tuning=tuning,
            shifts=shifts,
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
    now: float,
    tuning: Tuning,
) -> TrunkHealth:
    """The trunk with this evaluation's outcomes folded into its window and comparisons."""
    judged = trunk.state is not EJECTED
    loss = trunk.loss.step(
        tuning.loss,
        decay,
        (obs.call_loss, obs.attempts) if judged else None,
        (total.call_loss - obs.call_loss, total.attempts - obs.attempts),
    )
    asr = trunk.asr.step(
        tuning.asr,
        decay,
        (obs.answered, obs.attempts) if judged else None,
        (total.answered - obs.answered, total.attempts - obs.attempts),
    )
    return TrunkHealth(
        trunk.name,
        trunk.state,
        trunk.since,
        trunk.reason,
        trunk.message,
        trunk.ejections,
        trunk.window.fold(decay, obs) if judged else trunk.window,
        loss,
        asr,
        trunk.probe_attempts,
        trunk.probe_losses,
        now if loss.rebased else trunk.loss_rebased_at,
        now if asr.rebased else trunk.asr_rebased_at,
    )


def _pool_shifts(
    trunks: list[TrunkHealth], now: float, policy: HealthPolicy, tuning: Tuning
) -> dict[str, frozenset[str]]:
    """For each indicator ("loss", "asr") whose whole pool seems to have shifted, the trunks
    whose reference already followed.

    Each trunk's guard watches only the other trunks, and with few trunks one guard may lag the
    rest: when most trunks' references were rebased lately (the list, the hour changed), a
    trunk that has not rebased yet judges by a reference the change left behind, and its alarms
    are held while its own guard sees the others drifting at all (`_judge_in_service`).
    """
    count = len(trunks)
    if count < 3:
        return {}
    quorum = max(2, (count + 1) // 2)
    memory = tuning.rebase_memory_windows * policy.window_seconds
    shifts = {}
    for indicator in ("loss", "asr"):
        rebased = frozenset(
            t.name
            for t in trunks
            if (at := getattr(t, f"{indicator}_rebased_at")) is not None and now - at <= memory
        )
        if len(rebased) >= quorum:
            shifts[indicator] = rebased
    return shifts


def _judge(
    trunk: TrunkHealth,
    obs: Observation,
    policy: HealthPolicy,
    *,
    now: float,
    tuning: Tuning,
    shifts: dict[str, frozenset[str]],
) -> _Verdict:
    state = trunk.state
    if state is EJECTED:
        rest = eject_seconds(policy, trunk.ejections)
        if now - trunk.since >= rest:
            return _Verdict(
                trunk,
                PROBING,
                "Probing",
                f"rested {rest:.0f} s; probing with {policy.probe_calls} calls",
            )
        return _Verdict(trunk, EJECTED)
    if state is PROBING:
        return _probe(trunk, obs, policy)
    if state is HEALTHY and trunk.ejections and now - trunk.since >= policy.max_eject_seconds:
        trunk = replace(trunk, ejections=0)
    return _judge_in_service(trunk, policy, tuning, shifts)


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
            f"probe failed: {losses} of {attempts} calls lost",
            severity=math.inf,
        )
    if attempts >= policy.probe_calls:
        return _Verdict(
            trunk, HEALTHY, "ProbePassed", f"probe passed: {attempts} calls, {losses} lost"
        )
    return _Verdict(trunk, PROBING)


def _judge_in_service(
    trunk: TrunkHealth, policy: HealthPolicy, tuning: Tuning, shifts: dict[str, frozenset[str]]
) -> _Verdict:
    window = trunk.window
    if window.attempts < policy.min_samples:
        # Too little evidence for any rule: a quiet trunk keeps its state.
        return _Verdict(trunk, trunk.state)
    eject: list[tuple[float, str, str]] = []  # (severity, reason, message)
    degrade: list[tuple[str, str]] = []
    _ceiling_rule(window, policy, tuning, eject)
    _detector_rules(trunk, tuning, shifts, eject, degrade)
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
    window: Window, policy: HealthPolicy, tuning: Tuning, eject: list[tuple[float, str, str]]
) -> None:
    """Call loss confidently above the policy's ceiling over the window ejects."""
    ceiling = policy.call_loss_ceiling_percent / 100.0
    # The bound is computed only where it could hold (the point estimate is past the line).
    if window.call_loss <= ceiling * window.attempts:
        return
    low = wilson(window.call_loss, window.attempts, tuning.bound_z).low
    if low > ceiling:
        eject.append(
            (
                1.0 + low / ceiling,
                "CallLossCeiling",
                f"call loss {_pct(window.call_loss, window.attempts)} over the window is above "
                f"the {policy.call_loss_ceiling_percent}% ceiling",
            )
        )


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


def _detector_rules(
    trunk: TrunkHealth,
    tuning: Tuning,
    shifts: dict[str, frozenset[str]],
    eject: list[tuple[float, str, str]],
    degrade: list[tuple[str, str]],
) -> None:
    """The sequential detectors: a confirmed alarm ejects, an unconfirmed one degrades, a held
    one waits (capped) while the other trunks look shifted too."""
    for name, indicator, comparison, scheme, z in (
        ("call loss", "loss", trunk.loss, tuning.loss, tuning.loss_confirm_z),
        ("ASR", "asr", trunk.asr, tuning.asr, tuning.asr_confirm_z),
    ):
        held = (
            indicator in shifts
            and trunk.name not in shifts[indicator]
            and comparison.guard.statistic > 0.0
        ) or comparison.held(scheme, tuning.hold_z)
        baseline = comparison.baseline if comparison.baseline is not None else 0.0
        for cusum, threshold in zip(comparison.own, scheme.thresholds, strict=True):
            if cusum.statistic < threshold or held:
                continue
            message = (
                f"{name} {_pct(cusum.events, cusum.trials)} over the last {cusum.trials} "
                f"attempts against {_others(cusum, baseline)} on the other trunks"
            )
            reason = "CallLoss" if scheme.rising else "AnswerRate"
            if cusum.confirmed(z, worse_if_higher=scheme.rising, baseline=baseline):
                eject.append((cusum.statistic / threshold, reason, message))
            else:
                degrade.append((reason + "Unconfirmed", message + " (not yet confirmed)"))


def _quiet(trunk: TrunkHealth, tuning: Tuning) -> bool:
    """Every statistic well below its threshold: the hysteresis that keeps a borderline trunk
    from flapping between Healthy and Degraded."""
    for comparison, scheme in ((trunk.loss, tuning.loss), (trunk.asr, tuning.asr)):
        for cusum, threshold in zip(comparison.own, scheme.thresholds, strict=True):
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
        )
    return trunk


def _capped(trunk: TrunkHealth, tuning: Tuning) -> TrunkHealth:
    """Alarms not acted on (blocked, unconfirmed, last in service) held at their thresholds."""
    if not _over(trunk.loss.own, tuning.loss) and not _over(trunk.asr.own, tuning.asr):
        return trunk
    return replace(trunk, loss=trunk.loss.capped(tuning.loss), asr=trunk.asr.capped(tuning.asr))


def _over(cusums: tuple[Cusum, ...], scheme: Scheme) -> bool:
    return any(c.statistic > h for c, h in zip(cusums, scheme.thresholds, strict=True))


def _pct(events: float, trials: float) -> str:
    return f"{100.0 * events / trials:.1f}%" if trials > 0 else "n/a"


def _others(cusum: Cusum, baseline: float) -> str:
    if cusum.ref_trials > 0:
        return _pct(cusum.ref_events, cusum.ref_trials)
    return f"{100.0 * baseline:.1f}%"
