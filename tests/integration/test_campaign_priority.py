"""Two campaigns on one trunk at its cap, every part real (the operator over the emulated API,
the session's Redis, `kdial sim` over TCP Event Socket, a `kdial worker` for each): once the
campaign of higher priority asks for the trunk, what frees there goes to it, and the other
dials again only when it has had its fill."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
import redis

from kdial.state.keys import CampaignKeys
from tests.support.dialing import carrier, create, csv_of, dialing, spec, trunk
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import WorkerProcess, records
from tests.support.world import contact_list, numbers

pytestmark = pytest.mark.integration

SPEED = 20
CONTACTS = 10
#: Every call answered and closed, 1-1.5 s at speed 20.
SCENARIO = {
    "seed": 7,
    "carriers": {
        "gw": carrier(
            answerProbability=1.0,
            failures={},
            talkSeconds={"dist": "uniform", "min": 20, "max": 30},
        )
    },
}
#: A call of the lower campaign may have been granted its slot just before the higher one was
#: first refused, and start a moment after the higher one's first call.
RACE_MS = 50


def given_back(worker: WorkerProcess) -> dict[str, float]:
    """The worker's contacts given back without a call, by reason (its metrics)."""
    url = f"http://127.0.0.1:{worker.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=2) as response:
        text = response.read().decode()
    found = re.findall(r'^kdial_contacts_undialled_total\{[^}]*reason="(\w+)"\} (\S+)$', text, re.M)
    return {reason: float(n) for reason, n in found}


def started_ms(rdb: redis.Redis, keys: CampaignKeys) -> list[int]:
    return sorted(int(r["started_ms"]) for r in records(rdb, keys) if r.get("started_ms"))


def test_a_campaign_of_higher_priority_gets_the_shared_trunk_first(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    promo = create(
        api, rdb, operator, namespace, csv_of(numbers(CONTACTS)), [trunk("gw", concurrent=2)]
    )
    contact_list(api, "urgent-leads", numbers(CONTACTS, start=100))
    api.create(
        "campaigns",
        "urgent",
        spec(contactListRef={"name": "urgent-leads"}, priority=300),
        "Campaign",
    )
    urgent = CampaignKeys(namespace, "urgent")
    wait_for("urgent's contacts seeded", lambda: rdb.scard(urgent.known) == CONTACTS, log=operator)
    with dialing(SCENARIO, namespace, redis_url, tmp_path, speed=SPEED) as (worker,):
        wait_for("promo holding the trunk", lambda: rdb.hlen(promo.inflight) >= 2, log=worker)
        other = WorkerProcess(
            f"{namespace}/urgent", redis_url, worker.esl, tmp_path / "u1.log", "u1"
        ).start()
        try:
            wait_for("urgent done", lambda: rdb.hlen(urgent.closed) == CONTACTS, log=other)
            wait_for("promo done", lambda: rdb.hlen(promo.closed) == CONTACTS, log=worker)
            # Held back, each waited a cap's short wait, not as a contact with no route would.
            assert set(given_back(worker)) == {"NoPermit"}, given_back(worker)
            assert set(given_back(other)) <= {"NoPermit"}, given_back(other)
        finally:
            other.stop()
    first, last = started_ms(rdb, urgent)[0], started_ms(rdb, urgent)[-1]
    lower = started_ms(rdb, promo)
    assert [t for t in lower if first + RACE_MS < t < last] == [], (first, last, lower)
    assert [t for t in lower if t > last], "the lower campaign dials again after the higher"
