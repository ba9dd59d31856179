"""A draining worker against the session's real Redis: it waits for attempts claimed and not yet
dialled as for calls, so it never exits between a contact's claim and its call."""

from __future__ import annotations

import gevent
import pytest
import redis

from kdial_worker.dialer import Dialer
from kdial_worker.settings import WorkerSettings

pytestmark = pytest.mark.integration


def test_a_drain_waits_for_an_attempt_between_its_claim_and_its_call(redis_url: str) -> None:
    rdb = redis.Redis.from_url(redis_url, decode_responses=True)
    dialer = Dialer(WorkerSettings(lease_seconds=3), "tenant", "promo", rdb)
    dialer._claimed.add("a1")
    drained = gevent.spawn(dialer.drain, 5.0)
    gevent.sleep(0.5)
    assert dialer.draining, "claims no more"
    assert not drained.ready(), "still waiting for the attempt"
    dialer._claimed.discard("a1")  # what the attempt does once over (given back, or dialled)
    drained.join(timeout=2)
    assert drained.ready() and drained.successful()
