"""A campaign from creation to deletion, with the operator as a real process over HTTP."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any, cast

import kopf
import redis
import redis.asyncio

from kdial.api.campaign import CampaignSpec
from kdial.outcomes import Outcome
from kdial.privacy import mask_number
from kdial.state.attempt import CallRecord
from kdial.state.keys import CampaignKeys, ListKeys
from kdial_operator import campaign_status, contact_import
from kdial_operator.campaign_reconcile import Observed, Recall, sync_dataplane, workers
from kdial_operator.campaign_status import Facts
from kdial_operator.dataplane import Ledger, in_sample
from kdial_operator.kube import Kube
from kdial_operator.settings import OperatorSettings
from kdial_worker import ledger
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.traces import keys_holding
from tests.support.world import campaign_spec, numbers, world

DEPLOYMENT = "kdial-worker-promo"


def status(api: Api, name: str = "promo") -> dict[str, Any]:
    return dict((api.get("campaigns", name) or {}).get("status") or {})


def replicas(api: Api) -> int | None:
    deployment = api.deployment(DEPLOYMENT)
    return None if deployment is None else int(deployment["spec"]["replicas"])


def close_all(
    rdb: redis.Redis, keys: CampaignKeys, outcome: Outcome = Outcome.ANSWERED_HUMAN
) -> int:
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


def every_summary_announced(api: Api) -> Callable[[], list[dict[str, Any]] | None]:
    """A probe for `wait_for`: Campaign `promo`'s Events once one says each summary."""

    def probe() -> list[dict[str, Any]] | None:
        events = api.events("promo")
        said = {e["reason"] for e in events}
        return events if {"Dialing", "Paused", "Completed"} <= said else None

    return probe


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
        every_summary_announced(api),
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

    budget = wait_for("the workers' budget", lambda: api.disruption_budget(DEPLOYMENT))
    assert budget["spec"] == {"selector": {"matchLabels": selector}, "maxUnavailable": 1}
    assert budget["metadata"]["ownerReferences"] == [owner]


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

    ready, refused = await workers(body, memo, spec, 1, remove=False, recall=Recall())

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
        return cast(set[str], await rdb.smembers(keys.known))

    assert await trial_of(four, "short") == {"id0"}, "the one any wider sample takes first"
    # A sample that draws someone takes only what it draws.
    assert await trial_of([*four, "id3"], "drawn") == {"id3"}
    await rdb.aclose()


