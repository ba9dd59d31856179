"""Why a campaign's contacts wait, as status says it: the counts read back, the breakdown and
the Dialing condition's sentence."""

from __future__ import annotations

from datetime import UTC, datetime

from kdial.api.campaign import CampaignState
from kdial.state.waits import Waits, ZoneWait, window
from kdial_operator.campaign_events import announcement
from kdial_operator.campaign_status import Facts, decide
from kdial_operator.campaign_waiting import breakdown, explanation
from kdial_operator.dataplane import Ledger

#: 2026-12-07 09:00 in Shanghai (01:00 UTC), as stored: a contact falls due a few ms after.
SHANGHAI_OPENS_MS = int(datetime(2026, 12, 7, 1, 0, tzinfo=UTC).timestamp() * 1000) + 7
NOW_MS = SHANGHAI_OPENS_MS - 6 * 3_600_000


def test_waits_read_back_leave_out_reasons_whose_every_wait_has_ended() -> None:
    counts = {window(["Asia/Shanghai"]): "12", "retry": "3", "cap": "2", "suppressed": "4"}
    ends = {
        window(["Asia/Shanghai"]): str(SHANGHAI_OPENS_MS),
        "retry": str(NOW_MS + 60_000),
        "cap": str(NOW_MS - 1),  # its contacts are due now, merely not claimed yet
    }
    waits = Waits.decode(counts, ends, NOW_MS)
    assert waits == Waits(
        windows=(ZoneWait("Asia/Shanghai", 12, SHANGHAI_OPENS_MS),),
        retry=3,
        suppressed=4,
    )


def test_windows_are_listed_soonest_first() -> None:
    later, sooner = window(["America/New_York"]), window(["Asia/Shanghai"])
    counts = {later: "1", sooner: "2"}
    ends = {later: str(SHANGHAI_OPENS_MS + 3_600_000), sooner: str(SHANGHAI_OPENS_MS)}
    zones = [w.zones for w in Waits.decode(counts, ends, NOW_MS).windows]
    assert zones == ["Asia/Shanghai", "America/New_York"]


def test_each_zone_opens_in_its_own_offset() -> None:
    new_york_ms = int(datetime(2026, 12, 7, 14, 0, tzinfo=UTC).timestamp() * 1000) - 4
    waits = Waits(
        windows=(
            ZoneWait("Asia/Shanghai", 12, SHANGHAI_OPENS_MS),
            ZoneWait("America/New_York", 1, new_york_ms),
            ZoneWait("America/Chicago,America/Denver", 2, new_york_ms + 3_600_000),
        )
    )
    waiting = breakdown(waits)
    assert waiting.window == 15
    assert [(w.time_zone, w.contacts, w.opens_at) for w in waiting.windows] == [
        ("Asia/Shanghai", 12, "2026-12-07T09:00:00+08:00"),
        ("America/New_York", 1, "2026-12-07T09:00:00-05:00"),
        ("America/Chicago,America/Denver", 2, "2026-12-07T09:00:00-06:00"),
    ]


def test_the_sentence_says_what_each_contact_waits_for() -> None:
    waits = Waits(windows=(ZoneWait("Asia/Shanghai", 12, SHANGHAI_OPENS_MS),), retry=3)
    assert explanation(breakdown(waits)) == (
        "12 contacts wait for their calling window "
        "(Asia/Shanghai opens 2026-12-07T09:00:00+08:00), 3 for a retry delay"
    )
    assert explanation(breakdown(Waits(retry=1, trunk=2))) == (
        "1 contact waits for a retry delay, 2 for a trunk in service"
    )
    assert explanation(breakdown(Waits(cap=2))) == (
        "2 contacts wait for a dial permit (a trunk or caller ID at its cap)"
    )
    one = Waits(windows=(ZoneWait("Asia/Shanghai", 1, SHANGHAI_OPENS_MS),))
    assert explanation(breakdown(one)).startswith("1 contact waits for its calling window (")
    assert explanation(breakdown(Waits(suppressed=5))) == "", "suppressed contacts do not wait"


