"""The order contacts come due in, through the ledger's scripts on the session's real Redis."""

from __future__ import annotations

import redis

from kdial.api.campaign import Retry
from kdial.outcomes import Outcome
from kdial.state import scripts
from kdial.state.keys import CampaignKeys
from kdial_operator import dataplane
from kdial_worker import ledger, retry

EPOCH = "e1"
LEASE_MS = 30_000


def seeded(rdb: redis.Redis, contacts: list[str]) -> CampaignKeys:
    keys = CampaignKeys("ns", "order")
    seed = dataplane.seed_keys(keys)
    # No callee keys (''): these contacts stand for no number.
    rdb.eval(scripts.SEED, len(seed), *seed, EPOCH, *(x for c in contacts for x in (c, "")))
    return keys


def end(rdb: redis.Redis, keys: CampaignKeys, claim: ledger.Claim, outcome: Outcome) -> None:
    ending = retry.decide(outcome, claim.history, Retry(), now_ms=0)
    assert ledger.complete(rdb, keys, claim.attempt, ending)


def test_a_lost_call_is_claimed_before_the_backlog_of_due_contacts(rdb: redis.Redis) -> None:
    keys = seeded(rdb, [f"c{i}" for i in range(300)])
    first, second, *_ = ledger.claim(rdb, keys, EPOCH, limit=10, lease_ms=LEASE_MS)
    end(rdb, keys, first, Outcome.CALL_LOSS)
    end(rdb, keys, second, Outcome.CALL_LOSS)
    again = ledger.claim(rdb, keys, EPOCH, limit=2, lease_ms=LEASE_MS)
    assert [c.contact for c in again] == [first.contact, second.contact], (
        "re-dialled at once means before the 290 contacts already due, in the order lost"
    )
    assert again[0].history["attempts"] == 1, "the lost call still counts as an attempt"


def test_other_retries_wait_behind_the_backlog(rdb: redis.Redis) -> None:
    keys = seeded(rdb, [f"c{i}" for i in range(20)])
    first, *_ = ledger.claim(rdb, keys, EPOCH, limit=1, lease_ms=LEASE_MS)
    end(rdb, keys, first, Outcome.CANCELLED)
    again = ledger.claim(rdb, keys, EPOCH, limit=1, lease_ms=LEASE_MS)
    assert again[0].contact != first.contact
