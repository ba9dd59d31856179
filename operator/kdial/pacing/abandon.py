"""The abandon budget: the compliance modes, the trailing 30-minute window, the feedback on the
measured rate and the hard brake.

Regulators count abandoned calls (answered, no agent within the connect deadline) against
answered calls: at most 3% per campaign-day. `REGULATORY` holds that, with 95% of 30-minute
windows at or under 5%; `STRICT` holds every 30-minute window at or under the 3% itself, which
on a small team means aiming far lower (a window holds a few hundred answers, so its rate is
noisy). The brake is separate from the estimator: whatever the model believes, a trailing
window over the mode's limit drops the campaign to progressive (which abandons nothing) until
the window is back under the release level.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

__all__ = ["REGULATORY", "STRICT", "WINDOW_SECONDS", "AbandonWindow", "Brake", "ComplianceMode"]

WINDOW_SECONDS = 1800.0


@dataclass(frozen=True)
class ComplianceMode:
    name: str
    target: float
    """The abandon rate the feedback steers the measured rate to."""
    brake_at: float
    """A trailing 30-minute window above this rate brakes to progressive ..."""
    release_at: float
    """... until the window is at or below this rate."""
    threshold: float
    """The marginal call's abandon probability (if answered) the predictive model allows before
    feedback: the budget's shadow price, which the feedback scales."""
    min_answers: int = 30
    """Fewer answers than this in the window say nothing about its rate: no brake."""


REGULATORY = ComplianceMode(
    "Regulatory", target=0.025, brake_at=0.05, release_at=0.04, threshold=0.08
)
STRICT = ComplianceMode("Strict", target=0.012, brake_at=0.022, release_at=0.015, threshold=0.03)


class AbandonWindow:
    """Answered calls and abandoned calls over the trailing 30 minutes."""

    def __init__(self, seconds: float = WINDOW_SECONDS) -> None:
        self.seconds = seconds
        self._entries: deque[tuple[float, int, int]] = deque()
        self.answered = 0
        self.abandoned = 0

    def add(self, now: float, connected: int, abandoned: int) -> None:
        if connected or abandoned:
            self._entries.append((now, connected + abandoned, abandoned))
            self.answered += connected + abandoned
            self.abandoned += abandoned
        while self._entries and self._entries[0][0] <= now - self.seconds:
            _, answered, dropped = self._entries.popleft()
            self.answered -= answered
            self.abandoned -= dropped

    def rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


class Brake:
    """Progressive while the trailing window is over the mode's limit, until it recovers."""

    def __init__(self, mode: ComplianceMode) -> None:
        self.mode = mode
        self.engaged = False

    def update(self, window: AbandonWindow) -> bool:
        """Whether the campaign is braked now, after this window."""
        if window.answered < self.mode.min_answers:
            self.engaged = self.engaged and window.abandoned > 0
        elif self.engaged:
            self.engaged = window.rate() > self.mode.release_at
        else:
            self.engaged = window.rate() > self.mode.brake_at
        return self.engaged


class Feedback:
    """Integral feedback on the measured abandon rate: every answered call moves the budget's
    scale up by ``gain * target``, every abandoned call down by ``gain``, so that the model's
    error (a wrong distribution, a drifting answer rate) is corrected where it shows: in the
    calls abandoned. The gain starts high and settles (stochastic approximation: ``start``
    over the first ``settle`` answers, down to ``gain``), so that a model wrong from the start
    of the day is corrected within the first hour and noise later moves it little. Bounded
    both ways, so that a long quiet or a bad hour does not wind it up for the rest of the day.
    """

    def __init__(
        self,
        target: float,
        gain: float = 0.02,
        start: float = 0.2,
        settle: float = 200.0,
        bound: float = 3.0,
    ) -> None:
        self.target, self.gain, self.start, self.settle, self.bound = (
            target,
            gain,
            start,
            settle,
            bound,
        )
        self.level = 0.0
        self.answers = 0

    def update(self, connected: int, abandoned: int) -> None:
        answers = connected + abandoned
        if not answers:
            return
        gain = max(self.gain, self.start * self.settle / (self.settle + self.answers))
        self.answers += answers
        step = gain * (self.target * answers - abandoned)
        self.level = min(self.bound, max(-self.bound, self.level + step))

    def scale(self) -> float:
        return math.exp(self.level)
