"""What the predictive pacer learns from outcomes: the answer rate, bounded from above, and the
distributions of ring, talk and wrap-up times (empirical, over a recent window)."""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["AnswerRate", "Cohorts", "Empirical", "wilson_upper"]

Array = npt.NDArray[np.float64]

#: Fewer samples than this say too little about a distribution: `Empirical` reports nothing
#: yet. The first ones are biased besides: the short talks end first.
MIN_SAMPLES = 50

#: Launch times worked out from ring seconds and from a ringing call's age may differ by this
#: much (two clocks, reporting delays): calls launched this close count as launched together.
LAUNCH_SLACK_SECONDS = 0.5

#: The sorted samples are refreshed once this fraction (1/REFRESH) of them is new.
REFRESH = 20

#: Below this many samples beyond an elapsed time, the empirical tail says too little:
#: `Empirical.finish_within` falls back to an exponential tail.
MIN_TAIL = 5


def wilson_upper(successes: float, trials: float, z: float) -> float:
    """The Wilson score upper bound of a proportion (1.0 with no trials)."""
    if trials <= 0:
        return 1.0
    p = successes / trials
    z2n = z * z / trials
    centre = p + z2n / 2
    spread = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials))
    return min(1.0, (centre + spread) / (1 + z2n))


class AnswerRate:
    """The answer probability of an attempt: decayed counts (each attempt weighs the ones
    before it by ``1 - 1/memory``), and a short memory beside it.

    `upper` is what the pacer dials by: the Wilson upper bound over the long memory, so that
    noise in the estimate does not make it over-dial. A one-sided Bernoulli CUSUM watches for a
    rise (to ``RISE`` times the rate): when it alarms, the list has changed (a new segment, the
    evening) and the long memory restarts from the short one instead of taking its memory's
    length to follow, since a rise is what abandons calls. A fall only costs dialling, and the
    decay follows it.
    """

    RISE = 1.6
    ALARM = 6.0

    def __init__(self, memory: float = 400.0, short: float = 100.0, z: float = 1.64) -> None:
        self.memory, self.short, self.z = memory, short, z
        self.answers = self.attempts = 0.0
        self._short_answers = self._short_attempts = 0.0
        self._cusum = 0.0

    def update(self, answered: int, unanswered: int) -> None:
        n = answered + unanswered
        if n == 0:
            return
        self._watch(answered, unanswered)
        keep = (1 - 1 / self.memory) ** n
        self.answers = self.answers * keep + answered
        self.attempts = self.attempts * keep + n
        keep = (1 - 1 / self.short) ** n
        self._short_answers = self._short_answers * keep + answered
        self._short_attempts = self._short_attempts * keep + n
        if self._cusum > self.ALARM:
            self.answers, self.attempts = self._short_answers, self._short_attempts
            self._cusum = 0.0

    def _watch(self, answered: int, unanswered: int) -> None:
        if self.attempts < self.short:
            return
        p0 = min(max(self.point(), 0.01), 0.9)
        p1 = min(self.RISE * p0, 0.95)
        step = answered * math.log(p1 / p0) + unanswered * math.log((1 - p1) / (1 - p0))
        self._cusum = max(0.0, self._cusum + step)

    def point(self) -> float:
        return self.answers / self.attempts if self.attempts else 0.5

    def upper(self) -> float:
        return wilson_upper(self.answers, self.attempts, self.z)


class Empirical:
    """A duration's distribution: its last ``size`` samples."""

    def __init__(self, size: int = 400) -> None:
        self._buffer = np.empty(size)
        self._count = 0
        self.seen = 0
        """Samples ever added."""
        self._sorted_at = 0
        self._next = 0
        self._sorted: Array = np.empty(0)
        self._quantiles: dict[tuple[float, ...], Array] = {}
        self._excess = 1.0

    def add(self, values: Sequence[float]) -> None:
        if not len(values):
            return
        size = len(self._buffer)
        for value in values[-size:]:
            self._buffer[self._next] = value
            self._next = (self._next + 1) % size
        self._count = min(self._count + len(values), size)
        self.seen += len(values)
        # A full window's distribution hardly moves with a few new samples: sort it again once
        # a twentieth of them are new.
        if self._count < size or self.seen - self._sorted_at >= size // REFRESH:
            self._sorted_at = self.seen
            self._sorted = np.sort(self._buffer[: self._count])
            self._quantiles.clear()
            tail = self._sorted[-MIN_TAIL:]
            self._excess = max(float(np.mean(tail - tail[0])), 1.0)

    def __len__(self) -> int:
        """The samples it has, or 0 while they are too few to go by."""
        return len(self._sorted) if len(self._sorted) >= MIN_SAMPLES else 0

    def cdf(self, x: Array) -> Array:
        """P(duration <= x); 0 with too few samples."""
        if not len(self):
            return np.zeros_like(x)
        result: Array = np.searchsorted(self._sorted, x, side="right") / len(self._sorted)
        return result

    def quantiles(self, q: tuple[float, ...]) -> Array:
        if not len(self):
            return np.zeros(len(q))
        if q not in self._quantiles:
            self._quantiles[q] = np.quantile(self._sorted, q)
        return self._quantiles[q]

    def median(self) -> float:
        return float(self.quantiles((0.5,))[0])

    def finish_within(self, elapsed: Array, horizon: Array) -> Array:
        """P(duration <= elapsed + horizon | duration > elapsed), elementwise (broadcast).

        With too few samples, 0: an unknown duration is not counted on to end. Past the
        samples' tail, an exponential with the mean excess of the longest samples: a duration
        longer than nearly all seen ends soon, not never."""
        if not len(self):
            return np.zeros(np.broadcast(elapsed, horizon).shape)
        s, n = self._sorted, len(self._sorted)
        done = np.searchsorted(s, elapsed, side="right")
        within = np.maximum(np.searchsorted(s, elapsed + horizon, side="right") - done, 0)
        above = n - done
        fallback = 1 - np.exp(-np.maximum(horizon, 0) / self._excess)
        result: Array = np.where(above >= MIN_TAIL, within / np.maximum(above, 1), fallback)
        return result


class Cohorts:
    """Ring outcomes held back until every attempt launched as early as theirs has ended (no
    call launched by then is still ringing): released, they are a fair sample whatever the
    launches were.

    What ends first is not: after a burst of launches (the start of a day, a pacer taking over)
    the fast failures come back seconds before the answers, and an answer rate learnt from them
    alone falls far below the truth, so the pacer would launch hundreds of calls that then
    answer together. In a steady flow what ends is fair already, only later.
    """

    def __init__(self) -> None:
        self._held: list[tuple[float, bool, float]] = []
        """A heap of (launch time, answered, ring seconds)."""

    def add(self, now: float, answered: Sequence[float], unanswered: Sequence[float]) -> None:
        """Outcomes that ended by `now`, as ring seconds."""
        for ring in answered:
            heapq.heappush(self._held, (now - ring, True, ring))
        for ring in unanswered:
            heapq.heappush(self._held, (now - ring, False, ring))

    def release(self, now: float, ringing: Sequence[float]) -> tuple[list[float], list[float]]:
        """The ring seconds of the (answered, unanswered) attempts launched before the oldest
        call still `ringing` (their ages at `now`) was."""
        oldest = now - max(ringing, default=0.0) - LAUNCH_SLACK_SECONDS
        answered: list[float] = []
        unanswered: list[float] = []
        while self._held and self._held[0][0] < oldest:
            _, was_answered, ring = heapq.heappop(self._held)
            (answered if was_answered else unanswered).append(ring)
        return answered, unanswered