def test_deleting_a_campaign_and_its_list_leaves_no_trace_of_the_callees(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    phones = numbers(4, start=778_000)
    masked = [mask_number(f"+86{p}") for p in phones]
    world(api, phones)
    api.create("campaigns", "promo", campaign_spec(), "Campaign")
    keys = CampaignKeys(namespace, "promo")
    wait_for("seeded", lambda: status(api).get("progress", {}).get("total") == 4, log=operator)
    ids = sorted(cast(set[str], rdb.smembers(keys.known)))
    epoch = ledger.epoch(rdb, keys) or ""
    for claim in ledger.claim(rdb, keys, epoch, limit=4, lease_ms=30_000):
        number = json.loads(rdb.hget(ListKeys(namespace, "leads").contacts, claim.contact) or "")
        record = CallRecord(
            number=mask_number(number["number"]),
            trunk="t1",
            caller_id="",
            tags=(),
            worker="w",
            uuid=claim.attempt,
            started_ms=0,
            call_ended_ms=0,
        )
        ending = ledger.Ending(Outcome.BUSY, close=True, counters=("attempts",), record=record)
        assert ledger.complete(rdb, keys, claim.attempt, ending)
    # Masked numbers are not unique to this test: other tests' keys may hold the same masks.
    mine = f":{namespace}/"
    assert [k for k in keys_holding(rdb, masked) if mine in k] == [keys.attempts], "control"

    api.delete("campaigns", "promo")
    wait_for("campaign gone", lambda: api.get("campaigns", "promo") is None, log=operator)
    assert keys_holding(rdb, ids) == [ListKeys(namespace, "leads").contacts]
    assert [k for k in keys_holding(rdb, masked) if mine in k] == []
    api.delete("contactlists", "leads")
    wait_for("list gone", lambda: api.get("contactlists", "leads") is None, log=operator)
    assert keys_holding(rdb, ids + phones) == []


def test_a_completed_campaigns_contact_data_expires_after_its_retention(
    api: Api, operator: OperatorProcess, rdb: redis.Redis, namespace: str
) -> None:
    world(api, numbers(5, start=779_000))
    api.create("campaigns", "promo", campaign_spec(retention={"contactDataDays": 2}), "Campaign")
    keys = CampaignKeys(namespace, "promo")
    wait_for("seeded", lambda: status(api).get("progress", {}).get("total") == 5, log=operator)
    assert all(rdb.ttl(k) == -1 for k in (keys.known, keys.due)), "nothing expires while dialing"

    assert close_all(rdb, keys) == 5
    wait_for("Completed", lambda: status(api)["summary"] == "Completed", log=operator)
    held = [k for k in keys.contact_data if rdb.exists(k)]
    assert {keys.known, keys.closed, keys.contacts, keys.attempts} <= set(held)
    wait_for("every contact key expires", lambda: all(rdb.ttl(k) > 0 for k in held), log=operator)
    for key in held:
        assert 2 * 86_400 - 60 < rdb.ttl(key) <= 2 * 86_400, key
    assert rdb.ttl(keys.totals) == -1 and rdb.ttl(keys.finished) == -1, "counters stay"


async def _pass(rdb: redis.asyncio.Redis, keys: CampaignKeys, spec: CampaignSpec) -> Observed:
    seen = Observed(spec, None)
    await sync_dataplane(rdb, keys, spec, seen, Recall())
    return seen


async def _list(rdb: redis.asyncio.Redis, keys: ListKeys, ids: list[str]) -> None:
    """A list as an import leaves it (contacts, id key, version)."""
    await rdb.hset(keys.contacts, mapping=dict.fromkeys(ids, "{}"))
    await rdb.set(keys.id_key, f"secret-of-{keys.name}")
    await rdb.incr(keys.version)


async def test_a_changed_list_retires_the_old_contacts_and_a_switch_back_keeps_them_closed(
    redis_url: str, rdb: redis.Redis, namespace: str
) -> None:
    """Lists A and B at the same import version (the marker used to hold the version only)."""
    ardb = redis.asyncio.from_url(redis_url, decode_responses=True)
    keys = CampaignKeys(namespace, "promo")
    await _list(ardb, ListKeys(namespace, "a"), ["a1", "a2", "a3"])
    await _list(ardb, ListKeys(namespace, "b"), ["b1", "b2"])
    on_a = CampaignSpec.model_validate(campaign_spec(contactListRef={"name": "a"}))
    on_b = CampaignSpec.model_validate(campaign_spec(contactListRef={"name": "b"}))
    await _pass(ardb, keys, on_a)
    epoch = ledger.epoch(rdb, keys) or ""
    claims = {c.contact: c for c in ledger.claim(rdb, keys, epoch, limit=3, lease_ms=30_000)}
    assert ledger.complete(rdb, keys, claims["a1"].attempt, ledger.Ending(Outcome.BUSY, close=True))
    assert ledger.defer(rdb, keys, claims["a3"].attempt, 0)  # a3 pending, a2 still in a call

    seen = await _pass(ardb, keys, on_b)
    assert seen.ledger is not None
    assert (seen.ledger.total, seen.ledger.pending, seen.ledger.in_flight) == (3, 2, 1)
    assert rdb.zrange(keys.due, 0, -1) == ["b1", "b2"], "A's pending contact is not dialled"
    ending = ledger.Ending(Outcome.ANSWERED_HUMAN, close=True)
    assert ledger.complete(rdb, keys, claims["a2"].attempt, ending)
    seen = await _pass(ardb, keys, on_b)
    assert seen.ledger is not None
    assert (seen.ledger.total, seen.ledger.closed) == (2, 0), "progress counts B alone"
    assert rdb.hgetall(keys.retired) == {"a1": "Busy", "a2": "AnsweredHuman"}
    assert json.loads(rdb.hget(keys.contacts, "a1") or "{}")["attempts"] == 1, "history kept"

    seen = await _pass(ardb, keys, on_a)  # and back
    assert seen.ledger is not None
    assert (seen.ledger.total, seen.ledger.closed, seen.ledger.pending) == (3, 2, 1)
    assert rdb.zrange(keys.due, 0, -1) == ["a3"], "a contact closed before is not called again"
    assert rdb.hgetall(keys.closed) == {"a1": "Busy", "a2": "AnsweredHuman"}
    await ardb.aclose()


async def test_a_campaign_whose_data_expired_stays_completed_and_never_takes_its_list_again(
    redis_url: str, rdb: redis.Redis, namespace: str
) -> None:
    ardb = redis.asyncio.from_url(redis_url, decode_responses=True)
    keys, leads = CampaignKeys(namespace, "promo"), ListKeys(namespace, "leads")
    await _list(ardb, leads, ["c1", "c2"])
    spec = CampaignSpec.model_validate(campaign_spec())
    await _pass(ardb, keys, spec)
    assert close_all(rdb, keys) == 2
    await _pass(ardb, keys, spec)
    assert 29 * 86_400 < rdb.ttl(keys.closed) <= 30 * 86_400, "the default retention: 30 days"

    rdb.delete(*keys.contact_data)  # what Redis does when the retention has passed
    await _list(ardb, leads, ["c3"])  # a new import adds a contact
    seen = await _pass(ardb, keys, spec)
    assert seen.ledger == Ledger(2, 0, 0, 0, 2, has_epoch=True, expired=True)
    assert rdb.exists(keys.known, keys.due) == 0, "nobody is called again"
    conditions, summary = campaign_status.decide(Facts(None, spec.state, seen.ledger, 0, None))
    done = next(c for c in conditions if c.type == "Completed")
    assert summary == "Completed" and done.status and "data has expired" in done.message
    await ardb.aclose()


async def _imported(rdb: redis.asyncio.Redis, keys: ListKeys, phones: list[str]) -> list[str]:
    """A list of `phones` as an import leaves it, with ids keyed as imports key them."""
    secret = f"secret-{secrets.token_hex(4)}"
    ids = [contact_import.contact_id(p, secret.encode()) for p in phones]
    for contact, phone in zip(ids, phones, strict=True):
        await rdb.hset(keys.contacts, contact, json.dumps({"number": phone}))
    await rdb.set(keys.id_key, secret)
    await rdb.incr(keys.version)
    return ids


async def test_a_callee_in_both_lists_keeps_their_history_across_the_change(
    redis_url: str, rdb: redis.Redis, namespace: str
) -> None:
    """Ids are keyed per list, so one number has two ids; the campaign matches them."""
    ardb = redis.asyncio.from_url(redis_url, decode_responses=True)
    keys = CampaignKeys(namespace, "promo")
    phones = [f"+86{p}" for p in numbers(4, start=780_000)]
    a1, a2, a3 = await _imported(ardb, ListKeys(namespace, "a"), phones[:3])
    b1, b2, b3, b4 = await _imported(ardb, ListKeys(namespace, "b"), phones)
    await _pass(
        ardb, keys, CampaignSpec.model_validate(campaign_spec(contactListRef={"name": "a"}))
    )
    epoch = ledger.epoch(rdb, keys) or ""
    claims = {c.contact: c for c in ledger.claim(rdb, keys, epoch, limit=3, lease_ms=30_000)}
    assert ledger.complete(rdb, keys, claims[a2].attempt, ledger.Ending(Outcome.BUSY, close=True))
    assert ledger.complete(
        rdb, keys, claims[a3].attempt, ledger.Ending(Outcome.NO_ANSWER, close=False)
    )
    # a1 is still in a call.

    on_b = CampaignSpec.model_validate(campaign_spec(contactListRef={"name": "b"}))
    await _pass(ardb, keys, on_b)
    assert rdb.hgetall(keys.closed) == {b2: "Busy"}, "closed under A, closed under B"
    assert sorted(rdb.zrange(keys.due, 0, -1)) == sorted([b3, b4])
    assert json.loads(rdb.hget(keys.contacts, b3) or "{}")["attempts"] == 1, "attempts carried"
    assert not rdb.sismember(keys.known, b1), "not taken while the same callee is in a call"

    ending = ledger.Ending(Outcome.ANSWERED_HUMAN, close=True)
    assert ledger.complete(rdb, keys, claims[a1].attempt, ending)
    seen = await _pass(ardb, keys, on_b)
    assert rdb.hget(keys.closed, b1) == "AnsweredHuman"
    assert seen.ledger is not None
    assert (seen.ledger.total, seen.ledger.closed, seen.ledger.pending) == (4, 2, 2)
    await ardb.aclose()


async def test_a_list_deleted_and_made_again_does_not_call_its_callees_anew(
    redis_url: str, rdb: redis.Redis, namespace: str
) -> None:
    """A list made again has a new id key, hence new ids: the campaign still knows the callees."""
    ardb = redis.asyncio.from_url(redis_url, decode_responses=True)
    keys, leads = CampaignKeys(namespace, "promo"), ListKeys(namespace, "leads")
    phones = [f"+86{p}" for p in numbers(2, start=781_000)]
    await _imported(ardb, leads, phones)
    spec = CampaignSpec.model_validate(campaign_spec())
    await _pass(ardb, keys, spec)
    epoch = ledger.epoch(rdb, keys) or ""
    first, second = ledger.claim(rdb, keys, epoch, limit=2, lease_ms=30_000)
    assert ledger.complete(
        rdb, keys, first.attempt, ledger.Ending(Outcome.ANSWERED_HUMAN, close=True)
    )
    assert ledger.complete(rdb, keys, second.attempt, ledger.Ending(Outcome.NO_ANSWER, close=False))

    await ardb.delete(*[k async for k in ardb.scan_iter(match=leads.pattern)])
    again = await _imported(ardb, leads, phones)
    assert not set(again) & {first.contact, second.contact}, "new ids"
    seen = await _pass(ardb, keys, spec)
    assert seen.ledger is not None
    assert (seen.ledger.total, seen.ledger.closed, seen.ledger.pending) == (2, 1, 1)
    assert list(rdb.hvals(keys.closed)) == ["AnsweredHuman"]
    (waiting,) = cast(list[str], rdb.zrange(keys.due, 0, -1))
    assert json.loads(rdb.hget(keys.contacts, waiting) or "{}")["attempts"] == 1
    await ardb.aclose()
