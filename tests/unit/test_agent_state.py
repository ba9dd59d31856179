"""Agent states: every state x action, and the record and change each move writes."""

from __future__ import annotations

import itertools

import pytest

from kdial.agent_state import TRANSITIONS, AgentAction, AgentState, IllegalTransition, next_state
from kdial.state.agents import (
    NEVER_SEEN,
    SEAT_CLAIM_MS,
    AgentRecord,
    Seat,
    Staffing,
    changed,
    staffing,
    stale_seat,
)

S, A = AgentState, AgentAction

#: Every state x action: the state after it, or None where the move is refused. Written out
#: whole, apart from the module's table, so a row added or lost there fails here.
EXPECTED: dict[AgentState, dict[AgentAction, AgentState | None]] = {
    S.LOGGED_OUT: {
        A.LOGIN: S.NOT_READY, A.READY: None, A.NOT_READY: None, A.RESERVE: None,
        A.TALK: None, A.WRAP_UP: None, A.END_WRAP_UP: None, A.LOGOUT: None, A.RELEASE: None,
        A.CALL_LOST: None,
    },
    S.NOT_READY: {
        A.LOGIN: None, A.READY: S.READY, A.NOT_READY: S.NOT_READY, A.RESERVE: None,
        A.TALK: None, A.WRAP_UP: None, A.END_WRAP_UP: None, A.LOGOUT: S.LOGGED_OUT, A.RELEASE: None,
        A.CALL_LOST: None,
    },
    S.READY: {
        A.LOGIN: None, A.READY: None, A.NOT_READY: S.NOT_READY, A.RESERVE: S.RESERVED,
        A.TALK: None, A.WRAP_UP: None, A.END_WRAP_UP: None, A.LOGOUT: S.LOGGED_OUT, A.RELEASE: None,
        A.CALL_LOST: None,
    },
    S.RESERVED: {
        A.LOGIN: None, A.READY: None, A.NOT_READY: S.NOT_READY, A.RESERVE: None,
        A.TALK: S.TALKING, A.WRAP_UP: None, A.END_WRAP_UP: None, A.LOGOUT: None, A.RELEASE: S.READY,
        A.CALL_LOST: S.NOT_READY,
    },
    S.TALKING: {
        A.LOGIN: None, A.READY: None, A.NOT_READY: None, A.RESERVE: None,
        A.TALK: None, A.WRAP_UP: S.WRAP_UP, A.END_WRAP_UP: None, A.LOGOUT: None, A.RELEASE: None,
        A.CALL_LOST: S.WRAP_UP,
    },
    S.WRAP_UP: {
        A.LOGIN: None, A.READY: None, A.NOT_READY: None, A.RESERVE: None,
        A.TALK: None, A.WRAP_UP: None, A.END_WRAP_UP: S.READY, A.LOGOUT: None, A.RELEASE: None,
        A.CALL_LOST: None,
    },
}  # fmt: skip


def test_the_table_covers_every_state_and_action() -> None:
    assert set(EXPECTED) == set(AgentState)
    assert all(set(row) == set(AgentAction) for row in EXPECTED.values())


@pytest.mark.parametrize(
    ("state", "action"), list(itertools.product(AgentState, AgentAction)), ids=str
)
def test_every_state_and_action(state: AgentState, action: AgentAction) -> None:
    expected = EXPECTED[state][action]
    if expected is None:
        with pytest.raises(IllegalTransition) as refused:
            next_state(state, action)
        message = str(refused.value)
        assert f"an agent in state {state.value} cannot {action.value}" in message
        allowed = [a.value for a, after in EXPECTED[state].items() if after is not None]
        assert message.endswith(", ".join(sorted(allowed))), "says what the agent can do"
    else:
        assert next_state(state, action) is expected
    assert TRANSITIONS.get((state, action)) is expected


def test_a_login_may_start_ready_and_only_a_login_takes_ready() -> None:
    assert next_state(S.LOGGED_OUT, A.LOGIN, ready=True) is S.READY
    assert next_state(S.READY, A.NOT_READY, ready=True) is S.NOT_READY
    with pytest.raises(IllegalTransition):
        next_state(S.READY, A.LOGIN, ready=True)


def test_a_change_is_stamped_and_says_from_what_to_what() -> None:
    record, change = changed(NEVER_SEEN, "ana", A.LOGIN, 1000, endpoint="sip:1001@pbx.example")
    assert record == AgentRecord(state=S.NOT_READY, since_ms=1000, endpoint="sip:1001@pbx.example")
    assert (change.agent, change.before, change.after, change.at_ms) == (
        "ana",
        S.LOGGED_OUT,
        S.NOT_READY,
        1000,
    )

    away, change = changed(record, "ana", A.NOT_READY, 2000, reason="lunch")
    assert (away.state, away.since_ms, away.reason, away.endpoint) == (
        S.NOT_READY,
        2000,
        "lunch",
        "sip:1001@pbx.example",
    )
    assert change.reason == "lunch", "the change says why"

    back, _ = changed(away, "ana", A.READY, 3000)
    assert back.reason is None, "a reason lasts only while NotReady"
    assert back.endpoint == "sip:1001@pbx.example", "the endpoint lasts until logout"

    gone, change = changed(back, "ana", A.LOGOUT, 4000)
    assert gone == AgentRecord(state=S.LOGGED_OUT, since_ms=4000)
    assert change.endpoint is None


