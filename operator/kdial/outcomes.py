"""The outcome of a call attempt, from what FreeSWITCH reported about it.

Every attempt ends in exactly one `Outcome`. `classify` maps the facts the worker collected
(hangup cause, Q.850 code, SIP status, answer, AMD, agent connection, the BACKGROUND_JOB
reply) through explicit tables: `CAUSE_TABLE` for FreeSWITCH hangup-cause names, `SIP_TABLE`
for SIP final responses where the cause alone is ambiguous, `Q850_CAUSES` for a bare Q.850
code. The choices that are judgement calls are documented beside the table rows.

Reading of the facts, in order:

1. Answered calls are answered whatever the hangup cause: machine (AMD says so), abandoned
   (no agent or destination within the connect deadline, or we dropped it before one), or
   human.
2. We cancelled before answer: Cancelled.
3. A BACKGROUND_JOB ``-ERR <CAUSE>`` with no channel event at all: no channel ever existed,
   so nothing was dialled. FreeSWITCH's own session-rate throttle answers
   ``-ERR DESTINATION_OUT_OF_ORDER`` this way, and a switch shutting down
   ``-ERR CHAN_NOT_IMPLEMENTED`` (measured on 1.11, see shared/notes/freeswitch-facts.md):
   our overload or our shutdown, Cancelled, never the carrier's fault.
4. Otherwise the hangup cause (or the Q.850 code, or the SIP status) through the tables. A
   failure nothing explains is CallLoss: it was not the callee's doing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "CAUSE_TABLE",
    "Q850_CAUSES",
    "SELF_INFLICTED_CAUSES",
    "SIP_TABLE",
    "CallFacts",
    "Outcome",
    "classify",
    "counts_against_trunk",
    "counts_as_attempt",
    "facts_from_hangup",
    "is_answered",
    "is_self_inflicted",
    "is_switch_throttle",
    "job_error_cause",
    "metric_label",
]


class Outcome(StrEnum):
    """How one call attempt ended."""

    ANSWERED_HUMAN = "AnsweredHuman"
    ANSWERED_MACHINE = "AnsweredMachine"
    # Answered, but no agent or destination took it within the connect deadline (a nuisance
    # call, the figure predictive pacing is capped on).
    ABANDONED = "Abandoned"
    BUSY = "Busy"
    NO_ANSWER = "NoAnswer"
    REJECTED = "Rejected"
    INVALID_NUMBER = "InvalidNumber"
    # Switched off, out of coverage, out of service.
    UNREACHABLE = "Unreachable"
    # Blocked by carrier or network policy: risk control, barring, caller-identity checks.
    RISK_BLOCKED = "RiskBlocked"
    # Line or network failure (呼损): counts against the trunk, re-dialled at once elsewhere.
    CALL_LOSS = "CallLoss"
    # Never dialled, or withdrawn by us before answer (shutdown, our own throttle).
    CANCELLED = "Cancelled"
    # The switch never told how it ended: its worker died or lost the Event Socket while the
    # call was up. Never a classification (`classify` cannot return it): the ledger records it
    # for a reclaimed lease and the worker for a call whose end it missed.
    UNKNOWN = "Unknown"

    @property
    def label(self) -> str:
        """The snake_case form used as a Prometheus label value ("answered_human")."""
        return _LABELS[self]


_LABELS: dict[Outcome, str] = {
    o: "".join("_" + c.lower() if c.isupper() else c for c in o.value).lstrip("_") for o in Outcome
}


def metric_label(outcome: Outcome) -> str:
    """The snake_case metric label of `outcome`."""
    return _LABELS[outcome]


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the worker knows about one attempt when it ends.

    sip_status is variable_sip_term_status, else variable_sip_invite_failure_status.
    bridged_to_agent means the call reached an agent or the campaign's destination (IVR).
    agent_deadline_missed means answered but not bridged within the connect deadline.
    job_error is the cause of a BACKGROUND_JOB ``-ERR <CAUSE>`` reply; set hangup_cause only
    when a channel event was seen, so that job_error alone means "no channel ever existed".
    cancelled_by_us means the worker withdrew the call (uuid_kill, shutdown, drain).
    """

    hangup_cause: str | None = None
    q850: int | None = None
    sip_status: int | None = None
    answered: bool = False
    amd_result: str | None = None
    bridged_to_agent: bool = False
    agent_deadline_missed: bool = False
    job_error: str | None = None
    cancelled_by_us: bool = False


