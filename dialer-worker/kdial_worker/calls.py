"""Calls in flight on this worker, and the events that tell how each one goes.

Events are matched to calls by the channel UUID, which kdial sets (`origination_uuid`)
before dialling. A BACKGROUND_JOB is matched by the UUID in its own arguments, because it can
arrive before `bgapi` has returned its Job-UUID to the dialing greenlet.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field

import gevent.event

from kdial.api.campaign import CampaignSpec
from kdial.modes import AGENT_MODES
from kdial.outcomes import CallFacts, facts_from_hangup, job_error_cause
from kdial_worker.caps import Grant
from kdial_worker.esl import Event
from kdial_worker.lease import Lease

#: Attempt ids are unique per campaign epoch; call UUIDs derive from them, so a re-sent
#: originate for the same attempt would carry the same UUID and FreeSWITCH would refuse it.
_NAMESPACE = uuid.UUID("6f1c2f5e-8d3a-4c55-9a47-3c7d5b0e9a10")
_UUID_ARG = re.compile(r"origination_uuid=([0-9a-fA-F-]{36})")


def call_uuid(campaign: str, attempt: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{campaign}/{attempt}"))


def agent_leg_uuid(call: str, ring: int) -> str:
    """The UUID of the `ring`th agent leg rung for the callee of `call` (1 for the first)."""
    return str(uuid.uuid5(_NAMESPACE, f"{call}/agent/{ring}"))


def connect_deadline(spec: CampaignSpec) -> float | None:
    """Seconds an answered callee may wait to be connected before the call is abandoned.

    None when the switch's own dialplan takes the call at answer (an IVR extension); the
    campaign's connect deadline for a bridge to an agent or a SIP URI; 0 when there is nowhere
    to go at all, so nobody is ever left parked in silence.
    """
    if spec.mode in AGENT_MODES:
        return spec.pacing.connect_deadline_seconds
    destination = spec.destination
    if destination is None:
        return 0
    if destination.extension:
        return None
    return spec.pacing.connect_deadline_seconds


@dataclass
class AgentLeg:
    """The leg that rings an agent's phone for an answered callee (agent modes)."""

    uuid: str
    agent: str
    answered: float | None = None
    job_error: str | None = None
    hangup: Event | None = None
    done: gevent.event.Event = field(default_factory=gevent.event.Event)

    @property
    def cause(self) -> str:
        """Why the leg ended: its hangup cause, else its originate's error."""
        return (self.hangup or {}).get("Hangup-Cause", "") or self.job_error or ""


@dataclass
class Call:
    attempt: str
    uuid: str
    trunk: str
    grant: Grant
    lease: Lease
    started: float = field(default_factory=time.time)
    originated: float | None = None
    progress: float | None = None
    answered: float | None = None
    amd: str | None = None
    channel_seen: bool = False
    job_error: str | None = None
    job_error_at: float | None = None
    hangup: Event | None = None
    killed: bool = False
    ended: float | None = None
    bgapi_seconds: float | None = None
    connect_deadline: float | None = None
    """Seconds an answered callee may wait to be connected (see `connect_deadline`)."""
    abandoned: bool = False
    """Nobody took the answered callee in time, and the worker acted on it."""
    bridged: float | None = None
    #: Agent modes: the worker bridges the answered callee to an agent itself
    #: (`kdial_worker.bridging`), and abandons the call when that misses the deadline.
    to_agent: bool = False
    #: Predictive mode: the campaign's pacer sees the call (`kdial_worker.paced_calls`).
    paced: bool = False
    #: The agent the callee is on its way to or bridged to; None while none.
    agent: str | None = None
    #: The agent legs rung for the callee, in order.
    legs: list[AgentLeg] = field(default_factory=list)
    done: gevent.event.Event = field(default_factory=gevent.event.Event)

    def facts(self) -> CallFacts | None:
        """What the switch said about the call; None when it said nothing conclusive."""
        if self.hangup is not None:
            return facts_from_hangup(
                self.hangup,
                amd_result=self.amd,
                bridged_to_agent=self.connected,
                agent_deadline_missed=self.answered is not None and not self.connected,
                cancelled_by_us=self.killed,
                job_error=self.job_error,
            )
        if self.job_error is not None:
            return CallFacts(job_error=self.job_error, cancelled_by_us=self.killed)
        return None

    @property
    def connected(self) -> bool:
        """The answered callee reached the campaign's destination."""
        if self.answered is None:
            return False
        return self.connect_deadline is None or self.bridged is not None

    def overdue(self, now: float) -> bool:
        """Answered, and still not bridged after the connect deadline."""
        return (
            self.answered is not None
            and self.connect_deadline is not None
            and self.bridged is None
            and now - self.answered > self.connect_deadline
        )

    @property
    def pdd(self) -> float | None:
        first = self.progress or self.answered
        return (
            None if first is None or self.originated is None else max(first - self.originated, 0.0)
        )


class Calls:
    """The registry of calls in flight and of their agent legs; `on_event` is the ESL event
    handler."""

    def __init__(self) -> None:
        self.by_uuid: dict[str, Call] = {}
        self.legs: dict[str, AgentLeg] = {}

    def add(self, call: Call) -> None:
        self.by_uuid[call.uuid] = call

    def remove(self, call: Call) -> None:
        self.by_uuid.pop(call.uuid, None)

    def __len__(self) -> int:
        return len(self.by_uuid)

    def on_event(self, event: Event) -> None:
        name = event.get("Event-Name")
        if name == "BACKGROUND_JOB":
            self._job(event)
            return
        leg = self.legs.get(event.get("Unique-ID", ""))
        if leg is not None:
            _on_leg_event(leg, name, event)
            return
        call = self.by_uuid.get(event.get("Unique-ID", ""))
        if call is None:
            return
        now = time.time()
        call.channel_seen = True
        if name in {"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA"} and call.progress is None:
            call.progress = now
        elif name == "CHANNEL_ANSWER":
            call.answered = call.answered or now
            call.amd = event.get("variable_amd_result") or call.amd
        elif name == "CHANNEL_BRIDGE":
            call.bridged = call.bridged or now
        elif name == "CHANNEL_HANGUP_COMPLETE":
            call.hangup = event
            call.amd = event.get("variable_amd_result") or call.amd
            call.done.set()

    def _job(self, event: Event) -> None:
        match = _UUID_ARG.search(event.get("Job-Command-Arg", ""))
        body = event.get("_body", "")
        leg = self.legs.get(match.group(1)) if match else None
        if leg is not None and body.startswith("-ERR"):
            # No channel (an unregistered user, say): no hangup event will come.
            leg.job_error = job_error_cause(body) or body.removeprefix("-ERR").strip()
            leg.done.set()
            return
        call = self.by_uuid.get(match.group(1)) if match else None
        if call is None:
            return
        if body.startswith("-ERR"):
            call.job_error = job_error_cause(body) or body.removeprefix("-ERR").strip()
            call.job_error_at = time.time()


def _on_leg_event(leg: AgentLeg, name: str | None, event: Event) -> None:
    if name == "CHANNEL_ANSWER":
        leg.answered = leg.answered or time.time()
    elif name == "CHANNEL_HANGUP_COMPLETE":
        leg.hangup = event
        leg.done.set()
