"""The operator's edge to Redis: compiled config, seeding, progress, statistics, deletion."""

from __future__ import annotations

import hashlib
import json
import secrets
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis

from kdial.api.calleridpool import CallerId
from kdial.state import agents, scripts
from kdial.state.agents import AgentRecord, Staffing
from kdial.state.counters import REREAD_SECONDS, CampaignCounts, fresh
from kdial.state.keys import CampaignKeys, ListKeys, PoolKeys
from kdial.state.seed_marker import SeedMarker
from kdial.state.waits import Waits
from kdial.state.wire import Generation, WireValue
from kdial_operator import contact_import

Redis = aioredis.Redis


async def write_config(rdb: Redis, key: str, value: WireValue) -> int:
    """Stores `value` under `key` as a `Generation` whose version moves only when the content
    does; returns that version.

    Workers read the one key, so each read sees one whole, consistent generation.
    """
    content = value.content()
    current = await rdb.get(key)
    old = Generation.decode(current) if current else None
    if old is not None and old.content == content:
        return old.version
    version = old.version + 1 if old else 1
    await rdb.set(key, Generation(version, content).encode())
    return version


async def config_refusal(rdb: Redis, campaign: CampaignKeys) -> str | None:
    """Why the campaign's workers do not read its config, while any of them says so."""
    return cast(str | None, await rdb.get(campaign.config_refused))


def in_sample(contact_id: str, percent: int) -> bool:
    """Whether a contact belongs to a trial sample: stable across runs and operators."""
    return sample_rank(contact_id)[0] < percent


def sample_rank(contact_id: str) -> tuple[int, str]:
    """Where a contact stands in the order trial samples take contacts: a sample of p% is
    every contact whose first item is below p, so the lowest joins any sample first."""
    return zlib.crc32(contact_id.encode()) % 100, contact_id


async def seed(rdb: Redis, campaign: CampaignKeys, contacts: ListKeys, sample: int | None) -> int:
    """Takes contacts the campaign has not seen from its list; returns how many were new.

    When the list is another than last time (`spec.contactListRef` changed, or the list was
    deleted and made again), the old list's contacts leave the ledger first (`retire`). Each
    new contact is matched to its callee (`CampaignKeys.callees`), so what the campaign knows
    of a number under another id (attempts, a closed outcome) carries over."""
    # The client decodes responses (decode_responses=True), so values are str.
    list_version = cast(str | None, await rdb.get(contacts.version))
    if list_version is None:
        return 0
    # A changed sample (a trial widened, or removed) must seed again, as must a new import.
    marker = SeedMarker(
        list=await list_identity(rdb, contacts), version=list_version, sample=sample
    )
    previous = _marker(cast(str | None, await rdb.get(campaign.seeded)))
    if marker == previous:
        return 0
    in_flight = 0
    if previous is None or marker.list != previous.list:
        in_flight = await retire(rdb, campaign, contacts)
    added = await _take_list(rdb, campaign, contacts, sample)
    if added is None:
        return 0  # finished and expired: the list is never taken again
    if in_flight == 0:
        # Until the old list's last call has ended, the next pass retires again.
        await rdb.set(campaign.seeded, marker.encode())
    return added


async def _take_list(
    rdb: Redis, campaign: CampaignKeys, contacts: ListKeys, sample: int | None
) -> int | None:
    """Seeds the list's contacts in the sample; how many were new, or None when the campaign
    finished and its data expired."""
    added, epoch, secret = 0, secrets.token_hex(4), await _callee_secret(rdb, campaign)
    keys = seed_keys(campaign)
    drawn, lowest = 0, None
    async for batch in _contact_batches(rdb, contacts.contacts):
        ids = [i for i in batch if sample is None or in_sample(i, sample)]
        drawn += len(ids)
        if sample is not None:
            first = min(batch, key=sample_rank)
            if lowest is None or sample_rank(first) < sample_rank(lowest[0]):
                lowest = (first, batch[first])
        new = await _take(
            rdb, campaign, keys, epoch=epoch, secret=secret, contacts={i: batch[i] for i in ids}
        )
        if new < 0:
            return None
        added += new
    if drawn == 0 and lowest is not None:
        # A trial of a short list can draw no one (5% of 4 contacts): it takes the contact
        # any sample takes first, so that a trial of a list with contacts dials someone.
        added += max(
            0, await _take(rdb, campaign, keys, epoch=epoch, secret=secret, contacts=dict([lowest]))
        )
    return added