_O = Outcome

# FreeSWITCH hangup-cause names (switch_channel.c CAUSE_CHART) for calls that were not
# answered. Entries marked "by SIP" are refined through SIP_TABLE when a SIP status is known.
CAUSE_TABLE: Mapping[str, Outcome] = MappingProxyType(
    {
        # The callee's doing: retry later by rule.
        "USER_BUSY": _O.BUSY,  # 17; SIP 486, 600
        "BUSY_EVERYWHERE": _O.BUSY,  # SIP 600 on FreeSWITCH builds that name it
        "NO_ANSWER": _O.NO_ANSWER,  # 19; rang past originate_timeout (we CANCEL: SIP 487)
        # 16 without an answer: the far end cleared while ringing; by SIP when one is known.
        "NORMAL_CLEARING": _O.NO_ANSWER,
        # Our own timer (sched_hangup) fired while it was still ringing.
        "ALLOTTED_TIMEOUT": _O.NO_ANSWER,
        # 21; SIP 603 Decline (also 401/402/403/407 on FreeSWITCH's map): by SIP.
        "CALL_REJECTED": _O.REJECTED,
        "DECLINE": _O.REJECTED,  # SIP 603 on builds that name it
        "UNWANTED": _O.REJECTED,  # SIP 607: the callee marked the call unwanted
        # The number is wrong: stop calling it.
        "UNALLOCATED_NUMBER": _O.INVALID_NUMBER,  # 1; SIP 404
        "INVALID_NUMBER_FORMAT": _O.INVALID_NUMBER,  # 28; SIP 484
        "NUMBER_CHANGED": _O.INVALID_NUMBER,  # 22; SIP 410
        "DOES_NOT_EXIST_ANYWHERE": _O.INVALID_NUMBER,  # SIP 604 on builds that name it
        # Switched off, out of coverage, out of service.
        "SUBSCRIBER_ABSENT": _O.UNREACHABLE,  # 20
        # 18; SIP 480 Temporarily Unavailable (measured: a far end answering 480 ends as
        # NO_USER_RESPONSE). Unreachable, not NoAnswer: Q.850 18 means the called party never
        # alerted (the phone did not ring: out of coverage, off, do-not-disturb), 19 means it
        # rang unanswered. It is what carriers send for "暂时无法接通", and Unreachable is a
        # retryable outcome, so a temporary condition does not close the contact by itself.
        "NO_USER_RESPONSE": _O.UNREACHABLE,
        "USER_NOT_REGISTERED": _O.UNREACHABLE,
        # 27 from a real channel is the far network saying the callee's equipment is off line
        # (Q.850: "user equipment off-line"). Without a channel it is our throttle: see rule 3.
        "DESTINATION_OUT_OF_ORDER": _O.UNREACHABLE,
        # Policy blocks: caller or callee barred, caller identity refused (STIR/SHAKEN).
        "OUTGOING_CALL_BARRED": _O.RISK_BLOCKED,  # 52
        "INCOMING_CALL_BARRED": _O.RISK_BLOCKED,  # 54
        "NO_IDENTITY": _O.RISK_BLOCKED,  # SIP 428
        "BAD_IDENTITY_INFO": _O.RISK_BLOCKED,  # SIP 436
        "UNSUPPORTED_CERTIFICATE": _O.RISK_BLOCKED,  # SIP 437
        "INVALID_IDENTITY": _O.RISK_BLOCKED,  # SIP 438
        "STALE_DATE": _O.RISK_BLOCKED,  # SIP 403 Stale Date
        # The line or the network failed: count against the trunk, re-dial elsewhere now.
        "NORMAL_TEMPORARY_FAILURE": _O.CALL_LOSS,  # 41; SIP 503, 500, 400, 481 (measured 503)
        "NETWORK_OUT_OF_ORDER": _O.CALL_LOSS,  # 38; SIP 502
        "RECOVERY_ON_TIMER_EXPIRE": _O.CALL_LOSS,  # 102; SIP 408, 504
        "NORMAL_CIRCUIT_CONGESTION": _O.CALL_LOSS,  # 34
        "SWITCH_CONGESTION": _O.CALL_LOSS,  # 42
        "REQUESTED_CHAN_UNAVAIL": _O.CALL_LOSS,  # 44: the trunk's channels are all in use
        "NO_ROUTE_TRANSIT_NET": _O.CALL_LOSS,  # 2
        # 3: this route does not serve the destination (another trunk may); by SIP, where
        # 404/485/604 say the number itself does not exist.
        "NO_ROUTE_DESTINATION": _O.CALL_LOSS,
        "EXCHANGE_ROUTING_ERROR": _O.CALL_LOSS,  # 25; SIP 482, 483
        "MEDIA_TIMEOUT": _O.CALL_LOSS,
        "PROGRESS_TIMEOUT": _O.CALL_LOSS,  # no progress within progress_timeout
        "INCOMPATIBLE_DESTINATION": _O.CALL_LOSS,  # 88; SIP 488, 606: codec/SDP mismatch
        "NOT_ACCEPTABLE": _O.CALL_LOSS,  # SIP 606 on builds that name it
        "SERVICE_UNAVAILABLE": _O.CALL_LOSS,  # 63; SIP 405
        "SERVICE_NOT_IMPLEMENTED": _O.CALL_LOSS,  # 79; SIP 406, 415, 501
        "FACILITY_REJECTED": _O.CALL_LOSS,  # 29
        "FACILITY_NOT_SUBSCRIBED": _O.CALL_LOSS,  # 50
        "FACILITY_NOT_IMPLEMENTED": _O.CALL_LOSS,  # 69
        "BEARERCAPABILITY_NOTAUTH": _O.CALL_LOSS,  # 57
        "BEARERCAPABILITY_NOTAVAIL": _O.CALL_LOSS,  # 58
        "BEARERCAPABILITY_NOTIMPL": _O.CALL_LOSS,  # 65
        "CHAN_NOT_IMPLEMENTED": _O.CALL_LOSS,  # 66
        "CHANNEL_UNACCEPTABLE": _O.CALL_LOSS,  # 6
        "ACCESS_INFO_DISCARDED": _O.CALL_LOSS,  # 43
        "PRE_EMPTED": _O.CALL_LOSS,  # 45
        "REDIRECTION_TO_NEW_DESTINATION": _O.CALL_LOSS,  # 23: not completed on this route
        "INVALID_CALL_REFERENCE": _O.CALL_LOSS,  # 81
        "INVALID_MSG_UNSPECIFIED": _O.CALL_LOSS,  # 95
        "MANDATORY_IE_MISSING": _O.CALL_LOSS,  # 96
        "MESSAGE_TYPE_NONEXIST": _O.CALL_LOSS,  # 97
        "WRONG_MESSAGE": _O.CALL_LOSS,  # 98
        "IE_NONEXIST": _O.CALL_LOSS,  # 99
        "INVALID_IE_CONTENTS": _O.CALL_LOSS,  # 100
        "WRONG_CALL_STATE": _O.CALL_LOSS,  # 101
        "MANDATORY_IE_LENGTH_ERROR": _O.CALL_LOSS,  # 103
        "PROTOCOL_ERROR": _O.CALL_LOSS,  # 111
        "INTERWORKING": _O.CALL_LOSS,  # 127; SIP 413..423, 505, 513: by SIP
        "NORMAL_UNSPECIFIED": _O.CALL_LOSS,  # 31; every unmapped SIP status: by SIP
        "GATEWAY_DOWN": _O.CALL_LOSS,  # the trunk's gateway is down
        "INVALID_GATEWAY": _O.CALL_LOSS,  # the trunk names a gateway the switch lacks
        "SRTP_READ_ERROR": _O.CALL_LOSS,
        # Ours, not the callee's nor the line's.
        "ORIGINATOR_CANCEL": _O.CANCELLED,  # we cancel (uuid_kill); a parked originate has
        "LOSE_RACE": _O.CANCELLED,  # no other A-leg that could
        "SYSTEM_SHUTDOWN": _O.CANCELLED,
        "MANAGER_REQUEST": _O.CANCELLED,
        "CRASH": _O.CANCELLED,
    }
)

