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

from dataclasses import dataclass
from typing import Any

from kdial.api.conditions import find

#: (summary, reason) of the states a running campaign moves between on its own.
ROUTINE = {("Dialing", "Dialing"), ("Idle", "NothingDue"), ("Starting", "WorkersStarting")}
#: Summary words that mean something needs a person: Events of type Warning.
WARNINGS = {"Invalid", "Waiting", "Degraded"}


@dataclass(frozen=True)
class Announcement:
    warning: bool
    reason: str
    message: str


def announcement(old: dict[str, Any], new: dict[str, Any]) -> Announcement | None:
    """The Event to post for a status going from `old` to `new`, if any."""
    before, after = _headline(old), _headline(new)
    if after is None or before == after:
        return None
    routine = before is not None and before[:2] in ROUTINE and after[:2] in ROUTINE
    if routine and int((old.get("toDate") or {}).get("attempts") or 0) > 0:
        return None
    summary = after[0]
    return Announcement(summary in WARNINGS, summary, _deciding(new).get("message", ""))


def _headline(status: dict[str, Any]) -> tuple[str, str, str] | None:
    """The summary word, and the deciding condition's reason and message head."""
    summary = status.get("summary")
    if not summary:
        return None
    deciding = _deciding(status)
    head = str(deciding.get("message", "")).partition(": ")[0]
    reason = str(deciding.get("reason", ""))
    # "3 calls in flight" moves every pass: dialing is dialing.
    return str(summary), reason, "" if (summary, reason) in ROUTINE else head


def _deciding(status: dict[str, Any]) -> dict[str, Any]:
    """The condition the summary word comes from: Ready when not Ready, Degraded when
    degraded, else Dialing (see `campaign_status.decide`)."""
    conditions = list(status.get("conditions") or [])
    ready = find(conditions, "Ready") or {}
    degraded = find(conditions, "Degraded") or {}
    if ready.get("status") == "False":
        return ready
    if degraded.get("status") == "True":
        return degraded
    return find(conditions, "Dialing") or {}