def seed_keys(campaign: CampaignKeys) -> list[str]:
    """The KEYS of seed.lua, in its order."""
    return [
        *(campaign.known, campaign.due, campaign.epoch, campaign.closed, campaign.retired),
        *(campaign.finished, campaign.contacts, campaign.callees, *campaign.waits),
        *campaign.contact_data,
    ]


async def _take(
    rdb: Redis,
    campaign: CampaignKeys,
    keys: list[str],
    *,
    epoch: str,
    secret: bytes,
    contacts: dict[str, str],
) -> int:
    """Seeds the `contacts` (id: row) the campaign does not know yet; how many were new, or
    -1 when the campaign finished and its data expired."""
    ids = list(contacts)
    known = await rdb.smismember(campaign.known, ids) if ids else []
    args: list[str] = []
    for contact, taken in zip(ids, known, strict=True):
        if not taken:
            args += (contact, _callee(contacts[contact], secret))
    if not args:
        return 0
    return int(await rdb.eval(scripts.SEED, len(keys), *keys, epoch, *args))


def _marker(raw: str | None) -> SeedMarker | None:
    """The seed marker as written; None for none, or for one from before markers named the
    list (such a campaign retires what its list no longer holds, once)."""
    try:
        return SeedMarker.decode(raw) if raw else None
    except ValueError:
        return None


async def list_identity(rdb: Redis, contacts: ListKeys) -> str:
    """Names one incarnation of a list: its namespace/name and a fingerprint of its id key.
    A list deleted and made again under the same name has a new id key, hence new contact
    ids, and must count as another list."""
    id_key = cast(str, await rdb.get(contacts.id_key) or "")
    fingerprint = hashlib.sha256(id_key.encode()).hexdigest()[:12]
    return f"{contacts.namespace}/{contacts.name}#{fingerprint}"


async def retire(rdb: Redis, campaign: CampaignKeys, contacts: ListKeys) -> int:
    """Takes the contacts no longer in `contacts` out of the campaign's ledger (retire.lua);
    returns how many of them are still in flight. Their histories stay: a contact that
    comes back keeps its attempts, and one closed comes back closed."""
    keys = retire_keys(campaign)
    in_flight = int(await rdb.eval(scripts.RETIRE, len(keys), *keys))
    async for batch in _member_batches(rdb, campaign.known):
        pipe = rdb.pipeline(transaction=False)
        for contact in batch:
            pipe.hexists(contacts.contacts, contact)
        gone = [c for c, kept in zip(batch, await pipe.execute(), strict=True) if not kept]
        if gone:
            in_flight += int(await rdb.eval(scripts.RETIRE, len(keys), *keys, *gone))
    return in_flight


def retire_keys(campaign: CampaignKeys) -> list[str]:
    """The KEYS of retire.lua, in its order."""
    return [
        *(campaign.known, campaign.due, campaign.closed, campaign.retired, campaign.finished),
        *campaign.waits,
        *campaign.contact_data,
    ]


async def _member_batches(rdb: Redis, key: str, size: int = 1000) -> Any:
    cursor = 0
    while True:
        cursor, chunk = await rdb.sscan(key, cursor, count=size)
        if chunk:
            yield list(chunk)
        if cursor == 0:
            return


def _callee(raw: str, secret: bytes) -> str:
    """The campaign's key for the contact's callee: a keyed hash of the number, or ''."""
    number = json.loads(raw).get("number")
    return contact_import.contact_id(str(number), secret) if number else ""


async def _callee_secret(rdb: Redis, campaign: CampaignKeys) -> bytes:
    await rdb.set(campaign.callee_key, secrets.token_hex(32), nx=True)
    return cast(str, await rdb.get(campaign.callee_key)).encode()


