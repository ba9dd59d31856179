"""The worker's local pacer."""

from __future__ import annotations

from kdial_worker.pacing import Pacer


def test_pacer_spreads_claims_evenly_at_the_rate() -> None:
    pacer = Pacer(last=0.0)
    granted = [pacer.take(i * 0.02, rate=50, want=20) for i in range(1, 501)]  # 10 s of 20 ms ticks
    assert sum(granted) in range(495, 501)
    assert max(granted) <= 5, "never more than a tenth of a second's worth at once"


def test_pacer_after_a_pause_bursts_at_most_a_tenth_of_a_second() -> None:
    pacer = Pacer(last=0.0)
    assert pacer.take(60.0, rate=100, want=1000) == 10


def test_pacer_gives_nothing_without_a_rate() -> None:
    assert Pacer().take(10.0, rate=0, want=5) == 0
