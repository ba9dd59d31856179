"""Telling the 503s our own pace provoked from the line's, and slowing down after one."""

from __future__ import annotations

from kdial.outcomes import Outcome
from kdial_worker.carrier_pace import SLOW_SECONDS, CarrierPace

LOSS = Outcome.CALL_LOSS


def test_a_503_at_the_cap_is_ours_and_halves_the_cap_for_a_while() -> None:
    pace = CarrierPace()
    assert pace.max_cps("a", 20, now=0) == 20
    assert pace.self_inflicted("a", LOSS, "503", used=20, in_window=18, now=100.0)
    assert pace.max_cps("a", 20, now=101.0) == 10
    assert pace.max_cps("b", 20, now=101.0) == 20, "other trunks keep theirs"
    assert pace.max_cps("a", 20, now=100.0 + SLOW_SECONDS + 0.1) == 20


def test_503s_at_the_halved_cap_halve_it_again_down_to_one_call_a_second() -> None:
    pace = CarrierPace()
    now, used = 0.0, 20
    while used > 1:
        assert pace.self_inflicted("a", LOSS, "503", used=used, in_window=used, now=now)
        used = pace.max_cps("a", 20, now=now + 0.1)
        now += 1
    assert used == 1
    assert not pace.self_inflicted("a", LOSS, "503", used=1, in_window=1, now=now), "the line's"


def test_calls_in_flight_from_before_a_slow_down_do_not_halve_it_twice() -> None:
    pace = CarrierPace()
    pace.self_inflicted("a", LOSS, "503", used=20, in_window=20, now=0.0)
    pace.self_inflicted("a", LOSS, "503", used=20, in_window=19, now=0.2)
    assert pace.max_cps("a", 20, now=0.5) == 10


def test_503s_below_the_cap_and_other_failures_are_the_lines() -> None:
    pace = CarrierPace()
    assert not pace.self_inflicted("a", LOSS, "503", used=20, in_window=6, now=1.0)
    assert not pace.self_inflicted("a", LOSS, "502", used=20, in_window=20, now=1.0)
    assert not pace.self_inflicted("a", Outcome.BUSY, "486", used=20, in_window=20, now=1.0)
    assert pace.max_cps("a", 20, now=1.5) == 20
