"""Telling the 503s our own pace provoked from the line's, and slowing down after one."""

from __future__ import annotations

import pytest

from kdial.outcomes import Outcome
from kdial_worker.carrier_pace import SLOW_SECONDS, CarrierPace

pytestmark = pytest.mark.unit


def test_a_503_at_our_cap_is_ours_and_slows_the_trunk() -> None:
    pace = CarrierPace()
    assert pace.max_cps("a", 10, now=0) == 10
    ours = pace.self_inflicted(
        "a", Outcome.CALL_LOSS, "503", configured=10, used=10, in_window=9, now=100.0
    )
    assert ours
    assert pace.max_cps("a", 10, now=101.0) == 5
    assert pace.max_cps("b", 10, now=101.0) == 10
    assert pace.max_cps("a", 10, now=100.0 + SLOW_SECONDS + 0.1) == 10


def test_503s_at_a_slow_pace_or_far_from_the_cap_are_the_lines() -> None:
    pace = CarrierPace()
    kwargs = {"configured": 10, "now": 1.0}
    assert not pace.self_inflicted("a", Outcome.CALL_LOSS, "503", used=10, in_window=3, **kwargs)
    assert not pace.self_inflicted("a", Outcome.CALL_LOSS, "503", used=5, in_window=5, **kwargs)
    assert not pace.self_inflicted("a", Outcome.CALL_LOSS, "502", used=10, in_window=10, **kwargs)
    assert not pace.self_inflicted("a", Outcome.BUSY, "486", used=10, in_window=10, **kwargs)
    assert pace.max_cps("a", 10, now=1.5) == 10