# Causes whose meaning the SIP final response refines (see classify).
_REFINED_BY_SIP = frozenset(
    {
        "CALL_REJECTED",
        "NO_ROUTE_DESTINATION",
        "NORMAL_CLEARING",
        "NORMAL_UNSPECIFIED",
        "INTERWORKING",
    }
)

# SIP final responses, for causes refined by SIP and for calls with no known cause.
SIP_TABLE: Mapping[int, Outcome] = MappingProxyType(
    {
        # Authentication and payment: the trunk's account is wrong, not the callee.
        401: _O.CALL_LOSS,
        402: _O.CALL_LOSS,
        407: _O.CALL_LOSS,
        # 403 Forbidden is how carriers' risk control refuses a call (blacklisted callee,
        # caller ID over its frequency cap, flagged traffic). FreeSWITCH maps it to
        # CALL_REJECTED; it is not the callee declining.
        403: _O.RISK_BLOCKED,
        404: _O.INVALID_NUMBER,
        410: _O.INVALID_NUMBER,
        484: _O.INVALID_NUMBER,
        485: _O.INVALID_NUMBER,
        604: _O.INVALID_NUMBER,
        480: _O.UNREACHABLE,  # as NO_USER_RESPONSE above
        486: _O.BUSY,
        600: _O.BUSY,
        603: _O.REJECTED,
        607: _O.REJECTED,
        608: _O.RISK_BLOCKED,  # RFC 8688: rejected by an intermediary (call analytics)
        428: _O.RISK_BLOCKED,
        436: _O.RISK_BLOCKED,
        437: _O.RISK_BLOCKED,
        438: _O.RISK_BLOCKED,
        408: _O.CALL_LOSS,
        488: _O.CALL_LOSS,
        606: _O.CALL_LOSS,
        500: _O.CALL_LOSS,
        502: _O.CALL_LOSS,
        503: _O.CALL_LOSS,
        504: _O.CALL_LOSS,
    }
)

