"""Judging a disposition against the campaign that declared its codes and fields (pure): what
is stored, and what follows for the contact. A refusal says what to change and nothing is
written."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from kdial.api.campaign import CampaignSpec, DispositionField
from kdial.api.meta import FieldType
from kdial.closure import deadline_ms
from kdial.state.contact import FieldValue
from kdial.state.history import ContactHistory
from kdial_api.requests import Disposition

__all__ = ["Effect", "Refused", "Verdict", "judge"]

#: Longest String value a disposition field keeps.
MAX_STRING = 1024
_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,6})?")
#: Codes named in a refusal, at most.
_LISTED = 12
_MINUTE_MS = 60_000


class Refused(ValueError):
    """A disposition the campaign does not allow; `status` 400 for what the body says, 409
    for what the contact's state forbids."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class Effect(StrEnum):
    CLOSE = "close"
    DUE = "due"
    """Due again at `Verdict.due_ms`."""
    KEEP = "keep"
    """The contact stays where the call's outcome put it (a campaign without codes)."""


@dataclass(frozen=True)
class Verdict:
    code: str | None
    fields: dict[str, FieldValue] = field(default_factory=dict)
    effect: Effect = Effect.KEEP
    due_ms: int | None = None
    call_back_ms: int | None = None
    """When the agent asked for a call-back, if they did."""


def judge(body: Disposition, spec: CampaignSpec, history: ContactHistory, now_ms: int) -> Verdict:
    """The disposition `body` as the campaign `spec` allows it, for a contact whose ledger
    history is `history` (after the call), at `now_ms`; raises `Refused` otherwise."""
    declared = spec.dispositions
    codes = {c.code: c for c in declared.codes}
    if body.code is None and codes:
        raise Refused(400, f"code: choose one of {_listing(codes)}")
    if body.code is not None and body.code not in codes:
        if not codes:
            raise Refused(400, "code: the campaign declares no disposition codes; send none")
        raise Refused(400, f"code: {body.code!r} is not one of {_listing(codes)}")
    fields = _fields(body, declared.fields)
    code = codes.get(body.code) if body.code is not None else None
    if (code is None or not code.call_back) and body.call_back_at is not None:
        raise Refused(400, f"callBackAt: code {body.code!r} asks for no call-back")
    if code is None:
        return Verdict(None, fields, Effect.KEEP)
    if code.closes_contact:
        return Verdict(code.code, fields, Effect.CLOSE)
    if not code.call_back:
        due = now_ms + code.retry_delay_minutes * _MINUTE_MS
        if _attempts_left(spec, history) and not _past_deadline(spec, history, due, now_ms):
            return Verdict(code.code, fields, Effect.DUE, due)
        return Verdict(code.code, fields, Effect.CLOSE)
    if body.call_back_at is None:
        raise Refused(400, f"callBackAt: code {code.code!r} asks for a call-back: say when")
    at_ms = int(body.call_back_at.timestamp() * 1000)
    if at_ms <= now_ms:
        raise Refused(400, "callBackAt: a call-back must be in the future")
    _call_back_allowed(spec, history, at_ms, now_ms)
    return Verdict(code.code, fields, Effect.DUE, at_ms, call_back_ms=at_ms)


def _attempts_left(spec: CampaignSpec, history: ContactHistory) -> bool:
    return int(history.get("attempts", 0)) < spec.retry.closure.max_attempts


def _past_deadline(spec: CampaignSpec, history: ContactHistory, at_ms: int, now: int) -> bool:
    deadline = deadline_ms(history, spec.retry, now)
    return deadline is not None and at_ms >= deadline


def _listing(codes: Iterable[str]) -> str:
    names = sorted(codes)
    more = f" (and {len(names) - _LISTED} more)" if len(names) > _LISTED else ""
    return ", ".join(names[:_LISTED]) + more


def _call_back_allowed(spec: CampaignSpec, history: ContactHistory, at_ms: int, now: int) -> None:
    closure = spec.retry.closure
    if not _attempts_left(spec, history):
        raise Refused(
            409,
            f"the contact has had {history.get('attempts', 0)} attempts, all the closure rule "
            f"allows (spec.retry.closure.maxAttempts {closure.max_attempts}): choose a code "
            "without a call-back",
        )
    if _past_deadline(spec, history, at_ms, now):
        raise Refused(
            409,
            f"the closure rule finishes the contact {closure.within_days} days after its first "
            "attempt (spec.retry.closure.withinDays), before that call-back: choose an "
            "earlier time",
        )


def _fields(body: Disposition, declared: list[DispositionField]) -> dict[str, FieldValue]:
    by_name = {f.name: f for f in declared}
    unknown = sorted(set(body.fields) - set(by_name))
    if unknown:
        allowed = ", ".join(sorted(by_name)) or "none"
        raise Refused(400, f"fields.{unknown[0]}: not a disposition field (declared: {allowed})")
    missing = [f.name for f in declared if f.required and f.name not in body.fields]
    if missing:
        raise Refused(400, f"fields.{missing[0]}: required")
    return {name: _typed(by_name[name], value) for name, value in body.fields.items()}


def _typed(spec: DispositionField, value: str | bool | int | float) -> FieldValue:
    where = f"fields.{spec.name}"
    match spec.type:
        case FieldType.STRING if isinstance(value, str) and len(value) <= MAX_STRING:
            return value
        case FieldType.INTEGER if isinstance(value, int) and not isinstance(value, bool):
            return value
        case FieldType.BOOLEAN if isinstance(value, bool):
            return value
        case FieldType.DECIMAL if _decimal(value):
            return str(value)
        case FieldType.DATE if isinstance(value, str) and _date(value):
            return value
    raise Refused(400, f"{where}: {_WANTED[spec.type]}")


def _decimal(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        value = str(value)
    return isinstance(value, str) and _DECIMAL.fullmatch(value) is not None


def _date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == len("2026-07-31")


_WANTED = {
    FieldType.STRING: f"a string of at most {MAX_STRING} characters",
    FieldType.INTEGER: "an integer",
    FieldType.BOOLEAN: "true or false",
    FieldType.DECIMAL: 'a decimal such as "129.50" (at most 15 digits, 6 after the point)',
    FieldType.DATE: "a date, YYYY-MM-DD",
}