async def _contact_batches(rdb: Redis, key: str, size: int = 1000) -> Any:
    cursor = 0
    while True:
        cursor, chunk = await rdb.hscan(key, cursor, count=size)
        if chunk:
            yield cast(dict[str, str], chunk)
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
    expired: bool = False
    """The campaign finished and its contact data expired: the counts are its final ones."""
    waits: Waits = field(default_factory=Waits)
    """Why pending contacts are due only later, and how many were suppressed."""


#: Contacts one settle.lua call untags at most, and the calls one status pass makes: a window
#: opening for a million contacts is settled over passes, not in one long script.
SETTLE_BATCH, SETTLE_CALLS = 1000, 10


async def settle(rdb: Redis, campaign: CampaignKeys) -> None:
    """Untags the contacts whose wait has ended (due now, merely not claimed yet), so that
    status counts only those still waiting."""
    keys = campaign.waits
    for _ in range(SETTLE_CALLS):
        if int(await rdb.eval(scripts.SETTLE, len(keys), *keys, SETTLE_BATCH)) < SETTLE_BATCH:
            return


async def ledger(rdb: Redis, campaign: CampaignKeys) -> Ledger:
    await settle(rdb, campaign)
    seconds, micros = await rdb.time()
    now_ms = seconds * 1000 + micros // 1000
    pipe = rdb.pipeline(transaction=False)
    pipe.scard(campaign.known)
    pipe.zcard(campaign.due)
    pipe.zcount(campaign.due, "-inf", now_ms)
    pipe.hlen(campaign.inflight)
    pipe.hlen(campaign.closed)
    pipe.exists(campaign.epoch)
    pipe.get(campaign.finished)
    pipe.hgetall(campaign.waiting_counts)
    pipe.hgetall(campaign.waiting_ends)
    total, pending, due_now, in_flight, closed, epoch, finished, counts, ends = await pipe.execute()
    waits = Waits.decode(counts, ends, now_ms)
    if finished and total == 0:
        final = json.loads(finished)
        return Ledger(
            final["total"], 0, 0, 0, final["closed"], bool(epoch), expired=True, waits=waits
        )
    return Ledger(total, pending, due_now, in_flight, closed, bool(epoch), waits=waits)


async def staffing(rdb: Redis, campaign: CampaignKeys) -> Staffing:
    """The campaign's agents by what they can take, from their records."""
    return agents.staffing(AgentRecord.decode(raw) for raw in await rdb.hvals(campaign.agents))


async def retain(rdb: Redis, campaign: CampaignKeys, done: Ledger, retention_days: int) -> int:
    """Records that the campaign completed with `done` and has its contact data expire
    `retention_days` later (retain.lua); returns when (ms since the epoch, Redis clock)."""
    keys = [campaign.finished, *campaign.contact_data]
    ms = retention_days * 86_400_000
    return int(await rdb.eval(scripts.RETAIN, len(keys), *keys, done.total, done.closed, ms))


async def counters(
    rdb: Redis, campaign: CampaignKeys, minutes: int
) -> tuple[CampaignCounts, CampaignCounts]:
    """Counters since the start, and summed over the last `minutes` minute buckets."""
    seconds, _ = await rdb.time()
    this_minute = seconds // 60
    pipe = rdb.pipeline(transaction=False)
    pipe.hgetall(campaign.totals)
    for m in range(this_minute - minutes + 1, this_minute + 1):
        pipe.hgetall(campaign.minute(m))
    totals, *buckets = await pipe.execute()
    return CampaignCounts.decode([totals]), CampaignCounts.decode(buckets)


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


async def capped_numbers(rdb: Redis, pool: PoolKeys, numbers: Iterable[CallerId]) -> set[str]:
    """The caller IDs at their daily cap now."""
    limited = [(n.number, n.max_calls_per_day) for n in numbers if n.max_calls_per_day]
    if not limited:
        return set()
    today = await rdb.mget([pool.number_day(number) for number, _ in limited])
    return {
        number
        for (number, cap), used in zip(limited, today, strict=True)
        if used is not None and int(used) >= cap
    }


async def delete_keys(rdb: Redis, pattern: str) -> int:
    """Removes every key matching `pattern`; returns how many."""
    removed = 0
    async for key in rdb.scan_iter(match=pattern, count=1000):
        removed += int(await rdb.unlink(key))
    return removed
