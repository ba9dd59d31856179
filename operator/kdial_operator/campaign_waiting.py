"""What status says of a campaign's waiting contacts: the `status.waiting` breakdown and the
sentence its Dialing condition carries (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kdial.api.campaign import MAX_WINDOW_ZONES, Waiting, WindowWait
from kdial.plural import plural
from kdial.state.waits import Waits, ZoneWait

#: Zones the sentence names before it says how many more there are.
ZONES_IN_MESSAGE = 3
_MINUTE_MS = 60_000


def breakdown(waits: Waits) -> Waiting:
    return Waiting(
        window=sum(w.contacts for w in waits.windows),
        windows=[
            WindowWait(time_zone=w.zones, contacts=w.contacts, opens_at=opens_at(w))
            for w in waits.windows[:MAX_WINDOW_ZONES]
        ],
        retry=waits.retry,
        cap=waits.cap,
        trunk=waits.trunk,
        held=waits.held,
        suppressed=waits.suppressed,
    )


def opens_at(wait: ZoneWait) -> str:
    """When the zone's window opens, RFC 3339 in its own offset. The stored time is when its
    contacts fall due on Redis's clock, a few ms (or the worker's clock skew) after the
    opening; window edges are whole minutes, so the nearest minute is the opening itself."""
    minute = round(wait.opens_ms / _MINUTE_MS) * _MINUTE_MS
    instant = datetime.fromtimestamp(minute / 1000, UTC)
    return instant.astimezone(_zone(wait.zones.split(",")[0])).isoformat()


def _zone(name: str) -> tzinfo:
    # The worker loaded it to judge the window; an operator with an older tz database than its
    # workers still says when, in UTC.
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def explanation(waiting: Waiting) -> str:
    """One sentence: how many contacts wait for what, e.g. "12 contacts wait for their calling
    window (Asia/Shanghai opens 2026-12-07T09:00:00+08:00), 3 for a retry delay"; "" when
    none does."""
    reasons = [
        (waiting.window, f"for {_their(waiting.window)} calling window ({_openings(waiting)})"),
        (waiting.retry, "for a retry delay"),
        (waiting.cap, "for a dial permit (a trunk or caller ID at its cap)"),
        (waiting.trunk, "for a trunk in service"),
    ]
    counted = [(n, why) for n, why in reasons if n]
    clauses = [f"{n} {why}" for n, why in counted]
    if counted:
        first = counted[0][0]
        verb = "waits" if first == 1 else "wait"
        clauses[0] = f"{plural(first, 'contact')} {verb} {counted[0][1]}"
    sentence = ", ".join(clauses)
    if waiting.held:
        held = plural(waiting.held, "contact") if not sentence else str(waiting.held)
        sentence += "; " if sentence else ""
        sentence += (
            f"{held} held with no time to call {_them(waiting.held)}: no time zone known "
            f"(set spec.schedule.fallbackTimeZone), or no window open in all of "
            f"{_their(waiting.held)} zones"
        )
    return sentence


def _openings(waiting: Waiting) -> str:
    named = [f"{w.time_zone} opens {w.opens_at}" for w in waiting.windows[:ZONES_IN_MESSAGE]]
    zones = len(waiting.windows)
    if zones > ZONES_IN_MESSAGE:
        named.append(f"and {plural(zones - ZONES_IN_MESSAGE, 'more zone')}")
    return ", ".join(named)


def _their(count: int) -> str:
    return "its" if count == 1 else "their"


def _them(count: int) -> str:
    return "it" if count == 1 else "them"
