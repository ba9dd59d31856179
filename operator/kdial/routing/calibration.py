"""How line health's detector thresholds are calibrated, and the offline tools that check them.

Nothing here runs in the operator or the worker (import-linter keeps it out, and numpy with
it): `kdial bench health` and the unit tests use it to hold the thresholds in
`kdial.routing.health` to their false-alarm budgets.

- `attempts_per_evaluation`: the batch a trunk brings to each of the operator's evaluations.
- `alarm_rate`: the long-run probability that a CUSUM fed fixed-size batches of a stream
  without change alarms at a given batch, computed (a Markov chain on the statistic), not
  simulated: what calibrates the thresholds for a false-alarm rate per unit of time.
- `alarm_indices`: the same CUSUM as `Cusum.step` over a whole array at once, for benchmarks
  that need many trunk-weeks of healthy traffic; the tests hold it equal to `Cusum.step`.

The target is at most one false ejection per trunk-*week*, and a trunk at 20 calls/s dials
twenty times the attempts of one at 1 call/s in a week: one threshold for all would make the
busy trunk twenty times as jumpy, or the quiet one needlessly slow. So each threshold is
calibrated by the trunk's rate: at each of `health.CALIBRATED_RATES`, the lowest that keeps the
detector, fed `attempts_per_evaluation` attempts per evaluation at the healthy
baselines (2% loss, 30% answered), within its share of a false-alarm budget per trunk-week
(`alarm_rate`; tests/unit/test_health.py holds the table to it):

    calls/s      1     2     5    10    20    50
    fast loss  0.15  0.10  0.10  0.10  0.10  0.10
    slow loss  0.05  0.10  0.10  0.15  0.20  0.20
    ASR        0.15  0.20  0.30  0.25  0.20  0.20
    total      0.35  0.40  0.50  0.50  0.50  0.50

The shares follow the targets' slack: at 1 call/s the soft-failure detector is well inside
its target, so its share goes to fewer false alarms (a quiet trunk's week is long in a
control); at 20 calls/s the ASR target is out of reach at any share of the budget (a week is
12 million attempts: the whole budget, spent attempt by attempt, still leaves p95 near 170;
README, "What no detector can do"), so the soft-failure detector gets as much. Half the budget
is left over: the state machine ejects up to about twice as often as its detectors alarm
alone (`kdial bench health` measures it; 12 trunk-weeks at 5 and 20 calls/s with shares
totalling 0.75 gave about one false ejection per trunk-week), and halving a share costs a
detector only ln 2 of threshold, a few attempts. From 5 calls/s up the thresholds are made
non-decreasing: larger batches alarm less per attempt (the statistic reflects at zero only
between them), so a rate between two calibrated ones, with a smaller batch than the higher
one, must not get a lower threshold. Between rates they are interpolated in log(rate),
outside held.

The cause classes' detector (`health.CAUSE_THRESHOLDS`) is calibrated the same way, but for
every baseline a class may have: its threshold at each rate is the lowest that holds the
detector within 0.02 false alarms per trunk-week at each of 0.2%, 0.3%, 0.5%, 1%, 2%, 5% and
10% (test_health.py holds it to that). Six classes of which most sit near the floor, where
the detector alarms far less than at 5%, take little of the budget.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from kdial.routing.detectors import Design
from kdial.routing.health import EVALUATION_SECONDS

__all__ = ["alarm_indices", "alarm_rate", "attempts_per_evaluation"]


def attempts_per_evaluation(rate: float) -> int:
    """The batch a trunk dialling ``rate`` attempts a second brings to each evaluation, as the
    calibration assumes it (at least one: a quiet trunk's evaluations without outcomes change
    no statistic)."""
    return max(round(rate * EVALUATION_SECONDS), 1)


def alarm_indices(
    design: Design,
    events: npt.NDArray[np.int64],
    trials: npt.NDArray[np.int64],
    start: float = 0.0,
    chunk: int = 1 << 16,
) -> npt.NDArray[np.int64]:
    """Indices of the batches at which `Cusum.step` would alarm, resetting to zero after each
    alarm: the same recursion, vectorised with S_t = C_t - min(-S_0, min_{j<=t} C_j)."""
    llr = events * design.hit + (trials - events) * design.miss
    found: list[int] = []
    s0 = start
    offset = 0
    total = len(llr)
    while offset < total:
        part = llr[offset : offset + chunk]
        c = np.cumsum(part)
        s = c - np.minimum(np.minimum.accumulate(c), -s0)
        hits = np.flatnonzero(s >= design.threshold)
        if hits.size == 0:
            s0 = float(s[-1])
            offset += len(part)
            continue
        found.append(offset + int(hits[0]))
        offset += int(hits[0]) + 1
        s0 = 0.0
    return np.asarray(found, dtype=np.int64)


def alarm_rate(
    design: Design,
    batch: int,
    rate: float,
    *,
    step: float = 0.002,
    tolerance: float = 1e-6,
    max_iterations: int = 200_000,
) -> float:
    """The probability that the CUSUM alarms at a given batch of ``batch`` attempts whose events
    come at ``rate``, in the long run between alarms: its false-alarm rate when ``rate`` is the
    baseline. Batches per alarm (the ARL) is its inverse, near enough when it is small.

    The statistic on a grid of ``step`` (each batch's log-likelihood ratio rounded to it) is a
    Markov chain on [0, threshold) that leaks at the threshold; its quasi-stationary leak, found
    by power iteration, is the rate. Simulation would need many times the ARL to be precise,
    and the ARLs that matter here are millions of batches.
    """
    if batch <= 0 or not 0.0 < rate < 1.0:
        raise ValueError(f"bad batch {batch} or rate {rate}")
    size = max(math.ceil(design.threshold / step), 1)
    k = np.arange(batch + 1)
    log_pmf = (
        np.array(
            [math.lgamma(batch + 1) - math.lgamma(j + 1) - math.lgamma(batch - j + 1) for j in k]
        )
        + k * math.log(rate)
        + (batch - k) * math.log1p(-rate)
    )
    weights = np.exp(log_pmf)
    moves = np.rint((k * design.hit + (batch - k) * design.miss) / step).astype(np.int64)
    keep = weights > 1e-300
    weights, moves = weights[keep], moves[keep]
    # The chain forgets its start in about threshold / drift batches; the leak is read only
    # after many times that, and then until it holds still over a stretch of batches (over one
    # batch it may not move at all while mass creeps up a lattice).
    drift = abs(float(np.dot(weights, moves))) * step
    settle = max(int(20.0 * design.threshold / max(drift, 1e-9)), 256)
    stretch = 64
    state = np.zeros(size)
    state[0] = 1.0
    before = 0.0
    for iteration in range(1, max_iterations + 1):
        nxt = np.zeros(size)
        lost = 0.0  # summed directly: 1 - sum(nxt) would cancel away rates of 1e-9
        for move, weight in zip(moves.tolist(), weights.tolist(), strict=True):
            if move >= 0:
                if move < size:
                    nxt[move:] += weight * state[: size - move]
                    lost += weight * float(state[size - move :].sum())
                else:
                    lost += weight * float(state.sum())
            else:
                down = min(-move, size)
                nxt[0] += weight * state[:down].sum()
                if down < size:
                    nxt[: size - down] += weight * state[down:]
        state = nxt / float(nxt.sum())
        if iteration >= settle and iteration % stretch == 0:
            if lost > 0.0 and abs(lost - before) <= tolerance * lost:
                return lost
            before = lost
    return lost
