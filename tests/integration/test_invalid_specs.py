"""Invalid specs of every kind become Ready=False with a message naming the field; nothing dials.

The emulated API server does not apply the CRD schema, which makes this the operator's own
check: exactly what protects a cluster whose API server let something through.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from kdial.state.keys import CampaignKeys
from kdial_local.apiserver import KubeServer
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.world import campaign_spec, numbers, world

INVALID: list[tuple[str, str, dict[str, Any], str]] = [
    ("campaigns", "Campaign", campaign_spec(mode="predictive"), "spec.mode"),
    (
        "campaigns",
        "Campaign",
        campaign_spec(destination=None),
        "an Agentless campaign needs destination",
    ),
    (
        "campaigns",
        "Campaign",
        campaign_spec(workers={"min": 5, "max": 2}),
        "spec.workers.min: min must not exceed max",
    ),
    (
        "campaigns",
        "Campaign",
        campaign_spec(schedule={"windows": [{"start": "21:00", "end": "09:00"}]}),
        "spec.schedule.windows[0].end: end must be after start",
    ),
    (
        "trunkpools",
        "TrunkPool",
        {
            "trunks": [
                {
                    "name": "a",
                    "gateway": {"proxy": "a.example", "realm": "$${esl_password}"},
                    "maxConcurrentCalls": 1,
                    "maxCallsPerSecond": 1,
                }
            ]
        },
        "spec.trunks[0].gateway.realm",
    ),
    ("trunkpools", "TrunkPool", {"trunks": []}, "spec.trunks"),
    (
        "calleridpools",
        "CallerIdPool",
        {"numbers": [{"number": "13800000000"}]},
        "spec.numbers[0].number",
    ),
    ("calleridpools", "CallerIdPool", {"numbers": []}, "a pool needs numbers or numbersFrom"),
    (
        "contactlists",
        "ContactList",
        {"source": {}, "defaultRegion": "CN"},
        "set exactly one of configMap and url",
    ),
    (
        "contactlists",
        "ContactList",
        {"source": {"configMap": {"name": "x", "key": "y"}}, "defaultRegion": "China"},
        "spec.defaultRegion",
    ),
]


def warned(api: Api, operator: OperatorProcess, expected: str) -> None:
    """Waits for object `bad`'s Warning Event naming `expected`. kopf posts events from a queue
    of its own: they may trail the status."""
    wait_for(
        "a Warning event naming the field",
        lambda: any(e["type"] == "Warning" and expected in e["message"] for e in api.events("bad")),
        log=operator,
    )


@pytest.mark.parametrize(
    ("plural", "kind", "spec", "expected"), INVALID, ids=[f"{k}-{e}" for _, k, _, e in INVALID]
)
def test_invalid_spec_is_not_ready(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    namespace: str,
    plural: str,
    kind: str,
    spec: dict[str, Any],
    expected: str,
) -> None:
    if plural == "campaigns":
        world(api, numbers(3))
    spec = {k: v for k, v in spec.items() if v is not None}
    api.create(plural, "bad", spec, kind)
    cond = wait_for("Ready=False", lambda: api.condition(plural, "bad", "Ready"), log=operator)
    assert cond["status"] == "False"
    assert cond["reason"] == "InvalidSpec"
    assert expected in cond["message"]
    warned(api, operator, expected)
    if plural == "campaigns":
        assert (api.get(plural, "bad") or {})["status"]["summary"] == "Invalid"
        assert api.deployment("kdial-worker-bad") is None
        assert rdb.get(CampaignKeys(namespace, "bad").config) is None


#: One invalid spec per kind whose daemon patches its status.
LOST_REPLY = [INVALID[2], INVALID[5], INVALID[6]]


@pytest.mark.parametrize(
    ("plural", "kind", "spec", "expected"), LOST_REPLY, ids=[k for _, k, _, _ in LOST_REPLY]
)
def test_the_warning_survives_a_lost_status_reply(
    kube: KubeServer,
    api: Api,
    operator: OperatorProcess,
    namespace: str,
    plural: str,
    kind: str,
    spec: dict[str, Any],
    expected: str,
) -> None:
    """The API server wrote the Ready=False status but the operator saw a timeout: by the next
    pass the status is already there, and the Warning must come all the same."""
    if plural == "campaigns":
        world(api, numbers(3))
    kube.call(lambda: kube.emu.lose_status_replies(namespace, "bad", 1))
    api.create(plural, "bad", spec, kind)
    cond = wait_for("Ready=False", lambda: api.condition(plural, "bad", "Ready"), log=operator)
    assert expected in cond["message"]
    warned(api, operator, expected)
    assert kube.call(lambda: kube.emu.status_replies_to_lose(namespace, "bad")) == 0


def test_campaign_turning_invalid_halts_its_workers(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    world(api, numbers(3))
    api.create("campaigns", "promo", campaign_spec(), "Campaign")
    wait_for("a worker Deployment", lambda: api.deployment("kdial-worker-promo"), log=operator)
    api.patch_spec("campaigns", "promo", {"workers": {"min": 3, "max": 1}})
    wait_for(
        "Invalid",
        lambda: (api.get("campaigns", "promo") or {})["status"]["summary"] == "Invalid",
        log=operator,
    )
    assert (
        wait_for(
            "scaled to zero",
            lambda: (api.deployment("kdial-worker-promo") or {})["spec"]["replicas"] == 0,
            log=operator,
        )
        is True
    )
    config = json.loads(rdb.get(CampaignKeys(namespace, "promo").config) or "{}")
    assert config["content"]["dialing"] is False
