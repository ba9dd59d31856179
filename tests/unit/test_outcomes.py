"""kdial.outcomes: the outcome table, row by row, and the real FreeSWITCH 1.11 captures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kdial.outcomes import (
    CAUSE_TABLE,
    Q850_CAUSES,
    SIP_TABLE,
    CallFacts,
    Outcome,
    classify,
    counts_against_trunk,
    counts_as_attempt,
    facts_from_hangup,
    is_answered,
    is_self_inflicted,
    is_switch_throttle,
    job_error_cause,
    metric_label,
)
from tests.support.freeswitch import CAPTURES, facts_text, measured, parse_capture


def _captures() -> Path:
    if not any(CAPTURES.glob("*.txt")):
        pytest.fail(f"the FreeSWITCH 1.11 captures are missing under {CAPTURES}")
    return CAPTURES


# --- the enum --------------------------------------------------------------------------------


def test_outcome_values_are_exactly_the_shared_vocabulary() -> None:
    assert [o.value for o in Outcome] == [
        "AnsweredHuman",
        "AnsweredMachine",
        "Abandoned",
        "Busy",
        "NoAnswer",
        "Rejected",
        "InvalidNumber",
        "Unreachable",
        "RiskBlocked",
        "CallLoss",
        "Cancelled",
        "Unknown",
    ]


@pytest.mark.parametrize(
    ("outcome", "label"),
    [
        (Outcome.ANSWERED_HUMAN, "answered_human"),
        (Outcome.ANSWERED_MACHINE, "answered_machine"),
        (Outcome.ABANDONED, "abandoned"),
        (Outcome.BUSY, "busy"),
        (Outcome.NO_ANSWER, "no_answer"),
        (Outcome.REJECTED, "rejected"),
        (Outcome.INVALID_NUMBER, "invalid_number"),
        (Outcome.UNREACHABLE, "unreachable"),
        (Outcome.RISK_BLOCKED, "risk_blocked"),
        (Outcome.CALL_LOSS, "call_loss"),
        (Outcome.CANCELLED, "cancelled"),
    ],
)
def test_metric_labels_are_snake_case(outcome: Outcome, label: str) -> None:
    assert outcome.label == label
    assert metric_label(outcome) == label


def test_outcome_is_a_str_enum() -> None:
    assert Outcome("CallLoss") is Outcome.CALL_LOSS
    assert isinstance(Outcome.BUSY, str)
    assert str(Outcome.BUSY) == "Busy"
    assert f"{Outcome.NO_ANSWER}" == "NoAnswer"


# --- the table, every row ----------------------------------------------------------------------


@pytest.mark.parametrize(("cause", "outcome"), sorted(CAUSE_TABLE.items()))
def test_every_cause_row_without_sip_status(cause: str, outcome: Outcome) -> None:
    assert classify(CallFacts(hangup_cause=cause)) is outcome
    # Cause names arrive in any case and with stray whitespace from some integrations.
    assert classify(CallFacts(hangup_cause=f" {cause.lower()} ")) is outcome


@pytest.mark.parametrize(("status", "outcome"), sorted(SIP_TABLE.items()))
def test_every_sip_row_where_the_cause_says_nothing(status: int, outcome: Outcome) -> None:
    # NORMAL_UNSPECIFIED is what mod_sofia reports for a SIP status it has no cause for.
    assert classify(CallFacts(hangup_cause="NORMAL_UNSPECIFIED", sip_status=status)) is outcome
    # No cause at all (or one this table does not know): the SIP status decides.
    assert classify(CallFacts(sip_status=status)) is outcome
    assert classify(CallFacts(hangup_cause="SOME_FUTURE_CAUSE", sip_status=status)) is outcome


@pytest.mark.parametrize(
    ("q850", "name"), sorted((c, n) for c, n in Q850_CAUSES.items() if n in CAUSE_TABLE)
)
def test_every_q850_row_when_only_the_code_is_known(q850: int, name: str) -> None:
    assert classify(CallFacts(q850=q850)) is CAUSE_TABLE[name]


def test_every_q850_name_is_in_the_cause_table() -> None:
    assert set(Q850_CAUSES.values()) <= set(CAUSE_TABLE)


# What mod_sofia does with each SIP final response (sofia_glue_sip_cause_to_freeswitch: the
# hangup cause it reports, with the status in variable_sip_term_status), and the outcome kdial
# must give the pair. 607/608 appear under both names FreeSWITCH builds have used.
FREESWITCH_SIP_FAILURES = [
    (400, "NORMAL_TEMPORARY_FAILURE", Outcome.CALL_LOSS),
    (401, "CALL_REJECTED", Outcome.CALL_LOSS),  # our trunk's credentials
    (402, "CALL_REJECTED", Outcome.CALL_LOSS),  # our trunk's account
    (403, "CALL_REJECTED", Outcome.RISK_BLOCKED),  # carrier risk control
    (404, "UNALLOCATED_NUMBER", Outcome.INVALID_NUMBER),
    (404, "NO_ROUTE_DESTINATION", Outcome.INVALID_NUMBER),  # older mod_sofia
    (405, "SERVICE_UNAVAILABLE", Outcome.CALL_LOSS),
    (406, "SERVICE_NOT_IMPLEMENTED", Outcome.CALL_LOSS),
    (407, "CALL_REJECTED", Outcome.CALL_LOSS),
    (408, "RECOVERY_ON_TIMER_EXPIRE", Outcome.CALL_LOSS),
    (410, "NUMBER_CHANGED", Outcome.INVALID_NUMBER),
    (413, "INTERWORKING", Outcome.CALL_LOSS),
    (414, "INTERWORKING", Outcome.CALL_LOSS),
    (415, "SERVICE_NOT_IMPLEMENTED", Outcome.CALL_LOSS),
    (416, "INTERWORKING", Outcome.CALL_LOSS),
    (420, "INTERWORKING", Outcome.CALL_LOSS),
    (421, "INTERWORKING", Outcome.CALL_LOSS),
    (423, "INTERWORKING", Outcome.CALL_LOSS),
    (480, "NO_USER_RESPONSE", Outcome.UNREACHABLE),
    (481, "NORMAL_TEMPORARY_FAILURE", Outcome.CALL_LOSS),
    (482, "EXCHANGE_ROUTING_ERROR", Outcome.CALL_LOSS),
    (483, "EXCHANGE_ROUTING_ERROR", Outcome.CALL_LOSS),
    (484, "INVALID_NUMBER_FORMAT", Outcome.INVALID_NUMBER),
    (485, "NO_ROUTE_DESTINATION", Outcome.INVALID_NUMBER),
    (486, "USER_BUSY", Outcome.BUSY),
    (487, "ORIGINATOR_CANCEL", Outcome.CANCELLED),
    (488, "INCOMPATIBLE_DESTINATION", Outcome.CALL_LOSS),
    (500, "NORMAL_TEMPORARY_FAILURE", Outcome.CALL_LOSS),
    (501, "SERVICE_NOT_IMPLEMENTED", Outcome.CALL_LOSS),
    (502, "NETWORK_OUT_OF_ORDER", Outcome.CALL_LOSS),
    (503, "NORMAL_TEMPORARY_FAILURE", Outcome.CALL_LOSS),
    (504, "RECOVERY_ON_TIMER_EXPIRE", Outcome.CALL_LOSS),
    (505, "INTERWORKING", Outcome.CALL_LOSS),
    (513, "INTERWORKING", Outcome.CALL_LOSS),
    (580, "NORMAL_UNSPECIFIED", Outcome.CALL_LOSS),
    (600, "USER_BUSY", Outcome.BUSY),
    (603, "CALL_REJECTED", Outcome.REJECTED),
    (604, "NO_ROUTE_DESTINATION", Outcome.INVALID_NUMBER),
    (606, "INCOMPATIBLE_DESTINATION", Outcome.CALL_LOSS),
    (607, "CALL_REJECTED", Outcome.REJECTED),
    (607, "NORMAL_UNSPECIFIED", Outcome.REJECTED),
    (608, "CALL_REJECTED", Outcome.RISK_BLOCKED),
    (608, "NORMAL_UNSPECIFIED", Outcome.RISK_BLOCKED),
    (699, "NORMAL_UNSPECIFIED", Outcome.REJECTED),
]


@pytest.mark.parametrize(("status", "cause", "outcome"), FREESWITCH_SIP_FAILURES)
def test_sip_failures_as_mod_sofia_reports_them(status: int, cause: str, outcome: Outcome) -> None:
    assert classify(CallFacts(hangup_cause=cause, sip_status=status)) is outcome


@pytest.mark.parametrize(
    ("cause", "status", "outcome"),
    [
        # A carrier's Reason header (Q.850 from the PSTN) beats the SIP code it rode on.
        ("USER_BUSY", 503, Outcome.BUSY),
        ("SUBSCRIBER_ABSENT", 480, Outcome.UNREACHABLE),
        ("DESTINATION_OUT_OF_ORDER", 503, Outcome.UNREACHABLE),
        # NORMAL_CLEARING before answer: the SIP status says why, when there is one.
        ("NORMAL_CLEARING", None, Outcome.NO_ANSWER),
        ("NORMAL_CLEARING", 487, Outcome.NO_ANSWER),
        ("NORMAL_CLEARING", 486, Outcome.BUSY),
        ("NORMAL_CLEARING", 404, Outcome.INVALID_NUMBER),
        ("NORMAL_CLEARING", 503, Outcome.CALL_LOSS),
        ("NORMAL_CLEARING", 183, Outcome.NO_ANSWER),
        # NO_ANSWER after our CANCEL carries sip_invite_failure_status 487: still no answer.
        ("NO_ANSWER", 487, Outcome.NO_ANSWER),
        # A route that does not serve the destination is the line's; "no such number" is not.
        ("NO_ROUTE_DESTINATION", None, Outcome.CALL_LOSS),
        ("CALL_REJECTED", None, Outcome.REJECTED),
        ("NORMAL_UNSPECIFIED", None, Outcome.CALL_LOSS),
        ("NORMAL_UNSPECIFIED", 302, Outcome.CALL_LOSS),
        (None, None, Outcome.CALL_LOSS),
        ("SOME_FUTURE_CAUSE", None, Outcome.CALL_LOSS),
    ],
)
def test_cause_and_sip_precedence(cause: str | None, status: int | None, outcome: Outcome) -> None:
    assert classify(CallFacts(hangup_cause=cause, sip_status=status)) is outcome


def test_unknown_cause_falls_back_to_its_q850_code() -> None:
    assert classify(CallFacts(hangup_cause="WHATEVER", q850=17)) is Outcome.BUSY
    # FreeSWITCH's own causes print numbers above 127 as q850: the name is what counts.
    assert classify(CallFacts(hangup_cause="ALLOTTED_TIMEOUT", q850=602)) is Outcome.NO_ANSWER
    assert classify(CallFacts(q850=999)) is Outcome.CALL_LOSS


# --- answered calls ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "outcome"),
    [
        (CallFacts(answered=True, hangup_cause="NORMAL_CLEARING"), Outcome.ANSWERED_HUMAN),
        (
            CallFacts(answered=True, amd_result="HUMAN", bridged_to_agent=True),
            Outcome.ANSWERED_HUMAN,
        ),
        (
            CallFacts(answered=True, amd_result="NOTSURE", bridged_to_agent=True),
            Outcome.ANSWERED_HUMAN,
        ),
        (CallFacts(answered=True, amd_result="MACHINE"), Outcome.ANSWERED_MACHINE),
        (CallFacts(answered=True, amd_result="machine "), Outcome.ANSWERED_MACHINE),
        (CallFacts(answered=True, agent_deadline_missed=True), Outcome.ABANDONED),
        (
            CallFacts(answered=True, amd_result="HUMAN", agent_deadline_missed=True),
            Outcome.ABANDONED,
        ),
        # A machine is not a person kept waiting: not an abandoned call.
        (
            CallFacts(answered=True, amd_result="MACHINE", agent_deadline_missed=True),
            Outcome.ANSWERED_MACHINE,
        ),
        # We hung up an answered call nobody took (shutdown, drain): abandoned for the callee.
        (CallFacts(answered=True, cancelled_by_us=True), Outcome.ABANDONED),
        # We hung up after the agent conversation, or at the maximum duration: answered.
        (
            CallFacts(answered=True, cancelled_by_us=True, bridged_to_agent=True),
            Outcome.ANSWERED_HUMAN,
        ),
        (
            CallFacts(answered=True, hangup_cause="ALLOTTED_TIMEOUT", bridged_to_agent=True),
            Outcome.ANSWERED_HUMAN,
        ),
        # After answer the hangup cause does not matter any more.
        (
            CallFacts(answered=True, hangup_cause="MEDIA_TIMEOUT", sip_status=503),
            Outcome.ANSWERED_HUMAN,
        ),
        (CallFacts(answered=True, job_error="DESTINATION_OUT_OF_ORDER"), Outcome.ANSWERED_HUMAN),
    ],
)
def test_answered_calls(facts: CallFacts, outcome: Outcome) -> None:
    assert classify(facts) is outcome
    assert is_answered(outcome)
    assert not is_self_inflicted(facts)
    assert not is_switch_throttle(facts)


# --- our own doing -------------------------------------------------------------------------------


@pytest.mark.parametrize("cause", [None, "NORMAL_CLEARING", "ORIGINATOR_CANCEL", "USER_BUSY"])
def test_cancelled_by_us_before_answer(cause: str | None) -> None:
    facts = CallFacts(hangup_cause=cause, cancelled_by_us=True)
    assert classify(facts) is Outcome.CANCELLED
    assert is_self_inflicted(facts)


@pytest.mark.parametrize("body", ["-ERR DESTINATION_OUT_OF_ORDER\n", "DESTINATION_OUT_OF_ORDER"])
def test_switch_throttle_is_cancelled_and_never_blames_the_trunk(body: str) -> None:
    facts = CallFacts(job_error=body)  # BACKGROUND_JOB -ERR and no channel event at all
    assert classify(facts) is Outcome.CANCELLED
    assert is_switch_throttle(facts)
    assert is_self_inflicted(facts)
    assert not counts_against_trunk(classify(facts))
    assert not counts_as_attempt(classify(facts))


def test_destination_out_of_order_from_a_real_channel_is_the_callee() -> None:
    facts = CallFacts(
        hangup_cause="DESTINATION_OUT_OF_ORDER", q850=27, job_error="DESTINATION_OUT_OF_ORDER"
    )
    assert classify(facts) is Outcome.UNREACHABLE
    assert not is_switch_throttle(facts)
    assert not is_self_inflicted(facts)


@pytest.mark.parametrize(
    ("body", "outcome", "self_inflicted"),
    [
        ("-ERR SYSTEM_SHUTDOWN", Outcome.CANCELLED, True),
        ("-ERR MANAGER_REQUEST", Outcome.CANCELLED, True),
        ("-ERR CRASH", Outcome.CANCELLED, True),
        ("-ERR LOSE_RACE", Outcome.CANCELLED, True),
        # A switch shutting down answers this for ~1.7 s (measured on 1.11): not the trunk's.
        ("-ERR CHAN_NOT_IMPLEMENTED", Outcome.CANCELLED, True),
        # Names no cause: the switch refused the command.
        ("-ERR no reply", Outcome.CANCELLED, True),
        ("-ERR", Outcome.CANCELLED, True),
        ("-USAGE: <call url> <exten>|&<application_name>(<app_args>)", Outcome.CANCELLED, True),
        # Reported before a channel exists, but the trunk's: it must show in its health.
        ("-ERR GATEWAY_DOWN", Outcome.CALL_LOSS, False),
        ("-ERR INVALID_GATEWAY", Outcome.CALL_LOSS, False),
        # The hangup event was lost (an ESL gap): the job's cause alone still classifies.
        ("-ERR USER_BUSY", Outcome.BUSY, False),
        ("-ERR NO_ANSWER", Outcome.NO_ANSWER, False),
        ("-ERR NORMAL_TEMPORARY_FAILURE", Outcome.CALL_LOSS, False),
    ],
)
def test_job_errors_without_a_channel(body: str, outcome: Outcome, self_inflicted: bool) -> None:
    facts = CallFacts(job_error=body)
    assert classify(facts) is outcome
    assert is_self_inflicted(facts) is self_inflicted
    assert not is_switch_throttle(facts)


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        ("+OK 59c7314e-0b1a-474b-9754-ac156398715a\n", None),
        ("-ERR USER_BUSY\n", "USER_BUSY"),
        ("-ERR  no_answer  ", "NO_ANSWER"),
        ("-ERR", ""),
        ("-USAGE: originate ...", ""),
        ("DESTINATION_OUT_OF_ORDER", "DESTINATION_OUT_OF_ORDER"),
        ("", ""),
    ],
)
def test_job_error_cause(body: str, cause: str | None) -> None:
    assert job_error_cause(body) == cause


# --- trunk health and closure ------------------------------------------------------------------


@pytest.mark.parametrize("outcome", list(Outcome))
def test_only_call_loss_counts_against_the_trunk(outcome: Outcome) -> None:
    assert counts_against_trunk(outcome) is (outcome is Outcome.CALL_LOSS)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_everything_but_cancelled_counts_as_an_attempt(outcome: Outcome) -> None:
    assert counts_as_attempt(outcome) is (outcome is not Outcome.CANCELLED)


def test_answered_outcomes() -> None:
    assert {o for o in Outcome if is_answered(o)} == {
        Outcome.ANSWERED_HUMAN,
        Outcome.ANSWERED_MACHINE,
        Outcome.ABANDONED,
    }


def test_every_outcome_is_reachable() -> None:
    reached = set(CAUSE_TABLE.values()) | set(SIP_TABLE.values())
    reached |= {Outcome.ANSWERED_HUMAN, Outcome.ANSWERED_MACHINE, Outcome.ABANDONED}
    # Unknown is no classification: the ledger records it when the switch never told.
    assert reached | {Outcome.UNKNOWN} == set(Outcome)


# --- the real captures -------------------------------------------------------------------------

CAPTURE_OUTCOMES = {
    "carrier-a.CHANNEL_HANGUP_COMPLETE.txt": (Outcome.ANSWERED_HUMAN, "NORMAL_CLEARING", 16, 200),
    "carrier-b.CHANNEL_HANGUP_COMPLETE.txt": (
        Outcome.CALL_LOSS,
        "NORMAL_TEMPORARY_FAILURE",
        41,
        503,
    ),
    "carrier-c.CHANNEL_HANGUP_COMPLETE.txt": (Outcome.BUSY, "USER_BUSY", 17, 486),
    # No sip_term_status when FreeSWITCH cancels; the invite failure status is our CANCEL's 487.
    "carrier-d.CHANNEL_HANGUP_COMPLETE.txt": (Outcome.NO_ANSWER, "NO_ANSWER", 19, 487),
}


def test_every_hangup_capture_has_an_expected_outcome() -> None:
    found = {p.name for p in _captures().glob("*.CHANNEL_HANGUP_COMPLETE.txt")}
    assert found == set(CAPTURE_OUTCOMES), "a capture was added or removed: classify it here"


@pytest.mark.parametrize("name", sorted(CAPTURE_OUTCOMES))
def test_real_hangup_captures(name: str) -> None:
    outcome, cause, q850, sip = CAPTURE_OUTCOMES[name]
    headers = parse_capture(_captures() / name)
    assert headers["Event-Name"] == "CHANNEL_HANGUP_COMPLETE"
    facts = facts_from_hangup(headers, bridged_to_agent=outcome is Outcome.ANSWERED_HUMAN)
    assert (facts.hangup_cause, facts.q850, facts.sip_status) == (cause, q850, sip)
    assert facts.answered is is_answered(outcome)
    assert classify(facts) is outcome
    assert not is_self_inflicted(facts)


def test_answer_capture_reads_as_answered() -> None:
    headers = parse_capture(_captures() / "carrier-a.CHANNEL_ANSWER.txt")
    assert headers["Event-Name"] == "CHANNEL_ANSWER"
    assert headers["variable_rtp_local_sdp_str"].startswith("v=0\n")  # the parser's own check
    assert facts_from_hangup(headers).answered


# --- the outcome table of freeswitch-facts.md, row by row -----------------------------------------

FACTS_ROWS = {
    "answers, far end hangs up": Outcome.ANSWERED_HUMAN,
    "answers, we `uuid_kill`": Outcome.ANSWERED_HUMAN,  # after the agent call, or at max duration
    "503": Outcome.CALL_LOSS,
    "486 busy": Outcome.BUSY,
    "rings past originate_timeout": Outcome.NO_ANSWER,
    "480": Outcome.UNREACHABLE,
}


def _facts_table() -> list[list[str]]:
    text = facts_text()
    section = text.split("## Outcomes as FreeSWITCH reports them", 1)
    if len(section) != 2:
        pytest.fail("freeswitch-facts.md lost its outcome table section")
    rows = []
    for line in section[1].splitlines():
        if line.startswith("## "):
            break
        if line.startswith("|") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, body = rows[0], rows[1:]
    assert header[:3] == ["far end", "Hangup-Cause", "q850"], header
    return body


def test_every_row_of_the_facts_table_has_an_expected_outcome() -> None:
    assert {row[0] for row in _facts_table()} == set(FACTS_ROWS)


@pytest.mark.parametrize("far_end", sorted(FACTS_ROWS))
def test_facts_table_row(far_end: str) -> None:
    rows = {row[0]: row for row in _facts_table()}
    _, cause, q850, sip, disposition, billsec, job = rows[far_end]
    answered = int(billsec) > 0
    killed = disposition == "send_bye"  # we hung up the answered call
    facts = CallFacts(
        hangup_cause=cause,
        q850=int(q850),
        sip_status=None if sip == "(absent)" else int(sip),
        answered=answered,
        bridged_to_agent=answered,
        cancelled_by_us=killed,
    )
    assert classify(facts) is FACTS_ROWS[far_end]

    job_cause = job_error_cause(job.strip("`"))
    if answered:
        assert job_cause is None  # "+OK <uuid>"
    else:
        assert job_cause == cause
        # Were the hangup event lost, the job's -ERR alone gives the same outcome.
        assert classify(CallFacts(job_error=job.strip("`"))) is FACTS_ROWS[far_end]


def test_the_throttle_fact_is_still_what_the_notes_say() -> None:
    text = facts_text()
    assert "`-ERR DESTINATION_OUT_OF_ORDER`" in text
    assert "no channel event at all" in text
    assert classify(CallFacts(job_error="-ERR DESTINATION_OUT_OF_ORDER")) is Outcome.CANCELLED


def test_the_measured_facts_data_says_what_the_notes_say() -> None:
    """freeswitch-1.11-measured.yaml is the notes' "Measured again" section as data: every
    reply the notes quote there is in it, and its figures are the notes' figures."""
    notes = facts_text().split("## Measured again", 1)[1]
    data = measured()
    quoted = set(re.findall(r"`(-ERR [^`]+)`", notes))
    replies = {
        data["early_media"]["with_ignore_early_media"]["never_answered"]["background_job"],
        data["unknown_gateway"]["background_job"],
        data["shutdown"]["originate_reply"],
        data["session_limit"]["originate_reply"],
        data["uuid_kill_unknown"].strip(),
    }
    assert quoted <= replies, quoted - replies
    for row in data["originate_timeout"][:3]:
        low, high = row["fired"]
        figures = f"{low:g} s" if low == high else f"{low:g}–{high:g} s"
        assert figures in notes, figures
    early = data["early_media"]
    for case in ("without_ignore_early_media", "with_ignore_early_media"):
        assert f"billsec: {early[case]['billsec']}" in notes.replace("billsec ", "billsec: ")
    assert "EARLY MEDIA" in notes and "1.7 s" in notes