# Standard Q.850 cause values, for facts that carry only the code.
Q850_CAUSES: Mapping[int, str] = MappingProxyType(
    {
        1: "UNALLOCATED_NUMBER",
        2: "NO_ROUTE_TRANSIT_NET",
        3: "NO_ROUTE_DESTINATION",
        6: "CHANNEL_UNACCEPTABLE",
        16: "NORMAL_CLEARING",
        17: "USER_BUSY",
        18: "NO_USER_RESPONSE",
        19: "NO_ANSWER",
        20: "SUBSCRIBER_ABSENT",
        21: "CALL_REJECTED",
        22: "NUMBER_CHANGED",
        23: "REDIRECTION_TO_NEW_DESTINATION",
        25: "EXCHANGE_ROUTING_ERROR",
        27: "DESTINATION_OUT_OF_ORDER",
        28: "INVALID_NUMBER_FORMAT",
        29: "FACILITY_REJECTED",
        31: "NORMAL_UNSPECIFIED",
        34: "NORMAL_CIRCUIT_CONGESTION",
        38: "NETWORK_OUT_OF_ORDER",
        41: "NORMAL_TEMPORARY_FAILURE",
        42: "SWITCH_CONGESTION",
        43: "ACCESS_INFO_DISCARDED",
        44: "REQUESTED_CHAN_UNAVAIL",
        45: "PRE_EMPTED",
        50: "FACILITY_NOT_SUBSCRIBED",
        52: "OUTGOING_CALL_BARRED",
        54: "INCOMING_CALL_BARRED",
        57: "BEARERCAPABILITY_NOTAUTH",
        58: "BEARERCAPABILITY_NOTAVAIL",
        63: "SERVICE_UNAVAILABLE",
        65: "BEARERCAPABILITY_NOTIMPL",
        66: "CHAN_NOT_IMPLEMENTED",
        69: "FACILITY_NOT_IMPLEMENTED",
        79: "SERVICE_NOT_IMPLEMENTED",
        81: "INVALID_CALL_REFERENCE",
        88: "INCOMPATIBLE_DESTINATION",
        95: "INVALID_MSG_UNSPECIFIED",
        96: "MANDATORY_IE_MISSING",
        97: "MESSAGE_TYPE_NONEXIST",
        98: "WRONG_MESSAGE",
        99: "IE_NONEXIST",
        100: "INVALID_IE_CONTENTS",
        101: "WRONG_CALL_STATE",
        102: "RECOVERY_ON_TIMER_EXPIRE",
        103: "MANDATORY_IE_LENGTH_ERROR",
        111: "PROTOCOL_ERROR",
        127: "INTERWORKING",
    }
)

