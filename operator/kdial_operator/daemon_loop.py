"""The one shape of every kdial daemon: a pass, then a wait until the interval ends or a change
wakes it up.

Each object has one daemon (kopf gives every object its own `memo`), so passes over one object
never run at once; spec changes only set the object's wakeup event. A failed pass is logged
and retried at the next tick: the daemon itself must outlive it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import kopf


async def run(
    stopped: kopf.DaemonStopped,
    memo: kopf.Memo,
    logger: kopf.Logger,
    interval: float,
    one_pass: Callable[[], Awaitable[None]],
) -> None:
    wakeup = memo.setdefault("wakeup", asyncio.Event())
    while not stopped:
        wakeup.clear()
        try:
            await one_pass()
        except Exception:
            logger.exception("pass failed; retrying in %ss", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=interval)


def wake(memo: kopf.Memo) -> None:
    """Starts the object's next pass now (its spec or annotations changed)."""
    if "wakeup" in memo:
        memo.wakeup.set()
