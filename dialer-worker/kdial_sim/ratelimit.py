"""Per-second admission limits: the switch's sessions-per-second and a carrier's CPS cap."""

from __future__ import annotations

from collections.abc import Callable


class RateWindow:
    """At most `limit` admissions per window of `window` scenario seconds.

    A window opens at the first admission after the previous one closed (FreeSWITCH refills its
    budget once a second), so a burst sent at once is judged as one burst, never split across
    an arbitrary second boundary.
    """

    def __init__(self, limit: int, now: Callable[[], float], window: float = 1.0) -> None:
        self.limit = limit
        self._now = now
        self._window = window
        self._opened: float | None = None
        self._count = 0
        #: Admissions in the last window that closed, and the most ever in one window.
        self.last = 0
        self.peak = 0

    def try_acquire(self) -> bool:
        now = self._now()
        if self._opened is None or now - self._opened >= self._window:
            self.last = self._count if self._opened is not None else 0
            self._opened, self._count = now, 0
        if self._count >= self.limit:
            return False
        self._count += 1
        self.peak = max(self.peak, self._count)
        return True

    @property
    def current(self) -> int:
        """Admissions in the window still open (0 once it has closed)."""
        if self._opened is None or self._now() - self._opened >= self._window:
            return 0
        return self._count
