"""An attempt's lease as this worker can vouch for it, on its own monotonic clock.

Redis stamps a lease `seconds` past its own now when a claim or a renewal runs. The worker reads
its monotonic clock before it sends the script, so until that reading plus `seconds` the lease
surely holds, whatever either wall clock says. Past it, another worker may reclaim the contact,
which is then due again after the reclaim delay. So a worker that cannot vouch for a lease any
more (Redis out of its reach, or the worker itself frozen) places no call on it, and hangs up
the call it has before the contact can be dialled again: a Redis outage shorter than the
reclaim delay drops no call. Each bound keeps a margin for the act to land in time.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The share of the lease kept in hand: an act lands before the bound it keeps to.
MARGIN_SHARE = 0.1


@dataclass
class Lease:
    attempt: str
    seconds: float
    until: float
    """This process's monotonic time before which the lease surely holds."""

    @classmethod
    def taken(cls, attempt: str, started: float, seconds: float) -> Lease:
        """The lease a claim or renewal sent at monotonic `started` gave `attempt`."""
        return cls(attempt, seconds, started + seconds)

    def renewed(self, started: float) -> None:
        """A renewal sent at monotonic `started` succeeded."""
        self.until = max(self.until, started + self.seconds)

    def lapsing(self, now: float) -> bool:
        """Whether the lease may end (or have ended) before an act begun at `now` lands."""
        return now >= self.until - self._margin

    def outlived(self, now: float, reclaim_delay: float) -> bool:
        """Whether a call on this lease, still up at `now`, may soon overlap its contact's
        next call: a reclaim comes when the lease ends at the earliest, and the contact is
        due `reclaim_delay` after it."""
        return now >= self.until + reclaim_delay - self._margin

    @property
    def _margin(self) -> float:
        return self.seconds * MARGIN_SHARE
