"""Calling windows in the callee's local time (compliance: a call outside one is a bug).

A callee is judged by the zones their number may be in (`callee_zone`). A number that maps to
several zones (a country-level answer for a large country) is allowed only while every one of
them is inside a window: we cannot tell which one the callee is in, and calling early or late
in any of them is the violation we must not risk. A callee with no known zone and no campaign
fallback is held, never dialled.

`allowed` reads the callee's wall clock at one instant. `next_opening` finds the first instant
at or after `now` when `allowed` turns true: it splits the search horizon into stretches of
constant UTC offset (so DST gaps and overlaps are exact, not approximated) and intersects each
zone's open stretches. Pure functions: no clock reads, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kdial.api.campaign import CallingWindow, Weekday
from kdial.numbers import UNKNOWN_TIME_ZONE

__all__ = ["SEARCH_HORIZON", "CalleeClock", "Clock", "allowed", "callee_zone", "next_opening"]

#: How far ahead `next_opening` looks: a window on any weekday opens within a week, plus a day
#: of slack for DST and zone differences.
SEARCH_HORIZON = timedelta(days=8)

# Offset probes this far apart find every UTC-offset change; a pair of changes that cancel out
# within one probe step would be missed, and no zone in the tz database has one.
_PROBE = timedelta(hours=1)
_DAYS: tuple[Weekday, ...] = tuple(Weekday)  # Mon..Sun, as datetime.weekday() counts
_ONE_DAY = timedelta(days=1)

Span: TypeAlias = tuple[datetime, datetime]  # [start, end) in UTC


@dataclass(frozen=True)
class CalleeClock:
    """The zones a callee may be in; a call is allowed only when every one is in a window."""

    zones: tuple[ZoneInfo, ...]

    def __post_init__(self) -> None:
        if not self.zones:
            raise ValueError("a CalleeClock needs at least one zone (no zone means held)")


#: What the schedule judges a callee by: their clock, a single zone, or None (held).
Clock: TypeAlias = CalleeClock | ZoneInfo | None


def callee_zone(time_zones: Sequence[str], fallback: str | None) -> CalleeClock | None:
    """The clock to judge a callee by: all zones their number may be in, else the fallback zone,
    else None (held: never dialled)."""
    known = [name for name in time_zones if name and name != UNKNOWN_TIME_ZONE]
    zones = _load(known)
    if zones:
        return CalleeClock(zones)
    fallback_zones = _load([fallback] if fallback else [])
    return CalleeClock(fallback_zones) if fallback_zones else None


def _load(names: Iterable[str]) -> tuple[ZoneInfo, ...]:
    """The zones named, or () if any cannot be loaded: a candidate zone we cannot read is one we
    cannot keep the window in, so the number counts as one whose zone is unknown."""
    try:
        return tuple(ZoneInfo(name) for name in dict.fromkeys(names))
    except (ZoneInfoNotFoundError, ValueError):
        return ()


def allowed(clock: Clock, windows: Sequence[CallingWindow], now: datetime) -> bool:
    """True when `now` is inside some window in every zone of `clock`; False for held callees."""
    instant = _utc(now)
    zones = _zones(clock)
    return bool(zones) and all(_inside(zone, windows, instant) for zone in zones)


def next_opening(clock: Clock, windows: Sequence[CallingWindow], now: datetime) -> datetime | None:
    """The earliest instant (UTC) at or after `now` when `allowed` holds: `now` itself when it
    already does; None when no opening comes within `SEARCH_HORIZON` (held callee, no window,
    zones whose windows never overlap)."""
    start = _utc(now)
    end = start + SEARCH_HORIZON
    zones = _zones(clock)
    if not zones:
        return None
    spans: list[Span] = [(start, end)]
    for zone in zones:
        spans = _intersect(spans, _open_spans(zone, windows, start, end))
    return spans[0][0] if spans else None


def _utc(now: datetime) -> datetime:
    # A naive time would silently be read as this host's zone: refuse rather than guess.
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _zones(clock: Clock) -> tuple[ZoneInfo, ...]:
    if clock is None:
        return ()
    return (clock,) if isinstance(clock, ZoneInfo) else clock.zones


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)  # "24:00" is 1440, the end of the day


def _inside(zone: ZoneInfo, windows: Sequence[CallingWindow], instant: datetime) -> bool:
    local = instant.astimezone(zone)
    day = _DAYS[local.weekday()]
    # Window edges are whole minutes, so comparing whole minutes is exact: 19:59:59 is inside
    # a window ending 20:00, 20:00:00 is not.
    minute = local.hour * 60 + local.minute
    return any(day in w.days and _minutes(w.start) <= minute < _minutes(w.end) for w in windows)


def _open_spans(
    zone: ZoneInfo, windows: Sequence[CallingWindow], start: datetime, end: datetime
) -> list[Span]:
    """Where `zone` is inside a window within [start, end), as sorted disjoint UTC spans."""
    spans: list[Span] = []
    for seg_start, seg_end, offset in _segments(zone, start, end):
        days = _wall_days(seg_start + offset, seg_end + offset)
        in_days = _merge([span for day in days for span in _day_spans(day, offset, windows)])
        # Under this stretch's offset only: the next stretch reads the wall clock differently.
        spans += _intersect(in_days, [(seg_start, seg_end)])
    return _merge(spans)


def _wall_days(first: datetime, last: datetime) -> Iterator[date]:
    day = first.date()
    while day <= last.date():
        yield day
        day += _ONE_DAY


def _day_spans(day: date, offset: timedelta, windows: Sequence[CallingWindow]) -> list[Span]:
    """The windows of wall date `day` as UTC spans, under a fixed UTC offset."""
    midnight = datetime.combine(day, time(), tzinfo=UTC) - offset
    weekday = _DAYS[day.weekday()]
    return [
        (
            midnight + timedelta(minutes=_minutes(w.start)),
            midnight + timedelta(minutes=_minutes(w.end)),
        )
        for w in windows
        if weekday in w.days
    ]


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    # utcoffset() is None only for naive times; an aware local time always has one.
    return instant.astimezone(zone).utcoffset() or timedelta(0)


def _segments(
    zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, timedelta]]:
    """[start, end) cut where `zone`'s UTC offset changes: (from, to, offset) stretches."""
    segments: list[tuple[datetime, datetime, timedelta]] = []
    seg_start, offset = start, _offset(zone, start)
    # Probe on whole seconds: the tz database changes offsets on whole seconds only.
    probe = start.replace(microsecond=0)
    while probe < end:
        ahead = min(probe + _PROBE, end)
        if _offset(zone, ahead) == offset:
            probe = ahead
            continue
        change = _change(zone, probe, ahead, offset)
        segments.append((seg_start, min(change, end), offset))
        seg_start, offset, probe = change, _offset(zone, change), change
    if seg_start < end:
        segments.append((seg_start, end, offset))
    return segments


def _change(zone: ZoneInfo, lo: datetime, hi: datetime, offset: timedelta) -> datetime:
    """The first whole second in (lo, hi] where the offset is no longer `offset` (bisection;
    `lo` has `offset`, `hi` has not)."""
    low, high = int(lo.timestamp()), int(hi.timestamp()) + (hi.microsecond > 0)
    while high - low > 1:
        mid = (low + high) // 2
        if _offset(zone, datetime.fromtimestamp(mid, UTC)) == offset:
            low = mid
        else:
            high = mid
    return datetime.fromtimestamp(high, UTC)


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _intersect(a: list[Span], b: list[Span]) -> list[Span]:
    """Intersection of two sorted lists of disjoint spans."""
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out
