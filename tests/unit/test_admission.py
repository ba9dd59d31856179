"""`kdial.admission`: what keeps a claimed contact from being dialled now, as the worker and the
agent API both judge it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kdial.admission import HELD_SECONDS, NO_OPENING_SECONDS, Undialled, decoded, refusal
from kdial.api.campaign import CampaignSpec
from kdial.state.contact import Contact
from kdial.state.history import ContactHistory
from kdial.state.waits import Wait, window
from tests.support.world import campaign_spec

#: 10:00 in Shanghai (UTC+8), a Monday.
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
SHANGHAI = Contact("+8613800000000", time_zones=("Asia/Shanghai",))
DAY_MS = 86_400_000


def spec(**overrides: Any) -> CampaignSpec:
    return CampaignSpec.model_validate(campaign_spec(**overrides))


def windows(start: str, end: str) -> dict[str, Any]:
    return {"windows": [{"start": start, "end": end}]}


def judge(
    contact: Contact = SHANGHAI,
    *,
    suppressed: bool = False,
    history: ContactHistory | None = None,
    campaign: CampaignSpec | None = None,
) -> Undialled | None:
    return refusal(
        contact,
        suppressed=suppressed,
        history=history or {},
        spec=campaign or spec(schedule=windows("09:00", "21:00")),
        now=NOW,
    )


def test_a_record_without_a_dialable_number_is_closed() -> None:
    closed = Undialled("InvalidNumber", close=True)
    assert decoded("not json") == closed
    assert decoded(Contact("13800000000").encode()) == closed
    assert decoded(SHANGHAI.encode()) == SHANGHAI


def test_a_contact_inside_its_window_may_be_dialled() -> None:
    assert judge() is None


def test_a_number_on_a_do_not_call_list_is_closed_whatever_its_window() -> None:
    assert judge(suppressed=True) == Undialled("Suppressed", close=True)


def test_a_contact_past_its_closure_days_is_closed() -> None:
    campaign = spec(schedule=windows("09:00", "21:00"), retry={"closure": {"withinDays": 2}})
    now_ms = int(NOW.timestamp() * 1000)
    assert judge(history={"first": now_ms - 3 * DAY_MS}, campaign=campaign) == Undialled(
        "ClosureExpired", close=True
    )
    assert judge(history={"first": now_ms - DAY_MS}, campaign=campaign) is None


def test_a_contact_outside_its_window_waits_until_it_opens_in_its_own_time() -> None:
    refused = judge(campaign=spec(schedule=windows("11:30", "21:00")))
    assert refused == Undialled("OutsideWindow", delay=5400, wait=window(["Asia/Shanghai"]))
    # At the same instant it is 18:00 in Los Angeles: inside the window.
    los_angeles = Contact("+12132345600", time_zones=("America/Los_Angeles",))
    assert judge(los_angeles, campaign=spec(schedule=windows("11:30", "21:00"))) is None


def test_a_contact_with_no_time_zone_is_held_not_dialled() -> None:
    unknown = Contact("+8613800000000")
    assert judge(unknown) == Undialled("NoTimeZone", delay=HELD_SECONDS, wait=Wait.HELD)
    fallback = spec(schedule=windows("09:00", "21:00") | {"fallbackTimeZone": "Asia/Shanghai"})
    assert judge(unknown, campaign=fallback) is None


def test_zones_whose_windows_never_meet_hold_the_contact() -> None:
    both = Contact("+8613800000000", time_zones=("Asia/Shanghai", "America/Los_Angeles"))
    refused = judge(both, campaign=spec(schedule=windows("09:00", "11:00")))
    assert refused == Undialled("OutsideWindow", delay=NO_OPENING_SECONDS, wait=Wait.HELD)
