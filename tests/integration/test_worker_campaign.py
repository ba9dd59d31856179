"""Workers dial a whole campaign through the simulator: nothing lost, nothing doubled, caps kept."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import redis

from kdial.privacy import mask_number
from kdial.state.config import CampaignConfig
from tests.support.dialing import carrier, create, csv_of, dialing, trunk
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import UNMASKED, double_dials, ledger_problems, max_overlap, records
from tests.support.world import numbers

SCENARIO = {
    "seed": 11,
    "switch": {"sessionsPerSecond": 100, "maxChannels": 2000},
    "carriers": {
        gw: carrier(
            failures={"busy": 3, "noAnswer": 3, "rejected": 1, "unreachable": 1, "lineFailure": 1}
        )
        for gw in ("carrier-a", "carrier-b")
    },
    "callees": {"invalid": 0.02, "switchedOff": 0.03, "machine": 0.1, "machineRingSeconds": 1},
}
TRUNKS = [
    trunk("carrier-a", concurrent=12, cps=40),
    trunk("carrier-b", concurrent=12, cps=40),
]
CALLER_IDS: list[dict[str, Any]] = [
    {"number": "+862012345678", "maxConcurrentCalls": 15},
    {"number": "+861012345678"},
]
RETRY_AT_ONCE = {
    "rules": [
        {"outcome": o, "delayMinutes": 0}
        for o in ("Busy", "NoAnswer", "CallLoss", "Unreachable", "AnsweredMachine")
    ],
    "closure": {"maxAttempts": 3},
}


def test_two_workers_close_every_contact(
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
        csv_of(numbers(1000)),
        TRUNKS,
        CALLER_IDS,
        retry=RETRY_AT_ONCE,
    )
    with dialing(SCENARIO, namespace, redis_url, tmp_path, workers=2) as workers:
        wait_for(
            "every contact closed",
            lambda: rdb.hlen(keys.closed) == 1000,
            timeout=240,
            log=workers[0],
        )

    assert ledger_problems(rdb, keys) == []
    assert double_dials(rdb, keys) == []
    attempts = records(rdb, keys)
    outcomes: dict[str, int] = defaultdict(int)
    for record in attempts:
        outcomes[record["outcome"]] += 1
    assert outcomes["AnsweredHuman"] > 200, outcomes
    assert {"Busy", "NoAnswer", "CallLoss", "InvalidNumber"} <= set(outcomes), outcomes
    assert {r["worker"] for r in attempts} == {"w1", "w2"}
    for name in ("carrier-a", "carrier-b"):
        spans = [
            (int(r["started_ms"]), int(r["call_ended_ms"])) for r in attempts if r["trunk"] == name
        ]
        assert spans and max_overlap(spans) <= 12, f"trunk {name} over its concurrency cap"
    capped = [
        (int(r["started_ms"]), int(r["call_ended_ms"]))
        for r in attempts
        if r["caller_id"] == "+862012345678"
    ]
    assert max_overlap(capped) <= 15
    all_spans = [(int(r["started_ms"]), int(r["call_ended_ms"])) for r in attempts]
    assert max_overlap(all_spans) <= 20, "campaign maxConcurrency exceeded"
    for record in attempts:
        assert not UNMASKED.search(json.dumps(record)), "records carry masked numbers only"
    wait_for(
        "Completed",
        lambda: (api.get("campaigns", "promo") or {})["status"]["summary"] == "Completed",
        log=operator,
    )


def test_a_campaign_whose_only_trunk_is_a_sip_uri_dials_every_contact(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """A trunk given by sipUri instead of gateway is dialled at its host: the switch (here the
    simulator) routes it to the carrier behind that host, and every contact is closed."""
    scenario = {
        "seed": 7,
        "carriers": {
            # Only this host reaches a carrier; any other call would end 408 (CallLoss).
            "direct": carrier(
                hosts=["sip.direct.example"], answerProbability=0.6, failures={"busy": 1}
            ),
        },
    }
    trunks = [
        {
            "name": "direct",
            "sipUri": "sip.direct.example:5060",
            "maxConcurrentCalls": 10,
            "maxCallsPerSecond": 10,
        }
    ]
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(numbers(40)),
        trunks,
        retry={"closure": {"maxAttempts": 1}},
    )
    with dialing(scenario, namespace, redis_url, tmp_path) as workers:
        wait_for(
            "every contact closed", lambda: rdb.hlen(keys.closed) == 40, timeout=120, log=workers[0]
        )

    assert ledger_problems(rdb, keys) == []
    attempts = records(rdb, keys)
    assert len(attempts) == 40
    assert {r["trunk"] for r in attempts} == {"direct"}
    outcomes = Counter(r["outcome"] for r in attempts)
    # What that carrier does (answer, or 486 busy) and nothing else: the calls reached it.
    assert set(outcomes) == {"AnsweredHuman", "Busy"}, outcomes
    assert {r["sip"] for r in attempts if r["outcome"] == "Busy"} == {"486"}
    assert all(int(r["billsec"]) > 0 for r in attempts if r["outcome"] == "AnsweredHuman")


def test_a_worker_refuses_a_config_from_a_newer_schema(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """A config a newer operator compiled (a rolling upgrade, workers not yet replaced) is not
    read as if it were this worker's schema: the worker says why once and claims nothing, and
    the operator shows it in the campaign's status."""
    keys = create(api, rdb, operator, namespace, csv_of(numbers(5)), TRUNKS, CALLER_IDS)
    operator.stop()
    document = json.loads(rdb.get(keys.config) or "{}")
    newer = CampaignConfig.SCHEMA_VERSION + 1
    document["content"] |= {"schemaVersion": newer, "dialingWindowOverride": "a future field"}
    rdb.set(keys.config, json.dumps(document))
    with dialing(SCENARIO, namespace, redis_url, tmp_path) as workers:
        line = wait_for(
            "the refusal in the log",
            lambda: next(
                (ln for ln in workers[0].log.read_text().splitlines() if "not dialling" in ln),
                None,
            ),
            log=workers[0],
        )
        assert f"campaign config has schemaVersion {newer}" in line
        assert records(rdb, keys) == []
        assert rdb.zcard(keys.due) == 5, "every contact still waits, none claimed"
        refusal = rdb.get(keys.config_refused) or ""
        assert f"campaign config has schemaVersion {newer}" in refusal, "where the operator reads"
    log = workers[0].log.read_text()
    assert log.count("not dialling") == 1, log
    assert "Traceback" not in log

    # The operator says so in status while a worker does (the key outlives a worker's last
    # refusing read by seconds; it is held here for as long as the operator needs to start).
    operator.start()
    rdb.set(keys.config_refused, refusal, ex=120)
    wait_for(
        "Degraded: WorkersRefuseConfig",
        lambda: (
            (api.condition("campaigns", "promo", "Degraded") or {}).get("reason")
            == "WorkersRefuseConfig"
        ),
        log=operator,
    )
    rdb.delete(keys.config_refused)
    wait_for(
        "Degraded cleared",
        lambda: (api.condition("campaigns", "promo", "Degraded") or {}).get("status") == "False",
        log=operator,
    )


