"""A switch shutting down, as a client of its Event Socket sees it (measured on FreeSWITCH 1.11).

After "Shutting down" (SIGTERM, `fsctl shutdown [restart]`, the scenario's `shutdown` fault) the
calls up end SYSTEM_SHUTDOWN, and the Event Socket stays up for about `WINDOW_SECONDS` while the
other modules unload, answering every originate `-ERR CHAN_NOT_IMPLEMENTED` with no channel
event. Then it says goodbye and closes. None of this says anything about a carrier.
"""

from __future__ import annotations

import asyncio

from kdial_sim.clock import SimClock
from kdial_sim.server import EslServer
from kdial_sim.switch import Switch

#: Scenario seconds the Event Socket stays up after "Shutting down" (measured: about 1.7 s).
WINDOW_SECONDS = 1.7
#: After `fsctl shutdown restart`, scenario seconds from "Shutting down" until the switch
#: listens again (not measured: the window, then a few seconds of loading its modules).
RESTART_SECONDS = 4.0


async def shut_down(switch: Switch, server: EslServer, clock: SimClock) -> None:
    """From "Shutting down" to the Event Socket closed."""
    switch.begin_shutdown()
    await asyncio.sleep(clock.real_seconds(WINDOW_SECONDS))
    await switch.calls_ended()
    await server.close()


async def restart(switch: Switch, server: EslServer, clock: SimClock, down: float) -> None:
    """Shuts down, stays down for `down` scenario seconds from "Shutting down", then listens
    again on the same address with an empty channel table (a supervisor's restart)."""
    await shut_down(switch, server, clock)
    await asyncio.sleep(clock.real_seconds(max(down - WINDOW_SECONDS, 0.0)))
    switch.restarted()
    await server.reopen()
