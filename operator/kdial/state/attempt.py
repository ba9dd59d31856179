"""The attempt record: one entry of a campaign's attempt stream (`CampaignKeys.attempts`) per
attempt, appended when it ends.

The ledger's scripts write what they own (`attempt`, `contact`, `outcome`, `ended_ms`, and the
`reason` of a reclaimed lease); the worker adds what only it saw of the call (`CallRecord`).
Stream values are strings: `CallRecord.encode` and `AttemptRecord.decode` are the one codec.
The callee's number is only ever stored masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kdial.outcomes import Outcome

__all__ = ["AttemptRecord", "BadRecord", "CallRecord"]


class BadRecord(ValueError):
    """A stream entry that is not an attempt record (a missing field, an unknown outcome)."""


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
    started_ms: int
    #: The call's own end, before its permits were given back (the record's ended_ms is later).
    call_ended_ms: int
    pdd_ms: int | None = None
    #: How long the switch took to accept the originate (ms, to the hundredth).
    bgapi_ms: float | None = None
    billsec: int = 0
    #: The hangup cause, else the cause of the originate's error.
    cause: str = ""
    #: The SIP final status, "" when none was seen.
    sip: str = ""

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
        }

    @classmethod
    def decode(cls, fields: Mapping[str, str]) -> CallRecord:
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
        )


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

    @classmethod
    def decode(cls, fields: Mapping[str, str]) -> AttemptRecord:
        """An entry of the attempt stream; `BadRecord` says what is wrong with one that is not
        an attempt record."""
        try:
            return cls(
                attempt=fields["attempt"],
                contact=fields["contact"],
                outcome=Outcome(fields["outcome"]),
                ended_ms=int(fields["ended_ms"]),
                call=CallRecord.decode(fields) if "uuid" in fields else None,
                reason=fields.get("reason", ""),
            )
        except KeyError as missing:
            raise BadRecord(f"attempt record without {missing}") from None
        except ValueError as error:
            raise BadRecord(f"attempt record with a bad value: {error}") from None
