"""Caller-ID quarantine (号码标记): numbers whose answer rate collapsed are rested, then released.

A number marked as spam on callees' phones is answered far less than the pool's other numbers.
Each number's answer stream is compared with the rest of the pool's (a `Comparison`: so a
list-wide drop, which lowers every number and the pool with it, quarantines nothing):

- a CUSUM tuned for a drop to ``belowPoolPercent`` of the pool's rate finds the change and the
  attempts since it;
- the number is quarantined when those attempts number at least ``minSamples`` and their answer
  rate is *confidently* below ``belowPoolPercent`` of what the other numbers answered over the
  same attempts: the Wilson upper bound of the number's rate under that share of the others'
  Wilson lower bound;
- it is released after ``coolingHours`` and starts over with fresh evidence;
- ``manual`` numbers (an annotation) are quarantined whatever their rates, until they leave
  the set; they are released at once then.

`review` takes the counts since the last review and returns the new book and the changes.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from kdial.api.calleridpool import Quarantine
from kdial.plural import plural
from kdial.routing.detectors import Comparison, Cusum, Scheme, wilson

__all__ = [
    "DEFAULT_TUNING",
    "Book",
    "Change",
    "Counts",
    "NumberState",
    "QuarantineTuning",
    "initial",
    "review",
    "sync_numbers",
]


@dataclass(frozen=True, slots=True)
class Counts:
    """Attempts presenting one number since the last review, and how many were answered."""

    attempts: int = 0
    answered: int = 0


@dataclass(frozen=True, slots=True)
class QuarantineTuning:
    """Detector parameters below the `Quarantine` rule."""

    threshold: float = 4.0
    """CUSUM threshold: low, because it only opens the question; the bound decides."""
    guard_threshold: float = 8.0
    block_threshold: float = 4.0
    z: float = 3.0
    """Standard errors of the bounds that confirm a collapse: a pool reviews many numbers many
    times, and resting a good number for a day is not cheap."""
    window_seconds: float = 3600.0
    """Time constant of the pool's reference answer rate."""
    min_reference: float = 100.0
    recent_trials: float = 50.0


DEFAULT_TUNING = QuarantineTuning()


@dataclass(frozen=True, slots=True)
class NumberState:
    comparison: Comparison = field(default_factory=Comparison)
    quarantined_at: float | None = None
    manual: bool = False
    reason: str = ""
    """CamelCase cause of the current state."""
    message: str = ""


@dataclass(frozen=True, slots=True)
class Book:
    """Every number of a pool and whether it rests."""

    numbers: Mapping[str, NumberState]
    reviewed_at: float | None = None

    @property
    def quarantined(self) -> frozenset[str]:
        return frozenset(n for n, s in self.numbers.items() if s.quarantined_at is not None)


@dataclass(frozen=True, slots=True)
class Change:
    """A number quarantined or released: an Event, and a change to what workers may present."""

    number: str
    quarantined: bool
    reason: str
    """CamelCase: Marked, Manual, Cooled, ManualReleased."""
    message: str
    at: float


def initial(numbers: Iterable[str]) -> Book:
    return Book(MappingProxyType({n: NumberState() for n in numbers}))


def sync_numbers(book: Book, numbers: Iterable[str]) -> Book:
    """The book with exactly ``numbers`` (a pool edit); known numbers keep their state."""
    return Book(
        MappingProxyType({n: book.numbers.get(n, NumberState()) for n in numbers}),
        book.reviewed_at,
    )


def _scheme(rule: Quarantine, tuning: QuarantineTuning) -> Scheme:
    return Scheme(
        ratios=(rule.below_pool_percent / 100.0 if rule.below_pool_percent < 100 else 0.99,),
        thresholds=(tuning.threshold,),
        guard_threshold=tuning.guard_threshold,
        block_threshold=tuning.block_threshold,
        floor=0.001,
        prior=None,
        min_reference=tuning.min_reference,
        recent_trials=tuning.recent_trials,
    )


