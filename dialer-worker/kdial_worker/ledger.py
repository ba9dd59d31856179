"""The worker's edge to the contact ledger in Redis: claim due contacts, end attempts.

Both are single Lua scripts on the campaign's shard, on Redis's clock, so any number of workers
can claim without ever holding one contact twice, and a worker whose lease ran out cannot
close or re-queue a contact it no longer owns.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis
from kdial.state import scripts
from kdial.state.keys import CampaignKeys


@dataclass(frozen=True)
class Claim:
    attempt: str
    contact: str
    history: dict[str, Any]


@dataclass(frozen=True)
class Ending:
    """How an attempt ended and what follows for its contact."""

    outcome: str
    close: bool
    delay_ms: int = 0
    counts_as_attempt: bool = True
    counters: tuple[str, ...] = ()
    record: dict[str, str] = field(default_factory=dict)


class EpochChanged(RuntimeError):
    """The campaign's state in Redis is gone or was replaced: stop dialing."""


def claim(
    rdb: redis.Redis, keys: CampaignKeys, epoch: str, limit: int, lease_ms: int
) -> list[Claim]:
    try:
        raw = rdb.eval(
            scripts.CLAIM,
            6,
            keys.due,
            keys.leases,
            keys.inflight,
            keys.attempt_seq,
            keys.epoch,
            keys.contacts,
            limit,
            lease_ms,
            epoch,
        )
    except redis.ResponseError as error:
        if str(error).startswith("EPOCH"):
            raise EpochChanged(str(error)) from None
        raise
    items = list(raw)
    return [
        Claim(str(items[i]), str(items[i + 1]), json.loads(items[i + 2]) if items[i + 2] else {})
        for i in range(0, len(items), 3)
    ]


def complete(rdb: redis.Redis, keys: CampaignKeys, attempt: str, ending: Ending) -> bool:
    """Ends `attempt`; False when its lease had already been lost (nothing was changed)."""
    minute = int(time.time()) // 60
    record = [item for pair in ending.record.items() for item in pair]
    done = rdb.eval(
        scripts.COMPLETE,
        8,
        keys.inflight,
        keys.leases,
        keys.due,
        keys.closed,
        keys.contacts,
        keys.totals,
        keys.minute(minute),
        keys.attempts,
        attempt,
        ending.outcome,
        int(ending.close),
        ending.delay_ms,
        int(ending.counts_as_attempt),
        scripts.MINUTE_BUCKET_TTL_SECONDS,
        len(ending.counters),
        *ending.counters,
        *record,
    )
    return bool(done)


def epoch(rdb: redis.Redis, keys: CampaignKeys) -> str | None:
    value = rdb.get(keys.epoch)
    return None if value is None else str(value)
