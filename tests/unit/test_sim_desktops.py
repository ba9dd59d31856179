"""What a simulated desktop sends (pure): a disposition the campaign declares, its tokens."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from kdial_sim.desktops import choose, read_tokens

NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
DECLARED = {
    "codes": [
        {"code": "Sale", "closesContact": True, "callBack": False},
        {"code": "CallBack", "closesContact": False, "callBack": True},
    ],
    "fields": [
        {"name": "interested", "type": "Boolean", "required": True},
        {"name": "units", "type": "Integer", "required": True},
        {"name": "amount", "type": "Decimal", "required": True},
        {"name": "renewal", "type": "Date", "required": True},
        {"name": "name", "type": "String", "required": True},
        {"name": "note", "type": "String", "required": False},
    ],
}


def test_a_code_of_the_campaign_with_every_required_field_filled_by_its_type() -> None:
    rng = random.Random(1)
    bodies = [choose(DECLARED, rng, NOW, timedelta(hours=1)) for _ in range(40)]
    assert {b["code"] for b in bodies} == {"Sale", "CallBack"}
    for body in bodies:
        assert body["fields"] == {
            "interested": True,
            "units": 1,
            "amount": "1.00",
            "renewal": "2026-07-01",
            "name": "simulated",
        }
        wanted = {"callBackAt": "2026-07-01T11:00:00+00:00"} if body["code"] == "CallBack" else {}
        assert {k: v for k, v in body.items() if k == "callBackAt"} == wanted


def test_a_campaign_without_codes_gets_none() -> None:
    assert choose({"codes": [], "fields": []}, random.Random(0), NOW, timedelta(0)) == {
        "fields": {}
    }


def test_tokens_are_agent_equals_token_lines() -> None:
    assert read_tokens("# floor\n\nana=t1\n bo = t2 \n") == {"ana": "t1", "bo": "t2"}
    with pytest.raises(ValueError, match="line 2: want agent=token"):
        read_tokens("ana=t1\nbo\n")
