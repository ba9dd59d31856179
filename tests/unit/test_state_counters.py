"""kdial.state.counters: the counter schema the worker writes and the operator reads back."""

from __future__ import annotations

from collections import Counter

from kdial.causes import CLASSES, CauseClass
from kdial.outcomes import Outcome
from kdial.state.counters import (
    PDD_BOUNDS_MS,
    CampaignCounts,
    NumberCounts,
    TrunkCounts,
    campaign_increments,
    number_increments,
    number_totals,
    trunk_increments,
    trunk_totals,
)


def hincrby(*increments: dict[str, int] | tuple[str, ...]) -> dict[str, str]:
    """A hash as HGETALL returns it after the worker's HINCRBYs."""
    total: Counter[str] = Counter()
    for inc in increments:
        total.update(inc if isinstance(inc, dict) else dict.fromkeys(inc, 1))
    return {k: str(v) for k, v in total.items()}


def test_campaign_counts_read_what_the_attempts_wrote() -> None:
    ended = [Outcome.ANSWERED_HUMAN, Outcome.ABANDONED, Outcome.CALL_LOSS, Outcome.BUSY]
    ended += [Outcome.CANCELLED, Outcome.UNKNOWN]
    totals = hincrby(*(campaign_increments(o) for o in ended))
    assert totals["outcome:Unknown"] == "1"
    assert CampaignCounts.decode([totals]) == CampaignCounts(
        attempts=5, answered=2, abandoned=1, call_loss=1
    )


def test_campaign_counts_sum_minute_buckets_and_ignore_foreign_fields() -> None:
    minute = hincrby(campaign_increments(Outcome.ANSWERED_MACHINE))
    assert CampaignCounts.decode([minute, minute, {"other": "7"}]) == CampaignCounts(
        attempts=2, answered=2
    )
    assert CampaignCounts.decode([]) == CampaignCounts()


def test_trunk_totals_read_what_the_attempts_wrote() -> None:
    bucket = hincrby(
        trunk_increments("t1", Outcome.ANSWERED_HUMAN, False, 700),
        trunk_increments("t1", Outcome.CALL_LOSS, False, None),
        trunk_increments("t1", Outcome.RISK_BLOCKED, False, 25_000),
        trunk_increments("t1", Outcome.BUSY, True, None),
        trunk_increments("t2", Outcome.CANCELLED, False, None),
    )
    pdd = [0] * (len(PDD_BOUNDS_MS) + 1)
    pdd[1] = pdd[-1] = 1
    assert trunk_totals([bucket, {"junk": "3"}]) == {
        "t1": TrunkCounts(attempts=3, answered=1, loss=1, risk=1, self_inflicted=1, pdd=tuple(pdd)),
        "t2": TrunkCounts(self_inflicted=1),
    }


def test_trunk_failures_are_counted_by_cause_class() -> None:
    congestion, forbidden = CauseClass.CONGESTION, CauseClass.FORBIDDEN
    bucket = hincrby(
        trunk_increments("t1", Outcome.CALL_LOSS, False, None, congestion),
        trunk_increments("t1", Outcome.CALL_LOSS, False, None, congestion),
        trunk_increments("t1", Outcome.RISK_BLOCKED, False, None, forbidden),
        # A 503 our own pace provoked is ours: no attempt, no class.
        trunk_increments("t1", Outcome.CALL_LOSS, True, None, congestion),
        trunk_increments("t2", Outcome.ANSWERED_HUMAN, False, 900),
    )
    totals = trunk_totals([bucket])
    assert dict(zip(CLASSES, totals["t1"].causes, strict=True)) == {
        c: {congestion: 2, forbidden: 1}.get(c, 0) for c in CLASSES
    }
    assert totals["t1"].self_inflicted == 1
    assert totals["t2"].causes == (0,) * len(CLASSES)


def test_number_totals_read_what_the_attempts_wrote() -> None:
    bucket = hincrby(
        number_increments("+861065529988", Outcome.ANSWERED_HUMAN),
        number_increments("+861065529988", Outcome.NO_ANSWER),
        number_increments("+861065529988", Outcome.CANCELLED),
    )
    assert number_totals([bucket]) == {"+861065529988": NumberCounts(attempts=2, answered=1)}
