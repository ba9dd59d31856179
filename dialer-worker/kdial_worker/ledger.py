"""The worker's edge to the contact ledger in Redis: claim due contacts, end attempts.

Both are single Lua scripts on the campaign's shard, on Redis's clock, so any number of workers
can claim without ever holding one contact twice, and a worker whose lease ran out cannot
close or re-queue a contact it no longer owns.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis

from kdial.outcomes import Outcome
from kdial.state import scripts
from kdial.state.agents import CALL_LOST_REASON, CHANGES_KEPT, AgentChange
from kdial.state.attempt import CallRecord
from kdial.state.history import ContactHistory
from kdial.state.keys import CampaignKeys
from kdial_worker.lease import Lease


@dataclass(frozen=True)
class Claim:
    attempt: str
    contact: str
    history: ContactHistory
    lease: Lease


@dataclass(frozen=True)
class Ending:
    """How an attempt ended and what follows for its contact."""

    outcome: Outcome
    close: bool
    delay_ms: int = 0
    counts_as_attempt: bool = True
    counters: tuple[str, ...] = ()
    record: CallRecord | None = None
    trunk: str = ""
    caller_id: str = ""
    """The number shown, kept in the contact's history for the per-callee cooldown."""
    first_in_line: bool = False
    """Due again before every contact already due (a line failure's re-dial): claimed next,
    still checked for its calling window and do-not-call when it is."""


class EpochChanged(RuntimeError):
    """The campaign's state in Redis is gone or was replaced: stop dialing."""


def claim(
    rdb: redis.Redis,
    keys: CampaignKeys,
    epoch: str,
    limit: int,
    lease_ms: int,
    *,
    in_flight_cap: int = 1_000_000,
    permitted_cap: int | None = None,
) -> list[Claim]:
    """Up to `limit` due contacts, never taking the campaign past `in_flight_cap` in flight.
    A predictive campaign gives `permitted_cap`: while its pacer's permits are fresh, claims
    take permits within that cap instead, and each is a call its pacer sees ringing."""
    started = time.monotonic()
    try:
        claimed = [
            *(keys.due, keys.leases, keys.inflight, keys.attempt_seq, keys.epoch, keys.contacts),
            *(*keys.waits, keys.permits, keys.launched, keys.paced_calls),
        ]
        raw = rdb.eval(
            scripts.CLAIM,
            len(claimed),
            *claimed,
            limit,
            lease_ms,
            epoch,
            in_flight_cap,
            int(permitted_cap is not None),
            permitted_cap or 0,
        )
    except redis.ResponseError as error:
        if str(error).startswith("EPOCH"):
            raise EpochChanged(str(error)) from None
        raise
    items = list(raw)
    return [
        Claim(
            str(items[i]),
            str(items[i + 1]),
            json.loads(items[i + 2]) if items[i + 2] else {},
            Lease.taken(str(items[i]), started, lease_ms / 1000),
        )
        for i in range(0, len(items), 3)
    ]


def complete(rdb: redis.Redis, keys: CampaignKeys, attempt: str, ending: Ending) -> bool:
    """Ends `attempt`; False when its lease had already been lost (nothing was changed)."""
    minute = int(time.time()) // 60
    fields = ending.record.encode() if ending.record else {}
    record = [item for pair in fields.items() for item in pair]
    ended = [
        *(keys.inflight, keys.leases, keys.due, keys.closed, keys.contacts, keys.totals),
        *(keys.minute(minute), keys.attempts, *keys.waits),
    ]
    done = rdb.eval(
        scripts.COMPLETE,
        len(ended),
        *ended,
        attempt,
        ending.outcome,
        int(ending.close),
        ending.delay_ms,
        int(ending.counts_as_attempt),
        scripts.MINUTE_BUCKET_TTL_SECONDS,
        ending.trunk,
        ending.caller_id,
        int(ending.first_in_line),
        len(ending.counters),
        *ending.counters,
        *record,
    )
    return bool(done)


def epoch(rdb: redis.Redis, keys: CampaignKeys) -> str | None:
    value = rdb.get(keys.epoch)
    return None if value is None else str(value)


def defer(
    rdb: redis.Redis, keys: CampaignKeys, attempt: str, delay_ms: int, wait: str = ""
) -> bool:
    """Gives the contact back, due after `delay_ms`, without an attempt (nothing was dialled);
    `wait` is why it waits (a `kdial.state.waits` tag, '' for none), which status counts."""
    return _release(rdb, keys, attempt, "defer", str(delay_ms), wait=wait)


def close_undialled(rdb: redis.Redis, keys: CampaignKeys, attempt: str, reason: str) -> bool:
    """Closes the contact without dialling it (`Suppressed`, `Removed`, `InvalidNumber`)."""
    return _release(rdb, keys, attempt, "close", reason)


def _release(
    rdb: redis.Redis, keys: CampaignKeys, attempt: str, mode: str, arg: str, *, wait: str = ""
) -> bool:
    released = [keys.inflight, keys.leases, keys.due, keys.closed, keys.totals, *keys.waits]
    done = rdb.eval(
        scripts.RELEASE,
        len(released),
        *released,
        attempt,
        mode,
        arg,
        wait,
    )
    return bool(done)


def renew(rdb: redis.Redis, keys: CampaignKeys, leases: list[Lease]) -> list[Lease]:
    """Extends `leases` (all of one length, the worker's), vouched for again from now; returns
    those no longer held (lost to a reclaim)."""
    if not leases:
        return []
    started = time.monotonic()
    attempts = list(dict.fromkeys(lease.attempt for lease in leases))
    lease_ms = int(leases[0].seconds * 1000)
    renewed = [keys.leases, keys.inflight]
    lost = {str(a) for a in rdb.eval(scripts.RENEW, len(renewed), *renewed, lease_ms, *attempts)}
    for lease in leases:
        if lease.attempt not in lost:
            lease.renewed(started)
    return [lease for lease in leases if lease.attempt in lost]


def reclaim(
    rdb: redis.Redis, keys: CampaignKeys, redial_delay_ms: int, limit: int = 100
) -> list[str]:
    """Takes back contacts whose attempt's lease expired, and frees the agent on each such
    call (`AgentAction.CALL_LOST`); returns those attempt ids."""
    reclaimed = [
        *(keys.leases, keys.inflight, keys.due, keys.contacts, keys.totals, keys.attempts),
        *(*keys.waits, keys.agents, keys.agent_changes),
    ]
    taken = rdb.eval(
        scripts.RECLAIM,
        len(reclaimed),
        *reclaimed,
        limit,
        redial_delay_ms,
        CALL_LOST_REASON,
        CHANGES_KEPT,
        AgentChange.SCHEMA_VERSION,
    )
    return [str(a) for a in taken]
