"""Sequential detectors over Bernoulli outcome streams, and the confidence bounds that confirm them.

A *stream* is a sequence of attempts, each an *event* or not (a call lost, a call answered).
Outcomes arrive in batches of counts (the operator reads counters), so every detector here takes
``(events, trials)`` per step; a batch of one is the classic per-observation detector.

- `Design` and `Cusum`: the Bernoulli log-likelihood-ratio CUSUM (Page 1954) for a shift of the
  event rate from a baseline ``p0`` to an alarm rate ``p1`` (either direction). Each event adds
  ``ln(p1/p0)``, each non-event ``ln((1-p1)/(1-p0))``; the statistic is reflected at zero and
  alarms at its threshold ``h``. Under the baseline its average run length to a false alarm is
  about ``A·e^h`` attempts; after the shift it alarms in about ``h / KL(p1 || p0)`` attempts,
  which no other test with the same false-alarm rate beats (Lorden 1971). `Cusum` also counts
  the attempts of its current run (since it last left zero): the segment it blames.
- `wilson` and `difference_bounds`: Wilson score bounds for one rate and Newcombe's hybrid
  score bounds for the difference of two, in closed form. They confirm an alarm on the segment
  the CUSUM blames, against the comparison streams over the same attempts.
- `Scheme` and `Comparison`: a stream judged against a *reference* stream (the other trunks,
  the other numbers) rather than against a fixed rate, so that a change common to every stream
  (the list got worse) is not blamed on one. The reference is an exponentially weighted count
  of the other streams, and a *guard* CUSUM watches the reference itself. When every stream
  shifts, each stream's reference lags, and for a while the stream looks worse than it. But
  the others shift too, and their guard sees more attempts than the stream's own CUSUM: past
  a low *block* level it holds the stream's alarms (it could be the lag), past a higher level
  it rebases the reference on the others' recent rate and voids the stream's evidence. A change
  of one stream alone leaves the others, and so its guard, quiet, but for noise: a guard of
  rare events stays up for a while after a few of them, so `Comparison.shared` and
  `Cusum.common` hold an alarm only when the others also *moved* with the stream, over its
  recent attempts or over the run the alarm blames (`Comparison.held` holds on the guard
  alone).

The offline tools that calibrate these detectors' thresholds are in kdial.routing.calibration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import NamedTuple

__all__ = [
    "Bounds",
    "Comparison",
    "Cusum",
    "Design",
    "Scheme",
    "difference_bounds",
    "wilson",
]


class Bounds(NamedTuple):
    """A two-sided confidence interval."""

    low: float
    high: float


def wilson(events: float, trials: float, z: float) -> Bounds:
    """Wilson score interval of a rate at ``z`` standard errors; (0, 1) without trials."""
    if trials <= 0:
        return Bounds(0.0, 1.0)
    p = min(max(events / trials, 0.0), 1.0)
    z2 = z * z
    denominator = 1.0 + z2 / trials
    centre = (p + z2 / (2.0 * trials)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / trials + z2 / (4.0 * trials * trials)) / denominator
    return Bounds(max(centre - half, 0.0), min(centre + half, 1.0))


def difference_bounds(
    events_a: float, trials_a: float, events_b: float, trials_b: float, z: float
) -> Bounds:
    """Bounds on ``rate_a - rate_b`` (Newcombe's hybrid score method, from two Wilson
    intervals); it keeps its coverage with few events, where the Wald interval does not."""
    a = wilson(events_a, trials_a, z)
    b = wilson(events_b, trials_b, z)
    pa = events_a / trials_a if trials_a > 0 else 0.5
    pb = events_b / trials_b if trials_b > 0 else 0.5
    diff = pa - pb
    return Bounds(
        diff - math.hypot(pa - a.low, b.high - pb),
        diff + math.hypot(a.high - pa, pb - b.low),
    )


@dataclass(frozen=True, slots=True)
class Design:
    """A Bernoulli CUSUM tuned to detect a shift of the event rate from p0 to p1."""

    p0: float
    p1: float
    threshold: float
    hit: float
    """Log-likelihood ratio of one event."""
    miss: float
    """Log-likelihood ratio of one non-event."""

    @classmethod
    def of(cls, p0: float, p1: float, threshold: float) -> Design:
        """The design for baseline ``p0`` and alarm rate ``p1`` (both in (0, 1), distinct)."""
        if not (0.0 < p0 < 1.0 and 0.0 < p1 < 1.0) or p0 == p1 or threshold <= 0:
            raise ValueError(f"bad CUSUM design p0={p0} p1={p1} h={threshold}")
        return cls(p0, p1, threshold, math.log(p1 / p0), math.log((1.0 - p1) / (1.0 - p0)))

    def llr(self, events: float, trials: float) -> float:
        """Log-likelihood ratio of a batch: evidence for p1 over p0."""
        return events * self.hit + (trials - events) * self.miss


@dataclass(frozen=True, slots=True)
class Cusum:
    """State of one CUSUM: its statistic and the run it blames.

    The run is the attempts since the statistic last left zero (the change-point estimate);
    ``ref_events``/``ref_trials`` count the comparison streams over the same batches, so that an
    alarm can be confirmed against what the others did meanwhile.
    """

    statistic: float = 0.0
    events: int = 0
    trials: int = 0
    ref_events: int = 0
    ref_trials: int = 0

    def step(
        self, design: Design, events: int, trials: int, ref_events: int = 0, ref_trials: int = 0
    ) -> Cusum:
        """The state after one batch."""
        return self.advance(
            design.hit, design.miss, events, trials, ref_events=ref_events, ref_trials=ref_trials
        )

    def advance(
        self,
        hit: float,
        miss: float,
        events: int,
        trials: int,
        *,
        ref_events: int = 0,
        ref_trials: int = 0,
    ) -> Cusum:
        """`step` with the design's log-likelihood ratios given directly (the hot path)."""
        if trials <= 0:
            return self
        s = self.statistic + events * hit + (trials - events) * miss
        if s <= 0.0:
            return _ZERO
        if self.statistic <= 0.0:
            return Cusum(s, events, trials, ref_events, ref_trials)
        return Cusum(
            s,
            self.events + events,
            self.trials + trials,
            self.ref_events + ref_events,
            self.ref_trials + ref_trials,
        )

    def witness(self, ref_events: int, ref_trials: int) -> Cusum:
        """The state after a batch in which only the comparison streams had attempts: they
        belong to the run's span of time as much as those of batches this stream shared, and
        a run's comparison (`common`, `confirmed`) made of the shared batches alone would be a
        small, arbitrary sample of them (at 1 call/s and four evaluations a second, a trunk
        shares a quarter of its batches with the others)."""
        if self.statistic <= 0.0 or ref_trials <= 0:
            return self
        return Cusum(
            self.statistic,
            self.events,
            self.trials,
            self.ref_events + ref_events,
            self.ref_trials + ref_trials,
        )

    def alarmed(self, design: Design) -> bool:
        return self.statistic >= design.threshold

    def capped(self, threshold: float) -> Cusum:
        """The statistic held at ``threshold``: an alarm that is not acted on (unconfirmed, or
        the last trunk in service) stays pending without running away, so that it clears as
        soon as the evidence turns, while the run it blames keeps growing."""
        if self.statistic <= threshold:
            return self
        return Cusum(threshold, self.events, self.trials, self.ref_events, self.ref_trials)

    def common(self, z: float, share: float, *, worse_if_higher: bool, baseline: float) -> bool:
        """Whether the comparison streams, over the blamed run, were past ``baseline``
        themselves in the direction of an alarm, confidently (``z``) and by at least ``share``
        of the way this stream moved: a change they share (the list got worse), which the
        baseline, being their past, has not caught up with. Judged on the run's own attempts,
        so that a stream failing alone is not held by noise in the others' history, or by the
        others' references, which its failure pushed; and by the share, so that two losses
        among the others' forty attempts do not hold a trunk that lost half of its twenty."""
        if self.ref_trials <= 0 or self.trials <= 0:
            return False
        own = self.events / self.trials - baseline
        others = self.ref_events / self.ref_trials - baseline
        bounds = wilson(self.ref_events, self.ref_trials, z)
        if worse_if_higher:
            beyond = bounds.low > baseline
        else:
            own, others, beyond = -own, -others, bounds.high < baseline
        return beyond and own > 0.0 and others >= share * own

    def confirmed(self, z: float, *, worse_if_higher: bool, baseline: float) -> bool:
        """Whether the blamed run is confidently worse than the comparison streams over the same
        attempts (or than ``baseline`` when they had none)."""
        if self.ref_trials > 0:
            bounds = difference_bounds(
                self.events, self.trials, self.ref_events, self.ref_trials, z
            )
            return bounds.low > 0.0 if worse_if_higher else bounds.high < 0.0
        own = wilson(self.events, self.trials, z)
        return own.low > baseline if worse_if_higher else own.high < baseline


