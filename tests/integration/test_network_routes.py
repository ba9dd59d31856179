"""Routing around a trunk's broken route to one callee network, end to end: in the simulator
carrier `a` loses its route to China Unicom (every call to a Unicom number fails 502); the
operator excludes that route, workers send Unicom numbers to `b` while `a` keeps carrying China
Mobile and China Telecom, `a` itself is never ejected, and the route comes back after its
probe once the carrier's route is restored."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from kdial.state.keys import PoolKeys
from tests.support.dialing import (
    QUICK_HEALTH,
    REDIAL_AT_ONCE,
    carrier,
    create,
    csv_of,
    dialing,
    trunk,
)
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import records

SPEED = 10
UNICOM = "cn-china-unicom"
# Scenario seconds: carrier-a fails every call to a China Unicom number from 10 s to 35 s of
# real time.
FAIL_FROM, FAIL_UNTIL = 10 * SPEED, 35 * SPEED
SCENARIO = {
    "seed": 16,
    "switch": {"sessionsPerSecond": 200, "maxChannels": 2000},
    "carriers": {
        gw: carrier(failures={"busy": 1, "noAnswer": 2}, answerProbability=0.5)
        for gw in ("carrier-a", "carrier-b")
    },
    "callees": {"invalid": 0.0, "switchedOff": 0.0, "machine": 0.0},
    "faults": [
        {
            "at": FAIL_FROM,
            "carrier": "carrier-a",
            "network": "China Unicom",
            "action": "fail",
            "cause": 502,
            "until": FAIL_UNTIL,
        }
    ],
}
TRUNKS = [trunk(f"carrier-{n}", concurrent=9, cps=100) for n in ("a", "b")]
# A call lost on both trunks in a row waits a minute: longer than the test.
WAIT_AFTER_TWO_LOSSES = {
    "rules": [
        {"outcome": o, "delayMinutes": 0 if o != "CallLoss" else 1}
        for o in ("Busy", "NoAnswer", "CallLoss", "Unreachable")
    ],
    "closure": {"maxAttempts": 3},
}
# Masked numbers keep their first digits: 130 is China Unicom, 138 China Mobile, 133 Telecom.
NETWORK_OF_PREFIX = {"+86130": UNICOM, "+86138": "cn-china-mobile", "+86133": "cn-china-telecom"}
UNMASKED = re.compile(r"(?<!\d)(\+?86)?13[038]\d{8}(?!\d)")


def contacts() -> list[str]:
    """Half China Mobile, a third China Unicom, the rest China Telecom, interleaved (1800)."""
    out = []
    for i in range(600):
        out += [f"13800{i:06d}", f"13000{i:06d}", f"13800{600 + i:06d}"]
        if i % 2:
            out += [f"13300{i:06d}"]
    return out


def network(record: dict[str, str]) -> str:
    return NETWORK_OF_PREFIX[record["number"][:6]]


def routes(rdb: redis.Redis, pool: PoolKeys) -> dict[str, dict[str, str]]:
    """Each trunk's routes out of health, as the routing table gives them to workers."""
    table = json.loads(rdb.get(pool.config) or "{}").get("content", {})
    return {t["name"]: t.get("networks", {}) for t in table.get("trunks", [])}


def status(api: Api) -> dict[str, Any]:
    found: dict[str, Any] = (api.get("trunkpools", "lines") or {}).get("status", {})
    return found


def route_excluded(api: Api, rdb: redis.Redis, pool: PoolKeys) -> float:
    """When a's route to Unicom is out of the routing table; else says what the pool shows."""
    now = routes(rdb, pool)
    shown = status(api)
    states = {t["name"]: t["state"] for t in shown.get("trunks", [])}
    assert now.get("carrier-a") == {UNICOM: "Ejected"}, (now, states, shown.get("networksDown"))
    return time.time()


