"""Whether a claimed contact may be dialled now: the checks every call passes, by the worker
before it dials and by the agent API before an agent previews the record (pure).

A contact that may not is `Undialled`: closed for good (not a dialable number, on a
do-not-call list, its closure days run out) or given back until it may be (its calling window,
no time zone known). Reading the contact and the do-not-call lists is the caller's: `decoded`
first, then `refusal` with what the lists say of the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kdial import schedule
from kdial.api.campaign import CampaignSpec
from kdial.closure import deadline_ms
from kdial.numbers import is_e164
from kdial.state.contact import BadContact, Contact
from kdial.state.history import ContactHistory
from kdial.state.waits import Wait, window

#: Seconds a callee whose time zone is unknown waits before being looked at again.
HELD_SECONDS = 3600
#: Seconds a callee waits when no instant within the search horizon is in a window in every
#: one of their zones.
NO_OPENING_SECONDS = 86_400


@dataclass(frozen=True)
class Undialled:
    """Why a contact is not dialled now, and what becomes of it."""

    reason: str
    """E.g. `Suppressed`, `OutsideWindow`: the undialled metric's label, a closed contact's
    reason."""
    close: bool = False
    """Closed for good; else given back, due after `delay` seconds."""
    delay: float = 0.0
    wait: str = ""
    """Why it waits as status counts it (a `kdial.state.waits` tag)."""


def decoded(raw: str | bytes) -> Contact | Undialled:
    """The stored contact, or `InvalidNumber` for one without a dialable number."""
    try:
        contact = Contact.decode(raw)
    except BadContact:
        return Undialled("InvalidNumber", close=True)
    if not is_e164(contact.number):
        return Undialled("InvalidNumber", close=True)
    return contact


def refusal(
    contact: Contact,
    *,
    suppressed: bool,
    history: ContactHistory,
    spec: CampaignSpec,
    now: datetime,
) -> Undialled | None:
    """Why `contact` may not be dialled at `now` (aware), or None if it may; `suppressed` is
    whether a do-not-call list of the campaign holds its number."""
    if suppressed:
        return Undialled("Suppressed", close=True)
    deadline = deadline_ms(history, spec.retry, int(now.timestamp() * 1000))
    if deadline is not None and now.timestamp() * 1000 >= deadline:
        # The closure rule's days ran out while the contact waited (e.g. for a window).
        return Undialled("ClosureExpired", close=True)
    clock = schedule.callee_zone(contact.time_zones, spec.schedule.fallback_time_zone)
    if clock is None:
        return Undialled("NoTimeZone", delay=HELD_SECONDS, wait=Wait.HELD)
    if schedule.allowed(clock, spec.schedule.windows, now):
        return None
    opening = schedule.next_opening(clock, spec.schedule.windows, now)
    if opening is None:
        return Undialled("OutsideWindow", delay=NO_OPENING_SECONDS, wait=Wait.HELD)
    zones = window([zone.key for zone in clock.zones])
    return Undialled("OutsideWindow", delay=max((opening - now).total_seconds(), 1), wait=zones)
