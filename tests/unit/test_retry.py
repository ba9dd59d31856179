"""kdial_worker.retry: retry rules (补呼) and the closure rule (结案规则) per attempt."""

from __future__ import annotations

from typing import get_args

import pytest

from kdial.api.campaign import Closure, Retry, RetryableOutcome, RetryRule
from kdial.outcomes import Outcome
from kdial.state.history import ContactHistory
from kdial_worker.ledger import Ending
from kdial_worker.retry import counters, deadline_ms, decide

MINUTE_MS = 60_000
DAY_MS = 86_400_000
NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_O = Outcome


def history(attempts: int = 0, first: int | None = None, **outcomes: int) -> ContactHistory:
    entry = ContactHistory(attempts=attempts, outcomes=outcomes)
    if first is not None:
        entry["first"] = first
    return entry


def recorded(before: ContactHistory, ending: Ending, now_ms: int) -> ContactHistory:
    """The contact's history after complete.lua has recorded `ending` (same rules as there)."""
    outcomes = dict(before.get("outcomes", {}))
    outcomes[ending.outcome] = outcomes.get(ending.outcome, 0) + 1
    after = ContactHistory(**before)
    after["outcomes"], after["last"] = outcomes, ending.outcome
    after.setdefault("attempts", 0)
    if ending.counts_as_attempt:
        after["attempts"] += 1
        after.setdefault("first", now_ms)
    return after


# every outcome against the default Retry()


@pytest.mark.parametrize(
    ("outcome", "close", "delay_ms", "counts"),
    [
        (_O.ANSWERED_HUMAN, True, 0, True),
        (_O.ANSWERED_MACHINE, True, 0, True),
        (_O.ABANDONED, True, 0, True),
        (_O.BUSY, False, 10 * MINUTE_MS, True),
        (_O.NO_ANSWER, False, 60 * MINUTE_MS, True),
        (_O.REJECTED, True, 0, True),
        (_O.INVALID_NUMBER, True, 0, True),
        (_O.UNREACHABLE, True, 0, True),
        (_O.RISK_BLOCKED, True, 0, True),
        (_O.CALL_LOSS, False, 0, True),
        (_O.CANCELLED, False, 0, False),
    ],
)
def test_default_retry_first_attempt(
    outcome: Outcome, close: bool, delay_ms: int, counts: bool
) -> None:
    assert decide(outcome, {}, Retry(), NOW) == Ending(
        outcome=outcome,
        close=close,
        delay_ms=delay_ms,
        counts_as_attempt=counts,
        counters=counters(outcome),
        first_in_line=outcome is _O.CALL_LOSS,
    )


def test_every_outcome_is_covered_above() -> None:
    assert {decide(o, {}, Retry(), NOW).outcome for o in Outcome} == {o.value for o in Outcome}


# counters


@pytest.mark.parametrize(
    ("outcome", "names"),
    [
        (_O.ANSWERED_HUMAN, ("outcome:AnsweredHuman", "attempts", "answered")),
        (_O.ANSWERED_MACHINE, ("outcome:AnsweredMachine", "attempts", "answered")),
        (_O.ABANDONED, ("outcome:Abandoned", "attempts", "answered", "abandoned")),
        (_O.BUSY, ("outcome:Busy", "attempts")),
        (_O.NO_ANSWER, ("outcome:NoAnswer", "attempts")),
        (_O.REJECTED, ("outcome:Rejected", "attempts")),
        (_O.INVALID_NUMBER, ("outcome:InvalidNumber", "attempts")),
        (_O.UNREACHABLE, ("outcome:Unreachable", "attempts")),
        (_O.RISK_BLOCKED, ("outcome:RiskBlocked", "attempts")),
        (_O.CALL_LOSS, ("outcome:CallLoss", "attempts", "call_loss")),
        (_O.CANCELLED, ("outcome:Cancelled",)),
    ],
)
def test_counters(outcome: Outcome, names: tuple[str, ...]) -> None:
    assert counters(outcome) == names


def test_counters_use_the_names_the_operator_reads() -> None:
    seen = {name for o in Outcome for name in counters(o) if not name.startswith("outcome:")}
    assert seen == {"attempts", "answered", "abandoned", "call_loss"}


# the closure rule


def test_closes_at_exactly_max_attempts() -> None:
    assert decide(_O.BUSY, history(2, NOW, Busy=2), Retry(), NOW).close
    assert not decide(_O.BUSY, history(1, NOW, Busy=1), Retry(), NOW).close


def test_closing_outcome_is_the_attempts_outcome() -> None:
    ending = decide(_O.NO_ANSWER, history(2, NOW, Busy=2), Retry(), NOW)
    assert (ending.outcome, ending.close, ending.delay_ms) == ("NoAnswer", True, 0)


def test_cancelled_attempts_do_not_count_toward_closure() -> None:
    # Two counted attempts and many cancelled ones: the next Busy is only the third.
    assert not decide(_O.BUSY, history(1, NOW, Busy=1, Cancelled=40), Retry(), NOW).close


def test_cancelled_never_closes_nor_counts_even_after_100_cancellations() -> None:
    entry = ContactHistory()
    for _ in range(100):
        ending = decide(_O.CANCELLED, entry, Retry(), NOW)
        assert (ending.close, ending.delay_ms, ending.counts_as_attempt) == (False, 0, False)
        entry = recorded(entry, ending, NOW)
    assert entry["attempts"] == 0
    assert "first" not in entry
    assert entry["outcomes"] == {"Cancelled": 100}


def test_cancelled_does_not_close_an_exhausted_contact() -> None:
    assert not decide(_O.CANCELLED, history(5, NOW, Busy=5), Retry(), NOW).close


