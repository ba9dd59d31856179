"""Predictive pacing: dial for the agents about to be free, within the abandon budget.

A call launched now is answered, if at all, some ring time later (a quantile ``tau`` of the
answer-time distribution). It then takes an agent if one is free within the connect deadline;
answered calls take agents first come, first served. So the marginal call is abandoned, if
answered, when the agents free by ``tau`` plus the deadline are no more than the answers before
it: the ringing calls that answer by ``tau`` (each with its own probability given how long it
has rung), the calls waiting now, and the other calls launched with it.

`outlook` gives ``c(b)``: the probability that at most ``b`` agents are left for the new calls
(averaged over the answer-time quantiles), from Poisson-binomial sums over the agents (each
free by the horizon with the probability its elapsed time gives) and the ringing calls.
`launches` is then the largest ``n`` whose last call is abandoned, if answered, with at most
the threshold's probability: the newsvendor's marginal condition, whose threshold is the
abandon budget's shadow price. The answer rate used everywhere is an upper confidence bound,
the threshold is scaled by the feedback on the measured abandon rate, and the brake (progressive
while a 30-minute window is over the limit) overrides the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kdial.pacing.abandon import AbandonWindow, Brake, ComplianceMode, Feedback
from kdial.pacing.estimators import AnswerRate, Cohorts, Empirical
from kdial.pacing.progressive import progressive_launches
from kdial.pacing.snapshot import Snapshot

__all__ = ["PredictivePacer", "Tuning", "launches", "outlook", "poisson_binomial"]

Array = npt.NDArray[np.float64]

#: Answer-time quantiles a new call's answer is looked at (midpoints of four equal slices),
#: and the last answer time seen: an answer takes the agent a later answer would have had.
QUANTILES = (0.125, 0.375, 0.625, 0.875)
LAST = (1.0,)


@dataclass(frozen=True)
class Tuning:
    connect_deadline: float = 2.0
    """Seconds an answered call waits for an agent before it is abandoned."""
    rate_memory: float = 400.0
    """Attempts the answer-rate estimate remembers (decayed)."""
    rate_z: float = 1.64
    """The answer rate's upper bound: Wilson at this many standard errors."""
    samples: int = 400
    """Ring, talk and wrap-up times each remember this many recent samples."""
    feedback_gain: float = 0.02
    feedback_start: float = 0.2
    max_launch: int = 500
    """At most this many calls in one decision (the model's own limit comes far sooner)."""


_ROOTS: dict[int, npt.NDArray[np.complex128]] = {}


#: Trials' probabilities are grouped to this resolution: the generating function is then a
#: product of binomials' powers, a few factors where there are as many as there are agents.
RESOLUTION = 256


def poisson_binomial(probs: Array) -> Array:
    """The distribution of the number of successes of independent Bernoulli trials, one row of
    ``probs`` (shape ``(rows, n)``) each: shape ``(rows, n + 1)``. Evaluates the generating
    function at the roots of unity and inverts it with one FFT; trials whose probabilities
    agree to 1/`RESOLUTION` share one factor, raised to their number."""
    rows, n = probs.shape
    size = n + 1
    roots = _ROOTS.get(size)
    if roots is None:
        roots = _ROOTS.setdefault(size, np.exp(2j * np.pi * np.arange(size) / size))
    generating = np.empty((rows, size), dtype=complex)
    grouped = np.rint(probs * RESOLUTION)
    for row in range(rows):
        values, counts = np.unique(grouped[row], return_counts=True)
        q = (values / RESOLUTION)[:, None]
        generating[row] = ((1 - q + q * roots) ** counts[:, None]).prod(axis=0)
    pmf: Array = np.maximum(np.fft.fft(generating, axis=1).real / size, 0.0)
    return pmf


