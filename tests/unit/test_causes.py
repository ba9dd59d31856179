"""kdial.causes: each cause class from the causes and SIP codes a real FreeSWITCH reports."""

from __future__ import annotations

import pytest

from kdial.causes import CAUSE_CLASSES, CLASSES, SIP_CLASSES, CauseClass, cause_class
from kdial.outcomes import CAUSE_TABLE, Q850_CAUSES, CallFacts, facts_from_hangup
from tests.support.freeswitch import capture, parse_capture

C = CauseClass


def test_the_classes_are_the_issue_s_six_in_a_fixed_order() -> None:
    # The order is the counters' and the judge's: reordering it mixes up stored counts.
    assert [c.value for c in CLASSES] == [
        "congestion",
        "timeout",
        "server-error",
        "forbidden",
        "unallocated",
        "other",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("carrier-a.CHANNEL_HANGUP_COMPLETE.txt", None),  # answered
        ("carrier-b.CHANNEL_HANGUP_COMPLETE.txt", C.CONGESTION),  # 503, q850 41
        ("carrier-c.CHANNEL_HANGUP_COMPLETE.txt", None),  # 486 busy: the callee's doing
        ("carrier-d.CHANNEL_HANGUP_COMPLETE.txt", None),  # rang out, our CANCEL's 487
    ],
)
def test_real_hangup_captures(name: str, expected: CauseClass | None) -> None:
    headers = parse_capture(capture(name))
    assert cause_class(facts_from_hangup(headers, bridged_to_agent=True)) is expected


# What sofia reports for each SIP final response (Hangup-Cause, q850, sip_term_status): the
# mapping of mod_sofia's sip-to-cause table, and the class each must land in.
SOFIA = [
    (503, "NORMAL_TEMPORARY_FAILURE", 41, C.CONGESTION),
    (500, "NORMAL_TEMPORARY_FAILURE", 41, C.SERVER_ERROR),
    (408, "RECOVERY_ON_TIMER_EXPIRE", 102, C.TIMEOUT),
    (504, "RECOVERY_ON_TIMER_EXPIRE", 102, C.SERVER_ERROR),
    (502, "NETWORK_OUT_OF_ORDER", 38, C.SERVER_ERROR),
    (501, "SERVICE_NOT_IMPLEMENTED", 79, C.SERVER_ERROR),
    (403, "CALL_REJECTED", 21, C.FORBIDDEN),
    (603, "CALL_REJECTED", 21, C.FORBIDDEN),
    (608, "CALL_REJECTED", 21, C.FORBIDDEN),
    (404, "UNALLOCATED_NUMBER", 1, C.UNALLOCATED),
    (484, "INVALID_NUMBER_FORMAT", 28, C.UNALLOCATED),
    (485, "NO_ROUTE_DESTINATION", 3, C.UNALLOCATED),
    (604, "NO_ROUTE_DESTINATION", 3, C.UNALLOCATED),
    (410, "NUMBER_CHANGED", 22, C.UNALLOCATED),
    (400, "NORMAL_TEMPORARY_FAILURE", 41, C.OTHER),
    (481, "NORMAL_TEMPORARY_FAILURE", 41, C.OTHER),
    (401, "CALL_REJECTED", 21, C.OTHER),  # the trunk's credentials, not risk control
    (407, "CALL_REJECTED", 21, C.OTHER),
    (488, "INCOMPATIBLE_DESTINATION", 88, C.OTHER),
    (482, "EXCHANGE_ROUTING_ERROR", 25, C.OTHER),
    # The callee's doing: no class.
    (486, "USER_BUSY", 17, None),
    (600, "USER_BUSY", 17, None),
    (480, "NO_USER_RESPONSE", 18, None),
]


