"""Slowing down when our own switch throttles, and speeding up again (AIMD)."""

from __future__ import annotations

import pytest

from kdial_worker.switch_pace import INCREASE_PER_SECOND, MIN_RATE, SwitchPace


def sending(pace: SwitchPace, rate: int, start: float) -> float:
    """`rate` originates spread over the second from `start`; returns its end."""
    for i in range(rate):
        pace.sent(start + i / rate)
    return start + 1.0


def test_nothing_limits_the_worker_until_the_switch_refuses() -> None:
    pace = SwitchPace()
    sending(pace, 40, 0.0)
    assert pace.rate(80, now=1.0) == 80


def test_a_refusal_halves_what_was_actually_sent() -> None:
    pace = SwitchPace()
    end = sending(pace, 40, 0.0)
    pace.refused(sent_at=end - 0.01, now=end)
    assert pace.rate(80, now=end) == 20, "half of the 40 a second sent, not of the 80 allowed"


def test_the_rate_grows_back_additively_until_the_trunks_allow_it_all() -> None:
    pace = SwitchPace()
    end = sending(pace, 40, 0.0)
    pace.refused(sent_at=end, now=end)
    assert pace.rate(80, now=end + 2) == 20 + 2 * INCREASE_PER_SECOND
    assert pace.rate(80, now=end + 1000) == 80
    assert pace.limit is None, "back to the trunks' rate: limited by nothing else"


def test_refusals_of_calls_sent_before_a_slow_down_do_not_halve_it_again() -> None:
    pace = SwitchPace()
    end = sending(pace, 40, 0.0)
    pace.refused(sent_at=end - 0.02, now=end)
    pace.refused(sent_at=end - 0.01, now=end + 0.01)
    assert pace.rate(80, now=end + 0.01) == pytest.approx(20 + 0.01 * INCREASE_PER_SECOND)


def test_refusals_at_the_slowed_rate_keep_halving_down_to_the_floor() -> None:
    pace = SwitchPace()
    now = sending(pace, 40, 0.0)
    for _ in range(10):
        pace.refused(sent_at=now, now=now)
        rate = pace.rate(80, now=now)
        now = sending(pace, int(rate), now)
    assert pace.limit == MIN_RATE