def outlook(ready: int, waiting: int, free: Array, answer: Array, calls: int) -> Array:
    """``c[b]``: the probability that the new calls find at most ``b`` agents to spare.

    Rows are points in time from now, in order: ``free[j, i]``, P(busy agent i is free by
    point j plus the deadline); ``answer[j, k]``, P(ringing call k answers by point j). The
    agents to spare at point j are ``D_j = ready - waiting + sum(free) - sum(answers)``.
    The first ``calls`` rows are when a new call may answer. A new call answering at point j
    takes an agent first come, first served: one the calls answering later would have had if
    it answers before them. So it costs an abandon if the spare agents run out at j or at any
    later point: ``c`` is the mean over the new call's rows of ``max_{k >= j} P(D_k <= b)``
    (a lower bound of P(min_k D_k <= b)), over ``b = 0 .. ready + busy`` (beyond it, 1).
    """
    trials = np.concatenate([free, 1 - answer], axis=1)
    # Certain trials only shift the sum, impossible ones add nothing: the FFT costs the square
    # of the rest.
    sure = trials > 1 - 1e-9
    certain = sure.sum(axis=1)
    columns = ((trials > 1e-9) & ~sure).any(axis=0)
    uncertain = np.where(sure, 0.0, trials)[:, columns]
    cdf = np.cumsum(poisson_binomial(uncertain), axis=1)
    rows, size = cdf.shape
    padded = np.concatenate([np.zeros((rows, 1)), cdf, np.ones((rows, 1))], axis=1)
    # D <= b  <=>  X <= b - base, with X the uncertain sum and base the rest
    base = ready - waiting - answer.shape[1] + certain
    index = np.arange(ready + free.shape[1] + 1)[None, :] - base[:, None]
    index = np.minimum(np.maximum(index, -1), size) + 1
    short = padded[np.arange(rows)[:, None], index]
    later = np.maximum.accumulate(short[::-1], axis=0)[::-1]
    c: Array = np.minimum(later[:calls].mean(axis=0), 1.0)
    return c


def launches(c: Array, p: float, threshold: float, limit: int) -> int:
    """The largest ``n`` (at most ``limit``) such that the n-th new call, if answered, finds no
    agent with probability at most ``threshold``: P(B(n-1, p) >= D) = sum_b B(n-1,p)(b) c(b),
    the other new calls' answers before it counted as taking agents."""
    pmf = np.ones(1)
    for n in range(1, limit + 1):
        width = min(len(pmf), len(c))
        marginal = float(pmf[:width] @ c[:width]) + float(pmf[width:].sum())
        if marginal > threshold:
            return n - 1
        grown = np.zeros(len(pmf) + 1)
        grown[:-1] = pmf * (1 - p)
        grown[1:] += pmf * p
        pmf = grown
    return limit


