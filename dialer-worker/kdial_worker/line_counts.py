"""The worker's edge to the line counters: one finished attempt into its pools' buckets.

Best effort: the attempt record (`ledger.complete`) is the fact and is retried until written;
a count lost to a Redis error only thins the evidence line health decides on.
"""

from __future__ import annotations

import logging

import redis

from kdial.causes import CauseClass
from kdial.outcomes import Outcome
from kdial.state.counters import (
    BUCKET_TTL_SECONDS,
    number_increments,
    pair_increments,
    trunk_increments,
)
from kdial.state.keys import PoolKeys

log = logging.getLogger(__name__)


def count(
    rdb: redis.Redis,
    now: float,
    trunk: tuple[PoolKeys, str],
    caller_id: tuple[PoolKeys, str] | None,
    outcome: Outcome,
    *,
    network: str,
    self_inflicted: bool,
    pdd_ms: int | None,
    cause: CauseClass | None,
) -> None:
    """Counts the attempt on its trunk, on its (trunk, callee network) pair and on its
    caller ID."""
    second = int(now)
    pipe = rdb.pipeline(transaction=False)
    fields = trunk_increments(trunk[1], outcome, self_inflicted, pdd_ms, cause)
    fields |= pair_increments(trunk[1], network, outcome, self_inflicted)
    buckets = [(trunk[0], fields)]
    if caller_id is not None:
        buckets.append((caller_id[0], number_increments(caller_id[1], outcome)))
    for pool, fields in buckets:
        if not fields:
            continue
        key = pool.counts(second)
        for name, amount in fields.items():
            pipe.hincrby(key, name, amount)
        pipe.expire(key, BUCKET_TTL_SECONDS)
    try:
        pipe.execute()
    except redis.RedisError as error:
        log.warning("line counters not updated: %s", error)
