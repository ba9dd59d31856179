"""The simulated switch: its channel table, admission rules and channel-wide commands.

Admission follows FreeSWITCH's order. A switch shutting down refuses every originate with
CHAN_NOT_IMPLEMENTED and no channel event (its endpoint modules are gone; measured on 1.11 for
the ~1.7 s its Event Socket stays up, see `kdial_sim.shutdown`). An unknown endpoint or
unregistered user fails before a session exists. Then the session request itself: over
sessions-per-second, over max sessions or with an origination_uuid already in use, originate
answers -ERR DESTINATION_OUT_OF_ORDER and no channel event is ever emitted. An unknown gateway
fails after that (INVALID_GATEWAY, still no events), and so does one whose status is DOWN
(GATEWAY_DOWN: registration failed or pings unanswered; `kdial_sim.gateways`). Everything
else becomes a channel whose far end follows the scenario.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from kdial_sim.bus import EventBus
from kdial_sim.calls import Call, CallEnv
from kdial_sim.causes import parse_cause
from kdial_sim.channel import Channel, SipParticulars
from kdial_sim.clock import SimClock
from kdial_sim.events import Stamper
from kdial_sim.gateways import ConfigRefused, FarEnd, GatewayDef, Gateways, read_conf
from kdial_sim.originate import DialTarget, Leg, OriginateRequest, parse_dial_target
from kdial_sim.outcomes import (
    CarrierConditions,
    Plan,
    attempt_rng,
    callee_carrier,
    plan_agent_call,
    plan_bridge,
    plan_carrier_call,
    plan_unroutable,
)
from kdial_sim.ratelimit import RateWindow
from kdial_sim.scenario import CarrierSpec, Scenario

log = logging.getLogger(__name__)

_ENDPOINTS = frozenset({"sofia", "user", "error", "loopback"})


class Refused(Exception):
    """An originate that fails before any channel exists; the text is the API's answer."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.reply = f"-ERR {cause}\n"


@dataclass
class CarrierState:
    spec: CarrierSpec
    cps: RateWindow | None
    active: int = 0
    #: Set by faults.
    fail_status: int | None = None
    answer_probability: float | None = None
    #: Callee networks (carrier names, as phonenumbers gives them) this carrier lost its route
    #: to, with the SIP status their calls fail with; set by faults.
    failing_networks: dict[str, int] = field(default_factory=dict)

    def take_attempt(self, number: str = "") -> CarrierConditions:
        """Count one INVITE to `number` against the carrier's limits; what it is going through
        now."""
        over = self.spec.max_concurrent_calls is not None and (
            self.active >= self.spec.max_concurrent_calls
        )
        # Every attempt spends CPS budget, refused or not, as the carrier counts INVITEs.
        if self.cps is not None and not self.cps.try_acquire():
            over = True
        # Looked up only under such a fault: the first lookup loads phonenumbers' carrier data.
        failing = (
            self.failing_networks.get(callee_carrier(number)) if self.failing_networks else None
        )
        return CarrierConditions(
            fail_status=self.fail_status if self.fail_status is not None else failing,
            answer_probability=self.answer_probability,
            over_capacity=over,
        )


@dataclass(frozen=True)
class Route:
    """Where a leg goes and who answers: a carrier, an agent phone, or nobody."""

    remote_host: str
    remote_port: int
    carrier: str | None = None
    agent: bool = False


@dataclass
class Counters:
    since_start: int = 0
    peak: int = 0
    attempts: Counter[str] = field(default_factory=Counter)


