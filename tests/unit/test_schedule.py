"""kdial_worker.schedule: calling windows in the callee's local time, DST, multi-zone numbers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kdial.api.campaign import CallingWindow, Weekday
from kdial.schedule import (
    SEARCH_HORIZON,
    CalleeClock,
    Clock,
    allowed,
    callee_zone,
    next_opening,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
DAYTIME = [CallingWindow(start="09:00", end="20:00")]
WEEKDAYS = [CallingWindow(days=list(Weekday)[:5], start="09:00", end="18:00")]
MINUTE = timedelta(minutes=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *rest: int) -> datetime:
    second, microsecond = (*rest, 0, 0)[:2]
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def window(start: str, end: str, *days: str) -> CallingWindow:
    if not days:
        return CallingWindow(start=start, end=end)
    return CallingWindow(days=[Weekday(day) for day in days], start=start, end=end)


def clock(*names: str) -> CalleeClock:
    found = callee_zone(names, None)
    assert found is not None
    return found


# callee_zone


def test_one_zone_is_that_zone() -> None:
    assert callee_zone(["Asia/Shanghai"], "Europe/London") == CalleeClock((SHANGHAI,))


def test_several_zones_are_all_kept_once_in_order() -> None:
    found = callee_zone(["America/New_York", "America/Los_Angeles", "America/New_York"], None)
    assert found == CalleeClock((NEW_YORK, LOS_ANGELES))


@pytest.mark.parametrize("zones", [(), ("Etc/Unknown",), ("",), ("Mars/Olympus_Mons",)])
def test_unknown_zone_takes_the_fallback(zones: tuple[str, ...]) -> None:
    assert callee_zone(zones, "Asia/Shanghai") == CalleeClock((SHANGHAI,))


@pytest.mark.parametrize("zones", [(), ("Etc/Unknown",)])
def test_unknown_zone_without_fallback_is_held(zones: tuple[str, ...]) -> None:
    assert callee_zone(zones, None) is None


def test_a_candidate_zone_we_cannot_read_makes_the_number_unknown() -> None:
    # Dropping it would judge the callee by the other zones only: they may be in that one.
    assert callee_zone(["Asia/Shanghai", "Mars/Olympus_Mons"], None) is None


def test_unknown_marker_beside_real_zones_is_ignored() -> None:
    assert callee_zone(["Etc/Unknown", "Asia/Shanghai"], None) == CalleeClock((SHANGHAI,))


def test_fallback_that_is_no_zone_holds() -> None:
    assert callee_zone([], "Mars/Olympus_Mons") is None


def test_a_clock_needs_a_zone() -> None:
    with pytest.raises(ValueError, match="at least one zone"):
        CalleeClock(())


# allowed


def test_same_instant_two_callees_shanghai_inside_los_angeles_outside() -> None:
    now = utc(2025, 1, 15, 5)  # 13:00 Wed in Shanghai, 21:00 Tue in Los Angeles
    assert allowed(SHANGHAI, DAYTIME, now)
    assert not allowed(LOS_ANGELES, DAYTIME, now)


def test_same_instant_two_callees_los_angeles_inside_shanghai_outside() -> None:
    now = utc(2025, 1, 15, 17)  # 01:00 Thu in Shanghai, 09:00 Wed in Los Angeles
    assert not allowed(SHANGHAI, DAYTIME, now)
    assert allowed(LOS_ANGELES, DAYTIME, now)


@pytest.mark.parametrize(
    ("local", "inside"),
    [((8, 59, 59), False), ((9, 0, 0), True), ((19, 59, 59), True), ((20, 0, 0), False)],
)
def test_start_is_inclusive_end_exclusive(local: tuple[int, int, int], inside: bool) -> None:
    now = datetime(2025, 1, 15, *local, tzinfo=SHANGHAI)
    assert allowed(SHANGHAI, DAYTIME, now) is inside


def test_days_are_the_callees_local_weekday() -> None:
    # Friday 17:00 in Los Angeles is already Saturday in UTC: the callee's Friday counts.
    friday_evening = datetime(2025, 1, 17, 17, tzinfo=LOS_ANGELES)
    assert friday_evening.astimezone(UTC).weekday() == 5
    assert allowed(LOS_ANGELES, WEEKDAYS, friday_evening)
    # Saturday 07:00 in Shanghai is still Friday in UTC: the callee's Saturday counts.
    early = [window("06:00", "18:00", "Mon", "Tue", "Wed", "Thu", "Fri")]
    saturday_morning = datetime(2025, 1, 18, 7, tzinfo=SHANGHAI)
    assert saturday_morning.astimezone(UTC).weekday() == 4
    assert not allowed(SHANGHAI, early, saturday_morning)
    assert allowed(SHANGHAI, early, saturday_morning - timedelta(days=1))


def test_windows_on_some_days_only() -> None:
    windows = [window("10:00", "12:00", "Mon", "Wed"), window("14:00", "16:00", "Sat")]
    monday, tuesday, saturday = (datetime(2025, 1, d, 11, tzinfo=SHANGHAI) for d in (13, 14, 18))
    assert allowed(SHANGHAI, windows, monday)
    assert not allowed(SHANGHAI, windows, tuesday)
    assert not allowed(SHANGHAI, windows, saturday)
    assert allowed(SHANGHAI, windows, saturday.replace(hour=15))


def test_24_00_is_the_end_of_the_day() -> None:
    windows = [window("20:00", "24:00", "Mon")]
    assert allowed(SHANGHAI, windows, datetime(2025, 1, 13, 23, 59, 59, tzinfo=SHANGHAI))
    assert not allowed(SHANGHAI, windows, datetime(2025, 1, 14, 0, 0, tzinfo=SHANGHAI))
    assert next_opening(SHANGHAI, windows, datetime(2025, 1, 13, 19, tzinfo=SHANGHAI)) == utc(
        2025, 1, 13, 12
    )


def test_whole_day_windows_on_consecutive_days_join() -> None:
    windows = [window("00:00", "24:00", "Mon"), window("00:00", "24:00", "Tue")]
    assert allowed(SHANGHAI, windows, datetime(2025, 1, 14, 0, 0, tzinfo=SHANGHAI))
    monday_noon = datetime(2025, 1, 13, 12, tzinfo=SHANGHAI)
    assert next_opening(SHANGHAI, windows, monday_noon) == monday_noon


def test_multi_zone_number_is_allowed_only_inside_everywhere() -> None:
    both = clock("Asia/Shanghai", "America/Los_Angeles")
    # 02:00 UTC: 10:00 Shanghai and 18:00 Los Angeles, both inside.
    assert allowed(both, DAYTIME, utc(2025, 1, 15, 2))
    # 05:00 UTC: 13:00 Shanghai inside, 21:00 Los Angeles outside.
    assert allowed(SHANGHAI, DAYTIME, utc(2025, 1, 15, 5))
    assert not allowed(both, DAYTIME, utc(2025, 1, 15, 5))


def test_us_country_level_number_waits_for_the_west_coast() -> None:
    us = clock("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
    # 14:00 UTC is 09:00 in New York but 06:00 in Los Angeles; it opens at 09:00 there.
    assert not allowed(us, DAYTIME, utc(2025, 1, 15, 14))
    assert next_opening(us, DAYTIME, utc(2025, 1, 15, 14)) == utc(2025, 1, 15, 17)
    assert allowed(us, DAYTIME, utc(2025, 1, 16, 0, 59))
    assert not allowed(us, DAYTIME, utc(2025, 1, 16, 1))  # 20:00 in New York


def test_zones_whose_windows_never_meet_never_open() -> None:
    apart = clock("Asia/Shanghai", "America/New_York")
    mornings = [window("09:00", "12:00")]
    now = utc(2025, 1, 15)
    assert next_opening(apart, mornings, now) is None
    assert not any(allowed(apart, mornings, now + i * MINUTE) for i in range(8 * 24 * 60))


def test_held_callee_is_never_allowed() -> None:
    assert not allowed(None, DAYTIME, utc(2025, 1, 15, 5))
    assert next_opening(None, DAYTIME, utc(2025, 1, 15, 5)) is None


def test_no_window_never_opens() -> None:
    assert not allowed(SHANGHAI, [], utc(2025, 1, 15, 5))
    assert next_opening(SHANGHAI, [], utc(2025, 1, 15, 5)) is None


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        allowed(SHANGHAI, DAYTIME, datetime(2025, 1, 15, 5))
    with pytest.raises(ValueError, match="timezone-aware"):
        next_opening(SHANGHAI, DAYTIME, datetime(2025, 1, 15, 5))


def test_any_aware_now_is_the_same_instant() -> None:
    beijing = datetime(2025, 1, 15, 13, tzinfo=SHANGHAI)
    assert allowed(LOS_ANGELES, DAYTIME, beijing) is allowed(
        LOS_ANGELES, DAYTIME, utc(2025, 1, 15, 5)
    )


# next_opening


def assert_opens_exactly_at(zone: Clock, windows: list[CallingWindow], at: datetime) -> None:
    assert allowed(zone, windows, at)
    assert not allowed(zone, windows, at - MINUTE)
    assert not allowed(zone, windows, at - timedelta(seconds=1))


def test_inside_now_opens_now() -> None:
    now = utc(2025, 1, 15, 5, 17, 33, 250)
    assert next_opening(SHANGHAI, DAYTIME, now) == now


def test_shanghai_has_no_dst_opens_at_09_00_next_morning() -> None:
    now = utc(2024, 3, 10, 12)  # 20:00 Shanghai, the end of the window
    opening = next_opening(SHANGHAI, DAYTIME, now)
    assert opening == utc(2024, 3, 11, 1)
    assert_opens_exactly_at(SHANGHAI, DAYTIME, opening)


def test_opening_before_the_hour_is_exact_to_the_minute() -> None:
    windows = [window("09:37", "09:38")]
    now = datetime(2025, 1, 15, 9, 38, tzinfo=SHANGHAI)
    opening = next_opening(SHANGHAI, windows, now)
    assert opening == datetime(2025, 1, 16, 9, 37, tzinfo=SHANGHAI)
    assert_opens_exactly_at(SHANGHAI, windows, opening)


def test_weekend_waits_for_monday() -> None:
    friday_evening = datetime(2025, 1, 17, 18, tzinfo=SHANGHAI)
    opening = next_opening(SHANGHAI, WEEKDAYS, friday_evening)
    assert opening == datetime(2025, 1, 20, 9, tzinfo=SHANGHAI)


def test_new_york_spring_forward_opens_at_09_00_daylight_time() -> None:
    # 2024-03-10: 02:00 EST jumps to 03:00 EDT at 07:00 UTC; 09:00 that day is 13:00 UTC.
    opening = next_opening(NEW_YORK, DAYTIME, utc(2024, 3, 10, 6))
    assert opening == utc(2024, 3, 10, 13)
    assert_opens_exactly_at(NEW_YORK, DAYTIME, opening)


def test_window_starting_inside_the_gap_opens_when_the_clock_jumps() -> None:
    windows = [window("02:30", "04:00", "Sun")]
    opening = next_opening(NEW_YORK, windows, utc(2024, 3, 10, 5))  # 00:00 EST
    assert opening == utc(2024, 3, 10, 7)  # 03:00 EDT: 02:30 never happened
    assert_opens_exactly_at(NEW_YORK, windows, opening)


def test_window_wholly_inside_the_gap_waits_a_week() -> None:
    windows = [window("02:00", "02:30", "Sun")]
    opening = next_opening(NEW_YORK, windows, utc(2024, 3, 10, 5))
    assert opening == utc(2024, 3, 17, 6)  # 02:00 EDT the next Sunday


def test_new_york_fall_back_opens_at_09_00_standard_time() -> None:
    # 2024-11-03: 02:00 EDT falls back to 01:00 EST at 06:00 UTC; 09:00 EST is 14:00 UTC.
    assert not allowed(NEW_YORK, DAYTIME, utc(2024, 11, 3, 13, 30))
    opening = next_opening(NEW_YORK, DAYTIME, utc(2024, 11, 3, 5))
    assert opening == utc(2024, 11, 3, 14)
    assert_opens_exactly_at(NEW_YORK, DAYTIME, opening)


def test_window_in_the_repeated_hour_opens_twice() -> None:
    windows = [window("01:00", "01:30", "Sun")]
    assert next_opening(NEW_YORK, windows, utc(2024, 11, 3, 4)) == utc(2024, 11, 3, 5)  # EDT
    assert not allowed(NEW_YORK, windows, utc(2024, 11, 3, 5, 30))
    assert next_opening(NEW_YORK, windows, utc(2024, 11, 3, 5, 30)) == utc(2024, 11, 3, 6)  # EST


def test_window_reopens_when_the_clock_falls_back_into_it() -> None:
    # 00:30-01:30: open until 01:30 EDT, closed 01:30-02:00 EDT, open again from 01:00 EST,
    # which is the transition instant itself, not any window start.
    windows = [window("00:30", "01:30", "Sun")]
    opening = next_opening(NEW_YORK, windows, utc(2024, 11, 3, 5, 30))
    assert opening == utc(2024, 11, 3, 6)
    assert_opens_exactly_at(NEW_YORK, windows, opening)


def test_weekly_window_a_week_away_is_found() -> None:
    windows = [window("09:00", "10:00", "Mon")]
    monday_after = datetime(2025, 1, 13, 10, tzinfo=SHANGHAI)
    assert next_opening(SHANGHAI, windows, monday_after) == monday_after + timedelta(
        days=7, hours=-1
    )


def test_opening_beyond_the_horizon_is_none() -> None:
    # Shanghai 16:00-17:00 meets London 08:00-09:00 only while London keeps GMT, from
    # 2024-10-27 (BST ends at 01:00 UTC): 08:00 UTC that day is the first overlap.
    london_shanghai = clock("Europe/London", "Asia/Shanghai")
    windows = [window("08:00", "09:00"), window("16:00", "17:00")]
    first = utc(2024, 10, 27, 8)
    assert next_opening(london_shanghai, windows, first - SEARCH_HORIZON + MINUTE) == first
    assert next_opening(london_shanghai, windows, first - SEARCH_HORIZON - MINUTE) is None
    assert_opens_exactly_at(london_shanghai, windows, first)


# property: next_opening agrees with allowed, sampled minute by minute

ZONES = ["America/New_York", "Asia/Shanghai", "America/Los_Angeles", "Australia/Lord_Howe"]
WINDOW_SETS = [
    DAYTIME,
    WEEKDAYS,
    [window("08:00", "12:00", "Mon", "Tue", "Sat"), window("13:30", "24:00", "Sun")],
    [window("00:00", "01:30"), window("02:15", "03:05", "Sun")],
]
AROUND = [utc(2024, 3, 10, 6), utc(2024, 11, 3, 5), utc(2024, 4, 7), utc(2025, 1, 15)]


def check_opening(zone: Clock, windows: list[CallingWindow], now: datetime) -> None:
    opening = next_opening(zone, windows, now)
    assert opening is not None
    assert opening >= now
    assert allowed(zone, windows, opening)
    probe = now
    while probe < opening:
        assert not allowed(zone, windows, probe), (zone, windows, now, probe)
        probe += MINUTE
    if opening > now:
        assert not allowed(zone, windows, opening - timedelta(seconds=1))


def test_next_opening_is_the_first_allowed_instant_property() -> None:
    rng = random.Random(20260509)
    for _ in range(120):
        zones = rng.sample(ZONES, rng.choice([1, 1, 2]))
        zone = clock(*zones)
        windows = rng.choice(WINDOW_SETS)
        offset = timedelta(seconds=rng.randrange(-3 * 86_400, 3 * 86_400))
        now = rng.choice(AROUND) + offset + timedelta(microseconds=rng.randrange(1_000_000))
        if len(zones) == 2 and next_opening(zone, windows, now) is None:
            continue  # two zones whose windows never meet: covered above
        check_opening(zone, windows, now)
