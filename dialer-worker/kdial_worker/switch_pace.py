"""Our own switch's session-rate throttle: slowing down when it refuses, speeding up after.

FreeSWITCH refuses sessions over its `sessions-per-second` with ``-ERR
DESTINATION_OUT_OF_ORDER`` and no channel (measured on 1.11). The limit is the switch's
configuration (changed at run time with `fsctl sps N`), and it counts every leg the switch
carries, agents' and inbound ones included, so the worker cannot know its share in advance. It
finds it as TCP finds a path's capacity (AIMD): each refusal halves the rate the worker
originates at (from what it actually sent in the last second), and every second without one
adds `INCREASE_PER_SECOND`, until the rate the trunks allow is reached again.

A refusal of a call sent before the last decrease says nothing about the decreased rate and is
not counted again. Pure: times are passed in (seconds, any one clock).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

#: Multiplicative decrease on a refusal.
DECREASE = 0.5
#: Additive increase: originates per second gained per second without a refusal.
INCREASE_PER_SECOND = 2.0
#: The least rate a refusal brings the worker down to.
MIN_RATE = 1.0
#: The span the measured sending rate is taken over (the switch's own window).
WINDOW_SECONDS = 1.0


@dataclass
class SwitchPace:
    """The originate rate this worker allows itself on its switch."""

    limit: float | None = None
    """Originates per second at `since`; None while nothing limits the worker but its trunks."""
    since: float = 0.0
    _sent: deque[float] = field(default_factory=deque)

    def sent(self, now: float) -> None:
        """Notes an originate sent at `now`."""
        self._sent.append(now)
        self._forget(now)

    def rate(self, wanted: float, now: float) -> float:
        """The rate to originate at now, at most `wanted` (what the trunks allow)."""
        if self.limit is None:
            return wanted
        grown = self.limit + INCREASE_PER_SECOND * max(now - self.since, 0.0)
        if grown >= wanted:
            self.limit = None
            return wanted
        return grown

    def refused(self, sent_at: float, now: float) -> None:
        """The switch's throttle refused a call sent at `sent_at`: slow down."""
        if self.limit is not None and sent_at < self.since:
            return
        self._forget(now)
        current = len(self._sent) / WINDOW_SECONDS
        if self.limit is not None:
            current = min(current, self.rate(current, now))
        self.limit = max(MIN_RATE, current * DECREASE)
        self.since = now

    def _forget(self, now: float) -> None:
        while self._sent and self._sent[0] < now - WINDOW_SECONDS:
            self._sent.popleft()
