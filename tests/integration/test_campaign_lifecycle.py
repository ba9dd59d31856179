"""A campaign from creation to deletion, with the operator as a real process over HTTP."""

from __future__ import annotations

import json
from typing import Any

import kopf
import pytest
import redis
import redis.asyncio

from kdial.api.campaign import CampaignSpec
from kdial.state.keys import CampaignKeys, ListKeys
from kdial_operator.campaign_reconcile import Observed, Recall, sync_dataplane, workers
from kdial_operator.dataplane import in_sample
from kdial_operator.kube import Kube
from kdial_operator.settings import OperatorSettings
from kdial_worker import ledger
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import records
from tests.support.world import campaign_spec, numbers, world

pytestmark = pytest.mark.integration

DEPLOYMENT = "kdial-worker-promo"


def status(api: Api, name: str = "promo") -> dict[str, Any]:
    return dict((api.get("campaigns", name) or {}).get("status") or {})


def replicas(api: Api) -> int | None:
    deployment = api.deployment(DEPLOYMENT)
    return None if deployment is None else int(deployment["spec"]["replicas"])


def close_all(rdb: redis.Redis, keys: CampaignKeys, outcome: str = "AnsweredHuman") -> int:
    """Plays the workers: claims every due contact and closes it."""
    epoch = ledger.epoch(rdb, keys)
    assert epoch, "the operator should have created the campaign's epoch"
    closed = 0
    while claims := ledger.claim(rdb, keys, epoch, limit=50, lease_ms=30_000):
        for claim in claims:
            ending = ledger.Ending(outcome, close=True, counters=("attempts", "answered"))
            assert ledger.complete(rdb, keys, claim.attempt, ending)
            closed += 1
    return closed


