"""Line counters: what a worker adds per attempt and what the operator reads back."""

from __future__ import annotations

from collections import Counter

from kdial.outcomes import Outcome
from kdial.routing.counters import (
    PDD_BOUNDS_MS,
    number_counts,
    number_increments,
    pair_observations,
    pdd_histograms,
    percentile_ms,
    trunk_increments,
    trunk_observations,
)
from kdial.routing.health import Observation
from kdial.routing.quarantine import Counts
from kdial.state.counters import pair_increments


def bucket(*increments: dict[str, int]) -> dict[str, str]:
    """A bucket as HGETALL returns it: the fields summed, values as strings."""
    total: Counter[str] = Counter()
    for inc in increments:
        total.update(inc)
    return {k: str(v) for k, v in total.items()}


def test_trunk_counts_round_trip_into_observations() -> None:
    first = bucket(
        trunk_increments("a", Outcome.ANSWERED_HUMAN, False, 800),
        trunk_increments("a", Outcome.CALL_LOSS, False, None),
        trunk_increments("a", Outcome.RISK_BLOCKED, False, 1500),
        trunk_increments("b", Outcome.NO_ANSWER, False, 2500),
    )
    second = bucket(
        trunk_increments("a", Outcome.ABANDONED, False, 900),
        trunk_increments("a", Outcome.CANCELLED, False, None),
        trunk_increments("a", Outcome.CALL_LOSS, True, None),
    )
    assert trunk_observations([first, second]) == {
        "a": Observation(attempts=4, answered=2, call_loss=1, risk_blocked=1, self_inflicted=2),
        "b": Observation(attempts=1),
    }


def test_self_inflicted_attempts_never_count_against_the_line() -> None:
    fields = trunk_increments("a", Outcome.CALL_LOSS, True, 700)
    assert fields == {"a|self": 1}


def test_post_dial_delay_percentiles_come_from_the_bins() -> None:
    delays = [300] * 10 + [900] * 60 + [2500] * 30
    histograms = pdd_histograms(
        [bucket(*(trunk_increments("a", Outcome.NO_ANSWER, False, d) for d in delays))]
    )
    assert sum(histograms["a"]) == 100
    assert percentile_ms(histograms["a"], 0.5) == 1000
    assert percentile_ms(histograms["a"], 0.95) == 3000
    assert percentile_ms([0] * (len(PDD_BOUNDS_MS) + 1), 0.5) is None
    over = pdd_histograms([bucket(trunk_increments("a", Outcome.NO_ANSWER, False, 99_000))])
    assert percentile_ms(over["a"], 0.5) == PDD_BOUNDS_MS[-1]


def test_caller_id_counts_skip_our_own_cancellations() -> None:
    read = number_counts(
        [
            bucket(
                number_increments("+861012345678", Outcome.ANSWERED_MACHINE),
                number_increments("+861012345678", Outcome.BUSY),
                number_increments("+861012345678", Outcome.CANCELLED),
            )
        ]
    )
    assert read == {"+861012345678": Counts(attempts=2, answered=1)}


def test_fields_that_are_not_ours_are_ignored() -> None:
    assert trunk_observations([{"stray": "5", "a|attempts": "1"}]) == {"a": Observation(1)}


def test_pair_counts_round_trip_per_network_beside_the_trunks_own() -> None:
    attempts = [
        ("a", "cn-china-unicom", Outcome.CALL_LOSS, False),
        ("a", "cn-china-unicom", Outcome.CALL_LOSS, False),
        ("a", "cn-china-mobile", Outcome.ANSWERED_HUMAN, False),
        ("a", "cn-china-mobile", Outcome.CALL_LOSS, True),  # ours: neither's business
        ("b", "cn-china-unicom", Outcome.RISK_BLOCKED, False),
    ]
    fields = bucket(
        *(trunk_increments(t, o, mine, None) for t, _, o, mine in attempts),
        *(pair_increments(t, n, o, mine) for t, n, o, mine in attempts),
    )
    assert pair_observations([fields]) == {
        "cn-china-unicom": {"a": Observation(2, 0, 2), "b": Observation(1, 0, 0, 1)},
        "cn-china-mobile": {"a": Observation(1, 1)},
    }
    # The trunk's own counts are what they were without the pairs.
    assert trunk_observations([fields])["a"] == Observation(3, 1, 2, 0, 1)
