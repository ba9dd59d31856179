"""Workers dial a whole campaign through the simulator: nothing lost, nothing doubled, caps kept."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import redis

from kdial.state.keys import CampaignKeys
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.sim import running_sim
from tests.support.workers import WorkerProcess, double_dials, ledger_problems, max_overlap, records
from tests.support.world import contact_list, numbers

pytestmark = pytest.mark.integration

CARRIER: dict[str, Any] = {
    "answerProbability": 0.5,
    "pddSeconds": 0.5,
    "ringSeconds": {"dist": "uniform", "min": 1, "max": 3},
    "talkSeconds": {"dist": "uniform", "min": 2, "max": 5},
    "failures": {"busy": 3, "noAnswer": 3, "rejected": 1, "unreachable": 1, "lineFailure": 1},
}
SCENARIO = {
    "seed": 11,
    "switch": {"sessionsPerSecond": 100, "maxChannels": 2000},
    "carriers": {"carrier-a": CARRIER, "carrier-b": CARRIER},
    "callees": {"invalid": 0.02, "switchedOff": 0.03, "machine": 0.1},
}
TRUNKS = {
    "trunks": [
        {"name": "a", "gateway": "carrier-a", "maxConcurrentCalls": 12, "maxCallsPerSecond": 40},
        {"name": "b", "gateway": "carrier-b", "maxConcurrentCalls": 12, "maxCallsPerSecond": 40},
    ]
}
ALL_DAY = {"windows": [{"start": "00:00", "end": "24:00"}]}
RETRY_AT_ONCE = {
    "rules": [
        {"outcome": o, "delayMinutes": 0}
        for o in ("Busy", "NoAnswer", "CallLoss", "Unreachable", "AnsweredMachine")
    ],
    "closure": {"maxAttempts": 3},
}


def campaign(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "mode": "Agentless",
        "contactListRef": {"name": "leads"},
        "trunkPoolRefs": [{"name": "lines"}],
        "callerIdPoolRef": {"name": "ids"},
        "destination": {"extension": "9000"},
        "pacing": {"maxConcurrency": 20, "ringTimeoutSeconds": 20},
        "schedule": ALL_DAY,
        "retry": RETRY_AT_ONCE,
        "workers": {"min": 1, "max": 2},
    }
    return spec | overrides


def test_two_workers_close_every_contact(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    contact_list(api, "leads", numbers(1000))
    api.create("trunkpools", "lines", TRUNKS, "TrunkPool")
    ids = {
        "numbers": [
            {"number": "+862012345678", "maxConcurrentCalls": 15},
            {"number": "+861012345678"},
        ]
    }
    api.create("calleridpools", "ids", ids, "CallerIdPool")
    api.create("campaigns", "promo", campaign(), "Campaign")
    keys = CampaignKeys(namespace, "promo")
    wait_for("1000 contacts seeded", lambda: rdb.scard(keys.known) == 1000, log=operator)

    with running_sim(SCENARIO, speed=20) as esl:
        workers = [
            WorkerProcess(
                f"{namespace}/promo", redis_url, esl, tmp_path / f"w{i}.log", f"w{i}"
            ).start()
            for i in (1, 2)
        ]
        try:
            wait_for(
                "every contact closed",
                lambda: rdb.hlen(keys.closed) == 1000,
                timeout=240,
                log=workers[0],  # type: ignore[arg-type]
            )
        finally:
            for worker in workers:
                worker.stop()

    assert ledger_problems(rdb, keys) == []
    assert double_dials(rdb, keys) == []
    attempts = records(rdb, keys)
    outcomes = defaultdict(int)
    for record in attempts:
        outcomes[record["outcome"]] += 1
    assert outcomes["AnsweredHuman"] > 200, outcomes
    assert {"Busy", "NoAnswer", "CallLoss", "InvalidNumber"} <= set(outcomes), outcomes
    assert {r["worker"] for r in attempts} == {"w1", "w2"}
    for trunk in ("a", "b"):
        spans = [
            (int(r["started_ms"]), int(r["call_ended_ms"])) for r in attempts if r["trunk"] == trunk
        ]
        assert spans and max_overlap(spans) <= 12, f"trunk {trunk} over its concurrency cap"
    capped = [
        (int(r["started_ms"]), int(r["call_ended_ms"]))
        for r in attempts
        if r["caller_id"] == "+862012345678"
    ]
    assert max_overlap(capped) <= 15
    all_spans = [(int(r["started_ms"]), int(r["call_ended_ms"])) for r in attempts]
    assert max_overlap(all_spans) <= 20, "campaign maxConcurrency exceeded"
    for record in attempts:
        assert "13800" not in json.dumps(record), "records carry masked numbers only"
    wait_for(
        "Completed",
        lambda: (api.get("campaigns", "promo") or {})["status"]["summary"] == "Completed",
        log=operator,
    )