def test_a_changed_contact_list_is_dialled_instead_of_the_old_one(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """`spec.contactListRef` moved from list A to list B while A still had contacts to call:
    B's contacts are dialled, A's pending ones are not, and progress counts B alone."""
    scenario = {"seed": 5, "carriers": {"carrier-a": carrier(failures={"busy": 1})}}
    old, new = numbers(200), numbers(30, start=500)
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(old),
        [trunk("carrier-a", concurrent=4, cps=10)],
        retry={"closure": {"maxAttempts": 1}},
        pacing={"maxConcurrency": 4, "ringTimeoutSeconds": 20},
    )
    api.config_map("fresh-source", {"list.csv": csv_of(new)})
    api.create(
        "contactlists",
        "fresh",
        {
            "source": {"configMap": {"name": "fresh-source", "key": "list.csv"}},
            "defaultRegion": "CN",
        },
        "ContactList",
    )
    wait_for(
        "list B imported",
        lambda: (api.condition("contactlists", "fresh", "Ready") or {}).get("status") == "True",
        log=operator,
    )
    with dialing(scenario, namespace, redis_url, tmp_path) as workers:
        wait_for("list A dialling", lambda: rdb.hlen(keys.closed) >= 5, timeout=60, log=workers[0])
        api.patch_spec("campaigns", "promo", {"contactListRef": {"name": "fresh"}})
        wait_for(
            "B's contacts all closed and nothing else left",
            lambda: (
                (api.get("campaigns", "promo") or {})["status"]["progress"]
                == {
                    "total": 30,
                    "pending": 0,
                    "inFlight": 0,
                    "closed": 30,
                    "summary": "30/30 (100%)",
                }
            ),
            timeout=120,
            log=workers[0],
        )

    dialled = {r["number"] for r in records(rdb, keys)}
    assert {mask_number(f"+86{n}") for n in new} <= dialled, "every contact of B was dialled"
    dialled_old = dialled & {mask_number(f"+86{n}") for n in old}
    assert len(dialled_old) < 100, "A's pending contacts were not dialled after the switch"
    assert "Removed" not in set(rdb.hvals(keys.closed)) | set(rdb.hvals(keys.retired))
    assert ledger_problems(rdb, keys) == []
    wait_for(
        "Completed",
        lambda: (api.get("campaigns", "promo") or {})["status"]["summary"] == "Completed",
        log=operator,
    )