def test_a_trunk_that_loses_one_network_hands_it_to_the_other_and_keeps_the_rest(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(contacts()),
        TRUNKS,
        health=QUICK_HEALTH,
        retry=REDIAL_AT_ONCE,
        pacing={"maxConcurrency": 16, "ringTimeoutSeconds": 20},
    )
    pool = PoolKeys("tp", namespace, "lines")
    with dialing(SCENARIO, namespace, redis_url, tmp_path, workers=1, speed=SPEED) as workers:
        excluded_at = wait_for(
            "a's route to Unicom out of the routing table",
            lambda: route_excluded(api, rdb, pool),
            timeout=FAIL_FROM / SPEED + 30,
            log=operator,
        )
        shown = wait_for(
            "status shows the route, why, and when it is probed",
            lambda: next(
                (r for r in status(api).get("networkRoutes", []) if r["state"] == "Ejected"),
                None,
            ),
            log=operator,
        )
        assert (shown["trunk"], shown["network"]) == ("carrier-a", UNICOM), shown
        assert "call loss" in shown["reason"].lower() or "lost" in shown["reason"], shown
        assert shown["nextProbeTime"] > shown["lastTransitionTime"], shown
        assert routes(rdb, pool).get("carrier-b") == {}
        restored = wait_for(
            "a's route to Unicom back after the carrier's route was restored",
            lambda: (
                time.time()
                if time.time() > excluded_at + 1
                and routes(rdb, pool).get("carrier-a") == {}
                and not status(api).get("networkRoutes")
                else None
            ),
            timeout=FAIL_UNTIL / SPEED + 40,
            log=operator,
        )
        wait_for(
            "Unicom calls on a again",
            lambda: any(
                r["trunk"] == "carrier-a"
                and network(r) == UNICOM
                and int(r["started_ms"]) / 1000 > restored
                for r in records(rdb, keys)
            ),
            log=workers[0],
        )
        final = status(api)

    attempts = records(rdb, keys)

    def started(r: dict[str, str]) -> float:
        return int(r["started_ms"]) / 1000

    lost = [
        started(r)
        for r in attempts
        if r["trunk"] == "carrier-a" and network(r) == UNICOM and r["outcome"] == "CallLoss"
    ]
    assert lost, "the carrier's route to Unicom failed"
    # Within a few seconds of the first lost call, on a few dozen of them at most.
    assert excluded_at - min(lost) < 8, excluded_at - min(lost)
    assert 3 <= len([t for t in lost if t < excluded_at]) <= 60, len(lost)
    # From a second after the decision until the route's probe (ejectSeconds): Unicom numbers
    # go to b, a keeps carrying the other networks.
    quiet = [r for r in attempts if excluded_at + 1 < started(r) < excluded_at + 4.5]
    assert not [r for r in quiet if r["trunk"] == "carrier-a" and network(r) == UNICOM]
    assert len([r for r in quiet if r["trunk"] == "carrier-b" and network(r) == UNICOM]) > 3
    assert len([r for r in quiet if r["trunk"] == "carrier-a" and network(r) != UNICOM]) > 5

    # The trunk itself never left service.
    trunks = {t["name"]: t for t in final["trunks"]}
    assert trunks["carrier-a"]["state"] == "Healthy", trunks["carrier-a"]
    events = api.events("lines")
    reasons = [e["reason"] for e in events]
    trunk_events = [e["message"] for e in events if e["reason"].startswith("Trunk")]
    assert "TrunkEjected" not in reasons, trunk_events
    assert "NetworkRouteExcluded" in reasons, reasons
    assert "NetworkRouteProbing" in reasons and "NetworkRouteRestored" in reasons, reasons
    assert "NetworkDown" not in reasons, "one trunk failing a network is not the network down"
    excluded = next(e for e in events if e["reason"] == "NetworkRouteExcluded")
    assert "carrier-a" in excluded["message"] and UNICOM in excluded["message"], excluded
    assert not UNMASKED.search(json.dumps(final)) and not UNMASKED.search(json.dumps(events))


