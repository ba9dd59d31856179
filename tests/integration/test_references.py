"""References: missing, not Ready, late-arriving, fixed, and never across namespaces."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import kopf
import pytest

from kdial_local.apiserver import KubeServer
from kdial_operator.campaign_reconcile import SECRETS_RECHECK_SECONDS, Recall, missing_secret
from kdial_operator.kube import Kube
from kdial_operator.settings import OperatorSettings
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.world import (
    CALLER_ID_POOL,
    TRUNK_POOL,
    campaign_spec,
    contact_list,
    numbers,
    world,
)


def ready(api: Api, name: str = "promo") -> dict[str, str]:
    return api.condition("campaigns", name, "Ready") or {}


def ready_when(
    api: Api, wanted: Callable[[dict[str, Any]], bool]
) -> Callable[[], dict[str, Any] | None]:
    """A probe for `wait_for`: Campaign `promo`'s Ready condition once `wanted` holds of it."""

    def probe() -> dict[str, Any] | None:
        condition = ready(api)
        return condition if wanted(condition) else None

    return probe


def test_missing_references_then_late_arrival(api: Api, operator: OperatorProcess) -> None:
    api.create("campaigns", "promo", campaign_spec(), "Campaign")
    cond = wait_for(
        "ReferenceNotFound",
        ready_when(api, lambda c: c.get("reason") == "ReferenceNotFound"),
        log=operator,
    )
    assert cond["status"] == "False"
    assert "ContactList 'leads' not found" in cond["message"]
    assert api.deployment("kdial-worker-promo") is None

    contact_list(api, "leads", numbers(4))
    wait_for(
        "next missing: the TrunkPool",
        lambda: "TrunkPool 'lines' not found" in ready(api).get("message", ""),
        log=operator,
    )
    api.create("trunkpools", "lines", TRUNK_POOL, "TrunkPool")
    wait_for(
        "next missing: the CallerIdPool",
        lambda: "CallerIdPool 'ids' not found" in ready(api).get("message", ""),
        log=operator,
    )
    api.create("calleridpools", "ids", CALLER_ID_POOL, "CallerIdPool")

    wait_for("Ready without a restart", lambda: ready(api).get("status") == "True", log=operator)
    wait_for(
        "contacts taken",
        lambda: (api.get("campaigns", "promo") or {})["status"]["progress"]["total"] == 4,
        log=operator,
    )


def test_a_secret_worker_pods_read_missing_from_the_namespace_blocks_until_it_arrives(
    api: Api, operator: OperatorProcess, namespace: str
) -> None:
    # As in a cluster-wide install, where the chart writes the Secret only where it is told.
    api.core.delete_namespaced_secret("kdial-esl", namespace)
    world(api, numbers(2))
    api.create("campaigns", "promo", campaign_spec(), "Campaign")
    cond = wait_for(
        "SecretNotFound",
        ready_when(api, lambda c: c.get("reason") == "SecretNotFound"),
        log=operator,
    )
    assert cond["status"] == "False"
    assert "Secret 'kdial-esl' with key 'password'" in cond["message"]
    assert f"not found in namespace {namespace!r}" in cond["message"]
    assert "watchNamespaces" in cond["message"], "the message says how to fix it"
    assert api.deployment("kdial-worker-promo") is None, "no pods that could not start"

    api.secret("kdial-esl", {"password": "s3cr3t-pw"})
    wait_for("Ready once the Secret is there", lambda: ready(api).get("status") == "True")
    wait_for("the workers", lambda: api.deployment("kdial-worker-promo"), log=operator)
    seen = json.dumps(api.get("campaigns", "promo")) + operator.log.read_text("utf-8")
    assert "s3cr3t-pw" not in seen + json.dumps(api.events("promo"))


def test_each_new_cause_of_waiting_is_an_event(
    api: Api, operator: OperatorProcess, namespace: str
) -> None:
    """`kubectl describe` shows what holds the campaign now, not the first thing that did."""
    api.core.delete_namespaced_secret("kdial-esl", namespace)
    api.create("campaigns", "promo", campaign_spec(), "Campaign")

    def warnings() -> list[str]:
        return [e["message"] for e in api.events("promo") if e["type"] == "Warning"]

    wait_for(
        "an Event: the ContactList is missing",
        lambda: any("ContactList 'leads' not found" in m for m in warnings()),
        log=operator,
    )
    world(api, numbers(2))
    wait_for(
        "an Event: now the Secret is missing",
        lambda: any("Secret 'kdial-esl' with key 'password'" in m for m in warnings()),
        log=operator,
    )
    assert ready(api)["reason"] == "SecretNotFound"
    assert (api.get("campaigns", "promo") or {})["status"]["summary"] == "Waiting"


