"""Caller-ID health end to end: a number callees mark as spam is quarantined automatically, a
number named in the annotation by hand, and workers stop showing both."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import redis

from kdial.state.keys import CampaignKeys
from tests.support.dialing import carrier, create, csv_of, dialing, trunk
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import records
from tests.support.world import numbers

GOOD = ["+862081234501", "+862081234502", "+8675581234503"]
MARKED = "+8675581234504"
BY_HAND = GOOD[0]
SCENARIO = {
    "seed": 8,
    "switch": {"sessionsPerSecond": 200, "maxChannels": 2000},
    "carriers": {"carrier-a": carrier(answerProbability=0.6, failures={"noAnswer": 1})},
    # Callees answer a call showing the marked number a tenth as often.
    "callees": {"markedCallerIds": {MARKED: 0.1}},
}
AGAIN = {
    "rules": [{"outcome": o, "delayMinutes": 0} for o in ("Busy", "NoAnswer", "CallLoss")],
    "closure": {"maxAttempts": 50},
}


def pool_status(api: Api) -> dict[str, Any]:
    status: dict[str, Any] = (api.get("calleridpools", "ids") or {}).get("status", {})
    return status


def quarantine_by_hand(api: Api, numbers: str | None) -> None:
    """Sets (or, with None, removes) the pool's kdial.io/quarantine annotation."""
    api.custom.patch_namespaced_custom_object(
        "kdial.io",
        "v1alpha1",
        api.namespace,
        "calleridpools",
        "ids",
        {"metadata": {"annotations": {"kdial.io/quarantine": numbers}}},
    )


def shown_after(rdb: redis.Redis, keys: CampaignKeys, number: str, since: float) -> int:
    return sum(
        1
        for r in records(rdb, keys)
        if r["caller_id"] == number and int(r["started_ms"]) / 1000 > since
    )


def test_marked_and_annotated_numbers_are_quarantined_and_not_shown(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(numbers(3000)),
        [trunk("carrier-a", concurrent=16, cps=100)],
        [{"number": n} for n in [*GOOD, MARKED]],
        tags=["spring-promo"],
        retry=AGAIN,
        pacing={"maxConcurrency": 16, "ringTimeoutSeconds": 20},
    )
    api.patch_spec("calleridpools", "ids", {"quarantine": {"minSamples": 30, "coolingHours": 1}})
    with dialing(SCENARIO, namespace, redis_url, tmp_path, speed=10):
        status = wait_for(
            "the marked number quarantined",
            lambda: pool_status(api) if pool_status(api).get("quarantined") == 1 else None,
            timeout=90,
            log=operator,
        )
        worst = status["worst"][0]
        assert (worst["number"], worst["state"]) == (MARKED, "Quarantined"), status["worst"]
        resting_at = time.time()
        time.sleep(3)
        assert shown_after(rdb, keys, MARKED, resting_at + 1) == 0

        quarantine_by_hand(api, BY_HAND)
        wait_for(
            "the annotated number quarantined",
            lambda: pool_status(api).get("quarantined") == 2,
            log=operator,
        )
        by_hand_at = time.time()
        time.sleep(3)
        assert shown_after(rdb, keys, BY_HAND, by_hand_at + 1) == 0
        assert shown_after(rdb, keys, GOOD[1], by_hand_at + 1) > 0, "the others carry on"

        quarantine_by_hand(api, None)
        wait_for(
            "the annotated number released",
            lambda: pool_status(api).get("quarantined") == 1,
            log=operator,
        )

    assert {r["tags"] for r in records(rdb, keys)} == {"spring-promo"}, "tags reach the records"
    reasons = [e["reason"] for e in api.events("ids")]
    assert reasons.count("NumberQuarantined") == 2, reasons
    assert "NumberReleased" in reasons, reasons
