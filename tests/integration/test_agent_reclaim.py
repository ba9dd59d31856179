"""A worker that dies on an agent's call: the reclaim that takes back the call's contact frees
the agent in the same Lua step (`AgentAction.CALL_LOST`), Talking to WrapUp on the call and
Reserved to NotReady, and the agent's own actions work afterwards."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import cast

import redis

from kdial.agent_state import AgentAction, IllegalTransition
from kdial.state.agents import CALL_LOST_REASON, AgentChange, AgentRecord, changed
from kdial.state.attempt import Disposition
from kdial.state.contact import Contact
from kdial.state.keys import CampaignKeys, ListKeys
from kdial_local.processes import simulator as running_sim
from kdial_worker import ledger
from kdial_worker.agents import Agents, Elsewhere
from tests.support import agents as worker_side
from tests.support.desks import Desk, campaign, changes, moves, scenario, state
from tests.support.esl_raw import EslClient
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import WorkerProcess, ledger_problems, records

KEYS = CampaignKeys("floor", "promo")
LISTS = ListKeys("floor", "leads")
SPEED = 20
CODES = {"codes": [{"code": "Sale", "closesContact": True}]}


def stored(rdb: redis.Redis, agent: str) -> AgentRecord:
    return AgentRecord.decode(cast(str, rdb.hget(KEYS.agents, agent)))


def in_state(rdb: redis.Redis, keys: CampaignKeys, agent: str, name: str) -> AgentRecord | None:
    """The agent's record if they are in the state called `name`."""
    record = state(rdb, keys, agent)
    return record if record.state.value == name else None


def test_a_reclaim_frees_the_agents_of_lost_calls_as_the_state_table_says(
    rdb: redis.Redis,
) -> None:
    """ana talks on a call, bob is reserved for one, cy wraps one up and dee is reserved for
    a call whose worker lives. The first three calls' leases expire: ana goes to WrapUp on her
    call, bob NotReady with the reason, each move exactly `changed(..., CALL_LOST)` and logged;
    cy and dee are left as they are. A worker that wakes up later moves nobody."""
    for name in ("ana", "bob", "cy", "dee"):
        rdb.hset(
            KEYS.agents, name, AgentRecord(state="Ready", since_ms=1, endpoint="1001").encode()
        )
    calls = {
        name: worker_side.claimed(rdb, KEYS, LISTS, Contact(number=f"+861380013810{n}", id=name))
        for n, name in enumerate(("ana", "bob", "cy", "dee"))
    }
    for name, attempt in calls.items():
        worker_side.act(rdb, KEYS, name, AgentAction.RESERVE, attempt=attempt)
    worker_side.act(rdb, KEYS, "ana", AgentAction.TALK)
    worker_side.act(rdb, KEYS, "cy", AgentAction.TALK)
    worker_side.act(rdb, KEYS, "cy", AgentAction.WRAP_UP)
    lost = [calls["ana"], calls["bob"], calls["cy"]]
    rdb.zadd(KEYS.leases, dict.fromkeys(lost, 0))
    before = {name: stored(rdb, name) for name in calls}
    logged = rdb.xlen(KEYS.agent_changes)

    assert sorted(ledger.reclaim(rdb, KEYS, redial_delay_ms=60_000)) == sorted(lost)

    ana, bob = stored(rdb, "ana"), stored(rdb, "bob")
    expected_ana = changed(before["ana"], "ana", AgentAction.CALL_LOST, ana.since_ms)
    expected_bob = changed(
        before["bob"], "bob", AgentAction.CALL_LOST, bob.since_ms, reason=CALL_LOST_REASON
    )
    assert ana == expected_ana[0] and (ana.state.value, ana.attempt) == ("WrapUp", calls["ana"])
    assert bob == expected_bob[0] and (bob.state.value, bob.reason) == (
        "NotReady",
        CALL_LOST_REASON,
    )
    assert ana.since_ms > before["ana"].since_ms, "stamped on Redis's clock when it moved"
    assert {name: stored(rdb, name) for name in ("cy", "dee")} == {
        "cy": before["cy"],
        "dee": before["dee"],
    }
    stream = cast(list[tuple[str, dict[str, str]]], rdb.xrange(KEYS.agent_changes))
    new = {fields["agent"]: AgentChange.decode(fields["change"]) for _, fields in stream[logged:]}
    assert new == {"ana": expected_ana[1], "bob": expected_bob[1]}
    outcomes = {r["attempt"]: r["outcome"] for r in records(rdb, KEYS)}
    assert outcomes == dict.fromkeys(lost, "Unknown"), "each call recorded, as before"

    # The dead worker was only frozen and wakes up: it moves none of its agents any more.
    old = Agents(rdb, KEYS)
    worker_side.act(rdb, KEYS, "bob", AgentAction.READY)
    worker_side.act(rdb, KEYS, "bob", AgentAction.RESERVE, attempt="e1-99")
    for name, action in (("bob", AgentAction.TALK), ("ana", AgentAction.WRAP_UP)):
        try:
            old.act(name, action, on=calls[name])
        except (Elsewhere, IllegalTransition):
            pass
        else:
            raise AssertionError(f"a worker whose lease was reclaimed moved {name}")
    assert (stored(rdb, "bob").state.value, stored(rdb, "bob").attempt) == ("Reserved", "e1-99")
    assert stored(rdb, "ana") == ana


