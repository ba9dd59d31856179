"""Hangup causes as FreeSWITCH names and numbers them, and how SIP answers map onto them.

The SIP-to-cause table is mod_sofia's (`sofia_glue_sip_cause_to_freeswitch`, RFC 4497 8.4.4);
the numbers are the `switch_call_cause_t` values FreeSWITCH prints as `hangup_cause_q850`.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Cause name -> number, as in switch_types.h (Q.850 where one exists).
CAUSES: dict[str, int] = {
    "NONE": 0,
    "UNALLOCATED_NUMBER": 1,
    "NO_ROUTE_TRANSIT_NET": 2,
    "NO_ROUTE_DESTINATION": 3,
    "CHANNEL_UNACCEPTABLE": 6,
    "CALL_AWARDED_DELIVERED": 7,
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "SUBSCRIBER_ABSENT": 20,
    "CALL_REJECTED": 21,
    "NUMBER_CHANGED": 22,
    "REDIRECTION_TO_NEW_DESTINATION": 23,
    "EXCHANGE_ROUTING_ERROR": 25,
    "DESTINATION_OUT_OF_ORDER": 27,
    "INVALID_NUMBER_FORMAT": 28,
    "FACILITY_REJECTED": 29,
    "RESPONSE_TO_STATUS_ENQUIRY": 30,
    "NORMAL_UNSPECIFIED": 31,
    "NORMAL_CIRCUIT_CONGESTION": 34,
    "NETWORK_OUT_OF_ORDER": 38,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "SWITCH_CONGESTION": 42,
    "ACCESS_INFO_DISCARDED": 43,
    "REQUESTED_CHAN_UNAVAIL": 44,
    "PRE_EMPTED": 45,
    "FACILITY_NOT_SUBSCRIBED": 50,
    "OUTGOING_CALL_BARRED": 52,
    "INCOMING_CALL_BARRED": 54,
    "BEARERCAPABILITY_NOTAUTH": 57,
    "BEARERCAPABILITY_NOTAVAIL": 58,
    "SERVICE_UNAVAILABLE": 63,
    "BEARERCAPABILITY_NOTIMPL": 65,
    "CHAN_NOT_IMPLEMENTED": 66,
    "FACILITY_NOT_IMPLEMENTED": 69,
    "SERVICE_NOT_IMPLEMENTED": 79,
    "INVALID_CALL_REFERENCE": 81,
    "INCOMPATIBLE_DESTINATION": 88,
    "INVALID_MSG_UNSPECIFIED": 95,
    "MANDATORY_IE_MISSING": 96,
    "MESSAGE_TYPE_NONEXIST": 97,
    "WRONG_MESSAGE": 98,
    "IE_NONEXIST": 99,
    "INVALID_IE_CONTENTS": 100,
    "WRONG_CALL_STATE": 101,
    "RECOVERY_ON_TIMER_EXPIRE": 102,
    "MANDATORY_IE_LENGTH_ERROR": 103,
    "PROTOCOL_ERROR": 111,
    "INTERWORKING": 127,
    "SUCCESS": 142,
    "ORIGINATOR_CANCEL": 487,
    "CRASH": 700,
    "SYSTEM_SHUTDOWN": 701,
    "LOSE_RACE": 502,
    "MANAGER_REQUEST": 503,
    "BLIND_TRANSFER": 600,
    "ATTENDED_TRANSFER": 601,
    "ALLOTTED_TIMEOUT": 602,
    "USER_CHALLENGE": 603,
    "MEDIA_TIMEOUT": 604,
    "PICKED_OFF": 605,
    "USER_NOT_REGISTERED": 606,
    "PROGRESS_TIMEOUT": 607,
    "INVALID_GATEWAY": 608,
    "GATEWAY_DOWN": 609,
    "INVALID_URL": 610,
    "INVALID_PROFILE": 611,
    "NO_PICKUP": 612,
}
_BY_NUMBER = {number: name for name, number in CAUSES.items()}

_SIP_TO_CAUSE: dict[int, str] = {
    200: "NORMAL_CLEARING",
    **dict.fromkeys((401, 402, 403, 407, 603, 607, 608), "CALL_REJECTED"),
    404: "UNALLOCATED_NUMBER",
    **dict.fromkeys((485, 604), "NO_ROUTE_DESTINATION"),
    **dict.fromkeys((408, 504), "RECOVERY_ON_TIMER_EXPIRE"),
    410: "NUMBER_CHANGED",
    **dict.fromkeys((413, 414, 416, 420, 421, 423, 505, 513), "INTERWORKING"),
    480: "NO_USER_RESPONSE",
    **dict.fromkeys((400, 481, 500, 503), "NORMAL_TEMPORARY_FAILURE"),
    **dict.fromkeys((486, 600), "USER_BUSY"),
    484: "INVALID_NUMBER_FORMAT",
    **dict.fromkeys((488, 606), "INCOMPATIBLE_DESTINATION"),
    502: "NETWORK_OUT_OF_ORDER",
    405: "SERVICE_UNAVAILABLE",
    **dict.fromkeys((406, 415, 501), "SERVICE_NOT_IMPLEMENTED"),
    **dict.fromkeys((482, 483), "EXCHANGE_ROUTING_ERROR"),
    487: "ORIGINATOR_CANCEL",
}

#: The reason phrases the far end sends (RFC 3261 section 21); FreeSWITCH echoes them as
#: `sip_invite_failure_phrase`.
SIP_PHRASES: dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
    607: "Unwanted",
    608: "Rejected",
}


def cause_for_sip(status: int) -> str:
    """The hangup cause mod_sofia reports for a final SIP response."""
    return _SIP_TO_CAUSE.get(status, "NORMAL_UNSPECIFIED")


def q850(cause: str) -> int:
    return CAUSES.get(cause, CAUSES["NORMAL_UNSPECIFIED"])


def parse_cause(text: str | None, default: str) -> str:
    """A cause on an API line (a name in any case, or a number), as switch_channel_str2cause."""
    if not text:
        return default
    text = text.strip()
    if text.isdigit():
        return _BY_NUMBER.get(int(text), default)
    name = text.upper()
    return name if name in CAUSES and name != "NONE" else default


def sip_phrase(status: int) -> str:
    return SIP_PHRASES.get(status, "Unknown")


@dataclass(frozen=True)
class FarEndBehaviour:
    """A named way for the far end to end an unanswered attempt (the scenario's vocabulary)."""

    #: The final SIP response, or None when nothing answers and FreeSWITCH gives up.
    sip_status: int | None
    #: Whether the phone rings (180) before the final response.
    rings_first: bool


#: Scenario failure names -> what the far end does. Numeric SIP statuses are accepted too.
FAILURE_KINDS: dict[str, FarEndBehaviour] = {
    "busy": FarEndBehaviour(486, rings_first=False),
    "noAnswer": FarEndBehaviour(None, rings_first=True),
    "rejected": FarEndBehaviour(603, rings_first=True),
    "invalid": FarEndBehaviour(404, rings_first=False),
    "unreachable": FarEndBehaviour(480, rings_first=False),
    "riskBlocked": FarEndBehaviour(403, rings_first=False),
    "lineFailure": FarEndBehaviour(503, rings_first=False),
    "serverError": FarEndBehaviour(500, rings_first=False),
    "timeout": FarEndBehaviour(408, rings_first=False),
}


def far_end_behaviour(kind: str) -> FarEndBehaviour:
    """Behaviour for a failure name or a SIP status written as a number (e.g. "502")."""
    if kind in FAILURE_KINDS:
        return FAILURE_KINDS[kind]
    return FarEndBehaviour(int(kind), rings_first=False)


def is_failure_kind(kind: str) -> bool:
    return kind in FAILURE_KINDS or (kind.isdigit() and 400 <= int(kind) <= 699)
