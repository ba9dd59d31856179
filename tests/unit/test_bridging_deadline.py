"""kdial_worker.bridging: the connect deadline's arithmetic for an agent's leg."""

from __future__ import annotations

import pytest

from kdial_worker.bridging import LEAST_TIMEOUT, MIN_RING_SECONDS, deadline_at, leg_timeout


def test_the_deadline_counts_from_answer() -> None:
    assert deadline_at(answered=100.0, connect_deadline=2) == 102.0


@pytest.mark.parametrize(
    ("left", "timeout"),
    [(2.0, 2), (2.999, 2), (3.0, 3), (4.7, 4), (10.0, 10)],
)
def test_an_agent_rings_no_longer_than_the_whole_seconds_left(left: float, timeout: int) -> None:
    # FreeSWITCH fires originate_timeout=N within the Nth second: never past the deadline, and
    # the rest of it goes to the next Ready agent.
    assert leg_timeout(left) == timeout


@pytest.mark.parametrize("left", [1.999, 1.98, 1.0, 0.999, MIN_RING_SECONDS])
def test_a_leg_with_less_than_two_whole_seconds_left_gets_the_least_timeout_that_rings(
    left: float,
) -> None:
    # originate_timeout=1 may fire at once (0.145 s measured) and 0 is none at all: the leg
    # gets 2, and the worker hangs it up at the deadline. This is the default 2 s deadline's
    # case: answered at t, the agent reserved a few ms later.
    assert leg_timeout(left) == LEAST_TIMEOUT == 2


@pytest.mark.parametrize("left", [MIN_RING_SECONDS - 0.001, 0.1, 0.0, -1.0])
def test_too_little_time_left_rings_nobody_and_the_callee_is_abandoned(left: float) -> None:
    assert leg_timeout(left) is None


def test_a_leg_timeout_always_rings_and_ends_by_the_deadline_when_it_can() -> None:
    for left in (x / 100 for x in range(-100, 1200)):
        timeout = leg_timeout(left)
        if left < MIN_RING_SECONDS:
            assert timeout is None, left
        elif left >= 2:
            assert timeout is not None and 2 <= timeout <= left, left
        else:
            assert timeout == 2, left