class Switch:
    def __init__(
        self,
        scenario: Scenario,
        clock: SimClock,
        bus: EventBus,
        stamper: Stamper,
        conf: Path | None = None,
    ):
        self.scenario = scenario
        #: The configuration directory gateways are read from; without one, every carrier of
        #: the scenario is a gateway of its name at its proxy that does not register (a switch
        #: configured by hand to match the scenario).
        self.conf = conf
        self.gateways = Gateways(scenario.switch.ipv4, scenario.switch.sip_port)
        #: What the last `reloadxml` read; `rescan` loads from it.
        self.xml = self._read_gateways()
        self.gateways.rescan(self.xml, self._far_end, clock.now())
        self.clock = clock
        self.bus = bus
        self.stamper = stamper
        self.max_sessions = scenario.switch.max_channels
        self.sps = RateWindow(scenario.switch.sessions_per_second, clock.elapsed)
        self.carriers = {
            name: CarrierState(spec, _cps_window(spec, clock))
            for name, spec in scenario.carriers.items()
        }
        self.calls: dict[str, Call] = {}
        #: Set once "Shutting down" began: every originate is refused from then on.
        self.stopping = False
        #: Set by `fsctl shutdown [restart]`: the runner shuts the switch down as on SIGTERM,
        #: and starts it again when `restart_requested`.
        self.shutdown_requested = asyncio.Event()
        self.restart_requested = False
        self._carrier_of: dict[str, str] = {}
        self.counters = Counters()
        self._tasks: set[asyncio.Task[None]] = set()
        amd = scenario.callees.amd
        self._env = CallEnv(
            clock=clock,
            stamper=stamper,
            bus=bus,
            amd_variable=amd.variable if amd.enabled else None,
            finished=self._finished,
            new_session=self._leg_session,
        )

    async def originate(self, request: OriginateRequest) -> str:
        """Place the first leg of `request`; returns the originate API's answer."""
        try:
            if self.stopping:
                raise Refused("CHAN_NOT_IMPLEMENTED")
            call = self._place(request, request.first_leg)
        except Refused as refused:
            return refused.reply
        task = asyncio.create_task(call.run(), name=f"call-{call.uuid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(call.result)

    def _place(self, request: OriginateRequest, leg: Leg) -> Call:
        variables = request.variables_for(leg)
        values = dict(variables)
        target = leg.target
        route = self._route_before_session(target)
        uuid = self._request_session(values.get("origination_uuid"))
        if route is None:
            route = self._route_after_session(target)
        channel = self._channel(request, target, route, variables, uuid)
        call = Call(
            channel,
            self._with_bridge(
                self._plan(route, target, values.get("origination_caller_id_number", "")),
                request,
                target.destination,
            ),
            self._env,
            timeout=_timeout(values, request.timeout),
            ignore_early_media=values.get("ignore_early_media", "").lower() == "true",
        )
        self.calls[uuid] = call
        if route.carrier is not None:
            self.carriers[route.carrier].active += 1
            self._carrier_of[uuid] = route.carrier
        self.counters.peak = max(self.counters.peak, len(self.calls))
        return call

    def _route_before_session(self, target: DialTarget) -> Route | None:
        """Endpoints that fail before FreeSWITCH requests a session; agents for `user/`."""
        if target.endpoint not in _ENDPOINTS or not target.data:
            raise Refused("CHAN_NOT_IMPLEMENTED")
        if target.endpoint == "error":
            raise Refused(parse_cause(target.data, "NORMAL_UNSPECIFIED"))
        if target.endpoint in ("user", "loopback"):
            if not self._is_agent(target.destination):
                raise Refused("USER_NOT_REGISTERED")
            return Route(remote_host="127.0.0.1", remote_port=5062, agent=True)
        return None

    def _request_session(self, wanted_uuid: str | None) -> str:
        """switch_core_session_request: throttle, max sessions, duplicate UUID."""
        if not self.sps.try_acquire():
            log.warning("Throttle Error! sessions-per-second %d reached", self.sps.limit)
            raise Refused("DESTINATION_OUT_OF_ORDER")
        if len(self.calls) >= self.max_sessions:
            log.warning("Limit of %d sessions reached!", self.max_sessions)
            raise Refused("DESTINATION_OUT_OF_ORDER")
        if wanted_uuid and wanted_uuid in self.calls:
            log.warning("Duplicate UUID!")
            raise Refused("DESTINATION_OUT_OF_ORDER")
        self.counters.since_start += 1
        return wanted_uuid or str(uuidlib.uuid4())

    def _leg_session(self) -> bool:
        """A session for a call's own second leg (a bridge): every leg counts against
        sessions-per-second and max sessions, as FreeSWITCH counts them (measured on 1.11)."""
        try:
            self._request_session(None)
        except Refused:
            return False
        return True

    def _route_after_session(self, target: DialTarget) -> Route:
        if target.gateway is not None:
            return self._through_gateway(target.gateway)
        carrier = self._carrier_for_host(target.host)
        if carrier is not None:
            host, port = _host_port(self.scenario.carriers[carrier].proxy)
            return Route(remote_host=host, remote_port=port, carrier=carrier)
        host, port = _host_port(target.host or "127.0.0.1:5060")
        return Route(remote_host=host, remote_port=port, agent=self._is_agent(target.destination))

    def _through_gateway(self, name: str) -> Route:
        """sofia_outgoing_channel: an unknown gateway is INVALID_GATEWAY (measured on 1.11), a
        gateway whose status is not UP refuses the call (GATEWAY_DOWN, no INVITE sent)."""
        gateway = self.gateways.find(name)
        if gateway is None:
            raise Refused("INVALID_GATEWAY")
        gateway.calls_out += 1
        if gateway.status(self.clock.now()) != "UP":
            gateway.failed_calls_out += 1
            raise Refused("GATEWAY_DOWN")
        host, port = _host_port(gateway.spec.proxy)
        return Route(remote_host=host, remote_port=port, carrier=gateway.far_end.carrier)

    # Configuration ---------------------------------------------------------------------

    def _read_gateways(self) -> dict[str, GatewayDef]:
        """The gateways the configuration defines (raises gateways.ConfigRefused)."""
        if self.conf is None:
            return {
                name: GatewayDef(name, (("proxy", spec.proxy), ("register", "false")), "scenario")
                for name, spec in self.scenario.carriers.items()
            }
        return read_conf(self.conf)

    def reload_xml(self) -> None:
        """`reloadxml`: reads the configuration again; loaded gateways stay as they are."""
        self.xml = self._read_gateways()

    def rescan(self) -> None:
        """`sofia profile external rescan`: reloads the XML and loads the gateways not
        loaded yet."""
        self.reload_xml()
        self.gateways.rescan(self.xml, self._far_end, self.clock.now())

    def _far_end(self, gateway: GatewayDef) -> FarEnd:
        """The carrier a gateway reaches: by name for the scenario's own gateways, else by its
        proxy, as the network would route it."""
        if gateway.source == "scenario":
            carrier: str | None = gateway.name
        else:
            found = self._carriers_for_host(gateway.proxy)
            if len(found) > 1:
                raise ConfigRefused(
                    f"gateway {gateway.name!r}: its proxy {gateway.proxy} is served by carriers "
                    f"{', '.join(found)}; give each carrier its own proxy or hosts"
                )
            carrier = found[0] if found else None
        if carrier is None:
            return FarEnd("unreachable", 0.0, None)
        spec = self.scenario.carriers[carrier]
        rng = random.Random(f"{self.scenario.seed}:register:{gateway.name}")
        return FarEnd(spec.registration, spec.pdd_seconds.sample(rng), carrier)

    def _carrier_for_host(self, host: str | None) -> str | None:
        """The carrier a `sofia/<profile>/<user>@<host>` leg reaches (a TrunkPool's sipUri)."""
        found = self._carriers_for_host(host)
        return found[0] if found else None

    def _carriers_for_host(self, host: str | None) -> list[str]:
        """Every carrier answering at `host`, as the network would: host names without regard
        to case, and a URI without a port is port 5060. A `hosts` entry without a port takes
        every port."""
        if not host:
            return []
        wanted = _host_port(host.lower())
        found = []
        for name, spec in self.scenario.carriers.items():
            listed = [h.lower() for h in spec.hosts]
            if (
                wanted[0] in listed
                or f"{wanted[0]}:{wanted[1]}" in listed
                or wanted == _host_port(spec.proxy.lower())
            ):
                found.append(name)
        return found

    def _is_agent(self, name: str) -> bool:
        return self.scenario.agents.phone(name) is not None

    def _with_bridge(self, plan: Plan, request: OriginateRequest, number: str) -> Plan:
        """A call that runs `&bridge(<dial string>)` gets the second leg's script: once answered,
        or once early media starts the application."""
        if not (plan.answer or plan.early_media) or request.app != "bridge" or not request.app_arg:
            return plan
        target = parse_dial_target(request.app_arg.strip())
        rng = attempt_rng(self.scenario.seed, f"bridge:{number}", self.counters.attempts[number])
        bridge = plan_bridge(self.scenario.agents, target.destination, rng)
        return replace(plan, bridge=bridge)

    def _plan(self, route: Route, target: DialTarget, caller_id: str) -> Plan:
        number = target.destination
        self.counters.attempts[number] += 1
        rng = attempt_rng(self.scenario.seed, number, self.counters.attempts[number])
        if route.carrier is not None:
            state = self.carriers[route.carrier]
            conditions = state.take_attempt(number)
            return plan_carrier_call(
                self.scenario, state.spec, number, rng, conditions, caller_id=caller_id
            )
        if route.agent:
            return plan_agent_call(self.scenario.agents, number, rng)
        return plan_unroutable()

    def _channel(
        self,
        request: OriginateRequest,
        target: DialTarget,
        route: Route,
        variables: list[tuple[str, str]],
        uuid: str,
    ) -> Channel:
        values = dict(variables)
        return Channel(
            uuid=uuid,
            session_id=self.counters.since_start,
            target=target,
            remote_host=route.remote_host,
            remote_port=route.remote_port,
            cid_number=values.get("origination_caller_id_number")
            or request.cid_num
            or "0000000000",
            cid_name=values.get("origination_caller_id_name") or request.cid_name or "",
            context=request.context,
            user_vars=variables,
            app=request.app,
            app_arg=request.app_arg,
            created_us=self.clock.now_us(),
            sip=SipParticulars.for_uuid(uuid),
        )

    def _finished(self, call: Call) -> None:
        if self.calls.get(call.uuid) is call:
            del self.calls[call.uuid]
        carrier = self._carrier_of.pop(call.uuid, None)
        if carrier is not None:
            self.carriers[carrier].active -= 1

    # Channel-wide commands -------------------------------------------------------------

    def kill(self, uuid: str, cause: str) -> bool:
        call = self.calls.get(uuid)
        if call is None:
            return False
        call.request_hangup(cause)
        return True

    def hupall(self, cause: str, var: str | None = None, value: str | None = None) -> int:
        matched = [
            call
            for call in self.calls.values()
            if var is None or call.channel.variable(var) == value
        ]
        for call in matched:
            call.request_hangup(cause)
        return len(matched)

    def schedule_hangup(self, uuid: str, seconds: float, cause: str) -> bool:
        call = self.calls.get(uuid)
        if call is None:
            return False
        call.schedule_hangup(seconds, cause)
        return True

    def set_var(self, uuid: str, name: str, value: str | None) -> bool:
        call = self.calls.get(uuid)
        if call is None:
            return False
        if value is None:
            call.channel.extra_vars.pop(name, None)
        else:
            call.channel.extra_vars[name] = value
        return True

    def channels(self) -> list[Channel]:
        return [call.channel for call in self.calls.values()]

    def begin_shutdown(self) -> None:
        """ "Shutting down": calls up end SYSTEM_SHUTDOWN, new ones are refused."""
        log.warning("Shutting down")
        self.stopping = True
        self.hupall("SYSTEM_SHUTDOWN")

    async def calls_ended(self) -> None:
        """Waits (2 s at most) for the calls' hangups to be sent."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)

    def request_shutdown(self, *, restart: bool) -> None:
        self.restart_requested = restart
        self.shutdown_requested.set()

    def restarted(self) -> None:
        """Up again after a shutdown (`fsctl shutdown restart`, the `shutdown` fault's `until`)."""
        self.stopping = False
        self.restart_requested = False
        self.shutdown_requested.clear()


def _cps_window(spec: CarrierSpec, clock: SimClock) -> RateWindow | None:
    if spec.max_calls_per_second is None:
        return None
    return RateWindow(spec.max_calls_per_second, clock.elapsed)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return text, 5060


def _timeout(values: dict[str, str], default: int) -> float:
    """leg_timeout, then originate_timeout, then the originate line's own timeout."""
    for name in ("leg_timeout", "originate_timeout"):
        text = values.get(name, "")
        if text.isdigit() and int(text) > 0:
            return float(text)
    return float(default)