def test_a_network_down_on_every_trunk_ejects_nothing_and_its_contacts_wait(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """China Unicom fails on both carriers at once (the callee side is down): no trunk and no
    route is blamed, Unicom contacts wait instead of spending their three attempts on lost
    calls, and they are dialled again once a probe finds the network back."""
    scenario = SCENARIO | {
        "faults": [
            {
                "at": FAIL_FROM,
                "carrier": gw,
                "network": "China Unicom",
                "action": "fail",
                "cause": 502,
                "until": FAIL_UNTIL,
            }
            for gw in ("carrier-a", "carrier-b")
        ]
    }
    keys = create(
        api,
        rdb,
        operator,
        namespace,
        csv_of(contacts()),
        TRUNKS,
        health=QUICK_HEALTH,
        retry=WAIT_AFTER_TWO_LOSSES,
        pacing={"maxConcurrency": 16, "ringTimeoutSeconds": 20},
    )
    pool = PoolKeys("tp", namespace, "lines")

    def down() -> dict[str, int]:
        table = json.loads(rdb.get(pool.config) or "{}").get("content", {})
        return dict(table.get("networksDown", {}))

    with dialing(scenario, namespace, redis_url, tmp_path, workers=1, speed=SPEED) as workers:
        down_at = wait_for(
            "Unicom down in the routing table",
            lambda: time.time() if UNICOM in down() else None,
            timeout=FAIL_FROM / SPEED + 30,
            log=operator,
        )
        shown = wait_for(
            "status shows the network down and when it is probed",
            lambda: next(iter(status(api).get("networksDown", [])), None),
            log=operator,
        )
        assert (shown["network"], shown["state"]) == (UNICOM, "Ejected"), shown
        assert shown["nextProbeTime"] > shown["lastTransitionTime"], shown
        assert "every trunk" in shown["reason"], shown
        up_at = wait_for(
            "Unicom back after the fault",
            lambda: (
                time.time()
                if time.time() > down_at + 1
                and not down()
                and not status(api).get("networksDown")
                and "NetworkUp" in [e["reason"] for e in api.events("lines")]
                else None
            ),
            timeout=FAIL_UNTIL / SPEED + 40,
            log=operator,
        )
        wait_for(
            "Unicom calls answered again",
            lambda: any(
                network(r) == UNICOM
                and r["outcome"].startswith("Answered")
                and int(r["started_ms"]) / 1000 > up_at
                for r in records(rdb, keys)
            ),
            log=workers[0],
        )
        final = status(api)

    attempts = records(rdb, keys)
    unicom = [r for r in attempts if network(r) == UNICOM]
    lost: dict[str, int] = {}
    for r in unicom:
        lost[r["number"]] = lost.get(r["number"], 0) + (r["outcome"] == "CallLoss")
    during = [r for r in attempts if down_at - 3 < int(r["started_ms"]) / 1000 < up_at]
    spent = sum(network(r) == UNICOM and r["outcome"] == "CallLoss" for r in during)
    # Unicom is a third of the list: dialled as the rest, it would have had half as many calls
    # as the other networks over the outage, every one lost, two per contact within a second.
    unheld = sum(network(r) != UNICOM for r in during) / 2
    print(f"network-down: {spent} Unicom calls lost, against {unheld:.0f} unheld")  # noqa: T201
    assert spent < unheld / 2, f"{spent} Unicom calls lost, against {unheld:.0f} unheld"
    assert not [n for n, count in lost.items() if count >= 3], "no Unicom contact burnt"
    first_probe = datetime.fromisoformat(shown["nextProbeTime"]).timestamp()
    quiet = [r for r in unicom if down_at + 1.5 < int(r["started_ms"]) / 1000 < first_probe - 0.5]
    assert not quiet, f"{len(quiet)} Unicom calls while the network was down"
    others = [r for r in attempts if down_at + 1.5 < int(r["started_ms"]) / 1000 < down_at + 4]
    assert len(others) > 10, "the other networks were dialled on both trunks meanwhile"
    assert {r["trunk"] for r in others} == {"carrier-a", "carrier-b"}

    assert all(t["state"] == "Healthy" for t in final["trunks"]), final["trunks"]
    assert not final.get("networkRoutes"), final.get("networkRoutes")
    events = api.events("lines")
    reasons = [e["reason"] for e in events]
    messages = [(e["reason"], e["message"]) for e in events]
    assert "TrunkEjected" not in reasons, messages
    # A route excluded a few calls before the other showed the same is reinstated with the
    # network down: it was not the route's failure.
    if "NetworkRouteExcluded" in reasons:
        assert any("down on every trunk" in m for r, m in messages if r == "NetworkRouteRestored")
    assert "NetworkDown" in reasons and "NetworkProbing" in reasons, reasons
