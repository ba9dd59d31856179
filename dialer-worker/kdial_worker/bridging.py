"""An answered callee bridged to a Ready agent within the campaign's connect deadline (agent
modes), and the two legs kept together until the call ends.

The callee is originated with `&park()` and `hangup_after_bridge=true`. At answer the worker
reserves the agent longest in Ready (compare-and-set on the agent's record, so no two workers
take one agent), rings the agent's endpoint with an originate timeout no longer than what is
left of the deadline, and joins the two with `uuid_bridge` once the agent answers. An agent who
does not answer goes NotReady ("no answer") and the next Ready agent is rung if the deadline
still allows; with no Ready agent the worker waits for one within the deadline. What misses
the deadline the dialer abandons (the compliance message, Abandoned).

After `uuid_bridge`, FreeSWITCH (switch_ivr_bridge.c, 1.10/1.11) ends the bridge when either
leg hangs up and then: the peer (the agent leg) is hung up NORMAL_CLEARING unless it has
park_after_bridge or transfer_after_bridge (audio_bridge_on_exchange_media); the originator
(the callee) is hung up with the peer's cause only if hangup_after_bridge is true, else it goes
back to CS_EXECUTE and what happens depends on what is left of its dialplan
(switch_ivr_multi_threaded_bridge, uuid_bridge_on_soft_execute). So the callee carries
hangup_after_bridge=true, and the worker ends whichever leg outlives the other itself too:
neither a switch default nor a lost event leaves a callee or an agent in silence.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable

from kdial.agent_state import AgentAction, IllegalTransition
from kdial.dialstring import agent_originate_command, bridge_command
from kdial_worker.agents import Agents, Contended, Elsewhere
from kdial_worker.calls import AgentLeg, Call, Calls, agent_leg_uuid
from kdial_worker.esl import EslDown, EslSession
from kdial_worker.paced_calls import PacedCalls

log = logging.getLogger(__name__)

#: How often the worker looks again for a Ready agent, or at a leg's progress.
POLL_SECONDS = 0.02
#: How long the switch has to confirm a bridge it accepted (CHANNEL_BRIDGE) or end a leg it
#: was told to end.
CONFIRM_SECONDS = 2.0
#: The reason an agent who let a call ring out is NotReady with.
NO_ANSWER = "no answer"

#: Why an agent's leg can fail that says nothing of the agent's phone: the worker's switch
#: refused it before any session (its throttle, its shutdown), or could not be told.
NOT_THE_PHONE = frozenset({"DESTINATION_OUT_OF_ORDER", "CHAN_NOT_IMPLEMENTED", "ESL_DOWN"})

#: Channel variables of the callee's originate in agent modes (see the module docstring).
CALLEE_VARIABLES = {"hangup_after_bridge": "true"}


#: The least time left of a connect deadline worth ringing an agent (s): a phone set to
#: auto-answer answers within a few hundred ms; with less left, ringing one only makes them
#: NotReady for a call they could not take, and the callee hears the abandon message now.
MIN_RING_SECONDS = 0.5
#: The least originate_timeout that rings: FreeSWITCH counts it in whole seconds of its clock
#: and fires within the last one (freeswitch-facts: NO_ANSWER 4.03-5.04 s after originate for
#: 5, 0.145 s for 1), so 1 may end the leg before it rings; 0 is no timeout at all (the
#: switch's own default of 60 s applies).
LEAST_TIMEOUT = 2


def leg_timeout(seconds_left: float) -> int | None:
    """The originate timeout of an agent leg rung with `seconds_left` of the connect deadline;
    None when less than `MIN_RING_SECONDS` is left (the callee is abandoned).

    The worker hangs the leg up itself at the deadline. The switch's timeout ends a leg nobody
    answers within it, so that what is left goes to the next Ready agent: the whole seconds
    left, which fires before the deadline. With fewer than 2 whole seconds left that would be
    1 (or 0), which cannot ring, so it is 2 and the worker cuts the leg at the deadline: with
    the default 2 s deadline an agent's phone rings for 1 to 2 s, and only phones that
    auto-answer take the call."""
    if seconds_left < MIN_RING_SECONDS:
        return None
    return max(LEAST_TIMEOUT, math.floor(seconds_left))


def deadline_at(answered: float, connect_deadline: float) -> float:
    """When an answered callee is abandoned unless bridged: the deadline counts from answer."""
    return answered + connect_deadline


class Bridging:
    def __init__(
        self,
        esl: EslSession,
        agents: Agents,
        calls: Calls,
        campaign: str,
        worker_id: str,
        *,
        paced: PacedCalls,
    ) -> None:
        self.esl, self.agents, self.calls, self.paced = esl, agents, calls, paced
        self.campaign, self.worker_id = campaign, worker_id

    def connect(self, call: Call) -> bool:
        """Once `call` is answered, bridges it to a Ready agent within its connect deadline;
        True once bridged. False when the deadline passed (the caller abandons the call) or
        the call ended first."""
        if not _wait(lambda: call.answered is not None, call, math.inf):
            return False
        assert call.answered is not None and call.connect_deadline is not None
        self.paced.answered(call)
        deadline = deadline_at(call.answered, call.connect_deadline)
        tried: list[str] = []
        while not call.done.is_set():
            timeout = leg_timeout(deadline - time.time())
            if timeout is None:
                return False
            taken = self.agents.reserve(call.attempt, tried)
            if taken is None:
                call.done.wait(POLL_SECONDS)
                continue
            agent, endpoint = taken
            tried.append(agent)
            call.agent = agent
            leg = AgentLeg(agent_leg_uuid(call.uuid, len(tried)), agent)
            if self._ring(call, leg, endpoint, timeout, deadline):
                return True
        return False

    def bridge_held(self, call: Call) -> bool:
        """Preview: the agent's leg (`call.legs`), answered before the callee was dialled,
        bridged to the callee once they answer; True once bridged. An agent who hangs up
        before then ends the call: nobody would be there for the callee."""
        leg = call.legs[-1]
        _wait(lambda: call.answered is not None or leg.done.is_set(), call, math.inf)
        if leg.done.is_set() and not call.done.is_set():
            call.killed = True
            with contextlib.suppress(EslDown):
                self.esl.api(f"uuid_kill {call.uuid} NORMAL_CLEARING")
            return False
        return call.answered is not None and not call.done.is_set() and self._bridge(call, leg)

    def _ring(
        self, call: Call, leg: AgentLeg, endpoint: str, timeout: int, deadline: float
    ) -> bool:
        """Rings `leg`'s agent and bridges the callee to them; True once bridged. An agent
        who did not answer in time is NotReady; one the callee did not wait for is
        released (see `end`)."""
        self.calls.legs[leg.uuid] = leg
        call.legs.append(leg)
        variables = {
            "origination_uuid": leg.uuid,
            "originate_timeout": str(timeout),
            "ignore_early_media": "true",
            "kdial_campaign": self.campaign,
            "kdial_attempt": call.attempt,
            "kdial_worker": self.worker_id,
        }
        try:
            self.esl.bgapi(agent_originate_command(endpoint, variables))
        except ValueError as error:  # an endpoint unsafe to dial: the agent cannot take calls
            leg.done.set()
            self._not_ready(call, leg, f"endpoint refused: {error}")
            return False
        except EslDown:
            leg.job_error = "ESL_DOWN"
            leg.done.set()
        _wait(lambda: leg.answered is not None or leg.done.is_set(), call, deadline)
        up = leg.answered is not None and not (leg.done.is_set() or call.done.is_set())
        if up and time.time() <= deadline and self._bridge(call, leg):
            return True
        if call.done.is_set():
            return False  # the callee went first: `end` releases the agent
        rang_out = not leg.done.is_set()  # still ringing at the deadline
        self._hang_up(leg)
        if leg.answered is not None or leg.cause in NOT_THE_PHONE:
            self._act(call, AgentAction.RELEASE)  # answered too late, or never rung at all
        elif rang_out or leg.cause in ("", "NO_ANSWER"):
            self._not_ready(call, leg, NO_ANSWER)
        else:  # busy, rejected, not registered: the phone, not the ring time
            self._not_ready(call, leg, f"phone did not take the call ({leg.cause})")
        return False

    def _bridge(self, call: Call, leg: AgentLeg) -> bool:
        try:
            reply = self.esl.api(bridge_command(call.uuid, leg.uuid))
        except EslDown as error:
            reply = f"-ERR {error}"
        if not reply.startswith("+OK"):
            log.warning("attempt %s: uuid_bridge refused: %s", call.attempt, reply.strip())
            return False
        confirm = time.time() + CONFIRM_SECONDS
        if not _wait(lambda: call.bridged is not None, call, confirm):
            return False
        self._act(call, AgentAction.TALK)
        self.paced.connected(call)
        return True

    def end(self, call: Call) -> None:
        """Once the callee's call ended: its agent leg is hung up too, and the agent goes to
        WrapUp after a call they talked on, back to Ready (released) when the callee went
        before reaching them."""
        for leg in call.legs:
            self._hang_up(leg)
            self.calls.legs.pop(leg.uuid, None)
        self._act(call, AgentAction.WRAP_UP if call.bridged else AgentAction.RELEASE)

    def hold_together(self, call: Call) -> None:
        """While bridged: when the agent's leg ends first, the callee is hung up too."""
        leg = call.legs[-1]
        while not call.done.wait(POLL_SECONDS * 10):
            if leg.done.is_set():
                with contextlib.suppress(EslDown):
                    self.esl.api(f"uuid_kill {call.uuid} NORMAL_CLEARING")
                return

    def _hang_up(self, leg: AgentLeg) -> None:
        if leg.done.is_set():
            return
        with contextlib.suppress(EslDown):
            self.esl.api(f"uuid_kill {leg.uuid} NORMAL_CLEARING")
        leg.done.wait(CONFIRM_SECONDS)

    def _not_ready(self, call: Call, leg: AgentLeg, reason: str) -> None:
        log.info("attempt %s: agent %s did not take the call (%s)", call.attempt, leg.agent, reason)
        self._act(call, AgentAction.NOT_READY, reason=reason)

    def _act(self, call: Call, action: AgentAction, reason: str | None = None) -> None:
        """Moves the call's agent. Their record is theirs to change too (a logout between
        calls), and a reclaim frees them from a call whose lease it took back, so a move their
        state no longer allows, or of an agent no longer on this call, is logged, not raised.
        An agent who did not take the call is the call's no more."""
        agent = call.agent
        if agent is None:
            return
        if action in (AgentAction.NOT_READY, AgentAction.RELEASE):
            call.agent = None
        try:
            self.agents.act(agent, action, on=call.attempt, reason=reason)
        except (IllegalTransition, Contended, Elsewhere) as error:
            log.warning("attempt %s: agent %s: %s", call.attempt, agent, error)


def _wait(condition: Callable[[], bool], call: Call, until: float) -> bool:
    """Waits until `condition` holds (True), the callee's call ends or `until` passes."""
    while not condition():
        if call.done.is_set() or time.time() >= until:
            return condition()
        call.done.wait(POLL_SECONDS)
    return True
