"""Which changes of a campaign's status become Events: news, not every pass."""

from __future__ import annotations

from typing import Any

from kdial.api.campaign import CampaignState
from kdial_operator.campaign_events import Announcement, announcement
from kdial_operator.campaign_status import Blocker, Facts, decide
from kdial_operator.dataplane import Ledger

NOT_FOUND = Blocker(
    "ReferenceNotFound", "ContactList 'leads' not found in namespace 'ns'", "Waiting"
)
SECRET = Blocker(
    "SecretNotFound",
    "Secret 'kdial-esl' with key 'password', which worker pods read, not found in namespace "
    "'ns': the Helm chart writes it into its release namespace and each of watchNamespaces",
    "Waiting",
)


def status(attempts: int = 0, **facts: Any) -> dict[str, Any]:
    """Status as the reconciler writes it, from the facts one pass saw."""
    base: dict[str, Any] = {
        "blocker": None,
        "state": CampaignState.RUNNING,
        "ledger": Ledger(total=24, pending=20, due_now=0, in_flight=0, closed=4, has_epoch=True),
        "workers_ready": 1,
        "schedule_hold": None,
    }
    conditions, summary = decide(Facts(**(base | facts)))
    return {
        "summary": summary,
        "conditions": [
            {"type": c.type, "status": c.status_text, "reason": c.reason, "message": c.message}
            for c in conditions
        ],
        "toDate": {"attempts": attempts},
    }


def due(in_flight: int = 0) -> Ledger:
    """Contacts due now, some of them in calls."""
    return Ledger(total=24, pending=20, due_now=5, in_flight=in_flight, closed=4, has_epoch=True)


def dialing(in_flight: int, attempts: int = 0) -> dict[str, Any]:
    return status(attempts, ledger=due(in_flight))


def test_a_new_cause_under_the_same_summary_word_is_announced() -> None:
    event = announcement(status(blocker=NOT_FOUND), status(blocker=SECRET))

    assert event == Announcement(True, "Waiting", SECRET.message)


def test_a_new_culprit_of_the_same_reason_is_announced() -> None:
    pool = Blocker("ReferenceNotFound", "TrunkPool 'lines' not found in namespace 'ns'", "Waiting")

    event = announcement(status(blocker=NOT_FOUND), status(blocker=pool))

    assert event is not None and event.message == pool.message


def test_details_after_the_culprit_are_no_news() -> None:
    """A campaign waiting for a list that is importing: the progress moves every pass."""

    def importing(done: int) -> Blocker:
        message = f"ContactList 'leads' is not Ready: {done} contacts imported so far"
        return Blocker("ReferenceNotReady", message, "Waiting")

    assert announcement(status(blocker=importing(100)), status(blocker=importing(900))) is None
    assert announcement(status(blocker=SECRET), status(blocker=SECRET)) is None


def test_a_change_of_summary_word_is_announced_with_the_deciding_message() -> None:
    paused = status(state=CampaignState.PAUSED)

    assert announcement(dialing(3, attempts=10), paused) == Announcement(
        False, "Paused", "spec.state is Paused"
    )
    assert announcement({}, status(blocker=SECRET)) == Announcement(True, "Waiting", SECRET.message)


def test_routine_moves_of_a_campaign_that_has_called_are_no_events() -> None:
    idle = status(attempts=40)
    starting = status(attempts=40, workers_ready=0, ledger=due())
    done = status(
        attempts=40,
        ledger=Ledger(total=24, pending=0, due_now=0, in_flight=0, closed=24, has_epoch=True),
    )
    assert (idle["summary"], starting["summary"]) == ("Idle", "Starting")

    assert announcement(dialing(3, attempts=40), idle) is None
    assert announcement(idle, starting) is None
    assert announcement(starting, dialing(1, attempts=40)) is None
    assert announcement(idle, dialing(1, attempts=40)) is None
    assert announcement(dialing(3, attempts=40), done) == Announcement(
        False, "Completed", "every contact is closed"
    )


def test_the_first_dialing_of_a_campaign_is_announced() -> None:
    starting = status(
        workers_ready=0,
        ledger=Ledger(total=24, pending=24, due_now=24, in_flight=0, closed=0, has_epoch=True),
    )
    assert starting["summary"] == "Starting"

    assert announcement(starting, dialing(2)) == Announcement(False, "Dialing", "2 calls in flight")
    assert announcement(dialing(2), dialing(5)) is None, "a count that moves is no news"