def test_an_agent_talking_when_their_worker_is_killed_is_freed_by_another_workers_reclaim(
    api: Api,
    operator: OperatorProcess,
    agent_api: str,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """Progressive: ana talks to the only callee when her worker is SIGKILLed. Another
    worker's reclaim records the attempt Unknown, puts the contact back and moves ana from
    Talking to WrapUp on that call in the same step; her disposition through the API then
    lands with the attempt and closes the contact, and she is Ready."""
    keys = campaign(api, rdb, operator, namespace, contacts=1, dispositions=CODES)
    ana = Desk(agent_api, namespace, "ana")
    ana.login_ready()
    with running_sim(scenario(), speed=SPEED) as esl:
        first = WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / "w1.log", "w1")
        second = WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / "w2.log", "w2")
        try:
            first.start()
            talking = wait_for(
                "ana talking",
                lambda: in_state(rdb, keys, "ana", "Talking"),
                log=first,
            )
            first.stop(signal.SIGKILL)
            second.start()
            wait_for(
                "ana freed by the reclaim",
                lambda: state(rdb, keys, "ana").state.value == "WrapUp",
                log=second,
            )
            [record] = records(rdb, keys)
            assert (record["attempt"], record["outcome"]) == (talking.attempt, "Unknown")
            assert state(rdb, keys, "ana").attempt == talking.attempt
            assert moves(rdb, keys, "ana") == ["login", "reserve", "talk", "callLost"]
            lost = changes(rdb, keys, "ana")[-1]
            assert (lost.before.value, lost.after.value, lost.attempt) == (
                "Talking",
                "WrapUp",
                talking.attempt,
            )
            assert rdb.zscore(keys.due, record["contact"]) is not None, "the contact is back"

            assert ana.post("disposition", {"code": "Sale"})["state"] == "Ready"
        finally:
            second.stop()
            first.stop()

    kept = Disposition.decode(cast(str, rdb.hget(keys.dispositions, record["attempt"])))
    assert (kept.code, kept.agent) == ("Sale", "ana")
    assert rdb.hget(keys.closed, record["contact"]) is not None
    assert ledger_problems(rdb, keys) == []


def test_a_preview_agent_whose_phone_rings_when_the_worker_is_killed_is_freed(
    api: Api,
    operator: OperatorProcess,
    agent_api: str,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """Preview: deaf dials a record and their phone rings (for 20 s, unanswered) when the
    worker ringing it is SIGKILLed. The record's lease is the worker's from the moment it took
    the dial request, not the preview's five minutes: another worker's reclaim takes it back
    within seconds and makes deaf NotReady, saying why; deaf goes Ready again through the API."""
    keys = campaign(api, rdb, operator, namespace, contacts=2, mode="Preview")
    deaf = Desk(agent_api, namespace, "deaf")
    deaf.login_ready()
    # At speed 1 the agent leg rings its 20 s: the worker is killed while it does.
    with running_sim(scenario(), speed=1) as esl, EslClient(*esl).connect() as observer:
        observer.subscribe("plain", "CHANNEL_CREATE")
        first = WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / "w1.log", "w1")
        second = WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / "w2.log", "w2")
        try:
            first.start()
            wait_for("the campaign dialling", lambda: rdb.get(keys.epoch) is not None)
            previewed = deaf.post("preview")
            deaf.post(f"preview/{previewed['attempt']}/dial")
            observer.wait_for(lambda e: e.get("Channel-Name") == "user/deaf", timeout=30)
            first.stop(signal.SIGKILL)
            second.start()
            freed = wait_for(
                "deaf freed by the reclaim",
                lambda: in_state(rdb, keys, "deaf", "NotReady"),
                log=second,
            )
            assert freed.reason == CALL_LOST_REASON
            assert moves(rdb, keys, "deaf") == ["login", "reserve", "callLost"]
            [record] = records(rdb, keys)
            assert (record["attempt"], record["outcome"]) == (previewed["attempt"], "Unknown")
            assert deaf.post("ready")["state"] == "Ready"
        finally:
            second.stop()
            first.stop()
    assert ledger_problems(rdb, keys) == []
