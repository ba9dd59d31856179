"""Preview mode at the worker: a record an agent previewed and chose to dial
(`kdial.state.preview.DialRequest`) is dialled with the agent's phone rung first.

The agent's leg is originated with `&park()`; once they answer, the callee is originated as
any call of the campaign (its calling window and do-not-call lists checked first, trunk and
caller-ID permits taken) and bridged to the waiting agent with `uuid_bridge` on answer
(`Bridging.bridge_held`). With the agent already on the line no answered callee waits for
anyone, so none is abandoned for want of an agent. An agent who does not answer goes NotReady
and the contact is due again with no attempt counted: nothing was dialled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import cast

import gevent
import redis

from kdial.agent_state import AgentAction, AgentState, IllegalTransition
from kdial.dialstring import agent_originate_command
from kdial.state import scripts
from kdial.state.contact import Contact
from kdial.state.keys import CampaignKeys
from kdial.state.preview import PREVIEW_LEASE_MS, SKIPPED, DialRequest, overdue
from kdial.state.wire import NewerSchema
from kdial_worker import ledger
from kdial_worker.agents import Agents, Contended, Elsewhere
from kdial_worker.bridging import CONFIRM_SECONDS, NO_ANSWER, NOT_THE_PHONE
from kdial_worker.calls import AgentLeg, Calls, agent_leg_uuid, call_uuid
from kdial_worker.esl import EslDown, EslSession
from kdial_worker.lease import Lease
from kdial_worker.runtime import Runtime

log = logging.getLogger(__name__)

#: How long the agent's phone rings before they count as not answering (s): they asked for
#: the call a moment ago, so a phone that rings this long is not attended.
AGENT_RING_SECONDS = 20
#: How often a worker looks for previews that timed out, or for dials a stop left queued (s).
SWEEP_SECONDS = 1.0

#: The contact if it may be dialled now, else None (given back or closed): the dialer's check.
Check = Callable[[ledger.Claim, Runtime], Contact | None]
#: Dials the contact with the agent's answered leg waiting: the dialer's call.
Dial = Callable[[ledger.Claim, Contact, Runtime, AgentLeg], None]


class Previews:
    def __init__(
        self,
        rdb: redis.Redis,
        keys: CampaignKeys,
        esl: EslSession,
        calls: Calls,
        agents: Agents,
        *,
        worker_id: str,
        lease_ms: int,
    ) -> None:
        self.rdb, self.keys, self.esl, self.calls, self.agents = rdb, keys, esl, calls, agents
        self.campaign = f"{keys.namespace}/{keys.name}"
        self.worker_id, self.lease_ms = worker_id, lease_ms
        self._swept = -SWEEP_SECONDS
        #: The leases of the dial requests this worker took and has not finished: theirs to
        #: renew (`Dialer._renew`) from the moment it takes one, by attempt.
        self.held: dict[str, Lease] = {}

    def expire(self, timeout_seconds: float) -> None:
        """Skips each record previewed `timeout_seconds` ago or more and still neither dialled
        nor skipped, as its agent would have: due again, no attempt counted, the agent Ready.
        The choice is the API's own script, so an agent's dial or skip and this never both
        happen."""
        if not self._sweep_due():
            return
        seconds, micros = self.rdb.time()
        now = int(seconds) * 1000 + int(micros) // 1000
        for agent, attempt in overdue(self.agents.all(), now, int(timeout_seconds * 1000)):
            choice = self.keys.preview_choice(attempt)
            if self.rdb.eval(scripts.PREVIEW, 1, choice, "skip", PREVIEW_LEASE_MS) != "ok":
                continue  # dialled, skipped, or a Progressive call: no open preview
            log.info("preview attempt %s: agent %s chose nothing in time; skipped", attempt, agent)
            ledger.defer(self.rdb, self.keys, attempt, 0)
            self.rdb.hincrby(self.keys.totals, SKIPPED, 1)
            self._act(agent, attempt, AgentAction.RELEASE)

    def give_back(self) -> int:
        """The dial requests queued for a campaign that stopped dialling (paused, or its
        window of work over) are not dialled later, when their agents may have gone: each
        contact is due again, no attempt counted, and its agent Ready. How many."""
        given = 0
        if not self._sweep_due():
            return given
        while (raw := cast(str | None, self.rdb.lpop(self.keys.preview_dials))) is not None:
            try:
                request = DialRequest.decode(raw)
            except (ValueError, NewerSchema) as error:
                log.error("campaign %s: dial request not understood: %s", self.campaign, error)
                continue
            given += 1
            log.info(
                "preview attempt %s: the campaign stopped dialling; given back", request.attempt
            )
            ledger.defer(self.rdb, self.keys, request.attempt, 0)
            self._release_if_reserved(request)
        return given

    def _sweep_due(self) -> bool:
        """At most once a `SWEEP_SECONDS` (the dial loop comes round every few ms): whether
        it is time to look again, and if so the look is taken now."""
        if time.monotonic() - self._swept < SWEEP_SECONDS:
            return False
        self._swept = time.monotonic()
        return True

    def serve(self, rt: Runtime, room: int, check: Check, dial: Dial) -> int:
        """Takes up to `room` dial requests off the campaign's queue and dials each in its own
        greenlet; how many it took."""
        taken = 0
        while taken < room:
            raw = cast(str | None, self.rdb.lpop(self.keys.preview_dials))
            if raw is None:
                break
            taken += 1
            try:
                request = DialRequest.decode(raw)
            except (ValueError, NewerSchema) as error:
                log.error("campaign %s: dial request not understood: %s", self.campaign, error)
                continue
            # From now on the record is this worker's: its lease is this worker's short one,
            # not the preview's five minutes, so if this worker dies while the agent's phone
            # rings the reclaim frees the agent within a lease, not minutes later. (Renewed
            # with the calls' leases too: a Redis error here leaves it to that.)
            # Vouched for once a renewal succeeds, here or in the dialer's next round.
            lease = self.held[request.attempt] = Lease(request.attempt, self.lease_ms / 1000, 0)
            with contextlib.suppress(redis.RedisError):
                ledger.renew(self.rdb, self.keys, [lease])
            gevent.spawn(self._dial, request, rt, check, dial)
        return taken

    def _dial(self, request: DialRequest, rt: Runtime, check: Check, dial: Dial) -> None:
        try:
            self._ring_then_dial(request, rt, check, dial)
        except Exception:
            # The lease keeps the contact safe: it will be reclaimed, never lost.
            log.exception("preview attempt %s failed", request.attempt)
        finally:
            self.held.pop(request.attempt, None)
            self._release_if_reserved(request)

    def _ring_then_dial(self, request: DialRequest, rt: Runtime, check: Check, dial: Dial) -> None:
        contact_id = cast(str | None, self.rdb.hget(self.keys.inflight, request.attempt))
        if contact_id is None:
            log.warning(
                "preview attempt %s: its lease ran out before it was dialled", request.attempt
            )
            return
        history = cast(str | None, self.rdb.hget(self.keys.contacts, contact_id))
        claimed = ledger.Claim(
            request.attempt,
            contact_id,
            json.loads(history) if history else {},
            self.held[request.attempt],
        )
        contact = check(claimed, rt)
        if contact is None:
            return
        leg = AgentLeg(agent_leg_uuid(call_uuid(self.campaign, request.attempt), 1), request.agent)
        try:
            if not self._ring(request, leg):
                ledger.defer(self.rdb, self.keys, request.attempt, 0)
                return
            dial(claimed, contact, rt, leg)
        finally:
            self._hang_up(leg)
            self.calls.legs.pop(leg.uuid, None)

    def _ring(self, request: DialRequest, leg: AgentLeg) -> bool:
        """Rings the agent's phone; True once they answered. One who did not is NotReady."""
        agent, attempt = request.agent, request.attempt
        self.calls.legs[leg.uuid] = leg
        variables = {
            "origination_uuid": leg.uuid,
            "originate_timeout": str(AGENT_RING_SECONDS),
            "ignore_early_media": "true",
            "kdial_campaign": self.campaign,
            "kdial_attempt": request.attempt,
            "kdial_worker": self.worker_id,
        }
        try:
            self.esl.bgapi(agent_originate_command(request.endpoint, variables))
        except ValueError as error:  # an endpoint unsafe to dial: the agent cannot take calls
            leg.done.set()
            self._act(agent, attempt, AgentAction.NOT_READY, f"endpoint refused: {error}")
            return False
        except EslDown:
            leg.job_error = "ESL_DOWN"
            leg.done.set()
        # The switch ends the leg at its originate timeout; the margin covers lost events.
        until = time.monotonic() + AGENT_RING_SECONDS + CONFIRM_SECONDS
        while leg.answered is None and not leg.done.wait(0.02) and time.monotonic() < until:
            pass
        if leg.answered is not None and not leg.done.is_set():
            return True
        if leg.cause in NOT_THE_PHONE:
            self._act(agent, attempt, AgentAction.RELEASE)
        elif leg.cause in ("", "NO_ANSWER"):
            self._act(agent, attempt, AgentAction.NOT_READY, NO_ANSWER)
        else:
            cause = f"phone did not take the call ({leg.cause})"
            self._act(agent, attempt, AgentAction.NOT_READY, cause)
        return False

    def _hang_up(self, leg: AgentLeg) -> None:
        if leg.done.is_set():
            return
        with contextlib.suppress(EslDown):
            self.esl.api(f"uuid_kill {leg.uuid} NORMAL_CLEARING")
        leg.done.wait(CONFIRM_SECONDS)

    def _release_if_reserved(self, request: DialRequest) -> None:
        """An agent still Reserved for the record once its call is over or never went out
        (the contact was outside its window, say) is Ready again."""
        record = self.agents.all().get(request.agent)
        if record and record.state is AgentState.RESERVED and record.attempt == request.attempt:
            self._act(request.agent, request.attempt, AgentAction.RELEASE)

    def _act(
        self, agent: str, attempt: str, action: AgentAction, reason: str | None = None
    ) -> None:
        try:
            self.agents.act(agent, action, on=attempt, reason=reason)
        except (IllegalTransition, Contended, Elsewhere) as error:
            log.warning("preview attempt %s: agent %s: %s", attempt, agent, error)