@pytest.mark.parametrize(("sip", "cause", "q850", "expected"), SOFIA)
def test_sofia_causes_with_their_sip_status(
    sip: int, cause: str, q850: int, expected: CauseClass | None
) -> None:
    headers = {
        "Hangup-Cause": cause,
        "variable_hangup_cause_q850": str(q850),
        "variable_sip_term_status": str(sip),
    }
    assert cause_class(facts_from_hangup(headers)) is expected


def test_the_sip_status_decides_over_the_cause_sofia_folded_it_into() -> None:
    # 500 and 503 both end NORMAL_TEMPORARY_FAILURE: only the status tells overload from a crash.
    same = "NORMAL_TEMPORARY_FAILURE"
    assert cause_class(CallFacts(hangup_cause=same, sip_status=503)) is C.CONGESTION
    assert cause_class(CallFacts(hangup_cause=same, sip_status=500)) is C.SERVER_ERROR
    # Without a status the cause decides: 41 is what sofia makes of a 503 first of all.
    assert cause_class(CallFacts(hangup_cause=same)) is C.CONGESTION


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        ("NORMAL_CIRCUIT_CONGESTION", C.CONGESTION),
        ("SWITCH_CONGESTION", C.CONGESTION),
        ("REQUESTED_CHAN_UNAVAIL", C.CONGESTION),
        ("RECOVERY_ON_TIMER_EXPIRE", C.TIMEOUT),  # no reply to the INVITE at all
        ("PROGRESS_TIMEOUT", C.TIMEOUT),
        ("OUTGOING_CALL_BARRED", C.FORBIDDEN),
        ("UNALLOCATED_NUMBER", C.UNALLOCATED),
        ("GATEWAY_DOWN", C.OTHER),
        ("NORMAL_UNSPECIFIED", C.OTHER),
        ("NO_ANSWER", None),
        ("SUBSCRIBER_ABSENT", None),
    ],
)
def test_causes_without_a_sip_status(cause: str, expected: CauseClass | None) -> None:
    assert cause_class(CallFacts(hangup_cause=cause)) is expected


def test_a_bare_q850_code_is_read_by_its_name() -> None:
    assert cause_class(CallFacts(q850=34)) is C.CONGESTION
    assert cause_class(CallFacts(q850=102)) is C.TIMEOUT
    assert cause_class(CallFacts(q850=1)) is C.UNALLOCATED


def test_a_cancel_s_487_does_not_hide_the_timer_that_sent_it() -> None:
    # The switch's progress timer cancels the INVITE: the failure is the timeout, not the 487.
    facts = CallFacts(hangup_cause="PROGRESS_TIMEOUT", sip_status=487)
    assert cause_class(facts) is C.TIMEOUT


@pytest.mark.parametrize(
    "facts",
    [
        # Our switch's throttle: -ERR DESTINATION_OUT_OF_ORDER and no channel (measured).
        CallFacts(job_error="-ERR DESTINATION_OUT_OF_ORDER"),
        CallFacts(job_error="-ERR CHAN_NOT_IMPLEMENTED"),  # our switch shutting down
        CallFacts(hangup_cause="NORMAL_TEMPORARY_FAILURE", sip_status=503, cancelled_by_us=True),
        CallFacts(hangup_cause="ORIGINATOR_CANCEL", sip_status=487),
        CallFacts(answered=True, hangup_cause="NORMAL_TEMPORARY_FAILURE", sip_status=503),
    ],
)
def test_ours_and_answered_calls_have_no_class(facts: CallFacts) -> None:
    assert cause_class(facts) is None


def test_a_gateway_the_switch_reports_down_before_any_channel_is_the_line_s() -> None:
    assert cause_class(CallFacts(job_error="-ERR GATEWAY_DOWN")) is C.OTHER


def test_every_classed_cause_is_one_freeswitch_names() -> None:
    assert set(CAUSE_CLASSES) <= set(CAUSE_TABLE)
    assert {n for n in Q850_CAUSES.values() if n in CAUSE_CLASSES} <= set(CAUSE_CLASSES)
    assert all(400 <= status <= 699 for status in SIP_CLASSES)
