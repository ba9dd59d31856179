"""A Predictive campaign end to end: three agents log in through the real `kdial api`, two
workers dial the simulator over real ESL, callees answer three times in ten; one worker holds
the campaign's pacer lease and its permits let the campaign dial ahead of its agents."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import redis

from kdial.pacing.abandon import WINDOW_SECONDS
from kdial_local.processes import simulator as running_sim
from tests.support.desks import Desk, WrapUpDesk, moves, state
from tests.support.dialing import carrier, create, csv_of, trunk
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import WorkerProcess, ledger_problems, max_overlap, records
from tests.support.world import numbers

SPEED = 20
AGENTS = {"ana": "agent1", "bob": "agent2", "cy": "agent3"}
CONTACTS = 60
CAP_PERCENT = 10
#: Calls per logged-in agent the campaign may have in flight: 5 for three agents.
DIAL_RATIO = "1.5"


SCENARIO: dict[str, Any] = {
    "seed": 11,
    "switch": {"sounds": {"kdial/abandoned.wav": 3}},
    "callees": {"invalid": 0, "switchedOff": 0, "machine": 0},
    "carriers": {
        "answers": carrier(
            answerProbability=0.3,
            ringSeconds={"dist": "uniform", "min": 5, "max": 15},
            talkSeconds={"dist": "fixed", "value": 60},
        )
    },
    "agents": {"count": 3, "ringSeconds": 0.2},
}


def test_predictive_dials_ahead_of_ready_agents_within_the_abandon_cap(
    api: Api,
    operator: OperatorProcess,
    agent_api: str,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """More calls at once than agents (the point of predictive) but no more than maxDialRatio
    per agent, each answered callee bridged to an agent whose state follows the call,
    abandoned calls within the campaign's cap."""
    api.secret("kdial-agent-tokens", {name: f"{name}-token" for name in AGENTS})
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(numbers(CONTACTS)),
        [trunk("answers")],
        mode="Predictive",
        destination=None,
        pacing={
            "connectDeadlineSeconds": 3,
            "ringTimeoutSeconds": 30,
            "abandonMessage": "kdial/abandoned.wav",
            "maxAbandonPercent": CAP_PERCENT,
            "maxDialRatio": DIAL_RATIO,
        },
        retry={"closure": {"maxAttempts": 1}},
    )
    for agent, endpoint in AGENTS.items():
        Desk(agent_api, namespace, agent, endpoint=endpoint).login_ready()
    wrap_up = WrapUpDesk(redis_url, keys, set(AGENTS))
    wrap_up.start()
    holders: set[str] = set()
    with running_sim(SCENARIO, speed=SPEED) as esl:
        workers = [
            WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / f"w{i}.log", f"w{i}")
            for i in (1, 2)
        ]

        def all_closed() -> bool:
            if holder := rdb.get(keys.pacer_lease):
                holders.add(str(holder))
            return bool(rdb.hlen(keys.closed) == CONTACTS)

        try:
            for worker in workers:
                worker.start()
            wait_for("every contact closed", all_closed, timeout=180, log=workers[0])
            # The last call's contact closes as it ends; its agent's wrap-up ends a moment later.
            wait_for(
                "every agent Ready again",
                lambda: all(state(rdb, keys, a).state.value == "Ready" for a in AGENTS),
                log=workers[0],
            )
        finally:
            wrap_up.stopped.set()
            for worker in workers:
                worker.stop()

    assert len(holders) == 1 and holders <= {"w1", "w2"}, "one pacer for the campaign"
    assert ledger_problems(rdb, keys) == []
    attempts = records(rdb, keys)
    calls = [(int(r["started_ms"]), int(r["call_ended_ms"])) for r in attempts]
    most = max_overlap(calls)
    assert len(AGENTS) < most, "dialled ahead of the agents"
    assert most <= math.ceil(len(AGENTS) * float(DIAL_RATIO)), "within maxDialRatio per agent"

    outcomes = Counter(r["outcome"] for r in attempts)
    talked = [r for r in attempts if r["outcome"] == "AnsweredHuman"]
    answered = len(talked) + outcomes["Abandoned"]
    assert talked, outcomes
    # The cap holds per 30-minute window (the pacer's and the regulators'); this run is far
    # shorter than one, so its one window is the whole run.
    span_ms = max(end for _, end in calls) - min(start for start, _ in calls)
    assert span_ms < WINDOW_SECONDS * 1000
    assert outcomes["Abandoned"] * 100 <= CAP_PERCENT * answered, outcomes
    for record in talked:
        assert record["agent"] in AGENTS
        assert int(record["started_ms"]) < int(record["bridged_ms"]) < int(record["call_ended_ms"])
    taken = Counter(r["agent"] for r in talked)
    for agent in AGENTS:
        cycle = ["reserve", "talk", "wrapUp", "endWrapUp"]
        assert moves(rdb, keys, agent) == ["login", *cycle * taken[agent]], agent
    assert rdb.hlen(keys.paced_calls) == 0, "no call left for the pacer to wait for"
