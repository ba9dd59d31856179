"""Scenario time: wall-clock time at start, then running `speed` times faster.

Everything the switch times (post-dial delay, ringing, talk, originate_timeout, sched_hangup,
faults, the sessions-per-second window) runs on this clock, and event timestamps are read from
it, so a 5 s call at `--speed 20` takes 0.25 s of real time and still reports `billsec: 5`.
"""

from __future__ import annotations

import asyncio
import time


class SimClock:
    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0 (got {speed})")
        self.speed = speed
        self._wall_start = time.time()
        self._mono_start = time.monotonic()

    def elapsed(self) -> float:
        """Scenario seconds since the simulator started."""
        return (time.monotonic() - self._mono_start) * self.speed

    def now(self) -> float:
        """Scenario time as seconds since the epoch."""
        return self._wall_start + self.elapsed()

    def now_us(self) -> int:
        return int(self.now() * 1_000_000)

    def real_seconds(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds) / self.speed

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(self.real_seconds(sim_seconds))

    def loop_time_at(self, sim_elapsed: float) -> float:
        """The event loop's time at which `sim_elapsed` scenario seconds will have passed."""
        loop = asyncio.get_running_loop()
        offset = self._mono_start - time.monotonic() + sim_elapsed / self.speed
        return loop.time() + offset
