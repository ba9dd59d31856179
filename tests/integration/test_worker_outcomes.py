"""Every outcome the simulator can produce reaches the records, classified right."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import redis

from kdial_local.processes import simulator as running_sim
from tests.support.dialing import carrier, create, csv_of, dialing, trunk
from tests.support.esl_raw import EslClient, Event
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import WorkerProcess, ledger_problems, records
from tests.support.world import numbers

#: gateway -> (simulated far end, the outcome kdial must record, its SIP status)
FAR_ENDS = {
    "busy": ({"failures": {"busy": 1}}, "Busy", "486"),
    "noanswer": ({"failures": {"noAnswer": 1}}, "NoAnswer", ""),
    "rejected": ({"failures": {"rejected": 1}}, "Rejected", "603"),
    "invalid": ({"failures": {"invalid": 1}}, "InvalidNumber", "404"),
    "unreachable": ({"failures": {"unreachable": 1}}, "Unreachable", "480"),
    "risk": ({"failures": {"riskBlocked": 1}}, "RiskBlocked", "403"),
    "linefail": ({"failures": {"lineFailure": 1}}, "CallLoss", "503"),
}


def test_each_far_end_is_classified_right(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    carriers = {gw: carrier(answerProbability=0, **far) for gw, (far, _, _) in FAR_ENDS.items()}
    carriers["answers"] = carrier(answerProbability=1)
    scenario = {
        "seed": 5,
        # A small session rate: bursts over it are refused by the switch itself.
        "switch": {"sessionsPerSecond": 4, "maxChannels": 500},
        "carriers": carriers,
        # Machines pick up within the ring timeout (a slow one would rightly be NoAnswer).
        "callees": {"invalid": 0, "switchedOff": 0, "machine": 0.3, "machineRingSeconds": 1},
    }
    trunks = [trunk(gw) for gw in carriers]
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(numbers(160)),
        trunks,
        retry={"closure": {"maxAttempts": 1}},
    )
    with dialing(scenario, namespace, redis_url, tmp_path, speed=10) as workers:
        wait_for(
            "every contact closed",
            lambda: rdb.hlen(keys.closed) == 160,
            timeout=180,
            log=workers[0],
        )

    assert ledger_problems(rdb, keys) == []
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records(rdb, keys):
        outcome = record["outcome"]
        seen[record["trunk"]][outcome] += 1
        if outcome == "Cancelled":
            # The switch refused to place it: no channel, no SIP, never the carrier's fault.
            assert record["cause"] == "DESTINATION_OUT_OF_ORDER" and record["sip"] == "", record
            continue
        if outcome == "AnsweredMachine" or record["trunk"] == "answers":
            # Answering machines answer whatever the carrier (a share of the callees are one).
            assert outcome in {"AnsweredHuman", "AnsweredMachine"}, record
            assert int(record["billsec"]) > 0, record
            continue
        _, expected, sip = FAR_ENDS[record["trunk"]]
        assert outcome == expected, json.dumps(record)
        assert record["sip"] == sip, record
    produced = {o for counts in seen.values() for o in counts}
    assert produced >= {e for _, e, _ in FAR_ENDS.values()} | {
        "AnsweredHuman",
        "AnsweredMachine",
        "Cancelled",
    }


def test_answered_callees_nobody_takes_in_time_are_abandoned(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """An agentless campaign bridges answered callees to a SIP destination (here a simulated
    agent phone that answers 60% of the time): a callee the bridge does not reach within
    pacing.connectDeadlineSeconds hears the abandon message, is hung up and recorded as
    Abandoned."""
    scenario = {
        "seed": 3,
        "switch": {"sounds": {"kdial/abandoned.wav": 5}},
        "carriers": {
            "answers": carrier(answerProbability=1, talkSeconds={"dist": "fixed", "value": 60})
        },
        "agents": {
            "count": 1,
            "ringSeconds": {"dist": "fixed", "value": 2},
            "answerProbability": 0.6,
        },
    }
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(numbers(40)),
        [trunk("answers")],
        destination={"sipUri": "sip:agent1@10.0.0.9"},
        pacing={
            "maxConcurrency": 10,
            "connectDeadlineSeconds": 2,
            "ringTimeoutSeconds": 20,
            "abandonMessage": "kdial/abandoned.wav",
        },
        retry={"closure": {"maxAttempts": 1}},
    )
    with running_sim(scenario, speed=10) as address, EslClient(*address).connect() as esl:
        esl.subscribe("plain", "CHANNEL_EXECUTE_COMPLETE")
        worker = WorkerProcess(f"{namespace}/promo", redis_url, address, tmp_path / "w.log", "w1")
        try:
            worker.start()
            wait_for(
                "every contact closed", lambda: rdb.hlen(keys.closed) == 40, timeout=120, log=worker
            )
        finally:
            worker.stop()
        attempts = records(rdb, keys)
        for record in attempts:
            if record["outcome"] == "Abandoned":
                # The switch played the whole message to the callee before it hung up.
                played = esl.wait_for(lambda e, r=record: e.get("Unique-ID") == r["uuid"])  # type: ignore[misc]
                assert played["Application"] == "playback", played
                assert played["Application-Data"] == "kdial/abandoned.wav", played
                assert played["Application-Response"] == "FILE PLAYED", played

    assert ledger_problems(rdb, keys) == []
    outcomes = Counter(r["outcome"] for r in attempts)
    assert set(outcomes) == {"AnsweredHuman", "Abandoned"}, outcomes
    assert 8 <= outcomes["Abandoned"] <= 28, outcomes
    for record in attempts:
        # Bridged calls run their 60 s (6 s at speed 10); abandoned ones end after the 2 s
        # deadline (20 s of the simulator's clock) and the 5 s message.
        ran = (int(record["call_ended_ms"]) - int(record["started_ms"])) / 1000
        if record["outcome"] == "Abandoned":
            assert ran < 5, record
            assert int(record["billsec"]) >= 25, record
        else:
            assert ran >= 5, record

    def to_date() -> dict[str, Any] | None:
        stats = (api.get("campaigns", "promo") or {}).get("status", {}).get("toDate", {})
        final = stats.get("answered") == 40 and stats.get("abandoned") == outcomes["Abandoned"]
        return stats if final else None

    # Status is aggregated every few seconds: wait for the one that has every call in it.
    status = wait_for("the abandon rate in status", to_date, log=operator)
    assert status["abandonRate"] == f"{100 * outcomes['Abandoned'] / 40:.1f}%"


def test_closure_rule_ends_a_contact_after_max_attempts(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    scenario = {"seed": 1, "carriers": {"busy": carrier(answerProbability=0, failures={"busy": 1})}}
    retry = {"rules": [{"outcome": "Busy", "delayMinutes": 0}], "closure": {"maxAttempts": 3}}
    keys = create(api, rdb, operator, namespace, csv_of(numbers(20)), [trunk("busy")], retry=retry)
    with dialing(scenario, namespace, redis_url, tmp_path) as workers:
        wait_for(
            "every contact closed", lambda: rdb.hlen(keys.closed) == 20, timeout=120, log=workers[0]
        )
    per_contact = Counter(r["contact"] for r in records(rdb, keys))
    assert set(per_contact.values()) == {3}, "each contact: exactly 3 attempts, then closed"
    assert set(rdb.hvals(keys.closed)) == {"Busy"}


def test_early_media_neither_starts_the_destination_nor_outlives_the_ring_timeout(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """Carriers that send 183 with early media (coloured ringback): the destination starts
    only when the callee answers (the originate's +OK comes after CHANNEL_ANSWER, not at the
    183), and a 183 that never answers is NoAnswer at pacing.ringTimeoutSeconds, not whatever
    the carrier does a minute later."""
    ring_timeout, speed = 8, 10
    early = {"earlyMedia": True, "pddSeconds": 0.5}
    scenario = {
        "seed": 4,
        "callees": {"invalid": 0, "switchedOff": 0, "machine": 0},
        "carriers": {
            "early": carrier(answerProbability=1, **early, ringSeconds=3, talkSeconds=2),
            # Rings past the ring timeout, then the network gives up with 480.
            "silent": carrier(
                answerProbability=0, failures={"noAnswer": 1}, maxRingSeconds=50, **early
            ),
        },
    }
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(numbers(12)),
        [trunk("early"), trunk("silent")],
        pacing={"maxConcurrency": 12, "ringTimeoutSeconds": ring_timeout},
        retry={"closure": {"maxAttempts": 1}},
    )
    seen: list[Event] = []

    def all_closed() -> bool:
        seen.extend(observer.drain(0.05))
        return bool(rdb.hlen(keys.closed) == 12)

    with running_sim(scenario, speed=speed) as esl, EslClient(*esl).connect() as observer:
        observer.subscribe("plain", "CHANNEL_ANSWER BACKGROUND_JOB")
        worker = WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / "w.log", "w1")
        worker.start()
        try:
            wait_for("every contact closed", all_closed, timeout=120, log=worker)
        finally:
            worker.stop()

    assert ledger_problems(rdb, keys) == []
    attempts = records(rdb, keys)
    by_trunk = Counter((r["trunk"], r["outcome"]) for r in attempts)
    assert set(by_trunk) == {("early", "AnsweredHuman"), ("silent", "NoAnswer")}, by_trunk
    for record in attempts:
        if record["trunk"] == "silent":
            rang = (int(record["call_ended_ms"]) - int(record["started_ms"])) / 1000 * speed
            assert rang < ring_timeout + 2, record  # not the carrier's 50 s
            continue
        answer = next(i for i, e in enumerate(seen) if e.get("Unique-ID") == record["uuid"])
        job = next(
            i for i, e in enumerate(seen) if record["uuid"] in (e.get("Job-Command-Arg") or "")
        )
        assert seen[job].body == f"+OK {record['uuid']}\n"
        assert answer < job, "the originate completed, and the destination started, at 183"
