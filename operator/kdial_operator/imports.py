"""The contact-list imports running in this operator: at most one per list, and at most
`KDIAL_MAX_CONCURRENT_IMPORTS` holding a slot at once across all lists.

One instance for the whole operator, made by the startup handler and kept in `memo`: kopf gives
each object's handlers a shallow copy of `memo`, so anything a handler adds there is that
object's alone, and a cap kept that way caps nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from kdial_operator.indexes import Key

log = logging.getLogger(__name__)


class Imports:
    """The import task of each list, and the slots they queue for."""

    def __init__(self, slots: int) -> None:
        self.tasks: dict[Key, asyncio.Task[None]] = {}
        self.slots = asyncio.Semaphore(slots)

    def start(self, key: Key, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=f"contactlist-import {key[0]}/{key[1]}")
        self.tasks[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: Key, task: asyncio.Task[None]) -> None:
        if self.tasks.get(key) is task:
            del self.tasks[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("contact list import %s/%s crashed", *key, exc_info=task.exception())

    async def cancel(self, key: Key) -> None:
        task = self.tasks.pop(key, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def cancel_all(self) -> None:
        for key in list(self.tasks):
            await self.cancel(key)
