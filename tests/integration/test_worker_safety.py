"""Compliance and safety through real workers: calling windows, do-not-call, injection."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import redis

from kdial.state.keys import CampaignKeys, ListKeys
from tests.support.dialing import carrier, create, csv_of, dialing, trunk
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import ledger_problems, records
from tests.support.world import numbers, window_around

SCENARIO = {"seed": 3, "carriers": {"gw": carrier(answerProbability=1)}}
LA = [f"+1213234{5600 + i}" for i in range(10)]


#: Nobody answers: every call is busy, so contacts keep coming back while retries last.
BUSY = carrier(answerProbability=0, failures={"busy": 1})


def busy_campaign_with_dnc(
    api: Api,
    rdb: redis.Redis,
    operator: OperatorProcess,
    namespace: str,
    everyone: list[str],
    blocked: list[str],
    max_attempts: int,
    **campaign: Any,
) -> CampaignKeys:
    """Campaign `promo` over `everyone`, retrying busy callees at once up to `max_attempts`,
    with do-not-call list `dnc` (from ConfigMap `dnc-source`) holding `blocked`."""
    api.config_map("dnc-source", {"list.csv": csv_of(blocked)})
    dnc_spec = {
        "source": {"configMap": {"name": "dnc-source", "key": "list.csv"}},
        "defaultRegion": "CN",
        "purpose": "Suppress",
    }
    api.create("contactlists", "dnc", dnc_spec, "ContactList")
    retry = {
        "rules": [{"outcome": "Busy", "delayMinutes": 0}],
        "closure": {"maxAttempts": max_attempts},
    }
    return create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(everyone),
        [trunk("gw")],
        retry=retry,
        suppressionListRefs=[{"name": "dnc"}],
        **campaign,
    )


def test_calling_window_holds_in_each_callees_time_zone(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    window = window_around("Asia/Shanghai", datetime.now(UTC))
    shanghai = numbers(10)
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(shanghai + LA),
        [trunk("gw")],
        schedule={"windows": [window]},
    )
    with dialing(SCENARIO, namespace, redis_url, tmp_path) as workers:
        wait_for(
            "the Shanghai callees closed",
            lambda: rdb.hlen(keys.closed) == 10,
            log=workers[0],
        )
        dialled = {r["number"] for r in records(rdb, keys)}
    assert all(n.startswith("+86") for n in dialled), (
        "Los Angeles is asleep: nobody there is called"
    )
    assert len(dialled) == 10
    # The Los Angeles callees wait for their own morning, roughly 15 to 16 hours away.
    waits = [
        score / 1000 - datetime.now(UTC).timestamp()
        for _, score in cast(list[tuple[str, float]], rdb.zrange(keys.due, 0, -1, withscores=True))
    ]
    assert len(waits) == 10 and all(3600 * 6 < w < 3600 * 24 for w in waits), waits
    assert ledger_problems(rdb, keys) == []


def test_do_not_call_numbers_are_never_dialled_even_when_added_mid_campaign(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    everyone = numbers(40)
    early, late = everyone[:10], everyone[10:20]
    keys = busy_campaign_with_dnc(api, rdb, operator, namespace, everyone, early, max_attempts=6)
    scenario = {"seed": 2, "carriers": {"gw": BUSY}}
    with dialing(scenario, namespace, redis_url, tmp_path, speed=10) as workers:
        wait_for(
            "a first round of calls",
            lambda: len({r["contact"] for r in records(rdb, keys)}) >= 25,
            log=workers[0],
        )
        api.core.patch_namespaced_config_map(
            "dnc-source", namespace, {"data": {"list.csv": csv_of(early + late)}}
        )
        api.patch_spec("contactlists", "dnc", {"refresh": "added-late"})
        wait_for(
            "the do-not-call list re-imported",
            lambda: rdb.scard(ListKeys(namespace, "dnc").numbers) == 20,
            log=operator,
        )
        added_at_ms = datetime.now(UTC).timestamp() * 1000
        wait_for(
            "every contact closed", lambda: rdb.hlen(keys.closed) == 40, timeout=120, log=workers[0]
        )

    def masked(n: str) -> str:
        return f"+86{n[:3]}****{n[-4:]}"

    attempts = records(rdb, keys)
    assert not [r for r in attempts if r["number"] in {masked(n) for n in early}], (
        "suppressed from the start"
    )
    late_after = [
        r
        for r in attempts
        if r["number"] in {masked(n) for n in late} and int(r["started_ms"]) > added_at_ms
    ]
    assert late_after == [], "a number added to the do-not-call list was dialled afterwards"
    closed = rdb.hvals(keys.closed)
    assert closed.count("Suppressed") >= 10
    assert ledger_problems(rdb, keys) == []


def test_a_crafted_number_never_reaches_the_switch(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    hostile = '"13800000001,origination_caller_id_number=666}sofia/gateway/evil/1"'  # one CSV cell
    keys = create(
        api, rdb, operator, namespace, csv_of([hostile, *numbers(3, start=10)]), [trunk("gw")]
    )
    status = (api.get("contactlists", "leads") or {})["status"]
    assert status["counts"]["rejected"] == 1
    assert "origination_caller_id_number" not in json.dumps(status), "status repeats no raw input"
    # Defence in depth: a row written straight into Redis, past the import, is still refused.
    contacts = ListKeys(namespace, "leads").contacts
    rdb.hset(
        contacts,
        "forged",
        json.dumps(
            {
                "number": "+8613800000002}&bridge(sofia/gateway/evil/1)",
                "timeZones": ["Asia/Shanghai"],
            }
        ),
    )
    rdb.sadd(keys.known, "forged")
    rdb.zadd(keys.due, {"forged": 0})
    with dialing(SCENARIO, namespace, redis_url, tmp_path) as workers:
        wait_for("every contact closed", lambda: rdb.hlen(keys.closed) == 4, log=workers[0])
    assert rdb.hget(keys.closed, "forged") == "InvalidNumber"
    assert "forged" not in {r["contact"] for r in records(rdb, keys)}, "never dialled"
    assert ledger_problems(rdb, keys) == []


def test_contacts_wait_while_a_do_not_call_list_is_gone_from_redis(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """Deleting a list removes its keys; until the operator halts the campaign, workers must
    not read the missing do-not-call numbers as "nobody is suppressed". The window is held
    open here by removing the keys while the ContactList still exists."""
    everyone = numbers(30, start=600)
    blocked = everyone[:10]
    keys = busy_campaign_with_dnc(
        api,
        rdb,
        operator,
        namespace,
        everyone,
        blocked,
        max_attempts=50,
        pacing={"maxConcurrency": 5, "ringTimeoutSeconds": 20},
    )
    scenario = {"seed": 4, "carriers": {"gw": BUSY}}
    with dialing(scenario, namespace, redis_url, tmp_path, speed=10) as workers:
        wait_for("calls under way", lambda: len(records(rdb, keys)) >= 10, log=workers[0])
        rdb.delete(*rdb.scan_iter(match=ListKeys(namespace, "dnc").pattern))

        def all_waiting() -> bool:
            seconds, micros = rdb.time()
            later = seconds * 1000 + micros // 1000 + 30_000
            return rdb.hlen(keys.inflight) == 0 and rdb.zcount(keys.due, "-inf", later) == 0

        wait_for("every pending contact held", all_waiting, timeout=60, log=workers[0])

    masked = {f"+86{n[:3]}****{n[-4:]}" for n in blocked}
    assert not [r for r in records(rdb, keys) if r["number"] in masked]
    assert ledger_problems(rdb, keys) == []