_ZERO = Cusum()


@dataclass(frozen=True, slots=True)
class Scheme:
    """How a stream is judged against its reference: one CUSUM per alarm ratio.

    The baseline p0 is the reference's rate clamped to [floor, ceiling]; each alarm rate is
    ``ratio × p0`` clamped to [min_alarm, max_alarm] (ratio > 1 watches for a rise, < 1 for a
    drop). Before the reference holds ``min_reference`` trials the baseline is ``prior``, or
    the scheme is idle when there is no prior. The guard watches the reference with the most
    sensitive ratio (the one nearest 1), or ``guard_ratio``: it holds alarms from
    ``block_threshold`` and rebases the reference at ``guard_threshold``.
    """

    ratios: tuple[float, ...]
    thresholds: tuple[float, ...]
    guard_threshold: float
    block_threshold: float
    floor: float = 0.001
    ceiling: float = 0.999
    min_alarm: float = 0.0005
    max_alarm: float = 0.9995
    prior: float | None = None
    min_reference: float = 50.0
    recent_trials: float = 30.0
    """Memory, in this stream's attempts, of the others' recent rate (`Comparison.held`)."""
    margin_z: float = 0.0
    """The baseline is the reference's rate moved this many standard errors (of the reference
    as an estimate) toward the alarm's side, so that a thin or unlucky reference does not make
    the stream look worse than it is: the false-alarm rate is steeply convex in the baseline's
    error, and the thresholds are calibrated for the true one."""
    guard_ratio: float | None = None
    """The guard's own ratio, for a scheme whose alarms watch only for shifts so large that
    the others' moderate shift (a third of their calls failing) would not move it."""
    guard_index: int = field(init=False, default=0)
    """The ratio the guard uses: the most sensitive one (nearest 1)."""

    def __post_init__(self) -> None:
        if not self.ratios or len(self.ratios) != len(self.thresholds):
            raise ValueError("a scheme needs one threshold per ratio")
        if any(r == 1.0 or r <= 0.0 for r in self.ratios):
            raise ValueError("alarm ratios must be positive and not 1")
        nearest = min(range(len(self.ratios)), key=lambda i: abs(math.log(self.ratios[i])))
        object.__setattr__(self, "guard_index", nearest)

    @property
    def rising(self) -> bool:
        """True when the scheme watches for more events (call loss), False for fewer (answers)."""
        return self.ratios[0] > 1.0

    def baseline(self, ref_events: float, ref_trials: float) -> float | None:
        """The baseline rate p0 for this reference, or None while the scheme is idle."""
        if ref_trials < self.min_reference:
            return self.prior
        p = ref_events / ref_trials
        if self.margin_z:
            margin = self.margin_z * math.sqrt(max(p * (1.0 - p), 0.0) / ref_trials)
            p = p + margin if self.ratios[0] > 1.0 else p - margin
        return min(max(p, self.floor), self.ceiling)

    def designs(self, p0: float) -> tuple[Design, ...]:
        """The alarm designs for baseline p0."""
        return tuple(
            Design.of(p0, self.alarm_rate(p0, r), h)
            for r, h in zip(self.ratios, self.thresholds, strict=True)
        )

    def guard(self, p0: float) -> Design:
        """The guard's design for baseline p0."""
        return Design.of(p0, self.alarm_rate(p0, self._guard_ratio), self.guard_threshold)

    @property
    def _guard_ratio(self) -> float:
        return self.ratios[self.guard_index] if self.guard_ratio is None else self.guard_ratio

    def guard_weights(
        self, p0: float, weights: tuple[tuple[float, float], ...]
    ) -> tuple[float, float]:
        """(hit, miss) of the guard's design, given the alarm designs' `weights` at p0."""
        if self.guard_ratio is None:
            return weights[self.guard_index]
        p1 = self.alarm_rate(p0, self.guard_ratio)
        return math.log(p1 / p0), math.log((1.0 - p1) / (1.0 - p0))

    def alarm_rate(self, p0: float, ratio: float) -> float:
        """p1 for baseline p0 and one of the ratios."""
        p1 = min(max(ratio * p0, self.min_alarm), self.max_alarm)
        if p1 == p0:  # clamped onto the baseline: nudge so the design stays a test
            p1 = p0 * (1.0001 if ratio > 1.0 else 0.9999)
        return p1

    def weights(self, p0: float) -> tuple[tuple[float, float], ...]:
        """(hit, miss) log-likelihood ratios of each design for baseline p0: what `designs`
        computes, without building the objects (evaluated for every trunk on every batch)."""
        out = []
        for ratio in self.ratios:
            p1 = self.alarm_rate(p0, ratio)
            out.append((math.log(p1 / p0), math.log((1.0 - p1) / (1.0 - p0))))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A stream judged against the other streams: the reference, its guard, the CUSUMs."""

    ref_events: float = 0.0
    """Exponentially weighted events of the reference streams."""
    ref_trials: float = 0.0
    recent_events: float = 0.0
    """The reference streams' attempts over the time of this stream's last
    ``scheme.recent_trials`` attempts, or so."""
    recent_trials: float = 0.0
    own_events: float = 0.0
    """This stream's share of the same attempts: the same time span as ``recent_*``."""
    own_trials: float = 0.0
    guard: Cusum = _ZERO
    """The other streams against their own baseline (did they shift?)."""
    own: tuple[Cusum, ...] = ()
    baseline: float | None = None
    """The baseline p0 the last step judged against (None while idle)."""
    rebased: bool = False
    """True when the last step rebased the reference (the others shifted)."""

    def step(
        self,
        scheme: Scheme,
        decay: float,
        own: tuple[int, int] | None,
        others: tuple[int, int],
    ) -> Comparison:
        """Fold in one batch: ``own`` and ``others`` are (events, trials); ``own`` None leaves
        the stream's CUSUMs alone (the trunk is out of service) but still tracks the reference.
        ``decay`` in (0, 1] weighs the reference's past (exp(-dt/window))."""
        p0 = scheme.baseline(self.ref_events, self.ref_trials)
        oe, on = others
        ref_events, ref_trials = self.ref_events * decay + oe, self.ref_trials * decay + on
        e, n = own if own is not None else (0, 0)
        recent = self._recent(scheme.recent_trials, e, n, oe, on)
        if not e and not oe and p0 is not None and scheme.rising and self._at_rest():
            # No event anywhere and every CUSUM at zero: for a rise, non-events only push them
            # down, and they stay there (most batches of a rare event: the hot path).
            rested = self.own or _zeros(len(scheme.ratios))
            return Comparison(ref_events, ref_trials, *recent, _ZERO, rested, p0)
        if p0 is None:
            zeros = _zeros(len(scheme.ratios))
            return Comparison(ref_events, ref_trials, *recent, _ZERO, zeros, None)
        cusums = self.own or _zeros(len(scheme.ratios))
        active = n > 0
        if not active and on <= 0:
            return Comparison(ref_events, ref_trials, *recent, self.guard, cusums, p0)
        weights = scheme.weights(p0)
        guard = self.guard
        if self.ref_trials >= scheme.min_reference:
            hit, miss = scheme.guard_weights(p0, weights)
            guard = guard.advance(hit, miss, oe, on)
        if guard.statistic >= scheme.guard_threshold:
            # The others shifted: the reference starts over, and what this stream accumulated
            # against the old one is void. It starts from the others' recent attempts (the
            # guard's own run may straddle the change; the recent ones mostly follow it) when
            # they are reference enough, or else from their next attempts: recent attempts
            # from before the change would pull a baseline built up from few after it back.
            zeros = _zeros(len(cusums))
            seed = recent[:2] if recent[1] >= scheme.min_reference else (0.0, 0.0)
            return Comparison(*seed, *recent, _ZERO, zeros, p0, rebased=True)
        if active:
            cusums = tuple(
                c.advance(hit, miss, e, n, ref_events=oe, ref_trials=on)
                for c, (hit, miss) in zip(cusums, weights, strict=True)
            )
        else:
            cusums = tuple(c.witness(oe, on) for c in cusums)
        return Comparison(ref_events, ref_trials, *recent, guard, cusums, p0)

    def _at_rest(self) -> bool:
        return self.guard.statistic <= 0.0 and all(c.statistic <= 0.0 for c in self.own)

    def _recent(
        self, memory: float, e: int, n: int, oe: int, on: int
    ) -> tuple[float, float, float, float]:
        """The recent counts after a batch: both sides decay by the stream's own attempts, so
        that they cover the same span of time, about ``memory`` of the stream's attempts."""
        keep = (1.0 - 1.0 / memory) ** n if n > 0 else 1.0
        others_events = self.recent_events * keep + oe
        others_trials = self.recent_trials * keep + on
        # While the stream is idle the others' side would grow without bound: cap its span.
        cap = _RECENT_SPAN * memory
        if others_trials > cap:
            others_events *= cap / others_trials
            others_trials = cap
        return others_events, others_trials, self.own_events * keep + e, self.own_trials * keep + n

    def held(self, scheme: Scheme, z: float) -> bool:
        """True while the others' recent rate is confidently off the baseline in the direction
        of an alarm, or their guard is past ``block_threshold``: the baseline lags a change
        common to all streams, and an alarm now may be that lag."""
        if self.guard.statistic >= scheme.block_threshold:
            return True
        if self.baseline is None or self.recent_trials <= 0:
            return False
        return _beyond(self.recent_events, self.recent_trials, self.baseline, scheme, z)

    def shared(self, scheme: Scheme, share: float) -> bool:
        """True while the others' guard is past ``block_threshold`` and, over this stream's
        recent attempts, the others moved from the baseline at least ``share`` of the way this
        stream moved, in the direction of an alarm: a change they share, which the baseline
        has not caught up with. `held` without the second condition holds a stream that fails
        alone whenever the guard happens to be up: a few losses on the others lift it past
        the block level for a while every few hours, and it comes down slowly."""
        if self.guard.statistic < scheme.block_threshold or self.baseline is None:
            return False
        if self.own_trials <= 0 or self.recent_trials <= 0:
            return False
        own = self.own_events / self.own_trials - self.baseline
        others = self.recent_events / self.recent_trials - self.baseline
        if not scheme.rising:
            own, others = -own, -others
        return own > 0.0 and others >= share * own

    def moved_since_change(
        self, scheme: Scheme, level: float, z: float, share: float, own: float
    ) -> bool:
        """True while the others' guard is past ``level`` and, over its run (the others' own
        change point on), they are confidently (``z``) past the baseline, in the direction of
        an alarm, by at least ``share`` of the way this stream moved (to ``own``): a change
        they share, judged on all their attempts since it began, a longer sample than the
        handful an alarm on a short run blames, where at 1 call/s a dozen of the others'
        calls can look unmoved by luck."""
        guard, baseline = self.guard, self.baseline
        if guard.statistic < level or guard.trials <= 0 or baseline is None:
            return False
        bounds = wilson(guard.events, guard.trials, z)
        others = guard.events / guard.trials - baseline
        moved = own - baseline
        if scheme.rising:
            return bounds.low > baseline and moved > 0.0 and others >= share * moved
        return bounds.high < baseline and moved < 0.0 and others <= share * moved

    def reset(self) -> Comparison:
        """The same reference with fresh CUSUMs (after ejection or probing)."""
        return replace(self, own=_zeros(len(self.own)))

    def rebase(self) -> Comparison:
        """What the guard does when the others shift: the reference starts over from their
        next attempts, and the CUSUMs' evidence, gathered against the old one, is void. Also
        applied from outside when the pool as a whole shifted (`health.evaluate`)."""
        zeros = _zeros(len(self.own))
        return replace(self, ref_events=0.0, ref_trials=0.0, guard=_ZERO, own=zeros, rebased=True)

    def capped(self, scheme: Scheme, thresholds: tuple[float, ...] | None = None) -> Comparison:
        """Every CUSUM held at its threshold (`Cusum.capped`): the scheme's, or ``thresholds``
        when the caller scales them (by the stream's rate, say)."""
        limits = scheme.thresholds if thresholds is None else thresholds
        own = tuple(c.capped(h) for c, h in zip(self.own, limits, strict=True))
        return replace(self, own=own)


_RECENT_SPAN = 20.0  # the others' recent side holds at most this many times the memory


def _beyond(events: float, trials: float, baseline: float, scheme: Scheme, z: float) -> bool:
    """True when the rate is confidently past the baseline in the direction of an alarm."""
    bounds = wilson(events, trials, z)
    return bounds.low > baseline if scheme.rising else bounds.high < baseline


def _zeros(count: int) -> tuple[Cusum, ...]:
    return (_ZERO,) * count