# --- facts_from_hangup edges -------------------------------------------------------------------


def test_facts_from_hangup_tolerates_missing_and_malformed_headers() -> None:
    facts = facts_from_hangup(
        {
            "variable_hangup_cause": "USER_BUSY",
            "variable_hangup_cause_q850": "seventeen",
            "variable_sip_term_status": "abc",
            "variable_sip_invite_failure_status": "486",
            "variable_answer_epoch": "0",
        },
        cancelled_by_us=False,
    )
    assert facts == CallFacts(hangup_cause="USER_BUSY", sip_status=486)
    assert facts_from_hangup({"variable_sip_term_status": "9999"}).sip_status is None
    assert facts_from_hangup({}) == CallFacts()
    assert facts_from_hangup({"variable_endpoint_disposition": "ANSWER"}).answered


def test_facts_from_hangup_carries_what_only_the_worker_knows() -> None:
    facts = facts_from_hangup(
        {"Hangup-Cause": "NORMAL_CLEARING", "variable_answer_epoch": "1795446937"},
        amd_result="MACHINE",
        bridged_to_agent=False,
        agent_deadline_missed=True,
        cancelled_by_us=True,
        job_error=None,
    )
    assert facts.answered and facts.amd_result == "MACHINE"
    assert facts.agent_deadline_missed and facts.cancelled_by_us
    assert classify(facts) is Outcome.ANSWERED_MACHINE