def test_held_contacts_are_told_apart_with_what_to_do() -> None:
    assert explanation(breakdown(Waits(held=1))) == (
        "1 contact held with no time to call it: no time zone known "
        "(set spec.schedule.fallbackTimeZone), or no window open in all of its zones"
    )
    assert explanation(breakdown(Waits(retry=2, held=4))).startswith(
        "2 contacts wait for a retry delay; 4 held with no time to call them: "
    )


def test_the_sentence_names_three_zones_and_counts_the_rest() -> None:
    zones = ("Asia/Shanghai", "Asia/Tokyo", "Europe/Paris", "America/New_York")
    waits = Waits(windows=tuple(ZoneWait(z, 1, SHANGHAI_OPENS_MS + i) for i, z in enumerate(zones)))
    sentence = explanation(breakdown(waits))
    assert sentence.startswith("4 contacts wait for their calling window (Asia/Shanghai opens ")
    assert "Europe/Paris opens 2026-12-07T02:00:00+01:00, and 1 more zone)" in sentence
    assert "America/New_York" not in sentence


def facts(ledger: Ledger, workers_ready: int = 1) -> Facts:
    return Facts(None, CampaignState.RUNNING, ledger, workers_ready, None)


def dialing_message(ledger: Ledger) -> str:
    conditions, _ = decide(facts(ledger))
    return next(c.message for c in conditions if c.type == "Dialing")


WAITING = Waits(windows=(ZoneWait("Asia/Shanghai", 12, SHANGHAI_OPENS_MS),), retry=3)


def test_an_idle_campaign_says_why_its_contacts_wait() -> None:
    idle = Ledger(total=20, pending=15, due_now=0, in_flight=0, closed=5, has_epoch=True)
    assert dialing_message(idle) == "no contact is due now"
    assert dialing_message(Ledger(**(vars(idle) | {"waits": WAITING}))) == (
        "no contact is due now: 12 contacts wait for their calling window "
        "(Asia/Shanghai opens 2026-12-07T09:00:00+08:00), 3 for a retry delay"
    )


def test_a_dialing_campaign_says_what_waits_besides_its_calls() -> None:
    busy = Ledger(
        total=20, pending=15, due_now=0, in_flight=1, closed=5, has_epoch=True, waits=Waits(retry=3)
    )
    assert dialing_message(busy) == "1 call in flight; 3 contacts wait for a retry delay"


def test_the_completed_condition_counts_contacts_closed_by_do_not_call() -> None:
    done = Ledger(
        total=24, pending=0, due_now=0, in_flight=0, closed=24, has_epoch=True,
        waits=Waits(suppressed=1),
    )  # fmt: skip
    conditions, _ = decide(facts(done))
    completed = next(c for c in conditions if c.type == "Completed")
    assert completed.message == "24 of 24 contacts closed, 1 of them by do-not-call"


def test_counts_that_move_while_a_campaign_waits_are_no_events() -> None:
    """A person acts when the campaign goes idle and learns why; not on every count after."""

    def status(ledger: Ledger, workers_ready: int = 1) -> dict[str, object]:
        conditions, summary = decide(facts(ledger, workers_ready))
        return {
            "summary": summary,
            "conditions": [
                {"type": c.type, "status": c.status_text, "reason": c.reason, "message": c.message}
                for c in conditions
            ],
            "toDate": {"attempts": 0},
        }

    starting = status(
        Ledger(total=20, pending=20, due_now=20, in_flight=0, closed=0, has_epoch=True), 0
    )
    idle = Ledger(
        total=20, pending=20, due_now=0, in_flight=0, closed=0, has_epoch=True, waits=WAITING
    )
    fewer = Ledger(**(vars(idle) | {"waits": Waits(windows=WAITING.windows, retry=2)}))
    went_idle = announcement(starting, status(idle))
    assert (
        went_idle is not None and "12 contacts wait for their calling window" in went_idle.message
    )
    assert announcement(status(idle), status(fewer)) is None
