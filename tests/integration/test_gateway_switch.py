"""A worker keeps its switch's sofia gateways in step with the pool's compiled gateways, over a
real Event Socket: new generations reach the switch while calls are up, and a trunk whose
gateway the switch lacks, or has not registered, is not dialled. The gateway files are written
here as the operator's Secret holds them; the operator's compiling is tested on its own."""

from __future__ import annotations

import signal
import time
from functools import partial
from pathlib import Path
from typing import Any

import redis

from kdial.state.gateways import GatewayReport, generation_of
from kdial.state.keys import PoolKeys
from kdial_local.processes import simulator
from tests.support.dialing import carrier, create, csv_of, trunk
from tests.support.gateways import gateway_xml, mount, set_generation
from tests.support.operator import Api, OperatorProcess, wait_for
from tests.support.workers import WorkerProcess, records
from tests.support.world import numbers

GW_A = {"proxy": "127.0.0.2:5060", "register": "false"}
GW_B = {"proxy": "127.0.0.3:5060", "register": "false"}
TRUNKS = [trunk("gw-a", concurrent=10), trunk("gw-b", concurrent=10)]
ANSWERED = {"answerProbability": 1.0, "talkSeconds": {"dist": "uniform", "min": 40, "max": 60}}
SCENARIO: dict[str, Any] = {
    "seed": 5,
    "switch": {"sessionsPerSecond": 200},
    "carriers": {
        "carrier-a": carrier(proxy="127.0.0.2:5060", **ANSWERED),
        "carrier-b": carrier(proxy="127.0.0.3:5060", **ANSWERED),
    },
}
RETRY = {
    "rules": [{"outcome": o, "delayMinutes": 0} for o in ("Busy", "NoAnswer", "CallLoss")],
    "closure": {"maxAttempts": 1},
}


def switch_folder(conf: Path) -> Path:
    """Where the pod's switch mounts the Secret, in the simulator's configuration folder."""
    return conf / "sip_profiles" / "external" / "pod-1"


