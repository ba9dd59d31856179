"""The dial loop: claim due contacts, check them, take permits, originate, follow, record.

Every claimed contact leaves through exactly one door: `ledger.complete` (an attempt was
made), `ledger.defer` (given back undialled: outside its window, no permit), or
`ledger.close_undialled` (suppressed, removed, not a dialable number). A worker that dies
leaves its leases to expire, and any worker's reclaim records those attempts as Unknown.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import gevent
import gevent.event
import redis

from kdial import admission
from kdial.agent_lines import predictive_cap
from kdial.api.campaign import CampaignMode
from kdial.causes import cause_class
from kdial.dialstring import Application, SipUri, abandon_command, originate_command
from kdial.modes import AGENT_MODES
from kdial.outcomes import CallFacts, Outcome, classify, is_switch_throttle
from kdial.plural import plural
from kdial.privacy import mask_number
from kdial.progressive import progressive_cap
from kdial.routing.presence import place_of, subdivision
from kdial.state.attempt import CallRecord
from kdial.state.contact import Contact
from kdial.state.keys import CampaignKeys
from kdial.state.waits import Wait
from kdial_worker import (
    caps,
    choice,
    ledger,
    line_counts,
    metrics,
    pacing,
    retry,
    runtime,
)
from kdial_worker.agents import Agents
from kdial_worker.bridging import CALLEE_VARIABLES, Bridging
from kdial_worker.calls import AgentLeg, Call, Calls, call_uuid, connect_deadline
from kdial_worker.campaign_pacer import LOOK_SECONDS, CampaignPacer
from kdial_worker.carrier_pace import CarrierPace
from kdial_worker.esl import EslDown, EslSession
from kdial_worker.paced_calls import PacedCalls
from kdial_worker.preview import Previews
from kdial_worker.runtime import CallerId, Runtime, RuntimeCache, Trunk
from kdial_worker.settings import WorkerSettings
from kdial_worker.switch_gateways import SwitchGateways
from kdial_worker.switch_pace import SwitchPace

log = logging.getLogger(__name__)

#: How long a contact waits when its list or a do-not-call list is gone from Redis.
LIST_GONE_SECONDS = 60
#: Least wait after a refused permit, before claiming again and before that contact is due.
MIN_PERMIT_WAIT_SECONDS = 0.02
#: How often a worker that lost Redis tries it again.
REDIS_RETRY_SECONDS = 0.25
#: Why a worker acts on a lease it can no longer vouch for (`kdial_worker.lease`).
UNVOUCHED = "its lease was not renewed in time (Redis out of reach, or this worker paused)"
#: An attempt the switch refused to place (Cancelled) is due again after this.
CANCELLED_BACKOFF_MS = 2000
#: Job errors our switch answers before any session exists: its throttle, its shutdown. No
#: INVITE went out, whatever events were lost.
REFUSED_BEFORE_A_SESSION = frozenset({"DESTINATION_OUT_OF_ORDER", "CHAN_NOT_IMPLEMENTED"})


@dataclass(frozen=True)
class Route:
    """How one attempt went out: its trunk, the number shown, and the CPS cap it was paced at."""

    trunk: Trunk
    caller: CallerId
    max_cps: int


class Dialer:
    def __init__(
        self, settings: WorkerSettings, namespace: str, name: str, rdb: redis.Redis
    ) -> None:
        self.settings, self.rdb = settings, rdb
        self.campaign = f"{namespace}/{name}"
        self.keys = CampaignKeys(namespace, name)
        self.runtime = RuntimeCache(rdb, self.keys)
        self.calls = Calls()
        self.esl = EslSession(
            settings.esl_host,
            settings.esl_port,
            settings.esl_password,
            on_event=self.calls.on_event,
            on_reconnect=self.reconcile,
        )
        self.gateways = SwitchGateways(self.esl, rdb, settings.gateways_dir, settings.worker_id)
        self.agents = Agents(rdb, self.keys)
        self.paced = PacedCalls(rdb, self.keys)
        self.bridging = Bridging(
            self.esl, self.agents, self.calls, self.campaign, settings.worker_id, paced=self.paced
        )
        self.previews = Previews(
            rdb,
            self.keys,
            self.esl,
            self.calls,
            self.agents,
            worker_id=settings.worker_id,
            lease_ms=self._lease_ms,
        )
        self.pacer = CampaignPacer(rdb, self.keys, settings.worker_id)
        self.rng = random.Random()
        self.epoch: str | None = None
        self.draining = False
        #: Attempts claimed here and not yet over, with or without a call: a drain waits for
        #: them, or a worker could exit between a claim and its call, its contact in flight.
        self._claimed: set[str] = set()
        self.halted: str | None = None
        self.healthy_at = time.monotonic()
        # Claiming pauses until then after a permit was refused: claiming contacts only to give
        # them back would cost more than the calls themselves.
        self._hold_until = 0.0
        self._redis_lost = False
        self._pacer = pacing.Pacer()
        self._carrier_pace = CarrierPace()
        self._switch_pace = SwitchPace()
        # Caller IDs refused at a cap, until when (epoch seconds): skipped by the next choices
        # rather than stalling every claim on one capped number.
        self._capped: dict[str, float] = {}
        # Calls last seen up on each trunk (from its grants), for the headroom in its weight.
        self._in_use: dict[str, int] = {}
        # Calls up whose pool was deleted: they hold no permits, and are not renewed.
        self._unheld: set[str] = set()
        self._room = gevent.event.Event()
        self._greenlets: list[gevent.Greenlet] = []

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.esl.start()
        self._greenlets = [
            gevent.spawn(self._claim_loop),
            gevent.spawn(self._every, self.settings.lease_seconds / 3, self._renew),
            gevent.spawn(self._every, 5.0, self._reclaim),
            gevent.spawn(self._every, 0.5, self._watch_gateways),
            gevent.spawn(self._every, LOOK_SECONDS, self._pace),
        ]

    def ready(self) -> bool:
        """Ready to dial: the switch and Redis answer, and nothing halted the worker."""
        if self.halted or self.draining or not self.esl.connected:
            return False
        try:
            return bool(self.rdb.ping())
        except redis.RedisError:
            return False

    def drain(self, grace: float) -> None:
        """Stops claiming; lets calls in flight end for `grace` seconds, then hangs them up.
        An attempt not yet dialled gives its contact back."""
        self.draining = True
        deadline = time.monotonic() + grace
        while (self.calls or self._claimed) and time.monotonic() < deadline:
            gevent.sleep(0.2)
        for call in list(self.calls.by_uuid.values()):
            self._kill(call)
        deadline = time.monotonic() + 10
        while (self.calls or self._claimed) and time.monotonic() < deadline:
            gevent.sleep(0.1)
        for greenlet in self._greenlets:
            greenlet.kill()
        with contextlib.suppress(redis.RedisError):
            self.pacer.release()
        self.esl.stop()

    # -- claiming --------------------------------------------------------------------------

    def _claim_loop(self) -> None:
        while not self.draining:
            self.healthy_at = time.monotonic()
            try:
                claimed = self._claim_once()
            except ledger.EpochChanged as error:
                self.halted = str(error)
                log.error("campaign %s: %s", self.campaign, error)
                claimed = 0
            except redis.RedisError as error:
                # Fail closed: no Redis, no claims. Calls in flight carry on. Said once per
                # outage, and retried a few times a second, not fifty.
                if not self._redis_lost:
                    log.warning("Redis unavailable, not claiming until it is back: %s", error)
                self._redis_lost = True
                gevent.sleep(REDIS_RETRY_SECONDS)
                continue
            if not claimed:
                self._room.clear()
                self._room.wait(0.02)

    def _claim_once(self) -> int:
        rt = self.runtime.get()
        if rt is not None and not rt.dialing and rt.spec.mode is CampaignMode.PREVIEW:
            self.previews.give_back()
        if rt is None or not rt.dialing or self.halted or not self.esl.connected:
            return 0
        if self.gateways.on_switch is None:
            # Nothing is dialled before the switch has said which gateways it has: a contact
            # claimed now would find no trunk usable and wait for nothing (a Preview agent's
            # record would be given back under them).
            return 0
        if self.epoch is None:
            self.epoch = ledger.epoch(self.rdb, self.keys)
            if self.epoch is None:
                return 0
            self._hang_up_leftovers()
        room = self.settings.max_calls - len(self.calls)
        if room <= 0 or time.monotonic() < self._hold_until:
            return 0
        if rt.spec.mode is CampaignMode.PREVIEW:
            # Agents claim Preview records through the agent API; workers dial those chosen.
            self.previews.expire(self.settings.preview_timeout_seconds)
            return self.previews.serve(rt, min(room, 20), self._contact, self._dial_contact)
        rate = self._switch_pace.rate(_trunks_rate(rt, self.gateways.usable), time.time())
        want = self._pacer.take(time.monotonic(), rate, min(room, 20))
        if want == 0:
            return 0
        cap, permitted = self._in_flight_caps(rt)
        claims = ledger.claim(
            self.rdb,
            self.keys,
            self.epoch,
            want,
            self._lease_ms,
            in_flight_cap=cap,
            permitted_cap=permitted,
        )
        if self._redis_lost:
            log.info("Redis is back, claiming again")
            self._redis_lost = False
        metrics.CLAIMS.labels(self.campaign).inc(len(claims))
        for claimed in claims:
            self._claimed.add(claimed.attempt)
            gevent.spawn(self._attempt, claimed, rt)
        return len(claims)

    def _in_flight_caps(self, rt: Runtime) -> tuple[int, int | None]:
        """The campaign-wide caps on calls in flight: one per Ready agent in Progressive mode
        (`progressive_cap`, over the agents every worker shares) and in Predictive mode while
        its pacer's permits are not fresh, else the campaign's own; and in Predictive mode the
        cap while they are, `maxDialRatio` per agent not NotReady (`predictive_cap`)."""
        pacing = rt.spec.pacing
        own = pacing.max_concurrency or self.settings.max_calls * 1000
        if rt.spec.mode not in (CampaignMode.PROGRESSIVE, CampaignMode.PREDICTIVE):
            return own, None
        states = self.agents.states()
        cap = progressive_cap(states, pacing.max_concurrency)
        if rt.spec.mode is CampaignMode.PROGRESSIVE:
            return cap, None
        return cap, min(own, predictive_cap(states, pacing.max_dial_ratio))

    def _hang_up_leftovers(self) -> None:
        """Calls this worker left on its switch before a restart are ended first: their
        contacts will be reclaimed and must not be in two calls at once."""
        with contextlib.suppress(EslDown):
            self.esl.api(f"hupall NORMAL_CLEARING kdial_worker {self.settings.worker_id}")

    # -- one attempt -----------------------------------------------------------------------

    def _attempt(self, claimed: ledger.Claim, rt: Runtime) -> None:
        try:
            contact = self._contact(claimed, rt)
            if contact is not None:
                self._dial_contact(claimed, contact, rt)
        except Exception:
            # The lease keeps the contact safe: it will be reclaimed, never lost.
            log.exception("attempt %s failed", claimed.attempt)
        finally:
            self._claimed.discard(claimed.attempt)
            if rt.spec.mode is CampaignMode.PREDICTIVE:
                self.paced.forget(claimed.attempt)
            self._room.set()

    def _contact(self, claimed: ledger.Claim, rt: Runtime) -> Contact | None:
        """The contact if it may be dialled now; otherwise it is given back or closed."""
        raw = self.rdb.hget(rt.contacts_key, claimed.contact)
        contact = None if raw is None else admission.decoded(raw)
        suppressed = isinstance(contact, Contact) and any(
            self.rdb.sismember(key, contact.number) for key in rt.suppression_keys
        )
        # Checked after the reads, not before: a list deleted meanwhile (its keys never come
        # back) read as "no such contact" or "nobody suppressed", which says nothing of this
        # contact. The operator halts the campaign on its next pass.
        if not all(self.rdb.exists(key) for key in rt.list_versions):
            self._undialled(claimed, "ListGone", delay=LIST_GONE_SECONDS)
            return None
        if raw is None and runtime.contacts_key(self.rdb, self.keys) != rt.contacts_key:
            # The campaign moved to another list since this worker read its config: the
            # contact may well be in the new one.
            self._undialled(claimed, "ListChanged", delay=1)
            return None
        if contact is None:
            self._undialled(claimed, "Removed", close=True)
            return None
        if isinstance(contact, admission.Undialled):
            self._refused(claimed, contact)
            return None
        refused = admission.refusal(
            contact,
            suppressed=suppressed,
            history=claimed.history,
            spec=rt.spec,
            now=datetime.now(UTC),
        )
        if refused is not None:
            self._refused(claimed, refused)
            return None
        return contact

    def _refused(self, claimed: ledger.Claim, refused: admission.Undialled) -> None:
        self._undialled(
            claimed, refused.reason, close=refused.close, delay=refused.delay, wait=refused.wait
        )

    def _undialled(
        self,
        claimed: ledger.Claim,
        reason: str,
        *,
        close: bool = False,
        delay: float = 0,
        wait: str = "",
    ) -> None:
        """Closes the contact for `reason`, or gives it back for `delay` seconds; `wait` is
        why it waits as status counts it (a `kdial.state.waits` tag), '' when it is not
        worth a person's attention (a list that moved)."""
        metrics.UNDIALLED.labels(self.campaign, reason).inc()
        if close:
            ledger.close_undialled(self.rdb, self.keys, claimed.attempt, reason)
        else:
            ledger.defer(self.rdb, self.keys, claimed.attempt, int(delay * 1000), wait)

    def _dial_contact(
        self, claimed: ledger.Claim, contact: Contact, rt: Runtime, held: AgentLeg | None = None
    ) -> None:
        """Dials the contact; `held` is the answered leg of the agent who waits for it
        (Preview)."""
        if self.draining:
            # Before any permit: a CPS grant taken only to be given back stays spent.
            self._undialled(claimed, "Draining")
            return
        history, now = claimed.history, time.time()
        shown = {n: ms / 1000 for n, ms in (history.get("shown") or {}).items()}
        caller = choice.pick_caller_id(
            rt.caller_ids,
            place_of(contact.province, contact.city),
            self.rng,
            shown=shown,
            capped={n for n, until in self._capped.items() if until > now},
            now=now,
        )
        taken = self._take_route(claimed, contact, rt, caller, now)
        if taken is None:
            return
        route, grant = taken
        try:
            if claimed.lease.lapsing(time.monotonic()):
                self._not_placed(claimed)
                return
            call = self._call(
                claimed, contact, rt, route.trunk, route.caller.number, grant=grant, held=held
            )
        finally:
            self._release(grant)
        self._record(claimed, contact, rt, call, route)

    def _release(self, grant: caps.Grant) -> None:
        """Gives the call's permits back; with Redis out of reach they lapse with their lease
        instead, and the call is still recorded."""
        try:
            caps.release(self.rdb, grant)
        except redis.RedisError as error:
            log.warning("attempt %s: permits left to lapse: %s", grant.attempt, error)

    def _not_placed(self, claimed: ledger.Claim) -> None:
        """The lease may have ended before the call could be placed (this worker paused, or
        Redis out of its reach): the contact may be another worker's by now. Given back if it
        is still this attempt's; else the reclaim has it."""
        log.warning("attempt %s: %s; not dialled", claimed.attempt, UNVOUCHED)
        with contextlib.suppress(redis.RedisError):
            self._undialled(claimed, "LeaseLapsed")

    def _take_route(
        self,
        claimed: ledger.Claim,
        contact: Contact,
        rt: Runtime,
        caller: CallerId | None,
        now: float,
    ) -> tuple[Route, caps.Grant] | None:
        """A trunk and the caller ID with their permits; a trunk at its cap is passed over for
        another once. None when the contact was given back."""
        history = claimed.history
        avoid = history.get("trunk") if history.get("last") == Outcome.CALL_LOSS else None
        full: set[str] = set()
        refused: tuple[caps.Denied, Trunk, CallerId] | None = None
        while True:
            trunk = choice.pick_trunk(
                [t for t in rt.trunks if t.name not in full and self.gateways.usable(t, rt)],
                self.rng,
                avoid=avoid,
                callee_region=subdivision(contact.province) or contact.region or None,
                callee_carrier=contact.carrier or None,
                callee_network=contact.network,
                in_use=self._in_use,
            )
            probe_at = rt.networks_down.get(contact.network)
            if trunk is None and probe_at is not None:
                # The callee side is down, not the lines: the contact keeps its attempts. Spread
                # past the probe, so that the probe is a few calls, not every contact held.
                until = max(probe_at - now, MIN_PERMIT_WAIT_SECONDS) * (1 + self.rng.random())
                self._undialled(claimed, "NetworkDown", delay=until, wait=Wait.TRUNK)
                return None
            if trunk is None and refused is not None:
                # No other trunk for it than the one at its cap: the cap's short wait, not the
                # lack of a route.
                self._denied(claimed, *refused)
                return None
            if trunk is None or caller is None:
                # No caller ID free to show is a cap; no trunk at all is the lines.
                wait = Wait.TRUNK if trunk is None else Wait.CAP
                self._undialled(claimed, "NoRoute", delay=5, wait=wait)
                return None
            max_cps = self._carrier_pace.max_cps(trunk.name, trunk.max_cps, now)
            grant = caps.acquire(
                self.rdb,
                claimed.attempt,
                caps.TrunkCap(
                    trunk.pool, trunk.name, max_concurrent=trunk.max_concurrent, max_cps=max_cps
                ),
                caps.CallerIdCap(
                    caller.pool,
                    caller.number,
                    max_concurrent=caller.max_concurrent,
                    max_per_day=caller.max_per_day,
                ),
                self._lease_ms,
                claimant=caps.Claimant(self.campaign, rt.spec.priority),
            )
            if isinstance(grant, caps.Grant):
                self._in_use[trunk.name] = grant.trunk.in_use
                return Route(trunk, caller, max_cps), grant
            metrics.PERMITS_DENIED.labels(self.campaign, f"{grant.scope}_{grant.reason}").inc()
            if grant.scope == "trunk" and not full:
                full.add(trunk.name)
                refused = (grant, trunk, caller)
                continue
            self._denied(claimed, grant, trunk, caller)
            return None

    def _denied(
        self, claimed: ledger.Claim, denied: caps.Denied, trunk: Trunk, caller: CallerId
    ) -> None:
        wait = max(denied.retry_after_ms / 1000, MIN_PERMIT_WAIT_SECONDS)
        if denied.scope == "caller_id":
            # Another number may well be free: skip this one, claim on.
            self._capped[caller.number] = time.time() + wait
            self._undialled(claimed, "NoPermit", delay=MIN_PERMIT_WAIT_SECONDS, wait=Wait.CAP)
            return
        self._in_use[trunk.name] = denied.in_use
        self._hold_until = max(self._hold_until, time.monotonic() + wait)
        self._undialled(claimed, "NoPermit", delay=wait, wait=Wait.CAP)

    def _call(
        self,
        claimed: ledger.Claim,
        contact: Contact,
        rt: Runtime,
        trunk: Trunk,
        caller: str,
        *,
        grant: caps.Grant,
        held: AgentLeg | None = None,
    ) -> Call:
        pacing = rt.spec.pacing
        uuid = call_uuid(self.campaign, claimed.attempt)
        call = Call(claimed.attempt, uuid, trunk.name, grant, claimed.lease)
        call.connect_deadline = connect_deadline(rt.spec)
        call.to_agent = rt.spec.mode in AGENT_MODES
        if held is not None:
            call.agent, call.legs = held.agent, [held]
        call.paced = rt.spec.mode is CampaignMode.PREDICTIVE
        command = originate_command(
            _via(trunk),
            contact.number,
            {
                "origination_uuid": call.uuid,
                "origination_caller_id_number": caller.lstrip("+"),
                "originate_timeout": str(pacing.ring_timeout_seconds),
                # Else a carrier's 183 (coloured ringback) completes the originate: the
                # destination starts while the phone rings and the ring timeout stops applying.
                "ignore_early_media": "true",
                "kdial_campaign": self.campaign,
                "kdial_attempt": claimed.attempt,
                "kdial_worker": self.settings.worker_id,
            }
            | (CALLEE_VARIABLES if call.to_agent else {}),
            application=_destination(rt),
            max_call_seconds=pacing.max_call_duration_seconds,
        )
        self.calls.add(call)
        metrics.CALLS_ACTIVE.labels(self.campaign).set(len(self.calls))
        connecting = gevent.spawn(self._to_agent, call, pacing.abandon_message)
        try:
            sent = time.monotonic()
            call.originated = time.time()
            self._switch_pace.sent(call.originated)
            try:
                self.esl.bgapi(command)
            except EslDown:
                call.job_error = "ESL_DOWN"
                call.job_error_at = time.time()
            call.bgapi_seconds = time.monotonic() - sent
            metrics.ORIGINATE_LATENCY.observe(call.bgapi_seconds)
            limit = pacing.ring_timeout_seconds + 30 + pacing.max_call_duration_seconds
            self._follow(call, limit, pacing.abandon_message)
            call.ended = time.time()
        finally:
            # A call that ended without a hangup event (refused, or lost with the Event Socket)
            # is over for its agent legs too.
            call.done.set()
            connecting.join()
            if call.to_agent:
                self.bridging.end(call)
            self.paced.ended(call)
            self.calls.remove(call)
            metrics.CALLS_ACTIVE.labels(self.campaign).set(len(self.calls))
        return call

    def _follow(self, call: Call, limit: float, abandon_message: str | None) -> None:
        """Waits for the call's end: its hangup, or a job error with no channel behind it."""
        deadline = time.time() + limit
        refused = False
        while not call.done.wait(0.25):
            if call.job_error_at and not call.channel_seen:
                if not refused:
                    # At once, not when the call is recorded: a CPS grant given back after its
                    # window has passed gives nothing back, and the pace must react fast.
                    refused = True
                    self._refused_by_switch(call)
                if time.time() - call.job_error_at > 1:
                    return
            overdue = call.overdue(time.time()) and not call.to_agent
            if overdue and not (call.killed or call.abandoned):
                self._abandon(call, abandon_message)
            if call.lease.outlived(time.monotonic(), self.settings.reclaim_delay_seconds):
                self._fence(call)
            if time.time() > deadline and not call.killed:
                log.warning("attempt %s outlived its limits; hanging up", call.attempt)
                self._kill(call)
                deadline = time.time() + 10
            elif time.time() > deadline:
                return

    def _to_agent(self, call: Call, abandon_message: str | None) -> None:
        """Agent modes: the answered callee bridged to an agent within the connect deadline
        and held together with them, or abandoned."""
        if not call.to_agent:
            return
        bridged = self.bridging.bridge_held(call) if call.legs else self.bridging.connect(call)
        if bridged:
            self.bridging.hold_together(call)
        elif not (call.done.is_set() or call.killed or call.abandoned):
            self._abandon(call, abandon_message)
            self.paced.abandoned(call)

    def _abandon(self, call: Call, message: str | None) -> None:
        """Nobody took the answered callee in time: rather than leave them in silence, they
        hear the compliance message and the switch hangs up (without one, the worker hangs
        up). Either way the call is Abandoned, and the abandon rate counts it."""
        call.abandoned = True
        if message:
            try:
                reply = self.esl.api(abandon_command(call.uuid, message))
            except (EslDown, ValueError) as error:  # ValueError: a message unsafe to send
                reply = f"-ERR {error}"
            if reply.startswith("+OK"):
                return
            log.warning(
                "attempt %s: cannot play the abandon message (%s); hanging up",
                call.attempt,
                reply.strip(),
            )
        self._kill(call)

    def _kill(self, call: Call) -> None:
        call.killed = True
        with contextlib.suppress(EslDown):
            self.esl.api(f"uuid_kill {call.uuid} NORMAL_CLEARING")

    def _record(
        self, claimed: ledger.Claim, contact: Contact, rt: Runtime, call: Call, route: Route
    ) -> None:
        facts = call.facts()
        hangup = call.hangup or {}
        if facts is None:
            ending = _unknown(self.settings.reclaim_delay_seconds)
        else:
            result = classify(facts)
            ending = retry.decide(result, claimed.history, rt.spec.retry, int(time.time() * 1000))
            if result is Outcome.CANCELLED and not ending.close:
                # Never dialled (e.g. the switch's own throttle): back off rather than spin.
                ending = replace(ending, delay_ms=max(ending.delay_ms, CANCELLED_BACKOFF_MS))
            self._count(call, route, facts, result, hangup, network=contact.network)
        if call.pdd is not None:
            metrics.POST_DIAL_DELAY.labels(call.trunk).observe(call.pdd)
        metrics.ATTEMPTS.labels(self.campaign, call.trunk, ending.outcome.value).inc()
        billsec = hangup.get("variable_billsec", "")
        record = CallRecord(
            number=mask_number(contact.number),
            trunk=call.trunk,
            caller_id=route.caller.number,
            tags=contact.tags,
            worker=self.settings.worker_id,
            uuid=call.uuid,
            started_ms=int(call.started * 1000),
            call_ended_ms=int((call.ended or time.time()) * 1000),
            pdd_ms=None if call.pdd is None else int(call.pdd * 1000),
            bgapi_ms=None if call.bgapi_seconds is None else call.bgapi_seconds * 1000,
            billsec=int(billsec) if billsec.isdigit() else 0,
            cause=hangup.get("Hangup-Cause", call.job_error or ""),
            sip=hangup.get("variable_sip_term_status", ""),
            agent=call.agent or "",
            bridged_ms=None if call.bridged is None else int(call.bridged * 1000),
        )
        shown = route.caller.number if ending.counts_as_attempt else ""
        ending = replace(ending, record=record, trunk=call.trunk, caller_id=shown)
        self._complete(claimed.attempt, ending)

    def _refused_by_switch(self, call: Call) -> None:
        """An originate our switch refused before any session existed sent no INVITE: its CPS
        grant goes back to the trunk, its call out of the caller ID's day count. Its
        throttle's refusal slows us down."""
        if call.job_error not in REFUSED_BEFORE_A_SESSION:
            return
        if is_switch_throttle(CallFacts(job_error=call.job_error)):
            metrics.SWITCH_THROTTLED.labels(self.campaign).inc()
            self._switch_pace.refused(call.originated or call.started, time.time())
        try:
            if caps.refund_cps(self.rdb, call.grant.trunk):
                metrics.CPS_REFUNDED.labels(call.trunk).inc()
            caps.refund_caller_id(self.rdb, call.grant.caller_id)
        except redis.RedisError as error:
            # Kept, the grant only holds back one call for a second: the safe direction.
            log.warning("CPS grant of attempt %s not given back: %s", call.attempt, error)

    def _count(
        self,
        call: Call,
        route: Route,
        facts: CallFacts,
        outcome: Outcome,
        hangup: dict[str, str],
        *,
        network: str,
    ) -> None:
        """The attempt into the line counters the operator judges trunks, their routes to
        callee networks, and numbers by."""
        now, trunk, caller = time.time(), route.trunk, route.caller
        mine = self._carrier_pace.self_inflicted(
            trunk.name,
            outcome,
            hangup.get("variable_sip_term_status", ""),
            used=route.max_cps,
            in_window=call.grant.trunk.cps_in_window,
            now=now,
        )
        if mine:
            metrics.SELF_INFLICTED.labels(trunk.name).inc()
        line_counts.count(
            self.rdb,
            now,
            (trunk.pool, trunk.name),
            (caller.pool, caller.number),
            outcome,
            network=network,
            self_inflicted=mine,
            pdd_ms=None if call.pdd is None else int(call.pdd * 1000),
            cause=cause_class(facts),
        )

    def _complete(self, attempt: str, ending: ledger.Ending) -> None:
        """Writes the attempt's end, retrying while Redis is away: a finished call is a fact."""
        for delay in (0.1, 0.5, 1, 2, 5, 5, 10, 10, 30):
            try:
                if not ledger.complete(self.rdb, self.keys, attempt, ending):
                    metrics.LEASES_LOST.labels(self.campaign).inc()
                return
            except redis.RedisError as error:
                log.warning("cannot record attempt %s yet: %s", attempt, error)
                gevent.sleep(delay)
        log.error("attempt %s not recorded; its lease will expire and reclaim it", attempt)

    # -- upkeep ----------------------------------------------------------------------------

    def _every(self, seconds: float, job: Any) -> None:
        while True:
            gevent.sleep(seconds)
            try:
                job()
            except redis.RedisError as error:
                log.warning("%s: Redis unavailable: %s", job.__name__, error)

    def _pace(self) -> None:
        """Runs the campaign's predictive pacer while this worker holds its lease."""
        self.pacer.tick(None if self.draining or self.halted else self.runtime.get())

    @property
    def _lease_ms(self) -> int:
        return int(self.settings.lease_seconds * 1000)

    def _renew(self) -> None:
        calls = list(self.calls.by_uuid.values())
        leases = [c.lease for c in calls] + list(self.previews.held.values())
        lost = ledger.renew(self.rdb, self.keys, leases)
        live = [
            c.grant for c in calls if c.uuid in self.calls.by_uuid and c.attempt not in self._unheld
        ]
        lapsed = caps.renew(self.rdb, live, self._lease_ms)
        # A call that ended during these round trips gave its permits back itself: its slots
        # are gone, but they did not lapse. A call leaves `calls` before it releases them.
        up = {c.attempt for c in self.calls.by_uuid.values()}
        self._unheld &= up
        self._lapsed([g for g in lapsed if g.attempt in up])
        if lost:
            metrics.LEASES_LOST.labels(self.campaign).inc(len(lost))
            # Reclaimed: each call is hung up before its contact is due again (`_follow`).
            log.warning("%s lost while their calls were up", plural(len(lost), "lease"))

    def _fence(self, call: Call) -> None:
        """Hangs up a call whose contact may be dialled again by another worker soon."""
        if call.killed:
            return
        metrics.CALLS_FENCED.labels(self.campaign).inc()
        log.warning("attempt %s: %s; hanging up its call", call.attempt, UNVOUCHED)
        self._kill(call)

    def _lapsed(self, grants: list[caps.Grant]) -> None:
        """Permits gone while their calls are up: with a pool that was deleted (the operator
        removes its keys, so its calls can hold nothing), or lapsed."""
        pools = {pool for g in grants for pool in (g.trunk.pool, g.caller_id.pool)}
        deleted = {pool for pool in pools if not self.rdb.exists(pool.config)}
        dropped = [g for g in grants if {g.trunk.pool, g.caller_id.pool} & deleted]
        if dropped:
            self._unheld.update(g.attempt for g in dropped)
            names = ", ".join(sorted(f"{p.kind}/{p.name}" for p in deleted))
            up = plural(len(dropped), "call")
            log.info("%s up hold no permits any more: pool %s deleted", up, names)
        if len(grants) > len(dropped):
            lapsed = plural(len(grants) - len(dropped), "permit")
            log.warning("%s had lapsed (Redis unreachable too long?)", lapsed)

    def _watch_gateways(self) -> None:
        self.gateways.tick(self.runtime.get())

    def _reclaim(self) -> None:
        delay = int(self.settings.reclaim_delay_seconds * 1000)
        taken = ledger.reclaim(self.rdb, self.keys, delay)
        if taken:
            metrics.RECLAIMED.labels(self.campaign).inc(len(taken))
            log.warning("reclaimed %s from expired leases", plural(len(taken), "contact"))

    def reconcile(self) -> None:
        """After an ESL gap: a call or an agent's leg the switch no longer knows ended unseen."""
        for call in list(self.calls.by_uuid.values()):
            try:
                alive = self.esl.api(f"uuid_exists {call.uuid}").strip() == "true"
            except EslDown:
                return
            if not alive and call.hangup is None:
                log.warning("attempt %s ended while the Event Socket was down", call.attempt)
                call.done.set()
        for leg in list(self.calls.legs.values()):
            try:
                alive = self.esl.api(f"uuid_exists {leg.uuid}").strip() == "true"
            except EslDown:
                return
            if not alive:
                leg.done.set()


def _trunks_rate(rt: Runtime, usable: Callable[[Trunk, Runtime], bool]) -> float:
    """Originates a second the campaign's dialable trunks allow together."""
    return float(sum(t.max_cps for t in rt.trunks if t.weight > 0 and usable(t, rt)))


def _via(trunk: Trunk) -> str | SipUri:
    """How the switch reaches `trunk`: its gateway, else its SIP host (validated here, as the
    gateway is in originate_command: both come from Redis, not straight from the CRD)."""
    if trunk.gateway:
        return trunk.gateway
    return SipUri(trunk.sip_uri or "")


def _destination(rt: Runtime) -> Application:
    destination = rt.spec.destination
    if destination is None:
        return Application.park()
    if destination.extension:
        return Application.transfer(destination.extension, destination.context)
    return Application.bridge(f"sofia/external/{(destination.sip_uri or '').split(':', 1)[1]}")


def _unknown(redial_delay: float) -> ledger.Ending:
    """An attempt whose end the switch never told: counted, and due again after a delay."""
    return ledger.Ending(
        outcome=Outcome.UNKNOWN,
        close=False,
        delay_ms=int(redial_delay * 1000),
        counters=retry.counters(Outcome.UNKNOWN),
    )
