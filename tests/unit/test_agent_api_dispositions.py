"""A disposition judged against the campaign's codes, fields and closure rule (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kdial.api.campaign import CampaignSpec
from kdial.state.history import ContactHistory
from kdial_api import requests
from kdial_api.dispositions import Effect, Refused, Verdict, judge

NOW = 1_780_000_000_000
DAY = 86_400_000
ONE_CALL: ContactHistory = {"attempts": 1, "first": NOW - 60_000, "outcomes": {}}


def campaign(**overrides: Any) -> CampaignSpec:
    return CampaignSpec.model_validate(
        {
            "mode": "Predictive",
            "contactListRef": {"name": "leads"},
            "trunkPoolRefs": [{"name": "lines"}],
            "callerIdPoolRef": {"name": "ids"},
            "dispositions": {
                "codes": [
                    {"code": "Sale", "closesContact": True},
                    {"code": "NotNow", "retryDelayMinutes": 30},
                    {"code": "CallBack", "callBack": True},
                ],
                "fields": [
                    {"name": "interested", "type": "Boolean", "required": True},
                    {"name": "amount", "type": "Decimal"},
                    {"name": "units", "type": "Integer"},
                    {"name": "renewal", "type": "Date"},
                    {"name": "note"},
                ],
            },
        }
        | overrides
    )


def body(**fields: Any) -> requests.Disposition:
    data = {"fields": {"interested": True}} | fields
    return requests.Disposition.model_validate(data)


def at(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def test_a_closing_code_closes_and_keeps_the_typed_fields() -> None:
    fields = {"interested": True, "amount": 129.5, "units": 2, "renewal": "2026-07-31"}
    verdict = judge(body(code="Sale", fields=fields), campaign(), ONE_CALL, NOW)
    assert verdict == Verdict(
        "Sale",
        {"interested": True, "amount": "129.5", "units": 2, "renewal": "2026-07-31"},
        Effect.CLOSE,
    )


def test_a_code_that_neither_closes_nor_calls_back_retries_after_its_delay() -> None:
    verdict = judge(body(code="NotNow"), campaign(), ONE_CALL, NOW)
    assert (verdict.effect, verdict.due_ms, verdict.call_back_ms) == (
        Effect.DUE,
        NOW + 30 * 60_000,
        None,
    )


def test_a_retry_the_closure_rule_forbids_closes_instead() -> None:
    spent: ContactHistory = {"attempts": 3, "first": NOW - DAY}
    assert judge(body(code="NotNow"), campaign(), spent, NOW).effect is Effect.CLOSE
    short = campaign(retry={"closure": {"maxAttempts": 5, "withinDays": 1}})
    assert judge(body(code="NotNow"), short, spent, NOW).effect is Effect.CLOSE


def test_a_call_back_is_due_when_the_agent_said() -> None:
    when = NOW + 3_600_000
    verdict = judge(body(code="CallBack", callBackAt=at(when)), campaign(), ONE_CALL, NOW)
    assert (verdict.effect, verdict.due_ms, verdict.call_back_ms) == (Effect.DUE, when, when)


@pytest.mark.parametrize(
    ("history", "spec", "says"),
    [
        pytest.param(
            {"attempts": 3, "first": NOW},
            campaign(),
            "the contact has had 3 attempts, all the closure rule allows "
            "(spec.retry.closure.maxAttempts 3)",
            id="no-attempts-left",
        ),
        pytest.param(
            {"attempts": 1, "first": NOW - DAY + 1000},
            campaign(retry={"closure": {"withinDays": 1}}),
            "the closure rule finishes the contact 1 days after its first attempt",
            id="past-within-days",
        ),
    ],
)
def test_a_call_back_the_closure_rule_forbids_is_refused(
    history: ContactHistory, spec: CampaignSpec, says: str
) -> None:
    with pytest.raises(Refused) as refused:
        judge(body(code="CallBack", callBackAt=at(NOW + 3_600_000)), spec, history, NOW)
    assert refused.value.status == 409 and says in str(refused.value)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"code": "Won"}, "code: 'Won' is not one of CallBack, NotNow, Sale"),
        ({}, "code: choose one of CallBack, NotNow, Sale"),
        ({"code": "Sale", "fields": {}}, "fields.interested: required"),
        ({"code": "Sale", "fields": {"interested": "yes"}}, "fields.interested: true or false"),
        (
            {"code": "Sale", "fields": {"interested": True, "units": 1.5}},
            "fields.units: an integer",
        ),
        (
            {"code": "Sale", "fields": {"interested": True, "units": True}},
            "fields.units: an integer",
        ),
        (
            {"code": "Sale", "fields": {"interested": True, "amount": "1e9"}},
            "fields.amount: a decimal",
        ),
        (
            {"code": "Sale", "fields": {"interested": True, "renewal": "31/07/2026"}},
            "fields.renewal: a date, YYYY-MM-DD",
        ),
        (
            {"code": "Sale", "fields": {"interested": True, "note": "x" * 1025}},
            "fields.note: a string of at most 1024 characters",
        ),
        (
            {"code": "Sale", "fields": {"interested": True, "phone": "13800138101"}},
            "fields.phone: not a disposition field (declared: amount, interested, note, "
            "renewal, units)",
        ),
        ({"code": "Sale", "callBackAt": at(NOW + 1000)}, "callBackAt: code 'Sale' asks for no"),
        ({"code": "CallBack"}, "callBackAt: code 'CallBack' asks for a call-back: say when"),
        (
            {"code": "CallBack", "callBackAt": at(NOW - 1000)},
            "callBackAt: a call-back must be in the future",
        ),
    ],
)
def test_what_the_campaign_does_not_declare_is_refused_saying_what_to_change(
    data: dict[str, Any], says: str
) -> None:
    with pytest.raises(Refused) as refused:
        judge(body(**data), campaign(), ONE_CALL, NOW)
    assert refused.value.status == 400 and says in str(refused.value)


def test_a_campaign_without_codes_takes_none_and_leaves_the_contact_be() -> None:
    bare = campaign(dispositions={})
    assert judge(requests.Disposition(), bare, ONE_CALL, NOW) == Verdict(None, {}, Effect.KEEP)
    with pytest.raises(Refused, match="declares no disposition codes; send none"):
        judge(requests.Disposition(code="Sale"), bare, ONE_CALL, NOW)


def test_a_call_back_time_without_an_offset_is_a_bad_request() -> None:
    with pytest.raises(requests.BadRequest, match="callBackAt"):
        requests.parse(
            requests.Disposition, b'{"code": "CallBack", "callBackAt": "2026-01-01T10:00"}'
        )
