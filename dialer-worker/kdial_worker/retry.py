"""What follows an attempt for its contact: closed, or due again when (补呼 and 结案规则).

`decide` applies the campaign's retry rules and closure rule to one attempt's outcome and the
contact's history as the ledger keeps it: ``{"attempts": n, "first": ms, "last": outcome,
"outcomes": {outcome: count}}``, read before this attempt is added. Calling windows are not
judged here: the dialer checks them when the contact comes due. Pure functions: no I/O, and
the time is a parameter.
"""

from __future__ import annotations

from kdial.api.campaign import Retry, RetryRule
from kdial.closure import deadline_ms
from kdial.outcomes import Outcome, counts_as_attempt
from kdial.state.counters import campaign_increments as counters
from kdial.state.history import ContactHistory
from kdial_worker.ledger import Ending

__all__ = ["counters", "deadline_ms", "decide"]

_MINUTE_MS = 60_000


def decide(outcome: Outcome, history: ContactHistory, retry: Retry, now_ms: int) -> Ending:
    """How this attempt ends its contact's turn: closed with `outcome`, or due again after a
    delay. `history` is the contact's ledger entry before this attempt."""
    if outcome is Outcome.CANCELLED:
        # Never reached a carrier (our throttle, shutdown, our own cancel): the contact keeps
        # every attempt it had, and is due again at once.
        return _again(outcome, 0)
    rule = _rule(retry, outcome)
    if rule is None or _closes(outcome, rule, history, retry, now_ms):
        return _close(outcome)
    return _again(outcome, _delay_ms(outcome, rule, history))


def _rule(retry: Retry, outcome: Outcome) -> RetryRule | None:
    return next((rule for rule in retry.rules if rule.outcome == outcome.value), None)


def _delay_ms(outcome: Outcome, rule: RetryRule, history: ContactHistory) -> int:
    # A lost call is the line's fault, not the callee's: re-dial at once on another trunk,
    # whatever the rule's delay says. Lost again there (the re-dial avoids the first trunk),
    # the callee's network is the likelier cause: the rule's delay, rather than spend the
    # contact's attempts before line health finds the network down and holds its contacts.
    if outcome is Outcome.CALL_LOSS and history.get("last") != Outcome.CALL_LOSS:
        return 0
    return rule.delay_minutes * _MINUTE_MS


def _closes(
    outcome: Outcome, rule: RetryRule, history: ContactHistory, retry: Retry, now_ms: int
) -> bool:
    attempts = int(history.get("attempts", 0)) + int(counts_as_attempt(outcome))
    if attempts >= retry.closure.max_attempts:
        return True
    same = int((history.get("outcomes") or {}).get(outcome.value, 0)) + 1
    if rule.max_attempts is not None and same >= rule.max_attempts:
        return True
    deadline = deadline_ms(history, retry, now_ms)
    # Close when the next attempt could not start before the deadline: a re-dial due after it
    # would be a call the closure rule says must not happen.
    return deadline is not None and now_ms + _delay_ms(outcome, rule, history) >= deadline


def _close(outcome: Outcome) -> Ending:
    return Ending(
        outcome=outcome,
        close=True,
        counts_as_attempt=counts_as_attempt(outcome),
        counters=counters(outcome),
    )


def _again(outcome: Outcome, delay_ms: int) -> Ending:
    return Ending(
        outcome=outcome,
        close=False,
        delay_ms=delay_ms,
        # Re-dialled at once means before the backlog, not behind every contact already due.
        first_in_line=outcome is Outcome.CALL_LOSS and delay_ms == 0,
        counts_as_attempt=counts_as_attempt(outcome),
        counters=counters(outcome),
    )
