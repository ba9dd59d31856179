"""Workers under faults: SIGKILL mid-call, the Event Socket dropped, SIGTERM draining."""

from __future__ import annotations

import re
import signal
import urllib.error
import urllib.request
from pathlib import Path

import redis

from tests.support.dialing import carrier, create, csv_of, dialing, trunk
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import UNMASKED, double_dials, ledger_problems, records
from tests.support.world import numbers

#: Calls of 1-2 s at speed 20: long enough that a worker always has some in flight.
LONG_CALLS = carrier(answerProbability=0.8, talkSeconds={"dist": "uniform", "min": 20, "max": 40})


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def active(port: int) -> float:
    """Calls the worker says it has in flight."""
    found = re.search(r"^kdial_calls_active\{[^}]*\} (\S+)$", get(port, "/metrics")[1], re.M)
    return float(found.group(1)) if found else 0.0


def test_sigkill_mid_campaign_loses_nothing(
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
        csv_of(numbers(200)),
        [trunk("gw", concurrent=40)],
        pacing={"maxConcurrency": 40, "ringTimeoutSeconds": 20},
    )
    scenario = {"seed": 9, "carriers": {"gw": LONG_CALLS}}
    with dialing(scenario, namespace, redis_url, tmp_path, workers=2) as (first, second):
        wait_for(
            "calls in flight on the first worker",
            lambda: rdb.hlen(keys.closed) >= 30 and active(first.metrics_port) >= 5,
            log=first,
        )  # type: ignore[arg-type]
        first.stop(signal.SIGKILL)
        wait_for(
            "every contact closed", lambda: rdb.hlen(keys.closed) == 200, timeout=180, log=second
        )  # type: ignore[arg-type]
    assert ledger_problems(rdb, keys) == []
    assert double_dials(rdb, keys) == []
    unknown = [r for r in records(rdb, keys) if r["outcome"] == "Unknown"]
    assert unknown, "the killed worker's calls are recorded as Unknown, not dropped"
    assert all(r["reason"] == "lease expired" for r in unknown)


def test_an_esl_drop_is_survived(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    keys = create(api, rdb, operator, namespace, csv_of(numbers(150)), [trunk("gw")])
    # At speed 20, 40 scenario seconds are 2 real seconds into the run.
    scenario = {
        "seed": 4,
        "carriers": {"gw": LONG_CALLS},
        "faults": [{"at": 40, "action": "drop-esl"}],
    }
    with dialing(scenario, namespace, redis_url, tmp_path) as (worker,):
        wait_for(
            "every contact closed", lambda: rdb.hlen(keys.closed) == 150, timeout=180, log=worker
        )  # type: ignore[arg-type]
        _, metrics = get(worker.metrics_port, "/metrics")
    reconnects = re.search(r"^kdial_esl_reconnects_total (\S+)$", metrics, re.M)
    assert reconnects and float(reconnects.group(1)) >= 1
    assert ledger_problems(rdb, keys) == []
    assert double_dials(rdb, keys) == []


def test_sigterm_drains_and_probes_tell_the_truth(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    keys = create(api, rdb, operator, namespace, csv_of(numbers(100)), [trunk("gw")])
    scenario = {"seed": 8, "carriers": {"gw": LONG_CALLS}}
    with dialing(scenario, namespace, redis_url, tmp_path, KDIAL_DRAIN_SECONDS="3") as (worker,):
        wait_for("calls in flight", lambda: rdb.hlen(keys.inflight) >= 5, log=worker)  # type: ignore[arg-type]
        assert get(worker.metrics_port, "/healthz")[0] == 200
        assert get(worker.metrics_port, "/readyz")[0] == 200
        status, metrics = get(worker.metrics_port, "/metrics")
        assert status == 200 and "kdial_calls_active" in metrics
        assert not UNMASKED.search(metrics), "no callee number anywhere in the metrics"
        assert worker.stop(signal.SIGTERM, timeout=30) == 0
        assert rdb.hlen(keys.inflight) == 0, "a drained worker holds no contact"
        assert rdb.zcard(keys.leases) == 0
    assert ledger_problems(rdb, keys) == []
