"""How many contacts a worker may claim now: an even flow, not bursts (pure).

The trunks' calls-per-second caps are cluster-wide and exact (`caps`), but a worker that
claims whatever the caps allow gets the whole second's permits at once, then waits: its calls
go out in bursts that crowd the switch and drift past each second. A small local token
bucket at the trunks' combined rate spreads claims evenly; the caps stay the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The bucket holds a tenth of a second's worth of calls (and at least one).
BURST_SECONDS = 0.1


@dataclass
class Pacer:
    tokens: float = 0.0
    last: float = 0.0

    def take(self, now: float, rate: float, want: int) -> int:
        """Up to `want` claims allowed at `now` for a flow of `rate` per second."""
        if rate <= 0:
            return 0
        burst = max(1.0, rate * BURST_SECONDS)
        self.tokens = min(burst, self.tokens + max(now - self.last, 0.0) * rate)
        self.last = now
        granted = min(want, int(self.tokens))
        self.tokens -= granted
        return granted
