"""One call's life, from CHANNEL_CREATE to CHANNEL_DESTROY, on the scenario clock.

The far end follows its Plan (outcomes.py); the switch side can cut in at any moment with a
hangup request (uuid_kill, hupall, sched_hangup, originate_timeout). Events go out in
FreeSWITCH's order: for a refusal HANGUP, HANGUP_COMPLETE and then the originate result (the
BACKGROUND_JOB); for an answer, CHANNEL_ANSWER and then the result.

The originate completes, and the channel's application starts, at answer, or at a 183 with
early media unless the originate set `ignore_early_media=true`: from then on originate_timeout
no longer applies, as a real FreeSWITCH 1.11 showed (tests/data/freeswitch-1.11-measured.yaml).
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass

from kdial_sim import dialplan, events
from kdial_sim.bus import EventBus
from kdial_sim.causes import cause_for_sip, parse_cause
from kdial_sim.channel import Channel, Ending
from kdial_sim.clock import SimClock
from kdial_sim.dialplan import Step
from kdial_sim.events import Stamper
from kdial_sim.outcomes import BRIDGE_TIMEOUT_SECONDS, BridgePlan, Plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallEnv:
    clock: SimClock
    stamper: Stamper
    bus: EventBus
    #: Channel variable that carries the AMD verdict on answer (None: not reported).
    amd_variable: str | None
    finished: Callable[[Call], None]
    #: Requests a session for a leg the call opens itself (a bridge's second leg): False when
    #: the switch's session limits refuse it, as they would any originate.
    new_session: Callable[[], bool]


@dataclass(frozen=True)
class HangupRequest:
    cause: str


class Call:
    def __init__(
        self,
        channel: Channel,
        plan: Plan,
        env: CallEnv,
        timeout: float,
        ignore_early_media: bool,
    ) -> None:
        self.channel = channel
        self.plan = plan
        self._env = env
        #: Scenario seconds from creation to originate_timeout.
        self._timeout = whole_second_timeout(timeout, channel.created_us)
        self._ignore_early_media = ignore_early_media
        loop = asyncio.get_running_loop()
        #: The originate API's answer: "+OK <uuid>\n" or "-ERR <CAUSE>\n".
        self.result: asyncio.Future[str] = loop.create_future()
        self._hangup: asyncio.Future[HangupRequest] = loop.create_future()
        self._timers: list[asyncio.TimerHandle] = []
        #: The 183 completed the originate: the application runs while the phone still rings.
        self._started_early = False
        #: The inline dialplan a `uuid_transfer` sent the answered call to, while it runs.
        self._transfer: asyncio.Task[None] | None = None
        #: The other leg of a `uuid_bridge`, while bridged.
        self.peer: Call | None = None
        #: This call was the first UUID of the `uuid_bridge` (the bridge's originator).
        self.originates_bridge = False

    @property
    def uuid(self) -> str:
        return self.channel.uuid

    def request_hangup(self, cause: str) -> None:
        """Hang up from the switch side; the first request wins, as in FreeSWITCH."""
        if not self._hangup.done():
            self._hangup.set_result(HangupRequest(cause))

    def schedule_hangup(self, seconds: float, cause: str) -> None:
        loop = asyncio.get_running_loop()
        delay = self._env.clock.real_seconds(seconds)
        self._timers.append(loop.call_later(delay, self.request_hangup, cause))

    async def run(self) -> None:
        try:
            await self._lifecycle()
        except asyncio.CancelledError:
            self._finish(Ending.LOCAL_BYE if self.channel.answered else Ending.CANCELLED, "CRASH")
            raise
        finally:
            for timer in self._timers:
                timer.cancel()
            if self._transfer is not None:
                self._transfer.cancel()
            if not self.result.done():
                self.result.set_result(f"-ERR {self.channel.hangup_cause or 'CRASH'}\n")
            self._env.finished(self)

    async def _lifecycle(self) -> None:
        self._emit(events.CREATE)
        first = min(self.plan.pdd, self._timeout)
        request = await self._wait(first)
        if request is not None:
            return self._cancel(request.cause)
        if first < self.plan.pdd:
            return self._cancel("NO_ANSWER")
        if self.plan.refusal is not None and not self.plan.ring:
            return self._refuse(self.plan.refusal)
        self._provisional()
        await self._ringing()
        return None

    async def _ringing(self) -> None:
        plan = self.plan
        ring = math.inf if plan.ring is None else plan.ring
        give_up = math.inf if plan.max_ring is None else plan.max_ring
        # Measured against the plan, not the wall clock, so scheduling jitter cannot turn an
        # answer into a timeout. Once early media completed the originate, nothing times out.
        left = math.inf if self._started_early else max(0.0, self._timeout - plan.pdd)
        first = min(ring, give_up, left)
        request = await self._wait_ringing(first)
        if request is not None:
            return self._cancel(request.cause)
        if first == left:
            return self._cancel("NO_ANSWER")
        if first == give_up:
            return self._refuse(480)
        if plan.refusal is not None:
            return self._refuse(plan.refusal)
        await self._talk()
        return None

    async def _wait_ringing(self, seconds: float) -> HangupRequest | None:
        """Ring for `seconds`; a bridge the 183 started may connect meanwhile, before answer."""
        bridge = self.plan.bridge
        connects = bridge.ring if self._started_early and bridge is not None else None
        if connects is not None and connects < seconds:
            request = await self._wait(connects)
            if request is not None:
                return request
            self._connect()
            seconds -= connects
        return await self._wait(seconds)

    async def _talk(self) -> None:
        self._answer()
        talk = math.inf if self.plan.talk is None else self.plan.talk
        if self.plan.bridge is not None and self.channel.bridged_to is None:
            started = self._env.clock.now()
            if not await self._bridge(self.plan.bridge, talk):
                return
            talk = max(talk - (self._env.clock.now() - started), 0.0)
        request = await self._wait(talk)
        if request is not None:
            self._finish(Ending.LOCAL_BYE, request.cause)
        else:
            self._finish(Ending.REMOTE_BYE, "NORMAL_CLEARING")

    async def _bridge(self, bridge: BridgePlan, talk: float) -> bool:
        """The answered callee waits for the bridge's second leg; True once it is bridged.

        The callee may give up first (their talk time runs out), the switch may hang up (the
        worker's connect deadline), or the target never answers and the bridge fails: the
        application ends and FreeSWITCH hangs the callee up with NORMAL_CLEARING, the failure
        in `originate_disposition`.
        """
        if not self._env.new_session():
            # The second leg is a session of its own: refused, the bridge fails at once.
            self.channel.extra_vars["originate_disposition"] = "DESTINATION_OUT_OF_ORDER"
            self._finish(Ending.LOCAL_BYE, "NORMAL_CLEARING")
            return False
        ring = BRIDGE_TIMEOUT_SECONDS if bridge.ring is None else bridge.ring
        if self._started_early:  # the second leg has rung since the 183
            ring = max(0.0, ring - (self.plan.ring or 0.0))
        request = await self._wait(min(ring, talk))
        if request is not None:
            self._finish(Ending.LOCAL_BYE, request.cause)
            return False
        if talk <= ring:
            self._finish(Ending.REMOTE_BYE, "NORMAL_CLEARING")
            return False
        if self._transfer is not None:
            # The transfer took the callee away from the bridge: its second leg was cancelled.
            return True
        if bridge.ring is None:
            self.channel.extra_vars["originate_disposition"] = "NO_ANSWER"
            self._finish(Ending.LOCAL_BYE, "NORMAL_CLEARING")
            return False
        self._connect()
        return True

    def _connect(self) -> None:
        self.channel.bridged_to = str(uuidlib.uuid4())
        self.channel.extra_vars["bridge_to"] = self.channel.bridged_to
        self._emit(events.BRIDGE)

    @property
    def transferred(self) -> bool:
        return self._transfer is not None

    def bridge_with(self, peer: Call) -> None:
        """`uuid_bridge <self> <peer>` of two answered, parked calls (`kdial_sim.bridging`
        says which the simulator takes): CHANNEL_EXECUTE `uuid_bridge` on each, then
        CHANNEL_BRIDGE from this one, the originator (switch_ivr_bridge.c:
        uuid_bridge_on_soft_execute, switch_ivr_multi_threaded_bridge)."""
        self.originates_bridge = True
        for one, other in ((self, peer), (peer, self)):
            one.peer = other
            one.channel.bridged_to = other.uuid
            one.channel.extra_vars["bridge_uuid"] = other.uuid
            one.channel.extra_vars["signal_bond"] = other.uuid
        for one, other in ((self, peer), (peer, self)):
            step = Step("uuid_bridge", other.uuid)
            one._emit_execute(dialplan.EXECUTE, step, dialplan.new_app_uuid(), None)
        self._emit(events.BRIDGE)

    def _unbridge(self, cause: str) -> None:
        """This leg of a uuid_bridge hung up with `cause`: the bridge ends (CHANNEL_UNBRIDGE
        from the originator) and the other leg is hung up, as switch_ivr_bridge.c does it: the
        originator, which kdial_sim.bridging lets bridge only with hangup_after_bridge=true,
        with this leg's cause (switch_ivr_multi_threaded_bridge); the peer, answered, with
        NORMAL_CLEARING (audio_bridge_on_exchange_media). FreeSWITCH fires the UNBRIDGE before
        the other leg's CHANNEL_HANGUP, as here; this leg's HANGUP_COMPLETE may come later on a
        real switch (its reporting state runs on its own thread)."""
        peer = self.peer
        if peer is None:
            return
        self.peer = peer.peer = None
        originator = self if self.originates_bridge else peer
        originator._emit(events.UNBRIDGE)
        peer.request_hangup(cause if peer.originates_bridge else "NORMAL_CLEARING")

    def transfer(self, steps: list[Step], sounds: dict[str, float]) -> bool:
        """`uuid_transfer` to an inline dialplan: the answered channel leaves what it waited on
        (park, a bridge still ringing) and runs `steps`. False when the simulator cannot
        emulate it: a call not answered, ended, or transferred already."""
        ch = self.channel
        if not ch.answered or ch.hangup_us or self._transfer is not None:
            return False
        self._transfer = asyncio.create_task(self._inline(steps, sounds))
        return True

    async def _inline(self, steps: list[Step], sounds: dict[str, float]) -> None:
        for step in steps:
            if step.app == "hangup":
                self.request_hangup(parse_cause(step.data or None, "NORMAL_CLEARING"))
                return
            if not await self._playback(step, sounds.get(step.data)):
                return
        # The dialplan ran out of applications: FreeSWITCH hangs the channel up.
        self.request_hangup("NORMAL_CLEARING")

    async def _playback(self, step: Step, seconds: float | None) -> bool:
        """Plays `step`'s file for `seconds` (None: no such file); False if the call ended."""
        ch, app_uuid = self.channel, dialplan.new_app_uuid()
        ch.extra_vars["current_application"] = step.app
        ch.extra_vars["current_application_data"] = step.data
        self._emit_execute(dialplan.EXECUTE, step, app_uuid, None)
        if seconds:
            await asyncio.sleep(self._env.clock.real_seconds(seconds))
        if ch.hangup_us or self._hangup.done():
            return False
        response = "FILE NOT FOUND" if seconds is None else "FILE PLAYED"
        ch.extra_vars["current_application_response"] = response
        self._emit_execute(dialplan.EXECUTE_COMPLETE, step, app_uuid, response)
        return True

    def _emit_execute(self, name: str, step: Step, app_uuid: str, response: str | None) -> None:
        event = dialplan.execute_event(
            name, self.channel, self._env.stamper, step, app_uuid, response=response
        )
        self._env.bus.publish(event)

    async def _wait(self, seconds: float) -> HangupRequest | None:
        """Sleep `seconds` of scenario time unless a hangup request comes first."""
        if not self._hangup.done():
            timeout = None if math.isinf(seconds) else self._env.clock.real_seconds(seconds)
            await asyncio.wait({self._hangup}, timeout=timeout)
        return self._hangup.result() if self._hangup.done() else None

    def _provisional(self) -> None:
        ch = self.channel
        ch.dialog = True
        if self.plan.early_media:
            ch.progress_media_us = self._env.clock.now_us()
            self._emit(events.PROGRESS_MEDIA)
            if not self._ignore_early_media:
                self._started_early = True
                self._complete()
        else:
            ch.progress_us = self._env.clock.now_us()
            self._emit(events.PROGRESS)

    def _answer(self) -> None:
        ch = self.channel
        ch.answered_us = self._env.clock.now_us()
        if self._env.amd_variable:
            ch.extra_vars[self._env.amd_variable] = "MACHINE" if self.plan.machine else "HUMAN"
        self._emit(events.ANSWER)
        self._complete()
        self._arm_execute_on_answer()

    def _complete(self) -> None:
        """The originate succeeds: its +OK, and the channel runs its application (which flips
        the caller-ID fields)."""
        self.channel.cid_flipped = True
        self._resolve(f"+OK {self.channel.uuid}\n")

    def _arm_execute_on_answer(self) -> None:
        """Honour `execute_on_answer=sched_hangup +<secs> [cause]`, a common safety net."""
        for name, value in self.channel.user_vars:
            if not name.startswith("execute_on_answer"):
                continue
            words = value.split()
            if len(words) >= 2 and words[0] == "sched_hangup":
                seconds = delay_seconds(words[1], self._env.clock.now())
                flags = ("alloriginate", "bleg")
                cause = words[2] if len(words) > 2 and words[2] not in flags else None
                if seconds is not None:
                    self.schedule_hangup(seconds, parse_cause(cause, "ALLOTTED_TIMEOUT"))

    def _refuse(self, status: int) -> None:
        self.channel.refusal_status = status
        self._finish(Ending.REFUSED, cause_for_sip(status))

    def _cancel(self, cause: str) -> None:
        self._finish(Ending.CANCELLED, cause)

    def _finish(self, ending: Ending, cause: str) -> None:
        ch = self.channel
        if ch.hangup_us:
            return
        ch.ending, ch.hangup_cause = ending, cause
        ch.hangup_us = self._env.clock.now_us()
        for name in (events.HANGUP, events.HANGUP_COMPLETE, events.DESTROY):
            self._emit(name)
        self._resolve(f"-ERR {cause}\n")
        self._unbridge(cause)
        log.debug("call %s ended: %s (%s)", ch.uuid, cause, ending)

    def _resolve(self, text: str) -> None:
        if not self.result.done():
            self.result.set_result(text)

    def _emit(self, name: str) -> None:
        self._env.bus.publish(events.channel_event(name, self.channel, self._env.stamper))


def whole_second_timeout(seconds: float, created_us: int) -> float:
    """When originate_timeout fires, in seconds after the channel was created.

    A real switch counts it in whole seconds of its clock: NO_ANSWER came between T−1 and T
    after the originate (4.03–5.04 s for 5, 19.2 s for 20, 0.145 s for 1). Modelled as the
    whole second of the clock T seconds after the one the channel was created in, so where
    in its second the call began decides, and the same call always times out at the same
    moment.
    """
    return seconds - (created_us % 1_000_000) / 1_000_000


def delay_seconds(when: str, now: float) -> float | None:
    """sched_hangup's time: `+<secs>` from now, or an absolute epoch time in seconds."""
    try:
        value = float(when.removeprefix("+"))
    except ValueError:
        return None
    return value if when.startswith("+") else max(0.0, value - now)