class PredictivePacer:
    """The predictive policy behind the `Pacer` interface; learns only from its snapshots."""

    def __init__(self, mode: ComplianceMode, tuning: Tuning | None = None) -> None:
        self.mode = mode
        self.tuning = tuning = tuning or Tuning()
        self.rate = AnswerRate(memory=tuning.rate_memory, z=tuning.rate_z)
        self.settled_rate = AnswerRate(memory=tuning.rate_memory, z=tuning.rate_z)
        self.cohorts = Cohorts()
        self.answer_times = Empirical(tuning.samples)
        self.failure_times = Empirical(tuning.samples)
        self.talk_times = Empirical(tuning.samples)
        self.wrap_times = Empirical(tuning.samples)
        self.window = AbandonWindow()
        self.brake = Brake(mode)
        self.feedback = Feedback(
            mode.target, gain=tuning.feedback_gain, start=tuning.feedback_start
        )
        self._quantiles: Array | None = None
        self._taus: Array = np.zeros((1, 1))
        self._calls = 1

    def decide(self, snapshot: Snapshot) -> int:
        self._learn(snapshot)
        o = snapshot.outcomes
        if self.brake.update(self.window):
            # The calls the model dialled before the brake are still its error; progressive
            # answers are not its credit, and would wind the budget up for when it lets go.
            self.feedback.update(0, o.abandoned)
            return progressive_launches(snapshot)
        self.feedback.update(o.connected, o.abandoned)
        if not snapshot.staffed:
            return 0
        # The outcomes as they end follow a change of the rate at once; those whose cohort has
        # ended are not fooled by a burst of launches: the higher bound of the two.
        p = max(self.rate.upper(), self.settled_rate.upper())
        free, answer = self._horizons(snapshot, p)
        c = outlook(snapshot.ready, snapshot.waiting, free, answer, self._calls)
        threshold = self.mode.threshold * self.feedback.scale()
        return launches(c, p, threshold, self.tuning.max_launch)

    def recall(self, minutes: Sequence[tuple[float, int, int]]) -> None:
        """What a pacer taking over (its predecessor's worker died, say) knows of the abandon
        budget: the campaign's (end of minute, connected, abandoned) calls of the last minutes,
        oldest first (`kdial.predictive.recalled`), into its window and feedback. A window
        over the release level starts braked: the predecessor may have been."""
        for at, connected, abandoned in minutes:
            self.window.add(at, connected, abandoned)
            self.feedback.update(connected, abandoned)
        judged = self.window.answered >= self.mode.min_answers
        self.brake.engaged = judged and self.window.rate() > self.mode.release_at

    def _learn(self, snapshot: Snapshot) -> None:
        o = snapshot.outcomes
        self.rate.update(len(o.answered), len(o.unanswered))
        self.cohorts.add(snapshot.now, o.answered, o.unanswered)
        answered, unanswered = self.cohorts.release(snapshot.now, snapshot.ringing)
        self.settled_rate.update(len(answered), len(unanswered))
        # Ring times too: the first answers of a day are the quick ones.
        self.answer_times.add(answered)
        self.failure_times.add(unanswered)
        self.talk_times.add(o.talks)
        self.wrap_times.add(o.wraps)
        self.window.add(snapshot.now, o.connected, o.abandoned)

    def _horizons(self, snapshot: Snapshot, p: float) -> tuple[Array, Array]:
        """(free, answer) probabilities at the new calls' answer-time quantiles and at the
        last answer time (rows): see `outlook`."""
        quantiles = self.answer_times.quantiles(QUANTILES)
        if quantiles is not self._quantiles:
            self._quantiles = quantiles
            calls = np.unique(quantiles)
            self._calls = len(calls)
            last = self.answer_times.quantiles(LAST)
            self._taus = np.concatenate([calls, last[last > calls[-1]]])[:, None]
        taus = self._taus
        deadline = taus + self.tuning.connect_deadline
        talking = np.array(snapshot.talking, dtype=float)[None, :]
        wrapping = np.array(snapshot.wrapping, dtype=float)[None, :]
        free = np.concatenate(
            [
                _ended(self.talk_times, talking, deadline - self.wrap_times.median()),
                _ended(self.wrap_times, wrapping, deadline),
            ],
            axis=1,
        )
        ages = np.array(snapshot.ringing, dtype=float)[None, :]
        return free, self._answer_by(ages, taus, p)

    def _answer_by(self, ages: Array, taus: Array, p: float) -> Array:
        """P(a call ringing for ``ages`` answers within ``taus`` more seconds): among calls still
        ringing at that age, the answering ones weigh p * P(answer time > age)."""
        if not len(self.answer_times):
            return np.full((len(taus), ages.shape[1]), p)
        g_age = self.answer_times.cdf(ages)
        h_age = self.failure_times.cdf(ages)
        still = p * (1 - g_age) + (1 - p) * (1 - h_age)
        gained = p * (self.answer_times.cdf(ages + taus) - g_age)
        result: Array = np.minimum(gained / np.maximum(still, 1e-12), 1.0)
        return result


#: A duration's samples are trusted once this many times as many have ended as are under way.
MATURITY = 3


def _ended(durations: Empirical, elapsed: Array, horizon: Array) -> Array:
    """P(each of these durations under way ends within the horizon), or 0 while the samples
    are immature: the first to end are the short ones (at the start of a day, they are all
    there is), and taken for the distribution they would have agents free far too soon."""
    if durations.seen < MATURITY * elapsed.shape[1]:
        return np.zeros(np.broadcast(elapsed, horizon).shape)
    return durations.finish_within(elapsed, horizon)
