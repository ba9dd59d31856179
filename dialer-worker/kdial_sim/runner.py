"""Wires a scenario into a running simulator and keeps it up until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sys
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path

from kdial_sim import events
from kdial_sim.api import VERSION, Api
from kdial_sim.bus import EventBus
from kdial_sim.clock import SimClock
from kdial_sim.events import Identity, Stamper
from kdial_sim.faults import FaultScheduler
from kdial_sim.scenario import Scenario
from kdial_sim.server import EslServer
from kdial_sim.shutdown import RESTART_SECONDS, restart, shut_down
from kdial_sim.switch import Switch

log = logging.getLogger(__name__)

#: FreeSWITCH sends a HEARTBEAT event every 20 seconds.
HEARTBEAT_SECONDS = 20.0


@dataclass(frozen=True)
class RunConfig:
    scenario: Scenario
    host: str
    port: int
    password: str
    speed: float
    source: str
    #: FreeSWITCH's configuration directory, whose sip_profiles/external gateways it loads.
    conf: Path | None = None


async def run(config: RunConfig) -> None:
    clock = SimClock(config.speed)
    spec = config.scenario.switch
    identity = Identity(
        core_uuid=spec.core_uuid or str(uuidlib.uuid4()),
        hostname=spec.hostname,
        ipv4=spec.ipv4,
        ipv6=spec.ipv6,
        sip_port=spec.sip_port,
    )
    bus = EventBus()
    stamper = Stamper(identity, clock)
    switch = Switch(config.scenario, clock, bus, stamper, config.conf)
    server = EslServer(Api(switch), bus, stamper, config.password)
    host, port = await server.start(config.host, config.port)
    faults = FaultScheduler(config.scenario.faults, clock, switch, server)
    faults.start()
    _announce(host, port, config)
    beat = asyncio.create_task(_heartbeats(clock, switch, stamper, bus))
    try:
        while await _until_stopped(switch):
            await restart(switch, server, clock, RESTART_SECONDS)
    finally:
        faults.stop()
        beat.cancel()
        await shut_down(switch, server, clock)


def _announce(host: str, port: int, config: RunConfig) -> None:
    # Test harnesses read this line to learn the port when asked to listen on port 0.
    sys.stdout.write(
        f"kdial-sim listening on {host}:{port} "
        f"(scenario {config.source}, seed {config.scenario.seed}, speed {config.speed:g})\n"
    )
    sys.stdout.flush()


async def _until_stopped(switch: Switch) -> bool:
    """Until SIGTERM, SIGINT or `fsctl shutdown`; True for `fsctl shutdown restart`."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, functools.partial(switch.request_shutdown, restart=False))
    await switch.shutdown_requested.wait()
    return switch.restart_requested


async def _heartbeats(clock: SimClock, switch: Switch, stamper: Stamper, bus: EventBus) -> None:
    while True:
        await clock.sleep(HEARTBEAT_SECONDS)
        bus.publish(events.heartbeat(stamper, _heartbeat_info(clock, switch)))


def _heartbeat_info(clock: SimClock, switch: Switch) -> dict[str, str]:
    uptime_ms = int(clock.elapsed() * 1000)
    return {
        "Up-Time": f"{uptime_ms // 1000} seconds",
        "FreeSWITCH-Version": VERSION,
        "Uptime-msec": str(uptime_ms),
        "Session-Count": str(len(switch.calls)),
        "Max-Sessions": str(switch.max_sessions),
        "Session-Per-Sec": str(switch.sps.limit),
        "Session-Per-Sec-Last": str(switch.sps.last),
        "Session-Per-Sec-Max": str(switch.sps.peak),
        "Session-Since-Startup": str(switch.counters.since_start),
        "Session-Peak-Max": str(switch.counters.peak),
        "Idle-CPU": "99.000000",
    }
