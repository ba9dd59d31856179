"""Why contacts wait, kept by every ledger script that moves a contact in or out of `due`, on the
session's real Redis: the counts status reads agree with the ledger after each step."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
import redis
import redis.asyncio

from kdial.outcomes import Outcome
from kdial.state import scripts
from kdial.state.keys import CampaignKeys
from kdial.state.waits import Wait, Waits, window
from kdial_operator import dataplane
from kdial_worker import ledger
from tests.support.operator import wait_for
from tests.support.workers import waits_problems

EPOCH = "e1"
LEASE_MS = 30_000
SHANGHAI = window(["Asia/Shanghai"])
HOUR_MS = 3_600_000


def seed(rdb: redis.Redis, keys: CampaignKeys, contacts: list[str]) -> None:
    seed = dataplane.seed_keys(keys)
    # No callee keys (''): these contacts stand for no number.
    rdb.eval(scripts.SEED, len(seed), *seed, EPOCH, *(x for c in contacts for x in (c, "")))


def retire(rdb: redis.Redis, keys: CampaignKeys, contacts: list[str]) -> None:
    retire = dataplane.retire_keys(keys)
    rdb.eval(scripts.RETIRE, len(retire), *retire, *contacts)


def counts(rdb: redis.Redis, keys: CampaignKeys) -> dict[str, str]:
    assert waits_problems(rdb, keys) == []
    return cast(dict[str, str], rdb.hgetall(keys.waiting_counts))


def claim(rdb: redis.Redis, keys: CampaignKeys, limit: int) -> dict[str, ledger.Claim]:
    return {c.contact: c for c in ledger.claim(rdb, keys, EPOCH, limit, LEASE_MS)}


def test_every_script_keeps_the_counts_of_why_contacts_wait(rdb: redis.Redis) -> None:
    keys = CampaignKeys("ns", "waits")
    seed(rdb, keys, [f"c{i}" for i in range(5)])
    assert counts(rdb, keys) == {}, "a contact taken from its list is due now"

    held = claim(rdb, keys, 5)
    assert ledger.defer(rdb, keys, held["c0"].attempt, HOUR_MS, SHANGHAI)
    assert ledger.defer(rdb, keys, held["c1"].attempt, 20, Wait.CAP)
    no_answer = ledger.Ending(Outcome.NO_ANSWER, close=False, delay_ms=HOUR_MS)
    assert ledger.complete(rdb, keys, held["c2"].attempt, no_answer)
    lost = ledger.Ending(Outcome.CALL_LOSS, close=False, first_in_line=True)
    assert ledger.complete(rdb, keys, held["c3"].attempt, lost)
    assert ledger.close_undialled(rdb, keys, held["c4"].attempt, "Suppressed")
    assert counts(rdb, keys) == {SHANGHAI: "1", "cap": "1", "retry": "1", "suppressed": "1"}

    seconds, micros = rdb.time()
    now_ms = seconds * 1000 + micros // 1000
    ends = cast(dict[str, str], rdb.hgetall(keys.waiting_ends))
    assert now_ms < int(ends[SHANGHAI]) <= now_ms + HOUR_MS, "the window's end is its opening"
    # Read back for status after the cap's 20 ms: that wait is over, its contact merely due.
    later = Waits.decode(counts(rdb, keys), ends, now_ms + 1000)
    assert (later.retry, later.cap, later.suppressed) == (1, 0, 1)
    assert [(w.zones, w.contacts) for w in later.windows] == [("Asia/Shanghai", 1)]

    # Claimed again, the lost call and the capped contact wait for nothing any more.
    taken: dict[str, ledger.Claim] = {}

    def both_claimed() -> bool:
        taken.update(claim(rdb, keys, 5))
        return set(taken) == {"c1", "c3"}

    wait_for("the capped contact due again", both_claimed)
    assert counts(rdb, keys) == {SHANGHAI: "1", "retry": "1", "suppressed": "1"}

    # A worker that died in a call: its contact is reclaimed to wait out the re-dial delay.
    seed(rdb, keys, ["c5"])
    assert [c.contact for c in ledger.claim(rdb, keys, EPOCH, 1, lease_ms=1)] == ["c5"]
    wait_for("the lease reclaimed", lambda: ledger.reclaim(rdb, keys, HOUR_MS))
    assert counts(rdb, keys)["retry"] == "2"

    # The list no longer holds c0 (waiting), c2 (retry) and c4 (suppressed): nothing of them
    # stays counted. c4 brought back comes back closed, suppressed again.
    retire(rdb, keys, ["c0", "c2", "c4"])
    assert counts(rdb, keys) == {"retry": "1"}
    seed(rdb, keys, ["c4"])
    assert counts(rdb, keys) == {"retry": "1", "suppressed": "1"}
    retire(rdb, keys, ["c4", "c5"])
    assert counts(rdb, keys) == {}
    assert rdb.exists(*keys.waits) == 0


async def test_status_counts_only_the_contacts_still_waiting(
    rdb: redis.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four contacts given back for retry delays, three of 20 ms and one of an hour: once the
    short ones are over, status counts one contact waiting and three due now, even before any
    worker claims them; a status pass untags at most its batches, the next pass the rest."""
    keys = CampaignKeys("ns", "settle")
    seed(rdb, keys, [f"c{i}" for i in range(4)])
    held = claim(rdb, keys, 4)
    for contact in ("c0", "c1", "c2"):
        assert ledger.defer(rdb, keys, held[contact].attempt, 20, Wait.RETRY)
    assert ledger.defer(rdb, keys, held["c3"].attempt, HOUR_MS, Wait.RETRY)
    monkeypatch.setattr(dataplane, "SETTLE_BATCH", 1)
    monkeypatch.setattr(dataplane, "SETTLE_CALLS", 2)
    await asyncio.sleep(0.05)
    ardb = redis.asyncio.from_url(redis_url, decode_responses=True)
    try:
        first = await dataplane.ledger(ardb, keys)
        assert (first.waits.retry, first.due_now) == (2, 3), "two settled, one left for later"
        second = await dataplane.ledger(ardb, keys)
        assert (second.waits.retry, second.due_now) == (1, 3)
    finally:
        await ardb.aclose()
    assert counts(rdb, keys) == {"retry": "1"}
    assert rdb.zrange(keys.waiting_until, 0, -1) == ["c3"]
    assert set(claim(rdb, keys, 4)) == {"c0", "c1", "c2"}, "settled contacts are still due"
    assert counts(rdb, keys) == {"retry": "1"}
