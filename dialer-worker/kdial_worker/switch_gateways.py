"""Keeps the switch's sofia gateways in step with the pools' compiled gateways, and watches
them (the I/O around `kdial_worker.gateways`).

Every `POLL_SECONDS` the worker asks its switch for its gateways (`sofia xmlstatus gateway`),
publishes what it says of each pool's gateways in Redis for the operator to show, and keeps it
for the dial loop: a trunk whose gateway the switch lacks, has not registered, or finds down is
not dialled. When the mounted directory (`KDIAL_GATEWAYS_DIR`) shows each pool's gateways
generation its routing table names, it tells the switch: reloadxml, killgw, rescan. Calls up
are not touched by any of them. Until then, of a pool whose generation the switch has not been
given yet, only the gateways it has as the routing table wants them (their fingerprints) are
dialled: a new or changed gateway waits, the others and other pools' do not.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import cast

import redis
from pydantic import ValidationError

from kdial.state import gateways as contract
from kdial.state.gateways import GatewayReport, SwitchGateway
from kdial.state.keys import PoolKeys
from kdial_worker import gateways, metrics
from kdial_worker.esl import EslDown, EslSession
from kdial_worker.runtime import Runtime, Trunk

log = logging.getLogger(__name__)

#: How often the switch is asked for its gateways' states.
POLL_SECONDS = 2.0


class SwitchGateways:
    def __init__(
        self, esl: EslSession, rdb: redis.Redis, directory: Path | None, worker_id: str
    ) -> None:
        self.esl, self.rdb, self.directory, self.worker_id = esl, rdb, directory, worker_id
        #: What the switch last said of its gateways; None until it answered once.
        self.on_switch: dict[str, SwitchGateway] | None = None
        #: Pool -> the gateways generation the switch was last given.
        self._applied: dict[str, str] = {}
        #: Gateway -> the fingerprint of its definition the switch was last given.
        self._applied_gateways: dict[str, str] | None = None
        self._polled_at = 0.0
        self._restored = False
        self._problem: str | None = None
        #: Gateways about to be killed: no longer picked, so no attempt is on its way to one
        #: when it goes.
        self._retiring: set[str] = set()

    def usable(self, trunk: Trunk, rt: Runtime) -> bool:
        if trunk.gateway is None:
            return True
        if self.directory is not None and not gateways.gateway_current(
            trunk.pool.name,
            trunk.gateway,
            trunk.gateway_fingerprint,
            wanted=gateways.wanted_generations(rt.gateway_generations),
            applied=self._applied,
            applied_gateways=self._applied_gateways,
        ):
            return False
        return trunk.gateway not in self._retiring and gateways.gateway_ok(
            trunk.gateway, self.on_switch
        )

    def tick(self, rt: Runtime | None) -> None:
        """One round: apply a new generation when due, and poll when it is time."""
        if rt is None or not self.esl.connected:
            return
        if not self._restored:
            self._restore(rt)
        # First what the switch has: a gateway of an older config is killed by the next apply.
        if self.on_switch is None or time.monotonic() - self._polled_at >= POLL_SECONDS:
            self._poll(rt)
        if self._apply(rt):
            self._poll(rt)

    def _apply(self, rt: Runtime) -> bool:
        if self.directory is None:
            return False
        wanted = gateways.wanted_generations(rt.gateway_generations)
        if wanted == self._applied:
            return False  # the steady state: no mounted file to read every round
        mounted = {pool: self._mounted(pool) for pool in wanted}
        if not gateways.reload_due(wanted, mounted, self._applied):
            return False
        files = {}
        for pool, generation in wanted.items():
            try:
                xml = (self.directory / contract.xml_file(pool)).read_text(encoding="utf-8")
            except OSError as error:
                self._say(f"cannot read the mounted gateways of pool {pool}: {error}")
                return False
            if contract.generation_of(xml) != generation:
                return False  # the kubelet is swapping the files; read them again next round
            files[pool] = xml
        try:
            after = gateways.combined(
                {pool: contract.fingerprints(xml) for pool, xml in files.items()}
            )
            stale = gateways.stale_gateways(
                self._applied_gateways, after, (self.on_switch or {}).keys()
            )
        except ValueError as error:
            self._say(f"gateways generations {wanted} not applied: {error}")
            return False
        if set(stale) - self._retiring:
            # Killed next round, once the attempts that picked them have sent their originate.
            self._retiring |= set(stale)
            return False
        try:
            for command in gateways.reload_commands(stale):
                reply = self.esl.api(command)
                log.info("switch: %s: %s", command, reply.strip().replace("\n", " "))
        except EslDown as error:
            log.warning("gateways generations %s not applied yet: %s", wanted, error)
            return False
        self._applied, self._applied_gateways = wanted, after
        self._retiring = set()
        metrics.GATEWAY_RELOADS.inc()
        self._problem = None
        log.info("gateways generations %s applied (%d gateways)", wanted, len(after))
        return True

    def _restore(self, rt: Runtime) -> None:
        """What this worker gave its switch before it restarted (its own last reports, read
        before it publishes any): a gateway changed since is then killed before the rescan,
        where it would be kept as it was, and the unchanged ones dial at once."""
        applied: dict[str, str] = {}
        try:
            for pool in {pool for pool, _ in rt.gateway_trunks}:
                raw = self.rdb.hget(pool.gateways, self.worker_id)
                with contextlib.suppress(ValueError, ValidationError):
                    applied |= GatewayReport.decode(cast(str, raw)).applied if raw else {}
        except redis.RedisError:
            return  # tried again next round
        self._restored = True
        if applied and self._applied_gateways is None:
            self._applied_gateways = applied
            log.info("gateways given to the switch before a restart: %s", ", ".join(applied))

    def _mounted(self, pool: str) -> str | None:
        assert self.directory is not None
        try:
            path = self.directory / contract.generation_file(pool)
            return path.read_text(encoding="utf-8").strip()
        except OSError:
            return None

    def _poll(self, rt: Runtime) -> None:
        self._polled_at = time.monotonic()
        try:
            reply = self.esl.api("sofia xmlstatus gateway")
            on_switch = gateways.parse_xml_status(reply)
        except EslDown:
            return  # keep what was known; the ESL supervisor reconnects
        except gateways.BadStatus as error:
            self._say(f"cannot read the switch's gateways: {error}")
            on_switch = {}
        self._changes(on_switch)
        self.on_switch = on_switch
        try:
            publish(self.rdb, self.worker_id, rt.gateway_trunks, on_switch, self._applied_gateways)
        except redis.RedisError as error:
            log.warning("gateway states not published: %s", error)

    def _changes(self, now: Mapping[str, SwitchGateway]) -> None:
        before = self.on_switch or {}
        for gone in set(before) - set(now):
            metrics.GATEWAY_DIALABLE.remove(gone)
            log.info("gateway %s: no longer on the switch", gone)
        for name, gateway in now.items():
            metrics.GATEWAY_DIALABLE.labels(name).set(int(gateway.dialable))
            old = before.get(name)
            if old is None or old.dialable != gateway.dialable:
                verb = "dialable" if gateway.dialable else "not dialable"
                log.info("gateway %s: %s/%s, %s", name, gateway.state, gateway.status, verb)

    def _say(self, problem: str) -> None:
        if problem != self._problem:
            log.error("%s", problem)
        self._problem = problem


def publish(
    rdb: redis.Redis,
    worker_id: str,
    gateway_trunks: Iterable[tuple[PoolKeys, str]],
    on_switch: Mapping[str, SwitchGateway],
    applied: Mapping[str, str] | None,
) -> None:
    """Each pool's gateways as this worker's switch reports them, and as the worker gave them
    to it (`applied` fingerprints), under the pool's key."""
    given = applied or {}
    by_pool: dict[PoolKeys, list[str]] = {}
    for pool, gateway in gateway_trunks:
        by_pool.setdefault(pool, []).append(gateway)
    at_ms = int(time.time() * 1000)
    for pool, names in by_pool.items():
        report = GatewayReport(
            at_ms=at_ms,
            gateways={g: on_switch[g] for g in names if g in on_switch},
            applied={g: given[g] for g in names if g in given},
        )
        rdb.hset(pool.gateways, worker_id, report.encode())