def test_create_pause_resume_complete_delete(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    world(api, numbers(20))
    api.create("campaigns", "promo", campaign_spec(), "Campaign")
    keys = CampaignKeys(namespace, "promo")

    wait_for(
        "Ready=True",
        lambda: (api.condition("campaigns", "promo", "Ready") or {}).get("status") == "True",
        log=operator,
    )
    assert wait_for(
        "20 contacts taken", lambda: status(api)["progress"]["total"] == 20, log=operator
    )
    # 20 due, cap 10 concurrent, 100 calls per worker -> one worker (bounds 0..3).
    assert wait_for("a worker Deployment", lambda: replicas(api) == 1, log=operator)
    assert status(api)["summary"] == "Starting"
    api.set_ready_replicas(DEPLOYMENT, 1)
    wait_for("Dialing", lambda: status(api)["summary"] == "Dialing", log=operator)
    config = json.loads(rdb.get(keys.config) or "{}")
    assert config["content"]["dialing"] is True
    assert config["content"]["campaign"] == f"{namespace}/promo"
    assert config["content"]["spec"]["trunkPoolRefs"] == [{"name": "lines"}]

    api.patch_spec("campaigns", "promo", {"state": "Paused"})
    wait_for("Paused", lambda: status(api)["summary"] == "Paused", log=operator)
    assert wait_for("workers drained to zero", lambda: replicas(api) == 0, log=operator) is True
    assert json.loads(rdb.get(keys.config) or "{}")["content"]["dialing"] is False

    api.patch_spec("campaigns", "promo", {"state": "Running"})
    assert wait_for("workers back", lambda: replicas(api) == 1, log=operator)

    assert close_all(rdb, keys) == 20
    wait_for("Completed", lambda: status(api)["summary"] == "Completed", log=operator)
    done = api.condition("campaigns", "promo", "Completed") or {}
    assert done["status"] == "True" and done["reason"] == "AllContactsClosed"
    assert status(api)["progress"] == {
        "total": 20,
        "pending": 0,
        "inFlight": 0,
        "closed": 20,
        "summary": "20/20 (100%)",
    }
    assert status(api)["toDate"]["asr"] == "100.0%"
    assert wait_for("workers released", lambda: replicas(api) == 0, log=operator) is True
    events = wait_for(
        "an Event for each change of summary",
        lambda: (
            {"Dialing", "Paused", "Completed"} <= {e["reason"] for e in api.events("promo")}
            and api.events("promo")
        ),
        log=operator,
    )
    # `From:` in `kubectl describe`: kdial's operator, not the framework it is built on.
    assert {e["source"]["component"] for e in events} == {"kdial-operator"}
    assert {e["reportingComponent"] for e in events} == {"kdial-operator"}

    api.delete("campaigns", "promo")
    wait_for("campaign gone", lambda: api.get("campaigns", "promo") is None, log=operator)
    assert api.deployment(DEPLOYMENT) is None
    assert list(rdb.scan_iter(match=keys.pattern)) == []


def test_worker_deployment_content(api: Api, operator: OperatorProcess, namespace: str) -> None:
    world(api, numbers(3))
    created = api.create("campaigns", "promo", campaign_spec(), "Campaign")
    deployment = wait_for("a worker Deployment", lambda: api.deployment(DEPLOYMENT), log=operator)

    owner = deployment["metadata"]["ownerReferences"][0]
    assert owner == {
        "apiVersion": "kdial.io/v1alpha1",
        "kind": "Campaign",
        "name": "promo",
        "uid": created["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["terminationGracePeriodSeconds"] == 120
    assert [c["name"] for c in pod["containers"]] == ["dialer", "freeswitch"]
    dialer = pod["containers"][0]
    assert dialer["args"] == ["worker", "--campaign", f"{namespace}/promo"]
    env = {e["name"]: e for e in dialer["env"]}
    assert env["KDIAL_ESL_HOST"]["value"] == "127.0.0.1"
    assert env["KDIAL_ESL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "kdial-esl",
        "key": "password",
    }
    assert dialer["readinessProbe"]["httpGet"]["path"] == "/readyz"
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["metadata"]["labels"] == selector
    assert selector["kdial.io/campaign"] == "promo"


def test_stopped_removes_workers_and_keeps_contacts(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    world(api, numbers(5))
    api.create("campaigns", "promo", campaign_spec(), "Campaign")
    wait_for("a worker Deployment", lambda: api.deployment(DEPLOYMENT), log=operator)
    api.patch_spec("campaigns", "promo", {"state": "Stopped"})
    wait_for("Stopped", lambda: status(api)["summary"] == "Stopped", log=operator)
    wait_for("Deployment removed", lambda: api.deployment(DEPLOYMENT) is None, log=operator)
    assert rdb.zcard(CampaignKeys(namespace, "promo").due) == 5


def test_an_emptied_redis_stops_dialing_instead_of_starting_over(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    world(api, numbers(6))
    api.create("campaigns", "promo", campaign_spec(), "Campaign")
    keys = CampaignKeys(namespace, "promo")
    wait_for("seeded", lambda: status(api).get("progress", {}).get("total") == 6, log=operator)
    wait_for("a worker", lambda: replicas(api) == 1, log=operator)

    rdb.delete(*list(rdb.scan_iter(match=keys.pattern)))  # a Redis restarted without its AOF

    wait_for("Degraded", lambda: status(api).get("summary") == "Degraded", log=operator)
    cond = api.condition("campaigns", "promo", "Degraded") or {}
    assert cond["status"] == "True" and cond["reason"] == "StateLost"
    assert wait_for("workers stopped", lambda: replicas(api) == 0, log=operator) is True
    assert rdb.scard(keys.known) == 0, "the list is not taken again from the start"
    assert json.loads(rdb.get(keys.config) or "{}")["content"]["dialing"] is False


async def test_a_pass_remembers_a_lost_state_its_status_does_not_show_yet(
    redis_url: str, namespace: str
) -> None:
    """The daemon's copy of status may lag its own patch: Redis emptied in between must still
    read as lost state, and the list must not be taken again from the start."""
    rdb = redis.asyncio.from_url(redis_url, decode_responses=True)
    keys = CampaignKeys(namespace, "promo")
    contacts = ListKeys(namespace, "leads")
    await rdb.hset(contacts.contacts, mapping={f"id{i}": "{}" for i in range(3)})
    await rdb.set(contacts.version, 1)
    spec = CampaignSpec.model_validate(campaign_spec())
    recall = Recall()

    first = Observed(spec, None)
    await sync_dataplane(rdb, keys, spec, first, recall)
    assert not first.lost and await rdb.scard(keys.known) == 3 and recall.known_total == 3

    await rdb.delete(*[k async for k in rdb.scan_iter(match=keys.pattern)])
    again = Observed(spec, None)
    await sync_dataplane(rdb, keys, spec, again, recall)  # status still shows no progress
    assert again.lost and await rdb.scard(keys.known) == 0
    assert json.loads(await rdb.get(keys.config) or "{}")["content"]["dialing"] is False

    # Control: an operator that never saw the campaign hold contacts takes the list afresh.
    fresh = Observed(spec, None)
    await sync_dataplane(rdb, keys, spec, fresh, Recall())
    assert not fresh.lost and await rdb.scard(keys.known) == 3
    await rdb.aclose()


async def test_a_refused_worker_deployment_is_reported_not_raised(api: Api, namespace: str) -> None:
    """A write the API server refuses must not abort the pass before it writes status."""
    memo = kopf.Memo(settings=OperatorSettings(), kube=Kube(api.api))
    # No uid: the owner reference the manifest carries lacks its key, and the API server refuses.
    body = kopf.Body({"metadata": {"name": "promo", "namespace": namespace}, "spec": {}})
    spec = CampaignSpec.model_validate(campaign_spec())

    ready, refused = await workers(body, memo, spec, 1, remove=False)

    assert ready == 0
    assert refused is not None
    assert refused.startswith(
        "the API server refused the worker Deployment 'kdial-worker-promo': 422 Invalid: "
    )
    assert "uid" in refused
    assert api.deployment(DEPLOYMENT) is None


async def test_a_trial_too_small_to_draw_anyone_still_dials_one_contact(
    redis_url: str, namespace: str
) -> None:
    """A 5% trial of a 4-contact list: an operator expects a trial call, not an empty sample
    that reads as an empty list."""
    rdb = redis.asyncio.from_url(redis_url, decode_responses=True)
    four = ["id0", "id1", "id2", "id4"]
    assert not any(in_sample(i, 5) for i in four), "a 5% sample of these draws no one"

    async def trial_of(contacts: list[str], name: str) -> set[str]:
        """What a campaign `name`'s 5% trial of list `name` holding `contacts` takes."""
        source = ListKeys(namespace, name)
        await rdb.hset(source.contacts, mapping=dict.fromkeys(contacts, "{}"))
        await rdb.set(source.version, 1)
        trial = campaign_spec(trial={"samplePercent": 5}, contactListRef={"name": name})
        spec = CampaignSpec.model_validate(trial)
        keys = CampaignKeys(namespace, name)
        await sync_dataplane(rdb, keys, spec, Observed(spec, None), Recall())
        return set(await rdb.smembers(keys.known))

    assert await trial_of(four, "short") == {"id0"}, "the one any wider sample takes first"
    # A sample that draws someone takes only what it draws.
    assert await trial_of([*four, "id3"], "drawn") == {"id3"}
    await rdb.aclose()


@pytest.mark.parametrize("mode", ["Predictive", "Progressive", "Preview"])
def test_a_campaign_whose_mode_needs_agents_dials_nothing(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str, mode: str
) -> None:
    """kdial has no agents yet: answered callees would be left in silence, so it does not dial."""
    world(api, numbers(5))
    spec = campaign_spec(mode=mode, pacing={"maxConcurrency": 10, "maxDialRatio": "2"})
    del spec["destination"]
    api.create("campaigns", "promo", spec, "Campaign")
    keys = CampaignKeys(namespace, "promo")

    cond = wait_for(
        "AgentsUnavailable",
        lambda: (
            (c := api.condition("campaigns", "promo", "Ready") or {}).get("reason")
            == "AgentsUnavailable"
            and c
        ),
        log=operator,
    )
    assert cond["status"] == "False"
    assert f"mode {mode} hands answered calls to agents" in cond["message"]
    assert "Only mode Agentless with a destination" in cond["message"], "says what dials today"
    assert status(api)["summary"] == "Waiting"
    warned = wait_for("an Event", lambda: api.events("promo"), log=operator)
    assert any(cond["message"] == e["message"] and e["type"] == "Warning" for e in warned)
    assert api.deployment(DEPLOYMENT) is None, "no workers"
    assert rdb.scard(keys.known) == 0 and rdb.zcard(keys.due) == 0, "no contacts to dial"
    assert records(rdb, keys) == []

    api.patch_spec("campaigns", "promo", {"mode": "Agentless", "destination": {"extension": "9"}})
    wait_for("Ready once Agentless", lambda: status(api)["summary"] != "Waiting", log=operator)
    wait_for("the workers", lambda: api.deployment(DEPLOYMENT), log=operator)
