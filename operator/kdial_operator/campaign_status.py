"""A campaign's conditions and summary word, decided from observed facts (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kdial.api.campaign import CallStats, CampaignState, Progress, Waiting
from kdial.api.conditions import Cond
from kdial.plural import plural
from kdial.state.counters import CampaignCounts
from kdial_operator import campaign_waiting
from kdial_operator.dataplane import Ledger


@dataclass(frozen=True)
class Blocker:
    """Why a campaign cannot be Ready: the condition reason and a message naming the culprit."""

    reason: str
    message: str
    summary: str


@dataclass(frozen=True)
class Facts:
    blocker: Blocker | None
    state: CampaignState
    ledger: Ledger | None
    workers_ready: int
    schedule_hold: str | None
    """Why the schedule forbids dialing now (before startTime, after endTime), if it does."""
    state_lost: bool = False
    """Redis lost the campaign's state after contacts were taken (see `_STATE_LOST`)."""
    no_route: str | None = None
    """Why no trunk of the campaign's pools takes calls, when none does."""
    workers_refused: str | None = None
    """Why the worker Deployment could not be written, when the API server refused it."""
    config_refused: str | None = None
    """Why workers do not read the compiled config (a newer schema than theirs), when not."""


def completed(ledger: Ledger | None) -> bool:
    return bool(
        ledger
        and ledger.total > 0
        and ledger.closed == ledger.total
        and ledger.pending == 0
        and ledger.in_flight == 0
    )


def decide(facts: Facts) -> tuple[list[Cond], str]:
    """Conditions `Ready`, `Dialing`, `Completed`, `Degraded`, and the one word for people."""
    ready = _ready(facts)
    done = completed(facts.ledger)
    dialing, summary = _dialing(facts, done)
    if facts.state_lost:
        degraded = Cond("Degraded", True, "StateLost", _STATE_LOST)
    elif facts.workers_refused:
        degraded = Cond("Degraded", True, "WorkersNotWritten", facts.workers_refused)
    elif facts.config_refused:
        degraded = Cond("Degraded", True, "WorkersRefuseConfig", facts.config_refused)
    elif facts.no_route and not done:
        degraded = Cond("Degraded", True, "NoTrunkInService", facts.no_route)
    else:
        degraded = Cond("Degraded", False, "AsExpected")
    conditions = [ready, dialing, _completed(facts.ledger, done), degraded]
    if degraded.status:
        summary = "Degraded"
    return conditions, summary


_STATE_LOST = (
    "Redis has lost this campaign's state (its epoch key is gone): dialing is held so that no "
    "contact is called again from the start; restore Redis from its AOF, or delete and re-create "
    "the campaign"
)


def _ready(facts: Facts) -> Cond:
    if facts.blocker:
        return Cond("Ready", False, facts.blocker.reason, facts.blocker.message)
    return Cond("Ready", True, "Reconciled", "spec is valid, references are ready, config compiled")


def _completed(ledger: Ledger | None, done: bool) -> Cond:
    closed, total = (ledger.closed, ledger.total) if ledger else (0, 0)
    message = f"{closed} of {plural(total, 'contact')} closed"
    if ledger and ledger.waits.suppressed:
        message += f", {ledger.waits.suppressed} of them by do-not-call"
    if done:
        if ledger and ledger.expired:
            message += "; their data has expired (spec.retention)"
        return Cond("Completed", True, "AllContactsClosed", message)
    return Cond("Completed", False, "ContactsRemaining", message)


def _dialing(facts: Facts, done: bool) -> tuple[Cond, str]:
    ledger = facts.ledger
    if facts.blocker:
        return Cond("Dialing", False, "NotReady", facts.blocker.message), facts.blocker.summary
    if done:
        return Cond("Dialing", False, "Completed", "every contact is closed"), "Completed"
    if facts.state is CampaignState.PAUSED:
        return Cond("Dialing", False, "Paused", "spec.state is Paused"), "Paused"
    if facts.state is CampaignState.STOPPED:
        return Cond("Dialing", False, "Stopped", "spec.state is Stopped"), "Stopped"
    if facts.schedule_hold:
        return Cond("Dialing", False, "OutsideSchedule", facts.schedule_hold), "Idle"
    if ledger is None or not ledger.total:
        return Cond("Dialing", False, "NothingDue", "the list has no contacts"), "Idle"
    # Said after ": " (or "; "): Events compare what comes before (campaign_events).
    why = campaign_waiting.explanation(campaign_waiting.breakdown(ledger.waits))
    if ledger.due_now + ledger.in_flight == 0:
        message = "no contact is due now" + (f": {why}" if why else "")
        return Cond("Dialing", False, "NothingDue", message), "Idle"
    if facts.workers_ready == 0:
        return Cond("Dialing", False, "WorkersStarting", "waiting for a ready worker"), "Starting"
    in_flight = f"{plural(ledger.in_flight, 'call')} in flight" + (f"; {why}" if why else "")
    return Cond("Dialing", True, "Dialing", in_flight), "Dialing"


def waiting(ledger: Ledger | None) -> Waiting:
    return campaign_waiting.breakdown(ledger.waits) if ledger else Waiting()


def schedule_hold(start: datetime | None, end: datetime | None, now: datetime) -> str | None:
    """Why the campaign's start/end times forbid dialing at `now`, if they do."""
    if start and now < start:
        return f"spec.schedule.startTime is {start.isoformat()}"
    if end and now >= end:
        return f"spec.schedule.endTime {end.isoformat()} has passed"
    return None


def call_stats(counts: CampaignCounts) -> CallStats:
    """Counts and rates (in percent, one decimal) as status shows them."""
    return CallStats(
        attempts=counts.attempts,
        answered=counts.answered,
        abandoned=counts.abandoned,
        call_loss=counts.call_loss,
        asr=_percent(counts.answered, counts.attempts),
        abandon_rate=_percent(counts.abandoned, counts.answered),
        call_loss_rate=_percent(counts.call_loss, counts.attempts),
    )


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else ""


def progress(ledger: Ledger | None) -> Progress:
    if ledger is None:
        return Progress()
    share = f" ({100 * ledger.closed // ledger.total}%)" if ledger.total else ""
    return Progress(
        total=ledger.total,
        pending=ledger.pending,
        in_flight=ledger.in_flight,
        closed=ledger.closed,
        summary=f"{ledger.closed}/{ledger.total}{share}",
    )
