"""The operator as a process: restarts, scaling with load, liveness, and peering."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from urllib3 import HTTPResponse

from kdial.outcomes import Outcome
from kdial.state.keys import CampaignKeys
from kdial_local.apiserver import KubeServer
from kdial_local.processes import free_port
from kdial_worker import ledger
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.world import campaign_spec, numbers, world


def status(api: Api, name: str = "promo") -> dict[str, Any]:
    return dict((api.get("campaigns", name) or {}).get("status") or {})


def replicas(api: Api) -> int | None:
    deployment = api.deployment("kdial-worker-promo")
    return None if deployment is None else int(deployment["spec"]["replicas"])


def test_restart_resumes_without_duplicating_anything(
    api: Api,
    operator: OperatorProcess,
    kube: KubeServer,
    rdb: redis.Redis,
    namespace: str,
) -> None:
    world(api, numbers(12))
    api.create("campaigns", "promo", campaign_spec(), "Campaign")
    wait_for(
        "Ready and seeded", lambda: status(api).get("progress", {}).get("total") == 12, log=operator
    )
    wait_for("a worker", lambda: replicas(api) == 1, log=operator)
    keys = CampaignKeys(namespace, "promo")
    config_before = rdb.get(keys.config)
    epoch_before = rdb.get(keys.epoch)

    operator.stop()
    operator.start()
    # The new process acts on a change made after it started...
    api.patch_spec("campaigns", "promo", {"state": "Paused"})
    wait_for("the restarted operator pauses", lambda: replicas(api) == 0, log=operator)
    api.patch_spec("campaigns", "promo", {"state": "Running"})
    wait_for("and resumes", lambda: replicas(api) == 1, log=operator)
    # ...and has neither created anything twice nor started the list over.
    deployments = api.apps.list_namespaced_deployment(namespace, _preload_content=False)
    items = json.loads(cast(HTTPResponse, deployments).data)["items"]
    assert [d["metadata"]["name"] for d in items] == ["kdial-worker-promo"]
    assert rdb.scard(keys.known) == 12
    assert rdb.zcard(keys.due) == 12
    # Pause and resume moved the version twice; the content is what it was.
    assert (
        json.loads(rdb.get(keys.config) or "{}")["content"]
        == json.loads(config_before or "{}")["content"]
    )
    assert rdb.get(keys.epoch) == epoch_before


def test_workers_follow_the_backlog_both_ways(
    kubeconfig: Path, redis_url: str, api: Api, namespace: str, tmp_path: Path, rdb: redis.Redis
) -> None:
    proc = OperatorProcess(
        kubeconfig,
        redis_url,
        tmp_path / "op.log",
        "--standalone",
        f"--namespace={namespace}",
        f"--liveness=http://127.0.0.1:{free_port()}/healthz",
        KDIAL_CALLS_PER_WORKER="2",
    ).start()
    try:
        world(api, numbers(9))
        api.create(
            "campaigns",
            "promo",
            campaign_spec(pacing={"maxConcurrency": 6}, workers={"min": 1, "max": 4}),
            "Campaign",
        )
        # 9 due, cap 6, 2 calls per worker -> 3 workers.
        wait_for("3 workers for 9 due contacts", lambda: replicas(api) == 3, log=proc)
        keys = CampaignKeys(namespace, "promo")
        epoch = ledger.epoch(rdb, keys)
        assert epoch
        claims = ledger.claim(rdb, keys, epoch, limit=6, lease_ms=60_000)
        for claim in claims:
            ledger.complete(
                rdb, keys, claim.attempt, ledger.Ending(Outcome.ANSWERED_HUMAN, close=True)
            )
        # 3 due left -> 2 workers.
        wait_for("2 workers for 3 due contacts", lambda: replicas(api) == 2, log=proc)
        for claim in ledger.claim(rdb, keys, epoch, limit=2, lease_ms=60_000):
            ledger.complete(
                rdb,
                keys,
                claim.attempt,
                ledger.Ending(Outcome.BUSY, close=False, delay_ms=3_600_000),
            )
        # 1 due now, 2 waiting for a retry in an hour -> 1 worker (workers.min keeps it warm).
        wait_for("1 worker for 1 due contact", lambda: replicas(api) == 1, log=proc)
        assert status(api)["progress"]["pending"] == 3
    finally:
        proc.stop()


def test_contact_list_import_counts_and_masks(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    csv = (
        "phone,name,age\n"
        "13800001111,Ann,30\n"
        "138 0000 2222,Bo,41\n"
        "13800001111,Ann again,30\n"  # duplicate of row 1
        "12345,Cy,22\n"  # not a number
        "13800003333,Di,old\n"  # age is not an integer
        "13800004444,,50\n"  # name is required
        "13800005555,=cmd|' /C calc'!A0,33\n"  # a formula only in a spreadsheet: kept
        '13800006666,"Fay,27\n'  # a quote that never closes: this row only
    )
    api.config_map("src", {"list.csv": csv})
    api.create(
        "contactlists",
        "leads",
        {
            "source": {"configMap": {"name": "src", "key": "list.csv"}},
            "defaultRegion": "CN",
            "fields": [{"name": "name", "required": True}, {"name": "age", "type": "Integer"}],
        },
        "ContactList",
    )
    obj = wait_for(
        "imported",
        lambda: (
            (api.get("contactlists", "leads") or {}).get("status", {}).get("counts")
            and api.get("contactlists", "leads")
        ),
        log=operator,
    )
    st = obj["status"]
    assert st["counts"] == {"read": 8, "imported": 3, "rejected": 4, "duplicates": 1}
    reasons = {r["row"]: r["reason"] for r in st["firstRejected"]}
    assert reasons[5] == "WrongType:age"
    assert reasons[6] == "MissingField:name"
    assert 7 not in reasons
    assert st["firstRejected"][-1] == {
        "row": 8,
        "number": "",
        "reason": "UnbalancedQuote",
        "line": 9,
    }
    assert reasons[4].startswith("InvalidNumber")
    shown = json.dumps(st) + json.dumps(api.events("leads"))
    for raw in ("13800003333", "13800004444"):
        assert raw not in shown, "numbers in status and events must be masked"
    assert "138****3333" in shown
    ready = api.condition("contactlists", "leads", "Ready") or {}
    assert ready["status"] == "True"
    stored = rdb.hgetall(f"kdial:{{l:{namespace}/leads}}:contacts")
    assert sorted(json.loads(v)["number"] for v in stored.values()) == [
        "+8613800001111",
        "+8613800002222",
        "+8613800005555",
    ]


def test_contact_list_waits_for_its_configmap(api: Api, operator: OperatorProcess) -> None:
    api.create(
        "contactlists",
        "late",
        {"source": {"configMap": {"name": "later", "key": "l.csv"}}, "defaultRegion": "CN"},
        "ContactList",
    )
    cond = wait_for(
        "SourceNotFound",
        lambda: (
            (api.condition("contactlists", "late", "Ready") or {}).get("reason") == "SourceNotFound"
            and api.condition("contactlists", "late", "Ready")
        ),
        log=operator,
    )
    assert "ConfigMap 'later' with key 'l.csv' not found" in cond["message"]
    api.config_map("later", {"l.csv": "phone\n13800009999\n"})
    wait_for(
        "imported once the ConfigMap exists",
        lambda: (api.condition("contactlists", "late", "Ready") or {}).get("status") == "True",
        log=operator,
    )


def test_liveness_endpoint(
    kubeconfig: Path, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    port = free_port()
    proc = OperatorProcess(
        kubeconfig,
        redis_url,
        tmp_path / "op.log",
        "--standalone",
        f"--namespace={namespace}",
        f"--liveness=http://127.0.0.1:{port}/healthz",
    ).start()
    try:

        def probe() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                return bool(response.status == 200)

        assert wait_for("/healthz answers 200", lambda: _quietly(probe), log=proc)
    finally:
        proc.stop()


def _quietly(probe: Any) -> Any:
    try:
        return probe()
    except OSError:
        return None


def test_a_second_operator_freezes_instead_of_acting_twice(
    kubeconfig: Path, redis_url: str, api: Api, namespace: str, tmp_path: Path
) -> None:
    api.custom.create_namespaced_custom_object(
        "kopf.dev",
        "v1",
        namespace,
        "kopfpeerings",
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "kdial"}},
    )

    def operator_process(log: str) -> OperatorProcess:
        return OperatorProcess(
            kubeconfig,
            redis_url,
            tmp_path / log,
            f"--namespace={namespace}",
            f"--liveness=http://127.0.0.1:{free_port()}/healthz",
        )

    first = operator_process("first.log").start()
    second = operator_process("second.log")
    try:
        world(api, numbers(3))
        api.create("campaigns", "promo", campaign_spec(), "Campaign")
        wait_for("the only operator acts", lambda: replicas(api) == 1, log=first)
        second.start()
        wait_for(
            "both operators see each other and pause",
            # The newcomer starts paused and stays so; the first one pauses when it sees it.
            lambda: (
                "Pausing all operators, including self" in first.tail(400)
                and "Possibly conflicting operators with the same priority" in second.tail(400)
            ),
            log=second,
        )
        api.create("campaigns", "other", campaign_spec(), "Campaign")
        with pytest.raises(AssertionError, match="timed out"):
            wait_for(
                "anyone acting on the new campaign",
                lambda: status(api, "other") or api.deployment("kdial-worker-other"),
                timeout=5,
            )
    finally:
        second.stop()
        first.stop()


def test_status_is_served_as_metrics(
    kubeconfig: Path, redis_url: str, api: Api, namespace: str, tmp_path: Path
) -> None:
    """What the chart's alerts read: conditions and trunk states, one series per value."""
    port = free_port()
    proc = OperatorProcess(
        kubeconfig,
        redis_url,
        tmp_path / "op.log",
        "--standalone",
        f"--namespace={namespace}",
        f"--liveness=http://127.0.0.1:{free_port()}/healthz",
        KDIAL_METRICS_PORT=str(port),
    ).start()
    try:
        world(api, numbers(3))
        api.create(
            "campaigns",
            "promo",
            campaign_spec(pacing={"maxConcurrency": 10, "maxAbandonPercent": 2}),
            "Campaign",
        )

        def scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as page:
                    text = page.read().decode()
            except OSError:
                return {}  # not serving yet
            return {
                (s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }

        def value(name: str, **labels: str) -> float | None:
            return scrape().get((name, frozenset(labels.items())))

        campaign = f"{namespace}/promo"
        wait_for(
            "campaign Ready in the metrics",
            lambda: (
                value(
                    "kdial_campaign_condition", campaign=campaign, condition="Ready", status="True"
                )
                == 1
            ),
        )
        assert (
            value("kdial_campaign_condition", campaign=campaign, condition="Ready", status="False")
            == 0
        )
        assert value("kdial_campaign_max_abandon_ratio", campaign=campaign) == 0.02
        wait_for(
            "the list's 3 contacts pending in the metrics",
            lambda: value("kdial_campaign_contacts", campaign=campaign, state="pending") == 3,
        )
        for state in ("inFlight", "closed"):
            assert value("kdial_campaign_contacts", campaign=campaign, state=state) == 0, state
        for reason in ("window", "retry", "cap", "trunk", "held"):
            assert value("kdial_campaign_waiting_contacts", campaign=campaign, reason=reason) == 0
        # The metrics follow every status write; the log does not.
        assert "Handler 'campaign_metrics' succeeded" not in proc.tail(10_000)
        pool = f"{namespace}/lines"
        for trunk in ("carrier-a", "carrier-b"):
            assert value("kdial_trunk_state", trunkpool=pool, trunk=trunk, state="Healthy") == 1
            assert value("kdial_trunk_state", trunkpool=pool, trunk=trunk, state="Ejected") == 0
            assert (value("kdial_trunk_weight", trunkpool=pool, trunk=trunk) or 0) > 0
        lists = f"{namespace}/leads"
        assert (
            value(
                "kdial_contactlist_condition", contactlist=lists, condition="Ready", status="True"
            )
            == 1
        )
        assert "Handler 'contactlist_metrics' succeeded" not in proc.tail(10_000)

        api.delete("campaigns", "promo")
        wait_for(
            "the campaign's series gone",
            lambda: all(("campaign", campaign) not in labels for _, labels in scrape()),
        )
    finally:
        proc.stop()
