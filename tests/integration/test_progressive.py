"""A Progressive campaign end to end: agents log in through the real `kdial api`, the operator
compiles the campaign, workers dial the simulator over real ESL and bridge each answered callee
to an agent; agent states follow the calls."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import redis

from kdial_local.processes import simulator as running_sim
from tests.support.desks import (
    Desk,
    WrapUpDesk,
    campaign,
    changes,
    moves,
    now_ms,
    scenario,
    state,
)
from tests.support.esl_raw import EslClient, Event
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import WorkerProcess, ledger_problems, max_overlap, records

SPEED = 20


def test_progressive_dials_one_call_per_ready_agent_and_agent_states_follow_calls(
    api: Api,
    operator: OperatorProcess,
    agent_api: str,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """Two agents, one a registered user and one a SIP URI, twelve callees, two workers:
    never more calls at once than agents, each callee bridged to an agent, and each agent
    Ready -> Reserved -> Talking -> WrapUp for each call (wrap-up ended by their desk)."""
    keys = campaign(api, rdb, operator, namespace)
    for agent in ("ana", "bob"):
        Desk(agent_api, namespace, agent).login_ready()
    desk = WrapUpDesk(redis_url, keys, {"ana", "bob"})
    desk.start()
    with running_sim(scenario(), speed=SPEED) as esl, EslClient(*esl).connect() as observer:
        observer.subscribe("plain", "CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_UNBRIDGE")
        workers = [
            WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / f"w{i}.log", f"w{i}")
            for i in (1, 2)
        ]
        seen: list[Event] = []

        def all_closed() -> bool:
            seen.extend(observer.drain(0.05))
            return bool(rdb.hlen(keys.closed) == 12)

        try:
            for worker in workers:
                worker.start()
            wait_for("every contact closed", all_closed, timeout=120, log=workers[0])
            wait_for(
                "the last wrap-ups ended",
                lambda: {state(rdb, keys, a).state.value for a in ("ana", "bob")} == {"Ready"},
            )
        finally:
            desk.stopped.set()
            for worker in workers:
                worker.stop()

    assert ledger_problems(rdb, keys) == []
    attempts = records(rdb, keys)
    assert Counter(r["outcome"] for r in attempts) == {"AnsweredHuman": 12}
    calls = [(int(r["started_ms"]), int(r["call_ended_ms"])) for r in attempts]
    assert max_overlap(calls) <= 2, "never more calls in flight than agents"
    taken = Counter(r["agent"] for r in attempts)
    assert set(taken) == {"ana", "bob"} and sum(taken.values()) == 12, taken
    for record in attempts:
        assert int(record["started_ms"]) < int(record["bridged_ms"]) < int(record["call_ended_ms"])
    for agent in ("ana", "bob"):
        cycle = ["reserve", "talk", "wrapUp", "endWrapUp"]
        assert moves(rdb, keys, agent) == ["login", *cycle * taken[agent]], agent
        reserved = [
            c.attempt or "" for c in changes(rdb, keys, agent) if c.action.value == "reserve"
        ]
        assert sorted(reserved) == sorted(r["attempt"] for r in attempts if r["agent"] == agent)
    # The agents' phones were rung as a registered user and as a SIP URI, and each callee was
    # bridged to one of them and unbridged when the call ended.
    legs = {e.get("Channel-Name") for e in seen if e.name == "CHANNEL_ANSWER"}
    assert {"user/agent1", "sofia/external/agent2@10.0.0.9"} <= legs, legs
    bridged = {e.get("Bridge-A-Unique-ID") for e in seen if e.name == "CHANNEL_BRIDGE"}
    unbridged = {e.get("Bridge-A-Unique-ID") for e in seen if e.name == "CHANNEL_UNBRIDGE"}
    assert bridged == unbridged == {r["uuid"] for r in attempts}


def test_an_agent_who_does_not_answer_goes_not_ready_and_a_callee_nobody_takes_is_abandoned(
    api: Api,
    operator: OperatorProcess,
    agent_api: str,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """One call at a time. The first callee reaches `deaf` (Ready longest), whose phone rings
    out: deaf goes NotReady ("no answer") and the callee goes to ana. With ana in wrap-up and
    deaf Ready again, the next callee reaches only deaf and is abandoned at the deadline with
    the compliance message. Then ana takes the rest; the abandon rate stays within its cap."""
    keys = campaign(api, rdb, operator, namespace, maxConcurrency=1)
    deaf, ana = Desk(agent_api, namespace, "deaf"), Desk(agent_api, namespace, "ana")
    deaf.login_ready()
    # Ready a millisecond before ana at least: deaf is the agent longest in Ready.
    wait_for("a millisecond", lambda: now_ms(rdb) > state(rdb, keys, "deaf").since_ms)
    ana.login_ready()
    with running_sim(scenario(), speed=SPEED) as esl, EslClient(*esl).connect() as observer:
        observer.subscribe("plain", "CHANNEL_EXECUTE_COMPLETE")
        worker = WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / "w.log", "w1")
        desk = WrapUpDesk(redis_url, keys, {"ana"})
        try:
            worker.start()
            wait_for(
                "ana wrapping up the first call",
                lambda: state(rdb, keys, "ana").state.value == "WrapUp",
                log=worker,
            )
            first = state(rdb, keys, "deaf")
            assert (first.state.value, first.reason) == ("NotReady", "no answer")
            assert moves(rdb, keys, "deaf") == ["login", "reserve", "notReady"]
            assert moves(rdb, keys, "ana") == ["login", "reserve", "talk", "wrapUp"]
            wait_for("the first call recorded", lambda: rdb.xlen(keys.attempts) == 1)

            deaf.post("ready")
            abandoned = wait_for(
                "the second callee abandoned",
                lambda: next((r for r in records(rdb, keys) if r["outcome"] == "Abandoned"), None),
                log=worker,
            )
            played = observer.wait_for(lambda e: e.get("Unique-ID") == abandoned["uuid"])
            assert played["Application-Data"] == "kdial/abandoned.wav", played
            assert played["Application-Response"] == "FILE PLAYED", played
            assert abandoned["agent"] == "" and abandoned["bridged_ms"] == ""
            assert moves(rdb, keys, "deaf")[-3:] == ["ready", "reserve", "notReady"]

            desk.start()
            wait_for(
                "every contact closed",
                lambda: rdb.hlen(keys.closed) == 12,
                timeout=120,
                log=worker,
            )
        finally:
            desk.stopped.set()
            worker.stop()

    assert ledger_problems(rdb, keys) == []
    attempts = records(rdb, keys)
    outcomes = Counter(r["outcome"] for r in attempts)
    assert outcomes == {"AnsweredHuman": 11, "Abandoned": 1}, outcomes
    assert {r["agent"] for r in attempts if r["outcome"] == "AnsweredHuman"} == {"ana"}
    assert outcomes["Abandoned"] * 100 <= 10 * (outcomes["Abandoned"] + 11), "within the cap"


def test_a_callee_answered_while_no_agent_is_ready_waits_for_one_within_the_deadline(
    api: Api,
    operator: OperatorProcess,
    agent_api: str,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """The only agent steps away while the call rings (3 s here): the callee answers with
    nobody Ready, waits, and is bridged to the agent who is back within the deadline."""
    keys = campaign(api, rdb, operator, namespace, contacts=1, ringTimeoutSeconds=120)
    ana = Desk(agent_api, namespace, "ana")
    ana.login_ready()
    with running_sim(scenario(ring=60), speed=SPEED) as esl, EslClient(*esl).connect() as observer:
        observer.subscribe("plain", "CHANNEL_ANSWER")
        worker = WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / "w.log", "w1")
        try:
            worker.start()
            wait_for("the call ringing", lambda: rdb.hlen(keys.inflight) == 1, log=worker)
            ana.post("not-ready", {"reason": "coffee"})
            observer.wait_for(
                lambda e: (e.get("Channel-Name") or "").startswith("sofia/external/"), timeout=30
            )
            ana.post("ready")
            wait_for("the contact closed", lambda: rdb.hlen(keys.closed) == 1, log=worker)
        finally:
            worker.stop()

    [record] = records(rdb, keys)
    assert (record["outcome"], record["agent"]) == ("AnsweredHuman", "ana"), record
    assert moves(rdb, keys, "ana") == ["login", "notReady", "ready", "reserve", "talk", "wrapUp"]
