"""A campaign set up through the operator, ready for workers, in one call."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from kdial.state.keys import CampaignKeys
from kdial_local.processes import simulator as running_sim
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import WorkerProcess

ALL_DAY = {"windows": [{"start": "00:00", "end": "24:00"}]}


#: The one caller ID of `create`'s CallerIdPool `ids` unless a test names others.
CALLER_ID = "+862012345678"
# Line health judged in seconds, not minutes: a test sees an ejection, its end and the probe.
QUICK_HEALTH = {
    "windowSeconds": 30,
    "minSamples": 10,
    "ejectSeconds": 5,
    "maxEjectSeconds": 10,
    "probeCalls": 3,
}
# Every contact whose call failed is dialled again at once: a test's list lasts through it.
REDIAL_AT_ONCE = {
    "rules": [
        {"outcome": o, "delayMinutes": 0} for o in ("Busy", "NoAnswer", "CallLoss", "Unreachable")
    ],
    "closure": {"maxAttempts": 50},
}


def carrier(**overrides: Any) -> dict[str, Any]:
    """A quick simulated carrier: answers half, short rings and talks."""
    return {
        "answerProbability": 0.5,
        "pddSeconds": 0.5,
        "ringSeconds": {"dist": "uniform", "min": 1, "max": 3},
        "talkSeconds": {"dist": "uniform", "min": 2, "max": 4},
        "failures": {"busy": 1, "noAnswer": 1},
    } | overrides


def trunk(name: str, concurrent: int = 20, cps: int = 50) -> dict[str, Any]:
    """A gateway trunk: the switch dials it as sofia/gateway/<name>, the simulator's carrier of
    that name."""
    return {
        "name": name,
        "gateway": {"proxy": f"sip.{name}.example"},
        "maxConcurrentCalls": concurrent,
        "maxCallsPerSecond": cps,
    }


def spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "mode": "Agentless",
        "contactListRef": {"name": "leads"},
        "trunkPoolRefs": [{"name": "lines"}],
        "callerIdPoolRef": {"name": "ids"},
        "destination": {"extension": "9000"},
        "pacing": {"maxConcurrency": 20, "ringTimeoutSeconds": 20},
        "schedule": ALL_DAY,
        "retry": {
            "rules": [{"outcome": "CallLoss", "delayMinutes": 0}],
            "closure": {"maxAttempts": 3},
        },
        "workers": {"min": 1, "max": 2},
    }
    return base | overrides


def create(
    api: Api,
    rdb: redis.Redis,
    operator: OperatorProcess,
    namespace: str,
    csv: str,
    trunks: list[dict[str, Any]],
    caller_ids: list[dict[str, Any]] | None = None,
    health: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    **campaign: Any,
) -> CampaignKeys:
    """ContactList `leads` from `csv`, TrunkPool `lines`, CallerIdPool `ids`, Campaign `promo`;
    returns once the campaign has taken its contacts."""
    api.config_map("leads-source", {"list.csv": csv})
    api.create(
        "contactlists",
        "leads",
        {
            "source": {"configMap": {"name": "leads-source", "key": "list.csv"}},
            "defaultRegion": "CN",
            "tags": tags or [],
        },
        "ContactList",
    )
    api.create("trunkpools", "lines", {"trunks": trunks} | {"health": health or {}}, "TrunkPool")
    numbers = caller_ids or [{"number": CALLER_ID}]
    api.create("calleridpools", "ids", {"numbers": numbers}, "CallerIdPool")
    api.create("campaigns", "promo", spec(**campaign), "Campaign")
    keys = CampaignKeys(namespace, "promo")
    imported = wait_for(
        "the list imported",
        lambda: (api.get("contactlists", "leads") or {}).get("status", {}).get("counts"),
        log=operator,
    )
    wait_for("contacts seeded", lambda: rdb.scard(keys.known) == imported["imported"], log=operator)
    return keys


@contextmanager
def dialing(
    scenario: dict[str, Any],
    namespace: str,
    redis_url: str,
    logs: Path,
    workers: int = 1,
    speed: float = 20,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[WorkerProcess]]:
    """The simulator and `workers` worker processes for campaign `promo`, with `env` added
    to the workers' environment."""
    with running_sim(scenario, speed=speed) as esl:
        procs = [
            WorkerProcess(
                f"{namespace}/promo", redis_url, esl, logs / f"w{i}.log", f"w{i}", **(env or {})
            ).start()
            for i in range(1, workers + 1)
        ]
        try:
            yield procs
        finally:
            for proc in procs:
                proc.stop()


def csv_of(numbers: list[str]) -> str:
    return "phone\n" + "".join(f"{n}\n" for n in numbers)


def rewrite_spec(rdb: redis.Redis, keys: CampaignKeys, **changes: Any) -> None:
    """Rewrites the compiled campaign spec workers read, as an older operator (or a spec the API
    server would refuse) could have left it: `changes` set fields, a None value removes one.
    Stop the operator first, or its next pass compiles the real spec again."""
    document = json.loads(rdb.get(keys.config) or "{}")
    spec = document["content"]["spec"] | changes
    document["content"]["spec"] = {k: v for k, v in spec.items() if v is not None}
    rdb.set(keys.config, json.dumps(document))
