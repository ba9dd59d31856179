"""What a pacer sees of a campaign at one moment, and what it answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Outcomes", "Pacer", "Snapshot"]


@dataclass(frozen=True, slots=True)
class Outcomes:
    """What ended since the previous snapshot: the pacer's only source for its estimates."""

    answered: Sequence[float] = ()
    """Ring seconds (dial to answer) of each attempt answered."""
    unanswered: Sequence[float] = ()
    """Ring seconds (dial to end) of each attempt that ended without an answer."""
    talks: Sequence[float] = ()
    """Seconds of each conversation that ended."""
    wraps: Sequence[float] = ()
    """Seconds of each wrap-up that ended."""
    connected: int = 0
    """Answered calls bridged to an agent within the connect deadline."""
    abandoned: int = 0
    """Answered calls no agent took within the connect deadline."""


NOTHING = Outcomes()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The live state of one campaign's agents and calls, as the workers report it.

    Agents NotReady, Reserved for a call on its way, or logged out are not in it: they take no
    new call. Times are seconds on one clock (the bench's simulated time, a worker's monotonic
    clock).
    """

    now: float
    ready: int
    """Agents Ready with no call on its way to them."""
    talking: Sequence[float] = ()
    """Seconds each Talking agent has talked so far."""
    wrapping: Sequence[float] = ()
    """Seconds each agent in WrapUp has spent in it so far."""
    ringing: Sequence[float] = ()
    """Age in seconds of each call launched and not yet answered or failed."""
    waiting: int = 0
    """Answered calls waiting for an agent (each is abandoned at the connect deadline)."""
    outcomes: Outcomes = NOTHING

    @property
    def staffed(self) -> int:
        """Agents who are, or will be without a word from them, available for calls."""
        return self.ready + len(self.talking) + len(self.wrapping)


class Pacer(Protocol):
    """One campaign's pacer: fed every snapshot in time order, it says how many calls to
    launch now."""

    def decide(self, snapshot: Snapshot) -> int: ...
