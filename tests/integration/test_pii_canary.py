"""A campaign dialled end to end with canary numbers (a list, a rejected row, a do-not-call
entry), then every place a person or a monitoring system reads is searched for them: the
operator's and the workers' logs, Events, the status of every object, and both metrics
endpoints. Seven digits of a canary in a row anywhere is a leak."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import redis

from kdial_local.processes import free_port
from tests.support.dialing import carrier, create, dialing, trunk
from tests.support.operator import Api, OperatorProcess, wait_for

#: Callees (139 1725 xxxx), a row the import rejects, and a do-not-call entry.
CALLEES = [f"1391725{n:04d}" for n in range(1, 41)]
REJECTED = "1391725999"  # ten digits: not a mobile, rejected with its (masked) number
SUPPRESSED = CALLEES[0]
_WINDOWS = {c[i : i + 7] for c in [*CALLEES, REJECTED] for i in range(len(c) - 6)}
SCENARIO = {
    "seed": 5,
    "carriers": {"carrier-a": carrier(failures={"busy": 2, "rejected": 1, "lineFailure": 1})},
    "callees": {"invalid": 0.05, "machine": 0.1, "machineRingSeconds": 1},
}


def leaks(where: str, text: str) -> list[str]:
    digits = re.sub(r"[\s+\-]", "", text)
    found = sorted(w for w in _WINDOWS if w in digits)
    return [f"{where}: {w}" for w in found]


def scrape(port: int) -> str:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def test_no_canary_number_shows_anywhere_a_person_or_prometheus_reads(
    api: Api, kubeconfig: Path, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    metrics = free_port()
    operator = OperatorProcess(
        kubeconfig,
        redis_url,
        tmp_path / "operator.log",
        "--standalone",
        f"--namespace={namespace}",
        f"--liveness=http://127.0.0.1:{free_port()}/healthz",
        KDIAL_METRICS_PORT=str(metrics),
    ).start()
    rdb = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        api.config_map("dnc-source", {"dnc.csv": f"phone\n{SUPPRESSED}\n"})
        api.create(
            "contactlists",
            "dnc",
            {
                "purpose": "Suppress",
                "source": {"configMap": {"name": "dnc-source", "key": "dnc.csv"}},
                "defaultRegion": "CN",
            },
            "ContactList",
        )
        keys = create(
            api,
            rdb,
            operator,
            namespace,
            "phone\n" + "".join(f"{n}\n" for n in [*CALLEES, REJECTED]),
            [trunk("carrier-a", concurrent=10, cps=40)],
            suppressionListRefs=[{"name": "dnc"}],
            retry={"closure": {"maxAttempts": 1}},
        )
        with dialing(SCENARIO, namespace, redis_url, tmp_path) as workers:
            wait_for(
                "every contact closed",
                lambda: rdb.hlen(keys.closed) == len(CALLEES),
                timeout=180,
                log=operator,
            )
            worker_metrics = scrape(workers[0].metrics_port)
        wait_for(
            "the campaign's status counted every call",
            lambda: (
                (api.get("campaigns", "promo") or {})
                .get("status", {})
                .get("progress", {})
                .get("closed")
                == len(CALLEES)
            ),
            log=operator,
        )
        operator_metrics = scrape(metrics)
    finally:
        operator.stop()

    listed = api.get("contactlists", "leads") or {}
    assert listed["status"]["counts"]["rejected"] == 1, "the canary row was rejected and counted"
    found = leaks("operator log", operator.log.read_text("utf-8", "replace"))
    for log in sorted(tmp_path.glob("w*.log")):
        found += leaks(log.name, log.read_text("utf-8", "replace"))
    for plural, name in [
        ("contactlists", "leads"),
        ("contactlists", "dnc"),
        ("trunkpools", "lines"),
        ("calleridpools", "ids"),
        ("campaigns", "promo"),
    ]:
        found += leaks(
            f"{plural}/{name} status", json.dumps((api.get(plural, name) or {})["status"])
        )
        found += leaks(f"{plural}/{name} Events", json.dumps(api.events(name)))
    found += leaks("worker metrics", worker_metrics)
    found += leaks("operator metrics", operator_metrics)
    assert found == []
