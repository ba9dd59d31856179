"""kdial_worker.bridging: the connect deadline's arithmetic for an agent's leg."""

from __future__ import annotations

import pytest

from kdial_worker.bridging import deadline_at, leg_timeout


def test_the_deadline_counts_from_answer() -> None:
    assert deadline_at(answered=100.0, connect_deadline=2) == 102.0


@pytest.mark.parametrize(
    ("left", "timeout"),
    [(2.0, 2), (1.999, 1), (1.0, 1), (4.7, 4)],
)
def test_an_agent_rings_no_longer_than_the_whole_seconds_left(left: float, timeout: int) -> None:
    # FreeSWITCH fires originate_timeout=N within the Nth second: never past the deadline.
    assert leg_timeout(left) == timeout


@pytest.mark.parametrize("left", [0.999, 0.0, -1.0])
def test_less_than_a_second_left_rings_nobody(left: float) -> None:
    assert leg_timeout(left) is None