def review(
    book: Book,
    counts: Mapping[str, Counts],
    rule: Quarantine,
    manual: Collection[str],
    now: float,
    *,
    tuning: QuarantineTuning = DEFAULT_TUNING,
) -> tuple[Book, tuple[Change, ...]]:
    """Fold in the counts since the last review; quarantine and release numbers.

    Counts of numbers the book does not know are ignored (`sync_numbers` first).
    """
    last = book.reviewed_at
    decay = math.exp(-max(now - last, 0.0) / tuning.window_seconds) if last is not None else 1.0
    scheme = _scheme(rule, tuning)
    total_attempts = total_answered = 0
    for number in book.numbers:
        c = counts.get(number)
        if c is not None:
            total_attempts += c.attempts
            total_answered += c.answered

    numbers: dict[str, NumberState] = {}
    changes: list[Change] = []
    for number, before in book.numbers.items():
        c = counts.get(number, _NONE)
        resting = before.quarantined_at is not None
        comparison = before.comparison.step(
            scheme,
            decay,
            None if resting else (c.answered, c.attempts),
            (total_answered - c.answered, total_attempts - c.attempts),
        )
        state, change = _decide(
            number,
            replace(before, comparison=comparison),
            manual=number in manual,
            rule=rule,
            scheme=scheme,
            now=now,
            tuning=tuning,
        )
        if change is not None:
            changes.append(change)
        numbers[number] = state
    return Book(MappingProxyType(numbers), now), tuple(changes)


_NONE = Counts()


def _decide(
    number: str,
    state: NumberState,
    *,
    manual: bool,
    rule: Quarantine,
    scheme: Scheme,
    now: float,
    tuning: QuarantineTuning,
) -> tuple[NumberState, Change | None]:
    share = rule.below_pool_percent / 100.0
    cooling = rule.cooling_hours * 3600.0
    fresh = state.comparison.reset()
    if manual and not state.manual:
        message = "quarantined by annotation"
        return (
            NumberState(fresh, now, True, "Manual", message),
            None
            if state.quarantined_at is not None
            else Change(number, True, "Manual", message, now),
        )
    if state.manual:
        if manual:
            return state, None
        message = "annotation removed"
        return NumberState(fresh, None, False, "ManualReleased", message), Change(
            number, False, "ManualReleased", message, now
        )
    if state.quarantined_at is not None:
        if now - state.quarantined_at >= cooling:
            message = f"released after {rule.cooling_hours} h of cooling"
            return NumberState(fresh, None, False, "Cooled", message), Change(
                number, False, "Cooled", message, now
            )
        return state, None
    (cusum,) = state.comparison.own or (Cusum(),)
    if cusum.statistic < tuning.threshold:
        return state, None
    held = state.comparison.held(scheme, tuning.z)
    if not held and cusum.trials >= rule.min_samples and _confirmed(cusum, share, tuning.z):
        message = (
            f"answer rate {_pct(cusum.events, cusum.trials)} over its last "
            f"{plural(cusum.trials, 'attempt')} against "
            f"{_pct(cusum.ref_events, cusum.ref_trials)} for the pool's other "
            f"numbers (below {rule.below_pool_percent}% of it)"
        )
        return NumberState(fresh, now, False, "Marked", message), Change(
            number, True, "Marked", message, now
        )
    # Suspect but not proven, or the whole pool moved (held): hold the statistic at the
    # threshold so the run it blames keeps growing while the evidence lasts, and clears when it
    # turns.
    capped = state.comparison.own[0].capped(tuning.threshold)
    comparison = replace(state.comparison, own=(capped,))
    return NumberState(comparison, None, False, state.reason, state.message), None


def _confirmed(cusum: Cusum, share: float, z: float) -> bool:
    own_high = wilson(cusum.events, cusum.trials, z).high
    if cusum.ref_trials <= 0:
        return False
    others_low = wilson(cusum.ref_events, cusum.ref_trials, z).low
    return own_high < share * others_low


def _pct(events: float, trials: float) -> str:
    return f"{100.0 * events / trials:.1f}%" if trials > 0 else "n/a"
