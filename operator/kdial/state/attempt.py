"""The attempt record: one entry of a campaign's attempt stream (`CampaignKeys.attempts`) per
attempt, appended when it ends.

The ledger's scripts write what they own (`attempt`, `contact`, `outcome`, `ended_ms`, and the
`reason` of a reclaimed lease); the worker adds what only it saw of the call (`CallRecord`).
Stream values are strings: `CallRecord.encode` and `AttemptRecord.decode` are the one codec.
A worker's fields carry the schema they were written under (`schema_version`; none is schema
1), and a reader refuses a record from a newer writer rather than misread it, as with every
value on the wire (`kdial.state.wire`). The callee's number is only ever stored masked.

A call an agent took gets its `Disposition` once the agent ends wrap-up, after the stream entry
was appended (entries are immutable): it is kept by attempt id (`CampaignKeys.dispositions`),
schema-versioned, and `AttemptRecord.decode` joins it to the entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from kdial.outcomes import Outcome
from kdial.state.contact import FieldValue
from kdial.state.wire import FIRST_SCHEMA, WireValue, refusal

__all__ = ["AttemptRecord", "BadRecord", "CallRecord", "Disposition"]


class BadRecord(ValueError):
    """A stream entry that is not an attempt record (a missing field, an unknown outcome)."""


#: The schema of the worker's fields this code writes and the newest it reads: 2 added the
#: agent a call was bridged to and when.
CALL_SCHEMA = 2


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What the worker saw of one call."""

    #: The callee's number, masked (`kdial.privacy.mask_number`).
    number: str
    trunk: str
    caller_id: str
    #: The list's and the row's tags (validated at import: never a number), for reports.
    tags: tuple[str, ...]
    worker: str
    uuid: str
    #: When the worker began the call, its permits granted (ms since the epoch, its clock).
    started_ms: int
    #: The call's own end, before its permits were given back (the worker's clock, like
    #: started_ms; the record's ended_ms is Redis's, and later): durations subtract these two.
    call_ended_ms: int
    pdd_ms: int | None = None
    #: How long the switch took to accept the originate (ms, to the hundredth).
    bgapi_ms: float | None = None
    billsec: int = 0
    #: The hangup cause, else the cause of the originate's error.
    cause: str = ""
    #: The SIP final status, "" when none was seen.
    sip: str = ""
    #: The agent the answered callee was bridged to (agent modes), "" when none.
    agent: str = ""
    #: When the callee was bridged to `agent` (ms since the epoch), None when never.
    bridged_ms: int | None = None

    def encode(self) -> dict[str, str]:
        """The stream fields the worker appends to the ledger's own."""
        return {
            "number": self.number,
            "trunk": self.trunk,
            "caller_id": self.caller_id,
            "tags": ",".join(self.tags),
            "worker": self.worker,
            "uuid": self.uuid,
            "started_ms": str(self.started_ms),
            "call_ended_ms": str(self.call_ended_ms),
            "pdd_ms": "" if self.pdd_ms is None else str(self.pdd_ms),
            "bgapi_ms": "" if self.bgapi_ms is None else f"{self.bgapi_ms:.2f}",
            "billsec": str(self.billsec),
            "cause": self.cause,
            "sip": self.sip,
            "agent": self.agent,
            "bridged_ms": "" if self.bridged_ms is None else str(self.bridged_ms),
            "schema_version": str(CALL_SCHEMA),
        }

    @classmethod
    def decode(cls, fields: Mapping[str, str]) -> CallRecord:
        """The worker's fields of a stream entry; `BadRecord` for a newer writer's."""
        version = fields.get("schema_version", str(FIRST_SCHEMA))
        problem = refusal(
            "attempt record", int(version) if version.isdigit() else version, CALL_SCHEMA
        )
        if problem:
            raise BadRecord(problem)
        bridged = fields.get("bridged_ms", "")
        return cls(
            number=fields["number"],
            trunk=fields["trunk"],
            caller_id=fields["caller_id"],
            tags=tuple(t for t in fields["tags"].split(",") if t),
            worker=fields["worker"],
            uuid=fields["uuid"],
            started_ms=int(fields["started_ms"]),
            call_ended_ms=int(fields["call_ended_ms"]),
            pdd_ms=int(fields["pdd_ms"]) if fields["pdd_ms"] else None,
            bgapi_ms=float(fields["bgapi_ms"]) if fields["bgapi_ms"] else None,
            billsec=int(fields["billsec"]),
            cause=fields["cause"],
            sip=fields["sip"],
            agent=fields.get("agent", ""),
            bridged_ms=int(bridged) if bridged else None,
        )


class Disposition(WireValue):
    """How the agent who took the call ended its wrap-up."""

    KIND: ClassVar[str] = "disposition"

    agent: str
    at_ms: int
    """When the agent ended wrap-up (ms since the epoch, Redis clock)."""
    code: str | None = None
    """One of the campaign's `spec.dispositions.codes`; None when it declares none."""
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    """The campaign's `spec.dispositions.fields` the agent filled in (decimals and dates as
    text)."""
    call_back_ms: int | None = None
    """When the agent asked the contact to be called again (ms since the epoch)."""


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt as the stream keeps it."""

    attempt: str
    contact: str
    outcome: Outcome
    #: When the ledger recorded the end (ms since the epoch, Redis's clock).
    ended_ms: int
    #: None when no worker recorded the call (a lease reclaimed after its worker died).
    call: CallRecord | None = None
    #: Why the ledger, not a worker, ended it ("lease expired"); "" otherwise.
    reason: str = ""
    #: How the agent who took the call ended wrap-up; None for a call no agent disposed of.
    disposition: Disposition | None = None

    @classmethod
    def decode(cls, fields: Mapping[str, str], disposition: str | None = None) -> AttemptRecord:
        """An entry of the attempt stream, with the attempt's stored disposition if it has one;
        `BadRecord` says what is wrong with one that is not an attempt record (a disposition
        of a newer schema raises `kdial.state.wire.NewerSchema`)."""
        disposed = None if disposition is None else Disposition.decode(disposition)
        try:
            return cls(
                attempt=fields["attempt"],
                contact=fields["contact"],
                outcome=Outcome(fields["outcome"]),
                ended_ms=int(fields["ended_ms"]),
                call=CallRecord.decode(fields) if "uuid" in fields else None,
                reason=fields.get("reason", ""),
                disposition=disposed,
            )
        except BadRecord:
            raise
        except KeyError as missing:
            raise BadRecord(f"attempt record without {missing}") from None
        except ValueError as error:
            raise BadRecord(f"attempt record with a bad value: {error}") from None