# BACKGROUND_JOB errors that, without any channel event, mean our own switch refused to
# start the call: the session-rate throttle (measured: DESTINATION_OUT_OF_ORDER and a
# "Throttle Error" log line), and the switch shutting down or being told to stop. A switch
# shutting down answers every originate CHAN_NOT_IMPLEMENTED for about 1.7 s (measured on
# 1.11): its endpoints are already unloaded, and nothing went to a carrier.
SELF_INFLICTED_CAUSES = frozenset(
    {
        "DESTINATION_OUT_OF_ORDER",
        "CHAN_NOT_IMPLEMENTED",
        "SYSTEM_SHUTDOWN",
        "MANAGER_REQUEST",
        "CRASH",
        "LOSE_RACE",
        "ORIGINATOR_CANCEL",
    }
)
_THROTTLE_CAUSE = "DESTINATION_OUT_OF_ORDER"
_SIP_STATUS_MIN, _SIP_STATUS_MAX = 100, 699


def _norm(cause: str | None) -> str:
    return (cause or "").strip().upper()


def _by_sip(status: int | None) -> Outcome | None:
    if status is None:
        return None
    if status in SIP_TABLE:
        return SIP_TABLE[status]
    if 400 <= status <= _SIP_STATUS_MAX:
        # Other 4xx/5xx: the request failed on the way; other 6xx: a global refusal.
        return _O.REJECTED if status >= 600 else _O.CALL_LOSS
    return None


def _channel_less(facts: CallFacts) -> bool:
    # A job error and no hangup cause: no channel event was ever seen for this attempt.
    return not _norm(facts.hangup_cause) and bool(facts.job_error)


def _answered(facts: CallFacts) -> Outcome:
    if _norm(facts.amd_result) == "MACHINE":
        return _O.ANSWERED_MACHINE
    if facts.agent_deadline_missed or (facts.cancelled_by_us and not facts.bridged_to_agent):
        # Dropping an answered call before anyone took it is an abandoned call for the
        # callee, whoever dropped it. NOTSURE goes to an agent like HUMAN does.
        return _O.ABANDONED
    return _O.ANSWERED_HUMAN


def _without_channel(facts: CallFacts) -> Outcome:
    cause = job_error_cause(facts.job_error or "") or ""
    if cause in SELF_INFLICTED_CAUSES or cause not in CAUSE_TABLE:
        # Never dialled: our throttle, our shutdown, or a command the switch refused
        # ("-ERR" text that names no cause, "-USAGE"): nothing reached a carrier.
        return _O.CANCELLED
    # A cause the switch reports before creating a channel, e.g. GATEWAY_DOWN: the trunk's.
    return CAUSE_TABLE[cause]


def _by_cause(facts: CallFacts) -> Outcome:
    cause = _norm(facts.hangup_cause)
    if cause not in CAUSE_TABLE and facts.q850 is not None:
        cause = Q850_CAUSES.get(facts.q850, cause)
    if cause not in CAUSE_TABLE:
        # A cause this table does not know (a newer FreeSWITCH): the SIP status if any, else
        # call loss. It was not the callee's doing, and the trunk's health should show it.
        return _by_sip(facts.sip_status) or _O.CALL_LOSS
    # 200 and 487 say nothing about why an unanswered call ended (487 follows our CANCEL).
    if cause in _REFINED_BY_SIP and facts.sip_status not in (None, 200, 487):
        return _by_sip(facts.sip_status) or CAUSE_TABLE[cause]
    return CAUSE_TABLE[cause]


