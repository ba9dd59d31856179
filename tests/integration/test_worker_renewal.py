"""The worker's renewal of its calls' permits, against the session's real Redis: a warning only
for permits that truly lapsed, not for calls that ended meanwhile nor for a deleted pool."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from kdial.state.keys import PoolKeys
from kdial_worker import caps
from kdial_worker.calls import Call
from kdial_worker.dialer import Dialer
from kdial_worker.lease import Lease
from kdial_worker.settings import WorkerSettings

TP = PoolKeys("tp", "tenant", "carriers")
CIDP = PoolKeys("cidp", "tenant", "numbers")
TTL_MS = 30_000
LAPSED = "had lapsed"


class Redis(redis.Redis):
    """The real client; `before_caps_renewal` runs once, just before the first permit renewal
    is sent: where a call ending on another greenlet lands in a real worker."""

    before_caps_renewal: Callable[[], None] | None = None

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        hook, self.before_caps_renewal = self.before_caps_renewal, None
        if hook is not None and "renew" in keys_and_args:
            hook()
        return super().evalsha(sha, numkeys, *keys_and_args)


@pytest.fixture
def client(redis_url: str) -> Redis:
    rdb = Redis(connection_pool=redis.ConnectionPool.from_url(redis_url, decode_responses=True))
    for pool in (TP, CIDP):
        rdb.set(pool.config, "{}")
    return rdb


def up(dialer: Dialer, rdb: redis.Redis, attempt: str) -> Call:
    """A call in flight, holding real permits."""
    grant = caps.acquire(
        rdb,
        attempt,
        caps.TrunkCap(TP, "t1", max_concurrent=10, max_cps=10),
        caps.CallerIdCap(CIDP, "+14155550100"),
        TTL_MS,
        claimant=caps.Claimant("tenant/promo", 100),
    )
    assert isinstance(grant, caps.Grant)
    call = Call(attempt, f"uuid-{attempt}", "t1", grant, Lease.taken(attempt, time.monotonic(), 3))
    dialer.calls.add(call)
    return call


def end(dialer: Dialer, rdb: redis.Redis, call: Call) -> None:
    """What the dial loop does when a call ends: out of the registry, then its permits back."""
    dialer.calls.remove(call)
    caps.release(rdb, call.grant)


def worker(rdb: redis.Redis) -> Dialer:
    return Dialer(WorkerSettings(lease_seconds=3), "tenant", "promo", rdb)


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    # These calls hold no lease in a campaign ledger: "leases lost" is expected and not looked at.
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_call_ending_during_the_renewal_is_not_a_lapsed_permit(
    client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    dialer = worker(client)
    staying, ending = up(dialer, client, "a1"), up(dialer, client, "a2")
    client.before_caps_renewal = lambda: end(dialer, client, ending)
    with caplog.at_level(logging.INFO, logger="kdial_worker.dialer"):
        dialer._renew()
    assert not [m for m in warnings(caplog) if LAPSED in m]
    assert client.zscore(TP.trunk_active("t1"), staying.attempt), "the call still up is renewed"
    assert client.zscore(TP.trunk_active("t1"), ending.attempt) is None, "never revived"

    # A permit that truly lapsed under a call still up is still reported.
    client.zrem(TP.trunk_active("t1"), staying.attempt)
    with caplog.at_level(logging.INFO, logger="kdial_worker.dialer"):
        dialer._renew()
    assert [m for m in warnings(caplog) if LAPSED in m] == [
        f"1 permit {LAPSED} (Redis unreachable too long?)"
    ]


def test_a_deleted_pool_drops_its_calls_permits_quietly(
    client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    dialer = worker(client)
    up(dialer, client, "a1")
    # What the operator does when a TrunkPool is deleted: every key of the pool goes.
    client.delete(*client.keys(TP.pattern))
    with caplog.at_level(logging.INFO, logger="kdial_worker.dialer"):
        dialer._renew()
    assert not [m for m in warnings(caplog) if LAPSED in m]
    assert any("pool tp/carriers deleted" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kdial_worker.dialer"):
        dialer._renew()
    assert not [r for r in caplog.records if "permits" in r.getMessage()], "said once"