def test_wrap_up_ends_with_the_disposition_in_the_change() -> None:
    record = AgentRecord(state=S.WRAP_UP, since_ms=1000, endpoint="1001")
    after, change = changed(record, "ana", A.END_WRAP_UP, 9000, disposition="sale")
    assert after.state is S.READY and change.disposition == "sale"


def test_an_illegal_change_is_refused_before_any_record_is_made() -> None:
    talking = AgentRecord(state=S.TALKING, since_ms=1000, endpoint="1001")
    with pytest.raises(IllegalTransition, match="an agent in state Talking cannot logout"):
        changed(talking, "ana", A.LOGOUT, 2000)


@pytest.mark.parametrize(
    ("there", "age_ms", "stale"),
    [
        (None, SEAT_CLAIM_MS + 1, True),  # the campaign never saw the agent: a login died
        (AgentRecord(state=S.LOGGED_OUT, since_ms=5), SEAT_CLAIM_MS + 1, True),  # a logout died
        (None, SEAT_CLAIM_MS, False),  # a login may still be under way
        (AgentRecord(state=S.LOGGED_OUT, since_ms=5), 10, False),
        (AgentRecord(state=S.NOT_READY, since_ms=5), 10 * SEAT_CLAIM_MS, False),  # logged in
        (AgentRecord(state=S.TALKING, since_ms=5), 10 * SEAT_CLAIM_MS, False),
    ],
)
def test_a_seat_holds_nobody_only_when_its_agent_is_out_and_no_login_can_be_under_way(
    there: AgentRecord | None, age_ms: int, stale: bool
) -> None:
    seat = Seat(campaign="promo", at_ms=1_000_000)
    assert stale_seat(seat, there, 1_000_000 + age_ms) is stale


def test_the_call_an_agent_is_reserved_for_stays_on_the_record_until_wrap_up_ends() -> None:
    ready = AgentRecord(state=AgentState.READY, since_ms=1, endpoint="1001")
    reserved, change = changed(ready, "ana", AgentAction.RESERVE, 2, attempt="a-1")
    assert (reserved.attempt, change.attempt) == ("a-1", "a-1")
    talking, _ = changed(reserved, "ana", AgentAction.TALK, 3)
    wrapping, _ = changed(talking, "ana", AgentAction.WRAP_UP, 4)
    assert (talking.attempt, wrapping.attempt) == ("a-1", "a-1")
    done, end = changed(wrapping, "ana", AgentAction.END_WRAP_UP, 5, disposition="SALE")
    assert done.attempt is None
    assert (end.attempt, end.disposition) == ("a-1", "SALE")
    missed, no_answer = changed(reserved, "ana", AgentAction.NOT_READY, 6, reason="no answer")
    assert (missed.attempt, no_answer.attempt) == (None, "a-1")


def test_staffing_counts_logged_in_ready_and_busy_agents_and_not_the_logged_out() -> None:
    records = [
        AgentRecord(state=state, since_ms=1)
        for state in (S.LOGGED_OUT, S.READY, S.READY, S.NOT_READY, S.TALKING, S.WRAP_UP, S.RESERVED)
    ]
    assert staffing(records) == Staffing(logged_in=6, ready=2, on_call=3)
    assert staffing([]) == Staffing(0, 0, 0)


def test_a_lost_call_leaves_a_talking_agent_wrapping_it_up_and_a_reserved_one_not_ready() -> None:
    talking = AgentRecord(state=S.TALKING, since_ms=5, endpoint="1001", attempt="a-7")
    record, change = changed(talking, "ana", A.CALL_LOST, 9)
    assert (record.state, record.attempt, record.since_ms) == (S.WRAP_UP, "a-7", 9)
    assert (change.before, change.after, change.attempt) == (S.TALKING, S.WRAP_UP, "a-7")
    reserved = talking.model_copy(update={"state": S.RESERVED})
    record, change = changed(reserved, "ana", A.CALL_LOST, 9, reason="lost")
    assert (record.state, record.attempt, record.reason) == (S.NOT_READY, None, "lost")
    assert (change.after, change.attempt, change.reason) == (S.NOT_READY, "a-7", "lost")


def test_a_release_gives_the_agent_back_ready_and_says_which_call_went() -> None:
    reserved = AgentRecord(state=S.RESERVED, since_ms=5, endpoint="1001", attempt="a-7")
    record, change = changed(reserved, "ana", A.RELEASE, 9)
    assert (record.state, record.attempt, record.endpoint) == (S.READY, None, "1001")
    assert (change.before, change.after, change.attempt) == (S.RESERVED, S.READY, "a-7")