def classify(facts: CallFacts) -> Outcome:
    """The one outcome of an attempt (see the module docstring for the order of rules)."""
    if facts.answered:
        return _answered(facts)
    if facts.cancelled_by_us:
        return _O.CANCELLED
    if _channel_less(facts):
        return _without_channel(facts)
    return _by_cause(facts)


def is_switch_throttle(facts: CallFacts) -> bool:
    """True when FreeSWITCH's own session-rate throttle refused the originate: a BACKGROUND_JOB
    ``-ERR DESTINATION_OUT_OF_ORDER`` and no channel. Pacing should slow down; nobody else is
    to blame."""
    return (
        not facts.answered
        and _channel_less(facts)
        and job_error_cause(facts.job_error or "") == _THROTTLE_CAUSE
    )


def is_self_inflicted(facts: CallFacts) -> bool:
    """True when our side ended the attempt before the callee or the line had a say: our
    throttle or shutdown, a refused command, or our cancellation before answer. Health
    scoring must not blame the trunk (nor the caller ID) for these."""
    return not facts.answered and classify(facts) is _O.CANCELLED


def counts_against_trunk(outcome: Outcome) -> bool:
    """True for outcomes that are the line's fault (call loss): they lower the trunk's health
    and are re-dialled at once on another trunk. Risk blocks count toward the trunk's ASR like
    every attempt, but not as line failures: a flagged caller ID is not a broken line."""
    return outcome is _O.CALL_LOSS


def counts_as_attempt(outcome: Outcome) -> bool:
    """True for outcomes that count toward a contact's closure limits; Cancelled (never
    dialled, or withdrawn by us before answer) does not."""
    return outcome is not _O.CANCELLED


def is_answered(outcome: Outcome) -> bool:
    """True for the outcomes that count as connected in ASR (接通率)."""
    return outcome in (_O.ANSWERED_HUMAN, _O.ANSWERED_MACHINE, _O.ABANDONED)


def job_error_cause(body: str) -> str | None:
    """The cause named by a BACKGROUND_JOB reply: "-ERR USER_BUSY\\n" -> "USER_BUSY".

    None for "+OK <uuid>" (the call is on its way; its channel events will tell the rest);
    "" for an error that names no cause ("-USAGE: ...", "-ERR" alone). A bare cause name is
    accepted too, so CallFacts.job_error may hold either the body or the cause.
    """
    text = body.strip()
    if text.startswith("+OK"):
        return None
    if text.startswith("-ERR"):
        words = text[len("-ERR") :].split()
    elif text.startswith("-"):
        return ""
    else:
        words = text.split()
    return words[0].upper() if words else ""


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def facts_from_hangup(
    headers: Mapping[str, str],
    *,
    amd_result: str | None = None,
    bridged_to_agent: bool = False,
    agent_deadline_missed: bool = False,
    cancelled_by_us: bool = False,
    job_error: str | None = None,
) -> CallFacts:
    """CallFacts from a CHANNEL_HANGUP_COMPLETE event's headers (URL-decoded), plus what only
    the worker knows. Reads Hangup-Cause, variable_hangup_cause_q850, the SIP status and
    whether the channel was ever answered."""
    sip = _int(headers.get("variable_sip_term_status"))
    if sip is None:
        sip = _int(headers.get("variable_sip_invite_failure_status"))
    if sip is not None and not _SIP_STATUS_MIN <= sip <= _SIP_STATUS_MAX:
        sip = None
    answered_at = _int(headers.get("variable_answer_epoch")) or _int(
        headers.get("Caller-Channel-Answered-Time")
    )
    answered = bool(answered_at) or headers.get("variable_endpoint_disposition") == "ANSWER"
    return CallFacts(
        hangup_cause=headers.get("Hangup-Cause") or headers.get("variable_hangup_cause"),
        q850=_int(headers.get("variable_hangup_cause_q850")),
        sip_status=sip,
        answered=answered,
        amd_result=amd_result,
        bridged_to_agent=bridged_to_agent,
        agent_deadline_missed=agent_deadline_missed,
        job_error=job_error,
        cancelled_by_us=cancelled_by_us,
    )
