"""A TrunkPool changed while calls are up, end to end (issue 12's acceptance): the operator
compiles the new gateways into the pool's Secret and moves the routing table's generation; the
local kubelet updates the worker pod's mounts a while later, for its dialer and for the switch
(the simulator reading the mounted files as FreeSWITCH would); the worker then tells its switch
reloadxml, killgw for the gateway gone and rescan. No call up at the change is dropped, the new
gateway is dialled and the removed one is not."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import redis

from kdial.state import gateways as contract
from kdial.state.keys import PoolKeys
from kdial.state.routing_table import RoutingTable
from kdial.state.wire import Generation
from kdial_local.processes import simulator
from tests.support.dialing import carrier, create, csv_of, trunk
from tests.support.gateways import compiled
from tests.support.kubelet import kubelet_running
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import records
from tests.support.world import numbers

#: Every callee answers and talks 40 to 60 scenario seconds: 2 to 3 s at the switch's speed.
ANSWERED = {
    "answerProbability": 1.0,
    "ringSeconds": {"dist": "uniform", "min": 2, "max": 4},
    "talkSeconds": {"dist": "uniform", "min": 40, "max": 60},
}
#: Calls through a last 12 to 14 s, long enough to be up when a is killed after the mount lag.
LONG = ANSWERED | {"talkSeconds": {"dist": "uniform", "min": 240, "max": 280}}
#: Each carrier answers at its trunk's gateway proxy (tests.support.dialing.trunk).
SCENARIO: dict[str, Any] = {
    "seed": 12,
    "switch": {"sessionsPerSecond": 200},
    "carriers": {
        name: carrier(proxy=f"sip.{name}.example:5060", **(LONG if name == "a" else ANSWERED))
        for name in ("a", "b", "c")
    },
}
RETRY = {"rules": [{"outcome": "CallLoss", "delayMinutes": 0}], "closure": {"maxAttempts": 1}}
KILLGW = "sofia profile external killgw"
MOUNT_LAG_SECONDS = 8.0
RESCAN = "sofia profile external rescan"


def sim_commands(sim_dir: Path, text: str) -> int:
    """How many times the simulator logged receiving a command containing `text`."""
    log = (sim_dir / "sim.log").read_text("utf-8", "replace")
    return sum(text in line for line in log.splitlines())


def table_generation(rdb: redis.Redis, pool: PoolKeys) -> str:
    raw = rdb.get(pool.config)
    return RoutingTable.of(Generation.decode(raw).content).gateways_generation if raw else ""


def active(rdb: redis.Redis, pool: PoolKeys, trunk_name: str) -> set[str]:
    """The attempts holding a slot on the trunk: its calls under way."""
    return set(cast(list[str], rdb.zrange(pool.trunk_active(trunk_name), 0, -1)))


@contextmanager
def switch_and_pods(api: Api, tmp_path: Path, volume_sync_seconds: float = 1.0) -> Iterator[Path]:
    """The simulator reading the gateways the local kubelet projects into its conf folder, as
    each pod's FreeSWITCH reads its mount (`volume_sync_seconds` after the Secret changed), and
    the kubelet running the worker pods; yields the simulator's folder, whose log holds the
    commands it received."""
    conf, sim_dir = tmp_path / "conf", tmp_path / "sim"
    conf.mkdir()
    sim_dir.mkdir()
    with (
        simulator(SCENARIO, speed=20, workdir=sim_dir, conf=conf) as esl,
        kubelet_running(
            api,
            tmp_path / "pods",
            {"KDIAL_ESL_HOST": esl[0], "KDIAL_ESL_PORT": str(esl[1])},
            switch_conf=conf,
            volume_sync_seconds=volume_sync_seconds,
            stop_timeout=30,
        ),
    ):
        yield sim_dir


def test_a_trunkpool_changed_while_calls_are_up_reaches_the_switch_without_dropping_one(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    namespace: str,
    tmp_path: Path,
) -> None:
    pool = PoolKeys("tp", namespace, "lines")
    # The kubelet updates the mount a few seconds after the Secret, as a cluster's does (up to
    # its sync period): long enough to see what dials in between.
    with switch_and_pods(api, tmp_path, volume_sync_seconds=MOUNT_LAG_SECONDS) as sim_dir:
        keys = create(
            api, rdb, operator, namespace, csv_of(numbers(400)),
            [trunk("a", concurrent=8), trunk("b", concurrent=8)],
            retry=RETRY, workers={"min": 1, "max": 1},
            pacing={"maxConcurrency": 12, "ringTimeoutSeconds": 20},
        )  # fmt: skip
        wait_for("calls up on trunk a", lambda: len(active(rdb, pool, "a")) >= 4, log=operator)
        before = compiled(api, "lines") or {}
        first = before[contract.GENERATION_KEY]
        assert table_generation(rdb, pool) == first
        assert sim_commands(sim_dir, f"{KILLGW} a") == 0
        rescans = sim_commands(sim_dir, RESCAN)
        assert rescans >= 1, "the worker told its switch of the gateways it mounted"
        up_on_a = active(rdb, pool, "a")

        api.patch_spec("trunkpools", "lines", {"trunks": [trunk("b", concurrent=8), trunk("c")]})
        changed_ms = int(time.time() * 1000)
        second = wait_for(
            "the new generation in the Secret and the routing table",
            lambda: (
                (g := (compiled(api, "lines") or {}).get(contract.GENERATION_KEY, first)) != first
                and table_generation(rdb, pool) == g
                and g
            ),
            log=operator,
        )
        table_moved_ms = int(time.time() * 1000)
        wait_for("killgw a", lambda: sim_commands(sim_dir, f"{KILLGW} a") == 1, log=operator)
        applied_ms = int(time.time() * 1000)
        assert sim_commands(sim_dir, RESCAN) == rescans + 1
        assert sim_commands(sim_dir, "reloadxml") == rescans + 1
        assert sim_commands(sim_dir, KILLGW) == 1, "b is unchanged, c is new: only a is killed"
        assert up_on_a & active(rdb, pool, "a"), "calls on a were still up when a was killed"
        wait_for("calls up on trunk c", lambda: active(rdb, pool, "c"), log=operator)
        wait_for("the calls on a ended", lambda: not active(rdb, pool, "a"), log=operator)
        api.patch_spec("campaigns", "promo", {"state": "Paused"})
        wait_for("the calls in flight ended", lambda: not rdb.hlen(keys.inflight), log=operator)

    assert first != second
    attempts = [r for r in records(rdb, keys) if r.get("trunk")]
    on_a = [r for r in attempts if r["trunk"] == "a"]
    at_the_change = [r for r in on_a if r["attempt"] in up_on_a]
    assert at_the_change and all(int(r["call_ended_ms"]) > changed_ms for r in at_the_change)
    # Not one dropped: each ran to the callee's own hangup.
    assert {(r["outcome"], r.get("cause"), r["sip"]) for r in at_the_change} == {
        ("AnsweredHuman", "NORMAL_CLEARING", "200")
    }
    # The worker reads the routing table every second (a margin for a loaded machine): from the
    # new one on, trunk a is not dialled, first as its pool's gateways are not reloaded yet,
    # then as it is gone.
    assert not [r for r in on_a if int(r["started_ms"]) > table_moved_ms + 2000]
    assert [r for r in attempts if r["trunk"] == "c" and int(r["started_ms"]) > changed_ms]
    # Until the mount caught up, b, whose gateway did not change, kept dialling.
    meanwhile = range(table_moved_ms + 1500, applied_ms - 500)
    assert len(meanwhile) > 1000, "the mount lagged the table"
    assert [r for r in attempts if r["trunk"] == "b" and int(r["started_ms"]) in meanwhile]
    assert not [r for r in attempts if r.get("cause") in ("INVALID_GATEWAY", "GATEWAY_DOWN")]


def test_every_pool_of_a_campaign_reaches_its_switch_and_a_gateway_name_in_two_is_refused(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    namespace: str,
    tmp_path: Path,
) -> None:
    lines, backup = PoolKeys("tp", namespace, "lines"), PoolKeys("tp", namespace, "backup")
    api.create("trunkpools", "backup", {"trunks": [trunk("c", concurrent=8)]}, "TrunkPool")
    with switch_and_pods(api, tmp_path):
        keys = create(
            api, rdb, operator, namespace, csv_of(numbers(200)), [trunk("a", concurrent=8)],
            retry=RETRY, workers={"min": 1, "max": 1},
            pacing={"maxConcurrency": 12, "ringTimeoutSeconds": 20},
            trunkPoolRefs=[{"name": "lines"}, {"name": "backup"}],
        )  # fmt: skip
        for pool, name in ((lines, "a"), (backup, "c")):
            wait_for(
                f"calls up on trunk {name}",
                lambda p=pool, n=name: active(rdb, p, n),  # type: ignore[misc]
                log=operator,
            )

        api.patch_spec("trunkpools", "backup", {"trunks": [trunk("c"), trunk("a")]})
        ready = wait_for(
            "the campaign refused",
            lambda: (
                (c := api.condition("campaigns", "promo", "Ready"))
                and c["reason"] == "GatewayConflict"
                and c
            ),
            log=operator,
        )
        wait_for("the calls in flight ended", lambda: not rdb.hlen(keys.inflight), log=operator)

    assert ready["status"] == "False"
    assert "gateway trunk 'a' is in TrunkPools lines, backup" in ready["message"]
    attempts = [r for r in records(rdb, keys) if r.get("trunk")]
    assert {r["trunk"] for r in attempts} == {"a", "c"}
    assert not [r for r in attempts if r.get("cause") in ("INVALID_GATEWAY", "GATEWAY_DOWN")]
