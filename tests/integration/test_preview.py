"""A Preview campaign end to end: agents log in through the real `kdial api`, preview the next
record (its display fields masked), skip it or dial it; a worker rings the agent's phone
first, then the callee over real ESL to the simulator, and bridges them."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import redis

from kdial.privacy import mask_number
from kdial.state.attempt import Disposition
from kdial.state.config import CampaignConfig
from kdial.state.contact import Contact
from kdial.state.keys import CampaignKeys, ListKeys
from kdial.state.wire import Generation
from kdial_local.apiserver import KubeServer
from kdial_local.processes import simulator as running_sim
from tests.support.desks import TOKENS, Desk, campaign, moves, scenario, state
from tests.support.dialing import csv_of
from tests.support.esl_raw import EslClient
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import WorkerProcess, ledger_problems, records
from tests.support.world import numbers, window_around

SPEED = 20
CODES = {"codes": [{"code": "Sale", "closesContact": True}]}


def number_of(rdb: redis.Redis, namespace: str, contact: str) -> str:
    raw = cast(str, rdb.hget(ListKeys(namespace, "leads").contacts, contact))
    return Contact.decode(raw).number


def books(rdb: redis.Redis, keys: CampaignKeys) -> dict[str, object]:
    """What a refusal must leave as it was: the ledger, the agents, the dial queue."""
    return {
        "due": rdb.zrange(keys.due, 0, -1, withscores=True),
        "inflight": rdb.hgetall(keys.inflight),
        "agents": rdb.hgetall(keys.agents),
        "dials": rdb.lrange(keys.preview_dials, 0, -1),
        "totals": rdb.hgetall(keys.totals),
    }


def skipped_in_status(api: Api) -> int | None:
    camp = api.get("campaigns", "promo") or {}
    return ((camp.get("status") or {}).get("agents") or {}).get("previewsSkipped")


def test_an_agent_previews_skips_one_record_and_dials_the_next_agent_first(
    api: Api,
    operator: OperatorProcess,
    agent_api: str,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """ana previews a record (the number masked), skips it (due again, no attempt counted,
    Ready again), previews the next and dials it: her phone rings first, the callee is
    originated once she answers and bridged to her; she talks, wraps up and her disposition
    lands with the attempt."""
    keys = campaign(api, rdb, operator, namespace, contacts=3, mode="Preview", dispositions=CODES)
    ana = Desk(agent_api, namespace, "ana")
    ana.login_ready()
    with running_sim(scenario(), speed=SPEED) as esl, EslClient(*esl).connect() as observer:
        observer.subscribe("plain", "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE")
        worker = WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / "w.log", "w1")
        try:
            worker.start()
            wait_for("the campaign dialling", lambda: rdb.get(keys.epoch) is not None)
            first = ana.post("preview")
            number = number_of(rdb, namespace, first["contact"])
            assert first["fields"] == {"phone": mask_number(number)}, first
            assert number not in str(first)
            held = state(rdb, keys, "ana")
            assert (held.state.value, held.attempt) == ("Reserved", first["attempt"])
            assert rdb.hget(keys.inflight, first["attempt"]) == first["contact"]

            skipped = ana.post(f"preview/{first['attempt']}/skip")
            assert skipped["state"] == "Ready"
            assert rdb.zscore(keys.due, first["contact"]) is not None, "due again"
            assert rdb.hlen(keys.inflight) == 0
            assert rdb.hget(keys.totals, "previewSkipped") == "1"
            assert rdb.hget(keys.totals, "attempts") is None, "no attempt counted"
            wait_for("the skip in status", lambda: skipped_in_status(api) == 1)
            assert rdb.hget(keys.contacts, first["contact"]) in (None, "", "{}")

            second = ana.post("preview")
            assert ana.post(f"preview/{second['attempt']}/dial")["state"] == "Reserved"
            wait_for(
                "ana wrapping up",
                lambda: state(rdb, keys, "ana").state.value == "WrapUp",
                timeout=60,
                log=worker,
            )
            seen = observer.drain(0.5)
            wait_for("the call recorded", lambda: rdb.xlen(keys.attempts) == 1, log=worker)
            ana.post("disposition", {"code": "Sale"})
        finally:
            worker.stop()

    [record] = records(rdb, keys)
    assert (record["attempt"], record["outcome"], record["agent"]) == (
        second["attempt"],
        "AnsweredHuman",
        "ana",
    )
    assert moves(rdb, keys, "ana") == [
        "login",
        "reserve",
        "release",
        "reserve",
        "talk",
        "wrapUp",
        "endWrapUp",
    ]
    kept = Disposition.decode(cast(str, rdb.hget(keys.dispositions, second["attempt"])))
    assert (kept.code, kept.agent) == ("Sale", "ana")
    assert rdb.hget(keys.closed, second["contact"]) is not None
    # The agent's phone was rung and answered before the callee's channel was created.
    order = [(e.name, e.get("Unique-ID")) for e in seen]
    names = {e.get("Unique-ID"): e.get("Channel-Name") or "" for e in seen}
    agent_leg = next(u for u, n in names.items() if n == "user/agent1")
    assert order.index(("CHANNEL_ANSWER", agent_leg)) < order.index(
        ("CHANNEL_CREATE", record["uuid"])
    ), order
    bridged = [e for e in seen if e.name == "CHANNEL_BRIDGE"]
    assert {e.get("Bridge-A-Unique-ID") for e in bridged} == {record["uuid"]}
    assert ledger_problems(rdb, keys) == []


def test_an_agent_is_shown_no_one_they_may_not_call(
    api: Api, operator: OperatorProcess, agent_api: str, rdb: redis.Redis, namespace: str
) -> None:
    """Preview passes over the records a worker would refuse to dial, as the worker would: a
    number on the do-not-call list is closed, callees whose calling window is shut wait for
    it; the agent is shown only the one callee who may be called."""
    shanghai, blocked = numbers(2)
    los_angeles = [f"+1213234{5600 + i}" for i in range(3)]
    api.config_map("dnc-source", {"list.csv": csv_of([blocked])})
    dnc = {"configMap": {"name": "dnc-source", "key": "list.csv"}}
    api.create(
        "contactlists",
        "dnc",
        {"source": dnc, "defaultRegion": "CN", "purpose": "Suppress"},
        "ContactList",
    )
    extra = {
        "schedule": {"windows": [window_around("Asia/Shanghai", datetime.now(UTC))]},
        "suppressionListRefs": [{"name": "dnc"}],
    }
    phones = [blocked, *los_angeles, shanghai]
    keys = campaign(api, rdb, operator, namespace, mode="Preview", phones=phones, extra=extra)
    wait_for("the campaign dialling", lambda: rdb.get(keys.epoch) is not None)
    wait_for("the do-not-call list", lambda: rdb.scard(ListKeys(namespace, "dnc").numbers) == 1)
    ana = Desk(agent_api, namespace, "ana")
    ana.login_ready()

    shown = ana.post("preview")
    assert number_of(rdb, namespace, shown["contact"]) == "+86" + shanghai
    ana.post(f"preview/{shown['attempt']}/skip")
    # Skipped, the callee is due again now, after every other record: by the time the next
    # preview shows them again, every other record was looked at and passed over.
    again = ana.post("preview")
    assert again["contact"] == shown["contact"]
    ana.post(f"preview/{again['attempt']}/skip")

    closed = {
        number_of(rdb, namespace, c): why
        for c, why in cast(dict[str, str], rdb.hgetall(keys.closed)).items()
    }
    assert closed == {"+86" + blocked: "Suppressed"}
    waiting = {
        number_of(rdb, namespace, c): score / 1000 - time.time()
        for c, score in cast(list[tuple[str, float]], rdb.zrange(keys.due, 0, -1, withscores=True))
    }
    assert waiting.pop("+86" + shanghai) < 1, "the callee skipped is due again"
    assert set(waiting) == set(los_angeles), waiting
    assert all(3600 * 6 < w < 3600 * 24 for w in waiting.values()), "until their morning"
    assert rdb.hget(keys.totals, "attempts") is None, "nobody was dialled"
    assert ledger_problems(rdb, keys) == []


def test_preview_dial_and_skip_refusals_are_clear_and_change_nothing(
    api: Api,
    operator: OperatorProcess,
    agent_api: str,
    rdb: redis.Redis,
    kube: KubeServer,
    namespace: str,
) -> None:
    """An agent not Ready cannot preview, one not holding a record cannot dial or skip it,
    a token of another namespace is no token here, and none of it changes anything."""
    keys = campaign(api, rdb, operator, namespace, contacts=3, mode="Preview")
    ana, bob = Desk(agent_api, namespace, "ana"), Desk(agent_api, namespace, "bob")
    ana.post("login", {"endpoint": "agent1"})  # NotReady
    bob.login_ready()
    wait_for("the campaign dialling", lambda: rdb.get(keys.epoch) is not None)
    held = bob.post("preview")["attempt"]
    other = Api(kube.url, f"t-{uuid.uuid4().hex[:8]}")
    other.secret(TOKENS, {"ana": "ana-there"})
    stranger = Desk(agent_api, namespace, "ana", token="ana-there")  # noqa: S106
    before = books(rdb, keys)

    refused = {
        "not Ready previews": (ana.send("preview"), 409, "only a Ready agent"),
        "another's record dialled": (ana.send(f"preview/{held}/dial"), 409, "not previewing"),
        "another's record skipped": (ana.send(f"preview/{held}/skip"), 409, "not previewing"),
        "an unknown record": (bob.send("preview/e1-999/dial"), 409, "not previewing"),
        "a malformed attempt": (bob.send("preview/a%20b/skip"), 400, "not an attempt id"),
        "a body where none goes": (bob.send(f"preview/{held}/dial", {"x": 1}), 400, ""),
        "another namespace's token": (stranger.send(f"preview/{held}/dial"), 401, "not an agent"),
        "a Reserved agent previews again": (bob.send("preview"), 409, "only a Ready agent"),
    }
    for what, (answer, status, says) in refused.items():
        assert answer.status_code == status, (what, answer.text)
        assert says in answer.json()["detail"], (what, answer.text)
    assert books(rdb, keys) == before

    # bob chose: a second choice of the same record is refused and changes nothing more.
    assert bob.post(f"preview/{held}/skip")["state"] == "Ready"
    after_skip = books(rdb, keys)
    again = bob.send(f"preview/{held}/dial")
    assert again.status_code == 409, again.text
    assert books(rdb, keys) == after_skip


def test_a_record_left_is_skipped_at_the_timeout_and_an_agent_not_answering_is_not_ready(
    api: Api,
    operator: OperatorProcess,
    agent_api: str,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """ana previews and walks away: at the worker's preview timeout the record is skipped for
    her (due again, no attempt, counted as skipped), and she is Ready. deaf dials a record
    and never answers their phone: NotReady ("no answer"), the callee never dialled, the
    contact due again with no attempt counted."""
    keys = campaign(api, rdb, operator, namespace, contacts=3, mode="Preview")
    ana, deaf = Desk(agent_api, namespace, "ana"), Desk(agent_api, namespace, "deaf")
    ana.login_ready()
    deaf.login_ready()
    with running_sim(scenario(), speed=SPEED) as esl:
        worker = WorkerProcess(
            f"{namespace}/promo",
            redis_url,
            esl,
            tmp_path / "w.log",
            "w1",
            KDIAL_PREVIEW_TIMEOUT_SECONDS="1",
        )
        try:
            worker.start()
            wait_for("the campaign dialling", lambda: rdb.get(keys.epoch) is not None)
            left = ana.post("preview")
            wait_for(
                "ana's preview skipped",
                lambda: state(rdb, keys, "ana").state.value == "Ready",
                log=worker,
            )
            assert moves(rdb, keys, "ana") == ["login", "reserve", "release"]
            assert rdb.zscore(keys.due, left["contact"]) is not None
            assert rdb.hget(keys.totals, "previewSkipped") == "1"
            assert ana.send(f"preview/{left['attempt']}/dial").status_code == 409

            unanswered = deaf.post("preview")
            deaf.post(f"preview/{unanswered['attempt']}/dial")
            wait_for(
                "deaf NotReady",
                lambda: state(rdb, keys, "deaf").state.value == "NotReady",
                timeout=60,
                log=worker,
            )
            assert state(rdb, keys, "deaf").reason == "no answer"
            wait_for("the contact due again", lambda: rdb.zscore(keys.due, unanswered["contact"]))
        finally:
            worker.stop()

    assert moves(rdb, keys, "deaf") == ["login", "reserve", "notReady"]
    assert records(rdb, keys) == [] and rdb.hget(keys.totals, "attempts") is None
    assert rdb.hlen(keys.inflight) == 0
    assert ledger_problems(rdb, keys) == []


def dialling(rdb: redis.Redis, keys: CampaignKeys) -> bool:
    raw = rdb.get(keys.config)
    return raw is not None and CampaignConfig.of(Generation.decode(raw).content).dialing


def test_a_paused_campaign_dials_no_preview_and_gives_back_the_dials_queued_before(
    api: Api,
    operator: OperatorProcess,
    agent_api: str,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """ana dials her record while no worker is up (they all stopped, say); bob previews his.
    The campaign is paused: bob's dial is refused and changes nothing (he skips the record),
    and the first worker up dials nothing: ana's record is due again, no attempt counted,
    and she is Ready, rather than rung whenever the campaign resumes."""
    keys = campaign(api, rdb, operator, namespace, contacts=3, mode="Preview")
    ana, bob = Desk(agent_api, namespace, "ana"), Desk(agent_api, namespace, "bob")
    ana.login_ready()
    bob.login_ready()
    wait_for("the campaign dialling", lambda: dialling(rdb, keys))
    queued = ana.post("preview")
    assert ana.post(f"preview/{queued['attempt']}/dial")["state"] == "Reserved"
    held = bob.post("preview")["attempt"]

    api.patch_spec("campaigns", "promo", {"state": "Paused"})
    wait_for("the campaign paused", lambda: not dialling(rdb, keys), log=operator)
    before = books(rdb, keys)
    refused = bob.send(f"preview/{held}/dial")
    assert refused.status_code == 409, refused.text
    assert "not dialling" in refused.json()["detail"] and "skip" in refused.json()["detail"]
    assert books(rdb, keys) == before
    assert bob.post(f"preview/{held}/skip")["state"] == "Ready"

    with running_sim(scenario(), speed=SPEED) as esl:
        worker = WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / "w.log", "w1")
        try:
            worker.start()
            wait_for(
                "ana Ready again",
                lambda: state(rdb, keys, "ana").state.value == "Ready",
                log=worker,
            )
        finally:
            worker.stop()

    assert rdb.zscore(keys.due, queued["contact"]) is not None, "due again"
    assert records(rdb, keys) == [] and rdb.hget(keys.totals, "attempts") is None
    assert rdb.llen(keys.preview_dials) == 0
    assert moves(rdb, keys, "ana") == ["login", "reserve", "release"]
    assert ledger_problems(rdb, keys) == []
