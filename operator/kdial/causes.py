"""Cause classes: why an attempt failed, in the few kinds that say different things about a line.

Line health judges each class against its own baseline on the other trunks
(`kdial.routing.health`): a class that is rare on healthy lines is conclusive in a few
attempts, and a line that fails every call with one cause is down. The classes:

- `CONGESTION`: SIP 503, and the Q.850 congestion causes (34, 41, 42, 44) that sofia reports
  for it: the carrier is overloaded or out of capacity.
- `TIMEOUT`: SIP 408, Q.850 102 (RECOVERY_ON_TIMER_EXPIRE, which sofia gives 408 and a far
  end that never answered the INVITE), and the switch's own progress and media timers.
- `SERVER_ERROR`: every other SIP 5xx (500, 502, 504, ...) and Q.850 38 and 79.
- `FORBIDDEN`: SIP 403 and 603 (how carriers' risk control, 风控, refuses calls), 608, the
  caller-identity refusals (428, 436-438), and the barring causes (Q.850 21, 52, 54).
- `UNALLOCATED`: SIP 404, 484, 410, 485, 604: the carrier says the number does not exist
  (Q.850 1, 3, 22, 28). On one trunk alone it is the route, not the list.
- `OTHER`: every other line failure (call loss): 488, authentication, protocol errors, a gateway
  down.

An attempt has no class when it was answered, ended by the callee's doing (busy, no answer,
unreachable), or was ours (our throttle, our cancellation, our shutdown): those say nothing
about the line's failures. A 503 that our own pace provoked is not counted at all (the worker
counts it as self-inflicted before a class is asked for).

The SIP status decides when there is one (FreeSWITCH folds several statuses into one cause:
sofia maps 400, 481, 500 and 503 all to NORMAL_TEMPORARY_FAILURE); the hangup cause (or the
bare Q.850 code) otherwise; the outcome's kind last.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from kdial.outcomes import Q850_CAUSES, CallFacts, Outcome, classify, job_error_cause

__all__ = ["CAUSE_CLASSES", "CLASSES", "SIP_CLASSES", "CauseClass", "cause_class"]


class CauseClass(StrEnum):
    """The kind of failure an attempt ended with."""

    CONGESTION = "congestion"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server-error"
    FORBIDDEN = "forbidden"
    UNALLOCATED = "unallocated"
    OTHER = "other"


#: Every class, in the order counts are kept per class (`health.Observation.causes`).
CLASSES: tuple[CauseClass, ...] = tuple(CauseClass)

_C = CauseClass

SIP_CLASSES: Mapping[int, CauseClass] = MappingProxyType(
    {
        503: _C.CONGESTION,
        408: _C.TIMEOUT,
        403: _C.FORBIDDEN,
        603: _C.FORBIDDEN,
        607: _C.FORBIDDEN,
        608: _C.FORBIDDEN,
        428: _C.FORBIDDEN,
        436: _C.FORBIDDEN,
        437: _C.FORBIDDEN,
        438: _C.FORBIDDEN,
        404: _C.UNALLOCATED,
        484: _C.UNALLOCATED,
        410: _C.UNALLOCATED,
        485: _C.UNALLOCATED,
        604: _C.UNALLOCATED,
    }
)
"""SIP final responses with a class of their own; other 5xx are `SERVER_ERROR`, other
failures `OTHER`."""

CAUSE_CLASSES: Mapping[str, CauseClass] = MappingProxyType(
    {
        "NORMAL_TEMPORARY_FAILURE": _C.CONGESTION,  # 41: sofia's cause for 503 (measured)
        "NORMAL_CIRCUIT_CONGESTION": _C.CONGESTION,  # 34
        "SWITCH_CONGESTION": _C.CONGESTION,  # 42
        "REQUESTED_CHAN_UNAVAIL": _C.CONGESTION,  # 44: the trunk's channels are all in use
        "RECOVERY_ON_TIMER_EXPIRE": _C.TIMEOUT,  # 102: SIP 408 and 504, or no reply at all
        "PROGRESS_TIMEOUT": _C.TIMEOUT,
        "MEDIA_TIMEOUT": _C.TIMEOUT,
        "NETWORK_OUT_OF_ORDER": _C.SERVER_ERROR,  # 38: SIP 502
        "SERVICE_NOT_IMPLEMENTED": _C.SERVER_ERROR,  # 79: SIP 501
        "CALL_REJECTED": _C.FORBIDDEN,  # 21: SIP 403 and 603
        "DECLINE": _C.FORBIDDEN,
        "UNWANTED": _C.FORBIDDEN,
        "OUTGOING_CALL_BARRED": _C.FORBIDDEN,  # 52
        "INCOMING_CALL_BARRED": _C.FORBIDDEN,  # 54
        "NO_IDENTITY": _C.FORBIDDEN,
        "BAD_IDENTITY_INFO": _C.FORBIDDEN,
        "UNSUPPORTED_CERTIFICATE": _C.FORBIDDEN,
        "INVALID_IDENTITY": _C.FORBIDDEN,
        "STALE_DATE": _C.FORBIDDEN,
        "UNALLOCATED_NUMBER": _C.UNALLOCATED,  # 1: SIP 404
        "NO_ROUTE_DESTINATION": _C.UNALLOCATED,  # 3: SIP 485, 604
        "NUMBER_CHANGED": _C.UNALLOCATED,  # 22: SIP 410
        "INVALID_NUMBER_FORMAT": _C.UNALLOCATED,  # 28: SIP 484
        "DOES_NOT_EXIST_ANYWHERE": _C.UNALLOCATED,
    }
)
"""FreeSWITCH hangup causes with a class of their own, for attempts without a SIP status."""

# The outcomes that are failures of the call (not the callee's doing, not ours), and the class
# of the ones nothing else names.
_FAILURES: Mapping[Outcome, CauseClass] = MappingProxyType(
    {
        Outcome.CALL_LOSS: _C.OTHER,
        Outcome.RISK_BLOCKED: _C.FORBIDDEN,
        Outcome.REJECTED: _C.FORBIDDEN,
        Outcome.INVALID_NUMBER: _C.UNALLOCATED,
    }
)
_SIP_SERVER_ERRORS = range(500, 600)
# 200 and 487 say nothing about why an unanswered call failed (487 follows a CANCEL: ours, or
# the switch's own timer's).
_SILENT_STATUSES = (200, 487)


def cause_class(facts: CallFacts) -> CauseClass | None:
    """The class of an attempt's failure; None when it was answered, the callee's doing, or
    ours (see the module docstring)."""
    fallback = _FAILURES.get(classify(facts))
    if fallback is None:
        return None
    status = facts.sip_status
    if status is not None and status not in _SILENT_STATUSES:
        if status in SIP_CLASSES:
            return SIP_CLASSES[status]
        # Other 5xx are the far end's servers failing; other failures (401, 488, ...) are
        # named by no cause better than by the outcome (sofia calls 401 CALL_REJECTED too).
        return _C.SERVER_ERROR if status in _SIP_SERVER_ERRORS else fallback
    cause = (facts.hangup_cause or job_error_cause(facts.job_error or "") or "").strip().upper()
    if cause not in CAUSE_CLASSES and facts.q850 is not None:
        cause = Q850_CAUSES.get(facts.q850, cause)
    return CAUSE_CLASSES.get(cause, fallback)
