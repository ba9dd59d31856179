"""The operator's edge to Redis: compiled config, seeding, progress, statistics, deletion."""

from __future__ import annotations

import json
import secrets
import zlib
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from kdial.routing.counters import REREAD_SECONDS, fresh
from kdial.state import scripts
from kdial.state.keys import CampaignKeys, ListKeys, PoolKeys

Redis = aioredis.Redis


async def write_config(rdb: Redis, key: str, doc: dict[str, Any]) -> int:
    """Stores `doc` under `key` with a version that moves only when the content does.

    Workers read the one key, so each read sees one whole, consistent generation.
    """
    current = await rdb.get(key)
    old = json.loads(current) if current else None
    if old is not None and old.get("content") == doc:
        return int(old["version"])
    version = int(old["version"]) + 1 if old else 1
    await rdb.set(key, json.dumps({"version": version, "content": doc}, sort_keys=True))
    return version


def in_sample(contact_id: str, percent: int) -> bool:
    """Whether a contact belongs to a trial sample: stable across runs and operators."""
    return sample_rank(contact_id)[0] < percent


def sample_rank(contact_id: str) -> tuple[int, str]:
    """Where a contact stands in the order trial samples take contacts: a sample of p% is
    every contact whose first item is below p, so the lowest joins any sample first."""
    return zlib.crc32(contact_id.encode()) % 100, contact_id


async def seed(rdb: Redis, campaign: CampaignKeys, contacts: ListKeys, sample: int | None) -> int:
    """Takes contacts the campaign has not seen from its list; returns how many were new."""
    # The client decodes responses (decode_responses=True), so values are str.
    list_version = cast(str | None, await rdb.get(contacts.version))
    # A changed sample (a trial widened, or removed) must seed again, as must a new import.
    marker = f"{list_version}:{sample}"
    if list_version is None or marker == await rdb.get(campaign.seeded):
        return 0
    added, taken, epoch = 0, 0, secrets.token_hex(4)
    lowest: str | None = None
    async for batch in _id_batches(rdb, contacts.contacts):
        ids = [i for i in batch if sample is None or in_sample(i, sample)]
        if sample is not None:
            lowest = min([*batch, *([lowest] if lowest is not None else [])], key=sample_rank)
        taken += len(ids)
        added += await _take(rdb, campaign, epoch, ids)
    if taken == 0 and lowest is not None:
        # A trial of a short list can draw no one (5% of 4 contacts): it takes the contact
        # any sample takes first, so that a trial of a list with contacts dials someone.
        added += await _take(rdb, campaign, epoch, [lowest])
    await rdb.set(campaign.seeded, marker)
    return added


async def _take(rdb: Redis, campaign: CampaignKeys, epoch: str, ids: list[str]) -> int:
    if not ids:
        return 0
    keys = [campaign.known, campaign.due, campaign.epoch]
    return int(await rdb.eval(scripts.SEED, len(keys), *keys, epoch, *ids))


async def _id_batches(rdb: Redis, key: str, size: int = 1000) -> Any:
    cursor = 0
    while True:
        cursor, chunk = await rdb.hscan(key, cursor, count=size)
        if chunk:
            yield list(chunk)
        if cursor == 0:
            return


@dataclass(frozen=True)
class Ledger:
    """Where a campaign's contacts are, read in one round trip."""

    total: int
    pending: int
    due_now: int
    in_flight: int
    closed: int
    has_epoch: bool


async def ledger(rdb: Redis, campaign: CampaignKeys) -> Ledger:
    seconds, micros = await rdb.time()
    now_ms = seconds * 1000 + micros // 1000
    pipe = rdb.pipeline(transaction=False)
    pipe.scard(campaign.known)
    pipe.zcard(campaign.due)
    pipe.zcount(campaign.due, "-inf", now_ms)
    pipe.hlen(campaign.inflight)
    pipe.hlen(campaign.closed)
    pipe.exists(campaign.epoch)
    total, pending, due_now, in_flight, closed, epoch = await pipe.execute()
    return Ledger(total, pending, due_now, in_flight, closed, bool(epoch))


async def counters(
    rdb: Redis, campaign: CampaignKeys, minutes: int
) -> tuple[dict[str, int], dict[str, int]]:
    """Counters since the start, and summed over the last `minutes` minute buckets."""
    seconds, _ = await rdb.time()
    this_minute = seconds // 60
    pipe = rdb.pipeline(transaction=False)
    pipe.hgetall(campaign.totals)
    for m in range(this_minute - minutes + 1, this_minute + 1):
        pipe.hgetall(campaign.minute(m))
    totals, *buckets = await pipe.execute()
    rolling: dict[str, int] = {}
    for bucket in buckets:
        for name, value in bucket.items():
            rolling[name] = rolling.get(name, 0) + int(value)
    return {k: int(v) for k, v in totals.items()}, rolling


#: Most buckets one read covers: after a long pause (a stalled operator) older counts are
#: skipped rather than folded in as if they had just happened.
MAX_BUCKETS_PER_READ = 120


async def new_counts(
    rdb: Redis, pool: PoolKeys, seen: dict[int, dict[str, str]], now: int
) -> list[tuple[int, dict[str, int]]]:
    """What the pool's line-counter buckets gained since they were read into ``seen``, by
    second, up to ``now``; ``seen`` is updated. A first read starts at ``now``."""
    start = now if not seen else max(max(seen) - REREAD_SECONDS, now - MAX_BUCKETS_PER_READ)
    seconds = list(range(start, now + 1))
    pipe = rdb.pipeline(transaction=False)
    for second in seconds:
        pipe.hgetall(pool.counts(second))
    out = []
    for second, bucket in zip(seconds, await pipe.execute(), strict=True):
        gained = fresh(bucket, seen.get(second, {}))
        seen[second] = bucket
        if gained:
            out.append((second, gained))
    for second in [s for s in seen if s < now - REREAD_SECONDS]:
        del seen[second]
    return out


async def trunk_calls(rdb: Redis, pool: PoolKeys, trunks: list[str]) -> dict[str, int]:
    """Calls up on each trunk now: the live slots of its concurrency cap."""
    pipe = rdb.pipeline(transaction=False)
    for trunk in trunks:
        pipe.eval(scripts.CAPS, 1, pool.trunk_active(trunk), "count")
    return {t: int(n) for t, n in zip(trunks, await pipe.execute(), strict=True)}


async def capped_numbers(rdb: Redis, pool: PoolKeys, numbers: list[dict[str, Any]]) -> set[str]:
    """The caller IDs at their daily cap now."""
    limited = [n for n in numbers if n.get("maxCallsPerDay")]
    if not limited:
        return set()
    today = await rdb.mget([pool.number_day(n["number"]) for n in limited])
    return {
        n["number"]
        for n, used in zip(limited, today, strict=True)
        if used is not None and int(used) >= int(n["maxCallsPerDay"])
    }


async def delete_keys(rdb: Redis, pattern: str) -> int:
    """Removes every key matching `pattern`; returns how many."""
    removed = 0
    async for key in rdb.scan_iter(match=pattern, count=1000):
        removed += int(await rdb.unlink(key))
    return removed
