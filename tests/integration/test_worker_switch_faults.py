"""What our own switch does to itself (its throttle, its shutdown) counts against no trunk and
no contact: a worker driving the simulator over real TCP, with the operator and real Redis."""

from __future__ import annotations

import json
import re
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any, cast

import redis

from kdial.state.keys import CampaignKeys, PoolKeys
from kdial_worker import caps
from tests.support.dialing import CALLER_ID, carrier, create, csv_of, dialing, trunk
from tests.support.esl_raw import EslClient
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import ledger_problems, records
from tests.support.world import numbers


def metric(port: int, name: str) -> float:
    """The sum of a worker's metric over its labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        text = response.read().decode()
    found = re.findall(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.M)
    return sum(float(v) for v in found)


def trunk_counts(rdb: redis.Redis, namespace: str) -> Counter[str]:
    """Every line counter of TrunkPool `lines`, summed over its one-second buckets."""
    pool = PoolKeys("tp", namespace, "lines")
    total: Counter[str] = Counter()
    for key in rdb.scan_iter(match=pool.counts(0).removesuffix("0") + "*"):
        for field, value in cast(dict[str, str], rdb.hgetall(key)).items():
            total[field.split("|", 1)[1]] += int(value)
    return total


def attempts_by_contact(rdb: redis.Redis, keys: CampaignKeys) -> dict[str, int]:
    stored = cast(dict[str, str], rdb.hgetall(keys.contacts))
    return {c: int(json.loads(h)["attempts"]) for c, h in stored.items()}


def assert_refusals_count_against_nothing(
    rdb: redis.Redis, keys: CampaignKeys, namespace: str, cause: str
) -> list[dict[str, Any]]:
    """The refused originates are Cancelled, out of every contact's attempt count and out of
    the trunk's attempts and losses, and out of the caller ID's count for the day; returns
    them."""
    made = records(rdb, keys)
    refused = [r for r in made if r.get("cause") == cause]
    assert all(r["outcome"] == "Cancelled" for r in refused), refused[:3]
    dialled = Counter(r["contact"] for r in made if r["outcome"] != "Cancelled")
    assert attempts_by_contact(rdb, keys) == {c: dialled[c] for c in attempts_by_contact(rdb, keys)}
    lines = trunk_counts(rdb, namespace)
    assert lines["loss"] == sum(1 for r in made if r["outcome"] == "CallLoss")
    # Unknown (an end the switch never told) says nothing about the line either.
    uncounted = sum(1 for r in made if r["outcome"] in ("Cancelled", "Unknown"))
    assert lines["attempts"] == len(made) - uncounted
    presented = caps.calls_today(rdb, PoolKeys("cidp", namespace, "ids"), CALLER_ID)
    # A call cut before its answer (SYSTEM_SHUTDOWN) may have rung: it keeps its count.
    assert presented == len(made) - len(refused), "the caller ID's count for the day"
    return refused


def test_the_switch_throttle_slows_the_worker_and_costs_nothing(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    # One session a scenario second at speed 20 is 20 a real second; the trunk allows 50.
    scenario = {
        "seed": 11,
        "switch": {"sessionsPerSecond": 1, "maxChannels": 500},
        "carriers": {"gw": carrier(answerProbability=1, talkSeconds={"dist": "fixed", "value": 2})},
    }
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(numbers(200)),
        [trunk("gw", concurrent=40, cps=50)],
        pacing={"maxConcurrency": 40, "ringTimeoutSeconds": 20},
        retry={"closure": {"maxAttempts": 1}},
    )
    with dialing(scenario, namespace, redis_url, tmp_path) as (worker,):
        wait_for(
            "every contact closed", lambda: rdb.hlen(keys.closed) == 200, timeout=120, log=worker
        )
        refunded = metric(worker.metrics_port, "kdial_cps_refunded_total")
    assert ledger_problems(rdb, keys) == []
    refused = assert_refusals_count_against_nothing(
        rdb, keys, namespace, "DESTINATION_OUT_OF_ORDER"
    )
    assert refused, "the switch did throttle"
    assert refunded == len(refused), "every refused originate's CPS grant went back"
    assert len(refused) < 0.25 * 200, (
        f"{len(refused)} refusals for 200 calls: the worker slowed down to the switch's rate"
    )


def test_a_switch_shutting_down_mid_campaign_costs_no_trunk_and_no_contact_an_attempt(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    scenario = {"seed": 12, "carriers": {"gw": carrier()}}
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(numbers(300)),
        [trunk("gw", concurrent=20, cps=50)],
        retry={"closure": {"maxAttempts": 1}},
    )
    # At speed 5 the switch refuses originates for 0.34 s after "Shutting down", then closes
    # its Event Socket and is back 0.8 s after it began.
    with dialing(scenario, namespace, redis_url, tmp_path, speed=5) as (worker,):
        wait_for(
            "calls in flight",
            lambda: (
                rdb.hlen(keys.closed) >= 30
                and metric(worker.metrics_port, "kdial_calls_active") >= 5
            ),
            log=worker,
        )
        with EslClient(*worker.esl).connect() as esl:
            assert esl.api("fsctl shutdown restart") == "+OK\n"
        wait_for(
            "every contact closed", lambda: rdb.hlen(keys.closed) == 300, timeout=180, log=worker
        )
    assert ledger_problems(rdb, keys) == []
    refused = assert_refusals_count_against_nothing(rdb, keys, namespace, "CHAN_NOT_IMPLEMENTED")
    assert refused, "originates were sent while the switch shut down"
    cut = [r for r in records(rdb, keys) if r.get("cause") == "SYSTEM_SHUTDOWN"]
    assert cut, "calls were up when it shut down"
    assert all(r["outcome"] != "CallLoss" for r in cut), cut
