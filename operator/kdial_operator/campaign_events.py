"""Which changes of a campaign's status are worth a Kubernetes Event (pure).

`kubectl describe` shows Events newest last: the newest must say what holds the campaign now.
So a change of the summary word is an Event, and so is a change of what blocks it while the word
stays (`Waiting` on a missing ContactList, then on a missing Secret). What blocks it is the
deciding condition's reason and the head of its message, before the first ": " (kdial's
messages name the culprit there and give details and fixes after), so a blocker whose details
move (an import's progress) is one Event, not one per pass.

A running campaign moves between Dialing, Idle (nothing due yet) and Starting (workers coming
up) on its own as retries come due and calls end. Until it has made a call those moves are
news; after that they are its ordinary life, seen in status, and no Events (they were 19 in
five minutes for a 24-contact list).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

#: (summary, reason) of the states a running campaign moves between on its own.
ROUTINE = {("Dialing", "Dialing"), ("Idle", "NothingDue"), ("Starting", "WorkersStarting")}
#: Summary words that mean something needs a person: Events of type Warning.
WARNINGS = {"Invalid", "Waiting", "Degraded"}


@dataclass(frozen=True)
class Announcement:
    warning: bool
    reason: str
    message: str


class _View(BaseModel):
    """Lenient: a status as stored may be partial, or written by an older operator."""

    model_config = ConfigDict(alias_generator=to_camel, extra="ignore")


class _Condition(_View):
    type: str = ""
    status: str = ""
    reason: str = ""
    message: str = ""


class _Attempts(_View):
    attempts: int | None = None


class _Status(_View):
    """What an Event depends on in a campaign's status."""

    summary: str | None = None
    conditions: list[_Condition] | None = None
    to_date: _Attempts | None = None


def announcement(old: Mapping[str, object], new: Mapping[str, object]) -> Announcement | None:
    """The Event to post for a status going from `old` to `new` (as JSON: stored, and to be
    patched), if any."""
    was, now = _Status.model_validate(old), _Status.model_validate(new)
    before, after = _headline(was), _headline(now)
    if after is None or before == after:
        return None
    routine = before is not None and before[:2] in ROUTINE and after[:2] in ROUTINE
    if routine and ((was.to_date and was.to_date.attempts) or 0) > 0:
        return None
    summary = after[0]
    return Announcement(summary in WARNINGS, summary, _deciding(now).message)


def _headline(status: _Status) -> tuple[str, str, str] | None:
    """The summary word, and the deciding condition's reason and message head."""
    summary = status.summary
    if not summary:
        return None
    deciding = _deciding(status)
    head = deciding.message.partition(": ")[0]
    reason = deciding.reason
    # "3 calls in flight" moves every pass: dialing is dialing.
    return summary, reason, "" if (summary, reason) in ROUTINE else head


def _deciding(status: _Status) -> _Condition:
    """The condition the summary word comes from: Ready when not Ready, Degraded when
    degraded, else Dialing (see `campaign_status.decide`)."""
    conditions = {c.type: c for c in reversed(status.conditions or [])}
    ready = conditions.get("Ready", _Condition())
    degraded = conditions.get("Degraded", _Condition())
    if ready.status == "False":
        return ready
    if degraded.status == "True":
        return degraded
    return conditions.get("Dialing", _Condition())
