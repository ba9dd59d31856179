"""An agent's record in a campaign and the log of its changes, as they are stored.

Each campaign keeps its agents in a hash (`CampaignKeys.agents`, name -> `AgentRecord`) and
every change in a stream (`CampaignKeys.agent_changes`, one `AgentChange` per entry). A change
is computed here from the record it starts from (`changed`) and written by `agent.lua` only if
that record is still the one stored: two API replicas acting on one agent at once never lose a
transition, the second one reads again and is judged against the first one's result.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, NamedTuple

from kdial.agent_state import AgentAction, AgentState, next_state
from kdial.state.wire import WireValue

__all__ = [
    "CALL_LOST_REASON",
    "CHANGES_KEPT",
    "NEVER_SEEN",
    "SEAT_CLAIM_MS",
    "AgentChange",
    "AgentRecord",
    "Seat",
    "Staffing",
    "changed",
    "staffing",
    "stale_seat",
]

#: Changes kept per campaign stream (about; Redis trims whole nodes): days of a busy floor.
CHANGES_KEPT = 100_000
#: Why an agent Reserved for a call whose worker died is NotReady (`AgentAction.CALL_LOST`,
#: written by the reclaim that takes back the call's contact, `reclaim.lua`).
CALL_LOST_REASON = "call lost: the worker dialling it stopped; go Ready when you are free"


class AgentRecord(WireValue):
    """Where one agent stands in a campaign."""

    KIND: ClassVar[str] = "agent record"

    state: AgentState
    since_ms: int
    """When the agent entered `state` (ms since the epoch, Redis clock)."""
    endpoint: str | None = None
    """The SIP endpoint calls are bridged to: a user registered on the switch, or a SIP URI;
    set at login."""
    reason: str | None = None
    """Why the agent is NotReady, in their words."""
    attempt: str | None = None
    """The attempt (`kdial.state.attempt`) the agent is Reserved for, Talking on or wrapping
    up; None while they have no call."""


#: The record of an agent the campaign has never seen.
NEVER_SEEN = AgentRecord(state=AgentState.LOGGED_OUT, since_ms=0)


#: How long a seat claimed by a login that never completed holds: logins take milliseconds, so
#: after this the claim is a leftover (a process died between its two steps) and may be taken.
SEAT_CLAIM_MS = 60_000


class Seat(WireValue):
    """The one campaign an agent of a namespace is logged in to (`AgentKeys.seats`). A login
    takes the seat before it logs the agent in, a logout frees it after: an agent logged in
    anywhere always holds the seat, so no agent takes calls of two campaigns at once. A
    campaign's hash and the namespace's seats are under different hash tags, so the two steps
    are not one transaction; a seat whose login or logout did not finish is recognised
    (`stale_seat`) and taken over."""

    KIND: ClassVar[str] = "agent seat"

    campaign: str
    at_ms: int
    """When a login took it (ms since the epoch, Redis clock)."""


def stale_seat(seat: Seat, there: AgentRecord | None, now_ms: int) -> bool:
    """Whether `seat` holds nobody: the agent is logged out of its campaign (`there`: their
    record in it, None if none) and no login to it can still be under way."""
    logged_out = there is None or there.state is AgentState.LOGGED_OUT
    return logged_out and now_ms - seat.at_ms > SEAT_CLAIM_MS


class AgentChange(WireValue):
    """One agent state change, as the stream keeps it and the agent's event stream sends it."""

    KIND: ClassVar[str] = "agent state change"
    #: 2: the action `callLost`, which an older reader does not know.
    SCHEMA_VERSION: ClassVar[int] = 2

    agent: str
    action: AgentAction
    before: AgentState
    after: AgentState
    at_ms: int
    """When (ms since the epoch, Redis clock)."""
    endpoint: str | None = None
    reason: str | None = None
    disposition: str | None = None
    """The disposition code an agent ended wrap-up with."""
    attempt: str | None = None
    """The attempt the change is about (a reserve, talk, wrap-up or its end)."""


class Staffing(NamedTuple):
    """How many of a campaign's agents are in each state that takes calls."""

    logged_in: int = 0
    """Agents logged in, whatever their state: the seats the campaign dials for."""
    ready: int = 0
    """Ready for a call now."""
    on_call: int = 0
    """Reserved for, talking on or wrapping up a call."""


def staffing(records: Iterable[AgentRecord]) -> Staffing:
    """Counts the agents of one campaign by what they can take."""
    states = [r.state for r in records if r.state is not AgentState.LOGGED_OUT]
    busy = (AgentState.RESERVED, AgentState.TALKING, AgentState.WRAP_UP)
    return Staffing(
        logged_in=len(states),
        ready=states.count(AgentState.READY),
        on_call=sum(1 for s in states if s in busy),
    )


def changed(
    record: AgentRecord,
    agent: str,
    action: AgentAction,
    at_ms: int,
    *,
    ready: bool = False,
    endpoint: str | None = None,
    reason: str | None = None,
    disposition: str | None = None,
    attempt: str | None = None,
) -> tuple[AgentRecord, AgentChange]:
    """The record after `action` at `at_ms` and the change that says so; raises
    `kdial.agent_state.IllegalTransition` for a move the agent's state does not allow.
    `attempt` names the call a reserve is for; the record keeps it until the call's wrap-up
    ends (or the agent fails to answer)."""
    after = next_state(record.state, action, ready=ready)
    # The endpoint is the login's until the next login; a reason lasts while NotReady.
    kept_endpoint = endpoint if action is AgentAction.LOGIN else record.endpoint
    on_call = after in (AgentState.RESERVED, AgentState.TALKING, AgentState.WRAP_UP)
    call = (attempt if action is AgentAction.RESERVE else record.attempt) if on_call else None
    new = AgentRecord(
        state=after,
        since_ms=at_ms,
        endpoint=None if after is AgentState.LOGGED_OUT else kept_endpoint,
        reason=reason if after is AgentState.NOT_READY else None,
        attempt=call,
    )
    change = AgentChange(
        agent=agent,
        action=action,
        before=record.state,
        after=after,
        at_ms=at_ms,
        endpoint=new.endpoint,
        reason=new.reason,
        disposition=disposition,
        attempt=call if on_call else record.attempt,
    )
    return new, change
