"""Cluster-wide caps a worker takes before every originate and gives back on every path.

Per trunk: at most `max_concurrent` calls up and at most `max_cps` originates in any window of
`CPS_WINDOW_MS` (carriers answer calls over their CPS limit with 503, and kdial must never
provoke one).
Per caller ID: optionally at most `max_concurrent` calls up and `max_per_day` calls a UTC day.
Every check runs inside one Lua script (`kdial/state/caps.lua`) on Redis's clock, so any number
of workers share the caps exactly.

Calls per second: a sliding-window log, not a token bucket. Each grant's time (µs, Redis TIME)
goes into a ZSET; a grant is allowed while fewer than `max_cps` lie in the last window. So no
window ever holds more than `max_cps` grants, while a token bucket of capacity `max_cps`
refilling `max_cps`/s lets a full bucket go out at once and then refills nearly as much again
within the same second, up to 2 x max_cps - 1. The log costs one ZSET entry per call of the
last window (at most 1100 per trunk, at the API's ceiling on maxCallsPerSecond).

Crash safety: a slot is a ZSET member (attempt id -> expiry on Redis's clock) that every
acquisition first clears of expired members. A worker renews its slots (`renew`, e.g. a TTL of
30 s renewed every 10 s) and releases them when the call ends; one that dies frees them when
they expire. Acquiring again with the same attempt id returns the slot it already holds, so a
script re-sent after a lost reply takes neither a second slot nor a second CPS grant.

A trunk and a caller ID live under different pools' hash tags (different Cluster slots), so no
one script can take both. `acquire` takes the trunk first and then the caller ID, and releases
the trunk slot when the caller ID is refused. The CPS grant is not refunded then, nor when a
call ends: keeping it can only let fewer calls through for a second, while a refund that is
wrong (the caller cannot always tell whether an originate went out, e.g. after an error or a
lost reply) lets a call through over the carrier's limit. Erring towards under-use is the only
safe direction. The one refund (`refund_cps`, and `refund_caller_id` for the caller ID's day
count) is for an originate the switch itself answered with an error and no channel: nothing
went to the carrier.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import redis

from kdial.state import scripts
from kdial.state.keys import PoolKeys

Reason = Literal["priority", "concurrency", "cps", "day"]
Scope = Literal["trunk", "caller_id"]

#: A CPS grant counts against its trunk's cap for this long, not 1 s. What the carrier counts is
#: INVITEs, and an INVITE leaves the switch some time after its grant: the originate's round
#: trip to the switch and the switch's own work, a delay that varies, so a 1 s window lets a
#: second at the carrier exceed the cap (README, "Measured figures behind the code"). At most
#: `max_cps` grants in any 1.1 s keep every second at the carrier within the cap as long as
#: those delays differ by less than 100 ms. The cost: a trunk kept at its cap carries
#: max_cps / 1.1 calls a second.
CPS_WINDOW_MS = 1100

#: The retry hint when every slot is held by live calls, or what frees is kept for a campaign
#: of higher priority: a slot frees when some call ends, which no clock predicts, so the hint
#: is a short poll (trying another trunk is better).
CONCURRENCY_RETRY_MS = 100

#: How long a campaign refused on a trunk keeps what frees there from campaigns of lower
#: priority, unless it is granted first: many times over the interval at which its workers ask
#: again while they have contacts to dial (`CONCURRENCY_RETRY_MS`, or their pace).
WANTED_MS = 2000

# Sent by digest, and as source only when Redis has lost its script cache (restart, failover).
_SHA = hashlib.sha1(scripts.CAPS.encode("utf-8"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class TrunkGrant:
    pool: PoolKeys
    trunk: str
    attempt: str
    in_use: int
    """Calls held on the trunk right after the grant, this one included (read in the script)."""
    granted_at_us: int
    """When the grant was made, µs since the epoch on Redis's clock."""
    cps_in_window: int = 1
    """Grants on the trunk in the window (`CPS_WINDOW_MS`) up to this one, this one included:
    how close to its calls-per-second cap the trunk ran when this call went out."""


@dataclass(frozen=True)
class CallerIdGrant:
    pool: PoolKeys
    number: str
    attempt: str
    in_use: int
    """Calls held on the caller ID right after the grant, this one included."""
    today: int
    """Calls presenting the caller ID today (UTC, Redis's clock), this one included."""
    granted_at_us: int = 0
    """When the grant was made, µs since the epoch on Redis's clock."""


@dataclass(frozen=True)
class Grant:
    trunk: TrunkGrant
    caller_id: CallerIdGrant

    @property
    def attempt(self) -> str:
        return self.trunk.attempt

    @property
    def slots(self) -> tuple[str, str]:
        """The keys of the two ZSETs holding this grant's slots."""
        return (
            self.trunk.pool.trunk_active(self.trunk.trunk),
            self.caller_id.pool.number_active(self.caller_id.number),
        )