WITHIN_10_DAYS = Retry(closure=Closure(max_attempts=100, within_days=10))


def test_within_days_boundary() -> None:
    # CallLoss is due again at once, so the boundary is exactly first + 10 days.
    first = NOW - 10 * DAY_MS
    assert not decide(_O.CALL_LOSS, history(1, first + 1), WITHIN_10_DAYS, NOW).close
    assert decide(_O.CALL_LOSS, history(1, first), WITHIN_10_DAYS, NOW).close


def test_within_days_closes_when_the_retry_would_fall_after_it() -> None:
    # Busy re-dials in 10 minutes: a re-dial after the 10 days is a call the rule forbids.
    first = NOW - 10 * DAY_MS + 10 * MINUTE_MS
    assert decide(_O.BUSY, history(1, first), WITHIN_10_DAYS, NOW).close
    assert not decide(_O.BUSY, history(1, first + 1), WITHIN_10_DAYS, NOW).close


def test_within_days_counts_from_this_attempt_when_it_is_the_first() -> None:
    one_day = Retry(closure=Closure(within_days=1))
    assert not decide(_O.NO_ANSWER, {}, one_day, NOW).close
    assert deadline_ms({}, one_day, NOW) == NOW + DAY_MS
    assert deadline_ms(history(1, 5), one_day, NOW) == 5 + DAY_MS
    assert deadline_ms(history(1, 5), Retry(), NOW) is None


def test_rule_max_attempts_counts_only_its_outcome() -> None:
    retry = Retry(
        rules=[RetryRule(outcome="Busy", delay_minutes=10, max_attempts=2)],
        closure=Closure(max_attempts=10),
    )
    assert decide(_O.BUSY, history(1, NOW, Busy=1), retry, NOW).close
    assert not decide(_O.BUSY, history(3, NOW, Unreachable=2, Busy=0), retry, NOW).close


def test_call_loss_is_redialled_at_once_whatever_the_rule_says() -> None:
    retry = Retry(rules=[RetryRule(outcome="CallLoss", delay_minutes=30)])
    ending = decide(_O.CALL_LOSS, history(1, NOW, CallLoss=1), retry, NOW)
    assert (ending.close, ending.delay_ms, ending.counts_as_attempt) == (False, 0, True)
    assert ending.first_in_line, "before the backlog of contacts already due"


def test_only_a_line_failure_goes_before_the_backlog() -> None:
    retryable = get_args(RetryableOutcome)
    retry = Retry(rules=[RetryRule(outcome=o, delay_minutes=0) for o in retryable])
    first = {o for o in Outcome if decide(o, {}, retry, NOW).first_in_line}
    assert first == {_O.CALL_LOSS}


def test_call_loss_still_respects_the_closure_rule() -> None:
    assert decide(_O.CALL_LOSS, history(2, NOW, CallLoss=2), Retry(), NOW).close


def test_outcome_without_a_rule_closes() -> None:
    assert decide(_O.BUSY, {}, Retry(rules=[]), NOW).close
    assert decide(_O.CALL_LOSS, {}, Retry(rules=[]), NOW).close


# a contact's walk: "at most 3 calls in 10 days"

THREE_IN_TEN = Retry(closure=Closure(max_attempts=3, within_days=10))

# (day of the attempt, outcome, closes, delay in minutes)
Walk = list[tuple[float, Outcome, bool, int]]

WALKS: dict[str, Walk] = {
    "busy, no answer, busy: the third attempt closes": [
        (0, _O.BUSY, False, 10),
        (2, _O.NO_ANSWER, False, 60),
        (5, _O.BUSY, True, 0),
    ],
    "cancellations in between are free": [
        (0, _O.BUSY, False, 10),
        (0.5, _O.CANCELLED, False, 0),
        (2, _O.NO_ANSWER, False, 60),
        (2.5, _O.CANCELLED, False, 0),
        (5, _O.BUSY, True, 0),
    ],
    "a line failure counts but is re-dialled at once": [
        (0, _O.CALL_LOSS, False, 0),
        (0, _O.BUSY, False, 10),
        (1, _O.NO_ANSWER, True, 0),
    ],
    "ten days after the first attempt the contact is closed": [
        (0, _O.NO_ANSWER, False, 60),
        (10, _O.BUSY, True, 0),
    ],
    "an answer closes early": [
        (0, _O.NO_ANSWER, False, 60),
        (1, _O.ANSWERED_HUMAN, True, 0),
    ],
}


@pytest.mark.parametrize("walk", WALKS.values(), ids=WALKS.keys())
def test_three_attempts_in_ten_days(walk: Walk) -> None:
    entry = ContactHistory()
    for day, outcome, closes, delay_minutes in walk:
        now = NOW + int(day * DAY_MS)
        ending = decide(outcome, entry, THREE_IN_TEN, now)
        assert (ending.close, ending.delay_ms) == (closes, delay_minutes * MINUTE_MS), day
        entry = recorded(entry, ending, now)
    assert entry["first"] == NOW


def test_a_call_lost_again_on_another_trunk_waits_the_rules_delay() -> None:
    """Two trunks lost it in a row: more likely the callee's network than the lines, so the
    contact does not spend its attempts before line health holds that network's contacts."""
    retry = Retry(rules=[RetryRule(outcome="CallLoss", delay_minutes=30)])
    again = decide(_O.CALL_LOSS, history(1, NOW, CallLoss=1) | {"last": "CallLoss"}, retry, NOW)
    assert (again.close, again.delay_ms, again.first_in_line) == (False, 30 * MINUTE_MS, False)
    after_busy = decide(_O.CALL_LOSS, history(1, NOW, Busy=1) | {"last": "Busy"}, retry, NOW)
    assert after_busy.delay_ms == 0 and after_busy.first_in_line