async def test_the_secrets_are_looked_up_again_a_while_after_they_were_found(
    api: Api, namespace: str
) -> None:
    memo = kopf.Memo(settings=OperatorSettings(), kube=Kube(api.api))
    recall = Recall()
    assert await missing_secret(memo, namespace, recall) is None  # the fixture wrote it
    api.core.delete_namespaced_secret("kdial-esl", namespace)
    assert await missing_secret(memo, namespace, recall) is None, "not on every pass"

    assert recall.secrets_found_at is not None
    recall.secrets_found_at -= SECRETS_RECHECK_SECONDS
    blocker = await missing_secret(memo, namespace, recall)
    assert blocker is not None and blocker.reason == "SecretNotFound"
    again = await missing_secret(memo, namespace, recall)
    assert again is not None, "a missing Secret is looked for on every pass"


async def test_a_secret_the_operator_may_not_read_does_not_stop_a_campaign(
    api: Api, namespace: str, kube: KubeServer, caplog: pytest.LogCaptureFixture
) -> None:
    # RBAC from before the operator read Secrets: an API server answers 403.
    kube.emu[f"get /api/v1/namespaces/{namespace}/secrets/kdial-esl"] << 403
    memo = kopf.Memo(settings=OperatorSettings(), kube=Kube(api.api))
    recall = Recall()
    assert await missing_secret(memo, namespace, recall) is None
    assert "may not read Secret 'kdial-esl'" in caplog.text
    assert recall.secrets_found_at is not None, "and not asked again on every pass"


def test_referent_not_ready_then_fixed(api: Api, operator: OperatorProcess) -> None:
    contact_list(api, "leads", numbers(2))
    broken = {
        "trunks": [
            {
                "name": "a",
                "gateway": {"proxy": "a.example"},
                "sipUri": "also.example",
                "maxConcurrentCalls": 1,
                "maxCallsPerSecond": 1,
            }
        ]
    }
    api.create("trunkpools", "lines", broken, "TrunkPool")
    api.create("calleridpools", "ids", CALLER_ID_POOL, "CallerIdPool")
    api.create("campaigns", "promo", campaign_spec(), "Campaign")

    cond = wait_for(
        "the TrunkPool named as not Ready",
        ready_when(api, lambda c: "TrunkPool 'lines' is not Ready" in c.get("message", "")),
        log=operator,
    )
    assert cond["reason"] == "ReferenceNotReady"
    assert "set exactly one of gateway and sipUri" in cond["message"]

    api.patch_spec("trunkpools", "lines", {"trunks": TRUNK_POOL["trunks"]})
    wait_for(
        "Ready once the pool is fixed", lambda: ready(api).get("status") == "True", log=operator
    )


def test_suppression_reference_must_be_a_suppress_list(api: Api, operator: OperatorProcess) -> None:
    contact_list(api, "leads", numbers(2))
    contact_list(api, "other", numbers(2, start=50))
    api.create("trunkpools", "lines", TRUNK_POOL, "TrunkPool")
    api.create("calleridpools", "ids", CALLER_ID_POOL, "CallerIdPool")
    api.create(
        "campaigns", "promo", campaign_spec(suppressionListRefs=[{"name": "other"}]), "Campaign"
    )
    cond = wait_for(
        "ReferenceInvalid",
        ready_when(api, lambda c: c.get("reason") == "ReferenceInvalid"),
        log=operator,
    )
    assert "ContactList 'other' has purpose Dial, expected Suppress" in cond["message"]


def test_references_stay_in_the_namespace(
    api: Api, operator: OperatorProcess, kube: object, namespace: str
) -> None:
    elsewhere = Api(api.api.configuration.host, f"{namespace}-other")
    contact_list(elsewhere, "leads", numbers(2))
    elsewhere.create("trunkpools", "lines", TRUNK_POOL, "TrunkPool")
    elsewhere.create("calleridpools", "ids", CALLER_ID_POOL, "CallerIdPool")
    api.create("campaigns", "promo", campaign_spec(), "Campaign")
    cond = wait_for(
        "ReferenceNotFound",
        ready_when(api, lambda c: c.get("reason") == "ReferenceNotFound"),
        log=operator,
    )
    assert f"not found in namespace {namespace!r}" in cond["message"]