@dataclass(frozen=True)
class Denied:
    """A refusal; falsy, so `if grant := acquire(...)` reads as "if granted"."""

    scope: Scope
    reason: Reason
    retry_after_ms: int
    in_use: int

    def __bool__(self) -> Literal[False]:
        return False


@dataclass(frozen=True)
class Claimant:
    """The campaign asking for a trunk slot. Of campaigns refused on a trunk, one of higher
    priority gets what frees there before any of lower priority; equals ask as they come."""

    campaign: str
    priority: int


@dataclass(frozen=True)
class TrunkCap:
    """A trunk's caps, as its TrunkPool's spec gives them."""

    pool: PoolKeys
    trunk: str
    max_concurrent: int
    max_cps: int


@dataclass(frozen=True)
class CallerIdCap:
    """A caller ID's caps, as its CallerIdPool's spec gives them; None means uncapped."""

    pool: PoolKeys
    number: str
    max_concurrent: int | None = None
    max_per_day: int | None = None


def _run(rdb: redis.Redis, keys: Sequence[str], *args: str | int) -> Any:
    try:
        return rdb.evalsha(_SHA, len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return rdb.eval(scripts.CAPS, len(keys), *keys, *args)


def _at_least_one(**limits: int | None) -> None:
    for name, value in limits.items():
        if value is not None and value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")


def _denied(scope: Scope, raw: list[Any]) -> Denied:
    reason: Reason = raw[1]
    retry = CONCURRENCY_RETRY_MS if reason in ("priority", "concurrency") else int(raw[2])
    return Denied(scope, reason, retry, int(raw[3]))


def acquire_trunk(
    rdb: redis.Redis,
    pool: PoolKeys,
    trunk: str,
    attempt: str,
    *,
    max_concurrent: int,
    max_cps: int,
    ttl_ms: int,
    claimant: Claimant,
) -> TrunkGrant | Denied:
    """Takes a concurrency slot and a CPS grant on `trunk` for `attempt`, or neither."""
    _at_least_one(max_concurrent=max_concurrent, max_cps=max_cps, ttl_ms=ttl_ms)
    keys = (pool.trunk_active(trunk), pool.trunk_cps(trunk), pool.trunk_wanted(trunk))
    raw = _run(
        rdb,
        keys,
        "acquire_trunk",
        attempt,
        max_concurrent,
        max_cps,
        ttl_ms,
        CPS_WINDOW_MS * 1000,
        claimant.campaign,
        claimant.priority,
        WANTED_MS,
    )
    if raw[0] == 0:
        return _denied("trunk", raw)
    return TrunkGrant(pool, trunk, attempt, int(raw[1]), int(raw[2]), int(raw[3]))


def acquire_caller_id(
    rdb: redis.Redis,
    pool: PoolKeys,
    number: str,
    attempt: str,
    *,
    max_concurrent: int | None,
    max_per_day: int | None,
    ttl_ms: int,
) -> CallerIdGrant | Denied:
    """Takes a slot on caller ID `number` and counts the call against today, or neither."""
    _at_least_one(max_concurrent=max_concurrent, max_per_day=max_per_day, ttl_ms=ttl_ms)
    keys = (pool.number_active(number), pool.number_day(number))
    # 0 tells the script "uncapped": the slot and the day's count are still kept, so status
    # shows them and a cap added later applies at once.
    raw = _run(rdb, keys, "acquire_number", attempt, max_concurrent or 0, max_per_day or 0, ttl_ms)
    if raw[0] == 0:
        return _denied("caller_id", raw)
    return CallerIdGrant(pool, number, attempt, int(raw[1]), int(raw[2]), int(raw[3]))


def acquire(
    rdb: redis.Redis,
    attempt: str,
    trunk: TrunkCap,
    caller_id: CallerIdCap,
    ttl_ms: int,
    *,
    claimant: Claimant,
) -> Grant | Denied:
    """Both slots for one originate, or none: the trunk's slot is given back when the caller
    ID is refused or cannot be asked (its CPS grant stays spent, see the module's doc)."""
    got = acquire_trunk(
        rdb,
        trunk.pool,
        trunk.trunk,
        attempt,
        max_concurrent=trunk.max_concurrent,
        max_cps=trunk.max_cps,
        ttl_ms=ttl_ms,
        claimant=claimant,
    )
    if isinstance(got, Denied):
        return got
    try:
        number = acquire_caller_id(
            rdb,
            caller_id.pool,
            caller_id.number,
            attempt,
            max_concurrent=caller_id.max_concurrent,
            max_per_day=caller_id.max_per_day,
            ttl_ms=ttl_ms,
        )
    except BaseException:
        # If Redis cannot be reached to give it back either, the slot's TTL frees it.
        with contextlib.suppress(redis.RedisError):
            release_trunk(rdb, trunk.pool, trunk.trunk, attempt)
        raise
    if isinstance(number, Denied):
        release_trunk(rdb, trunk.pool, trunk.trunk, attempt)
        return number
    return Grant(got, number)


def refund_cps(rdb: redis.Redis, grant: TrunkGrant) -> bool:
    """Gives back `grant`'s place in its trunk's CPS log; only for an originate the switch
    refused with no channel (its throttle, its shutdown): no INVITE went out. False when the
    grant had already aged out of the window."""
    member = f"{grant.attempt}@{grant.granted_at_us}"
    return bool(rdb.zrem(grant.pool.trunk_cps(grant.trunk), member))


def refund_caller_id(rdb: redis.Redis, grant: CallerIdGrant) -> bool:
    """Takes `grant`'s call back out of its caller ID's count for today; only for an
    originate the switch refused with no channel, which presented the number to nobody.
    False when it was taken back already, or was granted on an earlier UTC day."""
    keys = (grant.pool.number_day(grant.number), grant.pool.number_day_refunds(grant.number))
    return bool(_run(rdb, keys, "refund_number", grant.attempt, grant.granted_at_us))


def release_trunk(rdb: redis.Redis, pool: PoolKeys, trunk: str, attempt: str) -> bool:
    """Gives back `attempt`'s slot on `trunk`; False when it held none (a no-op)."""
    return bool(rdb.zrem(pool.trunk_active(trunk), attempt))


def release_caller_id(rdb: redis.Redis, pool: PoolKeys, number: str, attempt: str) -> bool:
    """Gives back `attempt`'s slot on `number`; False when it held none (a no-op). The day's
    count keeps the call: it was placed, or may have been."""
    return bool(rdb.zrem(pool.number_active(number), attempt))


def release(rdb: redis.Redis, grant: Grant) -> None:
    """Gives back both slots of `grant`; safe to repeat."""
    try:
        release_caller_id(rdb, grant.caller_id.pool, grant.caller_id.number, grant.attempt)
    finally:
        release_trunk(rdb, grant.trunk.pool, grant.trunk.trunk, grant.attempt)


def _renew(rdb: redis.Redis, key: str, attempts: Sequence[str], ttl_ms: int) -> list[str]:
    _at_least_one(ttl_ms=ttl_ms)
    if not attempts:
        return []
    return [str(a) for a in _run(rdb, (key,), "renew", ttl_ms, *attempts)]


def renew_trunk(
    rdb: redis.Redis, pool: PoolKeys, trunk: str, attempts: Sequence[str], ttl_ms: int
) -> list[str]:
    """Extends the slots of `attempts` (calls still up) on `trunk` to `ttl_ms` from now.
    Returns those whose slot was gone (lapsed or released); they are not put back."""
    return _renew(rdb, pool.trunk_active(trunk), attempts, ttl_ms)


def renew_caller_id(
    rdb: redis.Redis, pool: PoolKeys, number: str, attempts: Sequence[str], ttl_ms: int
) -> list[str]:
    """As `renew_trunk`, for the slots on caller ID `number`."""
    return _renew(rdb, pool.number_active(number), attempts, ttl_ms)


def renew(rdb: redis.Redis, grants: Iterable[Grant], ttl_ms: int) -> list[Grant]:
    """Extends every slot of `grants` (one script per trunk or caller ID). Returns the grants
    of which a slot was gone: a slot that lapsed while its call was up is worth a warning."""
    grants = list(grants)
    by_key: defaultdict[str, list[str]] = defaultdict(list)
    for grant in grants:
        for key in grant.slots:
            by_key[key].append(grant.attempt)
    lapsed = {(key, a) for key, held in by_key.items() for a in _renew(rdb, key, held, ttl_ms)}
    return [g for g in grants if any((key, g.attempt) in lapsed for key in g.slots)]


def in_use(rdb: redis.Redis, pool: PoolKeys, trunk: str) -> int:
    """Calls holding a slot on `trunk` now (for metrics and status)."""
    return int(_run(rdb, (pool.trunk_active(trunk),), "count"))


def number_in_use(rdb: redis.Redis, pool: PoolKeys, number: str) -> int:
    """Calls holding a slot on caller ID `number` now."""
    return int(_run(rdb, (pool.number_active(number),), "count"))


def calls_today(rdb: redis.Redis, pool: PoolKeys, number: str) -> int:
    """Calls that presented caller ID `number` today (UTC, Redis's clock)."""
    return int(rdb.get(pool.number_day(number)) or 0)