def folders(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The switch's configuration folder, the dialer's mount and the simulator's folder."""
    (tmp_path / "sim").mkdir()
    return tmp_path / "conf", tmp_path / "gateways", tmp_path / "sim"


def deliver(
    rdb: redis.Redis, pool: str, namespace: str, conf: Path, mounted: Path, xml: str
) -> None:
    """Pool `pool`'s gateways `xml` as a kubelet that has updated the pod's volume shows them,
    to the switch and to the dialer, and the routing table naming their generation."""
    mount(switch_folder(conf), xml, pool)
    set_generation(rdb, PoolKeys("tp", namespace, pool), mount(mounted, xml, pool))


def sim_log_lines(folder: Path, text: str) -> int:
    log = folder / "sim.log"
    return sum(text in line for line in log.read_text("utf-8", "replace").splitlines())


def test_a_new_generation_reaches_the_switch_while_calls_are_up(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    keys = create(
        api, rdb, operator, namespace, csv_of(numbers(300)), TRUNKS, retry=RETRY,
        pacing={"maxConcurrency": 12, "ringTimeoutSeconds": 20},
    )  # fmt: skip
    operator.stop()  # the routing table's generation is this test's to set from here on
    pool = PoolKeys("tp", namespace, "lines")
    conf, mounted, sim_dir = folders(tmp_path)
    deliver(rdb, "lines", namespace, conf, mounted, gateway_xml({"gw-a": GW_A}))

    with simulator(SCENARIO, speed=20, workdir=sim_dir, conf=conf) as esl:
        worker = WorkerProcess(
            f"{namespace}/promo", redis_url, esl, tmp_path / "w1.log", "w1",
            KDIAL_GATEWAYS_DIR=str(mounted),
        ).start()  # fmt: skip
        try:
            wait_for(
                "calls up on trunk a", lambda: rdb.zcard(pool.trunk_active("gw-a")) >= 5, log=worker
            )
            assert sim_log_lines(sim_dir, "sofia profile external rescan") == 1

            second = gateway_xml({"gw-b": GW_B})
            set_generation(rdb, pool, generation_of(second))
            time.sleep(1.5)  # the routing table moved; the kubelet has not updated the volume
            assert sim_log_lines(sim_dir, "sofia profile external rescan") == 1
            mount(switch_folder(conf), second)
            mount(mounted, second)
            changed_ms = int(time.time() * 1000)
            wait_for(
                "killgw gw-a",
                lambda: sim_log_lines(sim_dir, "sofia profile external killgw gw-a") == 1,
                log=worker,
            )
            assert sim_log_lines(sim_dir, "sofia profile external rescan") == 2
            assert sim_log_lines(sim_dir, "reloadxml") == 2
            wait_for(
                "calls on trunk b", lambda: rdb.zcard(pool.trunk_active("gw-b")) >= 5, log=worker
            )
            wait_for(
                "the calls up on trunk a at the change ended",
                lambda: rdb.zcard(pool.trunk_active("gw-a")) == 0,
                log=worker,
            )
        finally:
            worker.stop()  # drains: every call that ended is recorded

    attempts = [r for r in records(rdb, keys) if r.get("trunk")]
    on_a = [r for r in attempts if r["trunk"] == "gw-a"]
    up_at_change = [r for r in on_a if int(r["call_ended_ms"]) > changed_ms]
    assert up_at_change, "no call was up on trunk a when its gateway went away"
    # Not one dropped: each ran to the callee's own hangup.
    assert {(r["outcome"], r.get("cause"), r["sip"]) for r in up_at_change} == {
        ("AnsweredHuman", "NORMAL_CLEARING", "200")
    }
    assert any(r["trunk"] == "gw-b" for r in attempts)
    # Never a gateway the switch did not have: b before it was loaded, a after it was killed.
    assert not [r for r in attempts if r.get("cause") == "INVALID_GATEWAY"]
    assert not [r for r in on_a if int(r["started_ms"]) > changed_ms + 2000]


def test_a_pool_whose_new_gateways_are_not_mounted_yet_waits_while_the_other_pool_dials(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    api.create("trunkpools", "backup", {"trunks": [trunk("b", concurrent=10)]}, "TrunkPool")
    keys = create(
        api, rdb, operator, namespace, csv_of(numbers(300)), [trunk("a", concurrent=10)],
        retry=RETRY, pacing={"maxConcurrency": 12, "ringTimeoutSeconds": 20},
        trunkPoolRefs=[{"name": "lines"}, {"name": "backup"}],
    )  # fmt: skip
    lines, backup = PoolKeys("tp", namespace, "lines"), PoolKeys("tp", namespace, "backup")
    wait_for("both routing tables", lambda: rdb.exists(lines.config, backup.config) == 2)
    operator.stop()  # the routing tables' generations are this test's to set from here on
    conf, mounted, sim_dir = folders(tmp_path)
    for pool, xml in (("lines", gateway_xml({"a": GW_A})), ("backup", gateway_xml({"b": GW_B}))):
        deliver(rdb, pool, namespace, conf, mounted, xml)

    with simulator(SCENARIO, speed=20, workdir=sim_dir, conf=conf) as esl:
        worker = WorkerProcess(
            f"{namespace}/promo", redis_url, esl, tmp_path / "w1.log", "w1",
            KDIAL_GATEWAYS_DIR=str(mounted),
        ).start()  # fmt: skip
        try:
            for keys_of, name in ((lines, "a"), (backup, "b")):
                wait_for(
                    f"calls up on trunk {name}",
                    partial(lambda p, n: rdb.zcard(p.trunk_active(n)) >= 3, keys_of, name),
                    log=worker,
                )
            assert sim_log_lines(sim_dir, "sofia profile external rescan") == 1

            # Pool lines changes gateway a; the kubelet has not updated the volume yet.
            changed = gateway_xml({"a": GW_A | {"expire-seconds": "600"}})
            set_generation(rdb, lines, generation_of(changed))
            changed_ms = int(time.time() * 1000)
            on_b = set(rdb.zrange(backup.trunk_active("b"), 0, -1))
            # Long enough for the worker to have read the new table (within a second), and some.
            wait_for(
                "new calls on trunk b while pool lines waits for its files",
                lambda: (
                    len(set(rdb.zrange(backup.trunk_active("b"), 0, -1)) - on_b) >= 3
                    and time.time() * 1000 > changed_ms + 3000
                ),
                log=worker,
            )
            assert sim_log_lines(sim_dir, "sofia profile external rescan") == 1
            mount(switch_folder(conf), changed, "lines")
            mount(mounted, changed, "lines")
            remounted_ms = int(time.time() * 1000)
            wait_for(
                "killgw a",
                lambda: sim_log_lines(sim_dir, "sofia profile external killgw a") == 1,
                log=worker,
            )
            assert sim_log_lines(sim_dir, "sofia profile external rescan") == 2
            assert sim_log_lines(sim_dir, "killgw b") == 0
            on_a = set(rdb.zrange(lines.trunk_active("a"), 0, -1))
            wait_for(
                "new calls on trunk a once its gateway is reloaded",
                lambda: set(rdb.zrange(lines.trunk_active("a"), 0, -1)) - on_a,
                log=worker,
            )
        finally:
            worker.stop()

    attempts = [r for r in records(rdb, keys) if r.get("trunk")]
    started = [(r["trunk"], int(r["started_ms"])) for r in attempts]
    # The worker reads a new routing table within a second; from then until the files were
    # mounted, trunk a was not dialled and trunk b was.
    waiting = range(changed_ms + 1500, remounted_ms)
    assert [t for t, at in started if at in waiting] and not [
        t for t, at in started if at in waiting and t == "a"
    ]
    assert not [r for r in attempts if r.get("cause") in ("INVALID_GATEWAY", "GATEWAY_DOWN")]
    up_on_a = [r for r in attempts if r["trunk"] == "a" and int(r["call_ended_ms"]) > changed_ms]
    assert up_on_a and {r.get("cause") for r in up_on_a} <= {"NORMAL_CLEARING"}


def test_a_gateway_that_fails_to_register_is_not_dialled_and_status_says_so(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    keys = create(api, rdb, operator, namespace, csv_of(numbers(40)), TRUNKS, retry=RETRY)
    conf = tmp_path / "conf"
    registering = GW_B | {"register": "true", "username": "kdial", "password": "s3cret"}
    mount(switch_folder(conf), gateway_xml({"gw-a": GW_A, "gw-b": registering}))
    scenario = SCENARIO | {
        "carriers": SCENARIO["carriers"] | {"carrier-b": carrier(proxy="127.0.0.3:5060",
                                                                 registration="refuse")},
    }  # fmt: skip
    with simulator(scenario, speed=20, conf=conf) as esl:
        worker = WorkerProcess(f"{namespace}/promo", redis_url, esl, tmp_path / "w.log", "w1")
        worker.start()
        try:
            status = wait_for(
                "both gateways in status",
                lambda: _gateway_rows(api),
                log=operator,
            )
            wait_for("contacts dialled", lambda: len(records(rdb, keys)) >= 20, log=operator)
        finally:
            worker.stop()
    assert status["gw-a"] == ("NOREG", "1/1")
    assert status["gw-b"][0] in ("TRYING", "FAIL_WAIT") and status["gw-b"][1] == "0/1"
    attempts = records(rdb, keys)
    assert {r["trunk"] for r in attempts if r.get("trunk")} == {"gw-a"}
    events = [e for e in api.events("lines") if e.get("reason") == "GatewayDown"]
    assert events and "gateway gw-b" in events[0]["message"]
    assert "s3cret" not in str(api.get("trunkpools", "lines"))


def _gateway_rows(api: Api) -> dict[str, tuple[str, str]] | None:
    rows = ((api.get("trunkpools", "lines") or {}).get("status") or {}).get("trunks") or []
    found = {r["name"]: (r.get("gateway", ""), r.get("gatewayDialable", "")) for r in rows}
    return found if all(found.get(n, ("",))[0] for n in ("gw-a", "gw-b")) else None


def applied(rdb: redis.Redis, pool: PoolKeys, worker: str) -> dict[str, str]:
    """The gateways the worker last reported it had given its switch."""
    raw = rdb.hget(pool.gateways, worker)
    return GatewayReport.decode(str(raw)).applied if raw else {}


def test_a_worker_restarted_beside_its_switch_kills_a_gateway_changed_while_it_was_down(
    api: Api,
    operator: OperatorProcess,
    rdb: redis.Redis,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """The dialer dies (SIGKILL) while its switch keeps running; gateway gw-a changes before
    it comes back with the same id. The switch still has gw-a as it was, and a rescan alone
    would keep it so: the worker reads back what it had given the switch and kills gw-a
    first; gw-b, unchanged, is left alone."""
    create(
        api, rdb, operator, namespace, csv_of(numbers(300)), TRUNKS, retry=RETRY,
        pacing={"maxConcurrency": 12, "ringTimeoutSeconds": 20},
    )  # fmt: skip
    operator.stop()  # the routing table's generation is this test's to set from here on
    pool = PoolKeys("tp", namespace, "lines")
    conf, mounted, sim_dir = folders(tmp_path)
    deliver(rdb, "lines", namespace, conf, mounted, gateway_xml({"gw-a": GW_A, "gw-b": GW_B}))

    def worker(log: str) -> WorkerProcess:
        return WorkerProcess(
            f"{namespace}/promo", redis_url, esl, tmp_path / log, "w1",
            KDIAL_GATEWAYS_DIR=str(mounted),
        )  # fmt: skip

    with simulator(SCENARIO, speed=20, workdir=sim_dir, conf=conf) as esl:
        before = worker("before.log").start()
        try:
            wait_for(
                "the switch told of the gateways",
                lambda: sim_log_lines(sim_dir, "sofia profile external rescan") == 1,
                log=before,
            )
            # Every report holds `applied`, empty until the switch was given the gateways: wait
            # for the one that names them, or the restart has nothing to read back.
            wait_for(
                "what it gave the switch published",
                lambda: set(applied(rdb, pool, "w1")) == {"gw-a", "gw-b"},
                log=before,
            )
        finally:
            before.stop(signal.SIGKILL)

        changed = gateway_xml({"gw-a": GW_A | {"expire-seconds": "600"}, "gw-b": GW_B})
        deliver(rdb, "lines", namespace, conf, mounted, changed)
        after = worker("after.log").start()
        try:
            wait_for(
                "the switch told of the new gateways",
                lambda: sim_log_lines(sim_dir, "sofia profile external rescan") == 2,
                log=after,
            )
        finally:
            after.stop()

    assert sim_log_lines(sim_dir, "sofia profile external killgw gw-a") == 1
    assert sim_log_lines(sim_dir, "sofia profile external killgw gw-b") == 0
