"""Timed faults from the scenario: carriers failing or changing, ESL links cut, hupall.

Times are scenario seconds from start, so `--speed` compresses them with everything else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from kdial_sim.clock import SimClock
from kdial_sim.outcomes import callee_carrier
from kdial_sim.scenario import (
    AnswerProbabilityFault,
    DropEslFault,
    FailFault,
    Fault,
    HupallFault,
    RefuseEslFault,
    ShutdownFault,
)
from kdial_sim.server import EslServer
from kdial_sim.shutdown import restart, shut_down
from kdial_sim.switch import Switch

log = logging.getLogger(__name__)


class FaultScheduler:
    def __init__(
        self, faults: tuple[Fault, ...], clock: SimClock, switch: Switch, server: EslServer
    ) -> None:
        self._faults = faults
        self._clock = clock
        self._switch = switch
        self._server = server
        self._handles: list[asyncio.TimerHandle] = []

    def start(self) -> None:
        if any(isinstance(f, FailFault) and f.network for f in self._faults):
            # Loads phonenumbers' carrier tables now, not in the middle of the fault's calls.
            callee_carrier("8613000000000")
        for fault in self._faults:
            self._at(fault.at, self._starter(fault))
            until = getattr(fault, "until", None)
            if until is not None and not isinstance(fault, RefuseEslFault | ShutdownFault):
                self._at(until, self._ender(fault))

    def stop(self) -> None:
        for handle in self._handles:
            handle.cancel()

    def _at(self, sim_elapsed: float, action: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        self._handles.append(loop.call_at(self._clock.loop_time_at(sim_elapsed), action))

    def _starter(self, fault: Fault) -> Callable[[], None]:
        def begin() -> None:
            log.info("fault at %gs: %s", fault.at, fault.action)
            match fault:
                case FailFault(carrier=carrier, network=str() as network):
                    self._switch.carriers[carrier].failing_networks[network] = fault.sip_status
                case FailFault(carrier=carrier):
                    self._switch.carriers[carrier].fail_status = fault.sip_status
                case AnswerProbabilityFault(carrier=carrier, value=value):
                    self._switch.carriers[carrier].answer_probability = value
                case DropEslFault(graceful=graceful):
                    self._server.drop_all(graceful)
                case RefuseEslFault(at=at, until=until):
                    self._server.spawn(
                        self._server.refuse_for(self._clock.real_seconds(until - at))
                    )
                case ShutdownFault(at=at, until=until):
                    self._server.spawn(self._shutdown(None if until is None else until - at))
                case HupallFault(cause=cause):
                    self._switch.hupall(cause)

        return begin

    async def _shutdown(self, down: float | None) -> None:
        if down is None:
            await shut_down(self._switch, self._server, self._clock)
        else:
            await restart(self._switch, self._server, self._clock, down)

    def _ender(self, fault: Fault) -> Callable[[], None]:
        def end() -> None:
            log.info("fault over: %s", fault.action)
            match fault:
                case FailFault(carrier=carrier, network=str() as network):
                    self._switch.carriers[carrier].failing_networks.pop(network, None)
                case FailFault(carrier=carrier):
                    self._switch.carriers[carrier].fail_status = None
                case AnswerProbabilityFault(carrier=carrier):
                    self._switch.carriers[carrier].answer_probability = None

        return end
