"""An agent's states and the moves between them (pure).

An agent logs in to one campaign, Ready to take calls or NotReady (with a reason) until they
say so. A Ready agent is Reserved for an answered call on its way to them, Talking once it is
bridged, in WrapUp after it ends, and Ready again once they end wrap-up with a disposition.
A reserved agent who does not answer goes NotReady; one whose call went away before it reached
them (the callee hung up first) is released, Ready again. An agent logs out only between calls.
An agent whose call's worker died is freed when its lease is reclaimed (`CALL_LOST`).

Every other move is refused (`IllegalTransition`): an agent talking cannot log out and leave
a callee in silence, and a NotReady agent is never handed a call.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["TRANSITIONS", "AgentAction", "AgentState", "IllegalTransition", "next_state"]


class AgentState(StrEnum):
    LOGGED_OUT = "LoggedOut"
    READY = "Ready"
    RESERVED = "Reserved"
    TALKING = "Talking"
    WRAP_UP = "WrapUp"
    NOT_READY = "NotReady"


class AgentAction(StrEnum):
    LOGIN = "login"
    READY = "ready"
    NOT_READY = "notReady"
    RESERVE = "reserve"
    TALK = "talk"
    WRAP_UP = "wrapUp"
    END_WRAP_UP = "endWrapUp"
    LOGOUT = "logout"
    #: The dialer's, never an agent's: the call an agent was Reserved for ended before it
    #: reached them.
    RELEASE = "release"
    #: The dialer's, never an agent's: the worker carrying the agent's call died, and the
    #: reclaim that took back its contact freed them too (`kdial/state/reclaim.lua`).
    CALL_LOST = "callLost"


S, A = AgentState, AgentAction

#: (state, action) -> the state after it; a pair not in the table is refused. Login goes to
#: NotReady unless the agent asks to start Ready (`next_state(..., ready=True)`).
TRANSITIONS: dict[tuple[AgentState, AgentAction], AgentState] = {
    (S.LOGGED_OUT, A.LOGIN): S.NOT_READY,
    (S.NOT_READY, A.READY): S.READY,
    (S.READY, A.NOT_READY): S.NOT_READY,
    # A new reason replaces the old one: the agent went from a break to a meeting, say.
    (S.NOT_READY, A.NOT_READY): S.NOT_READY,
    # The agent did not answer the call bridged to them.
    (S.RESERVED, A.NOT_READY): S.NOT_READY,
    (S.READY, A.RESERVE): S.RESERVED,
    (S.RESERVED, A.TALK): S.TALKING,
    # The callee hung up before the agent's phone was bridged to them.
    (S.RESERVED, A.RELEASE): S.READY,
    (S.TALKING, A.WRAP_UP): S.WRAP_UP,
    (S.WRAP_UP, A.END_WRAP_UP): S.READY,
    # A call whose worker died (its lease expired and was reclaimed): nothing else would ever
    # move the agent again. One who was talking may have talked to the callee: WrapUp on the
    # call, so their disposition still lands with it. One only reserved never reached the
    # callee, but their phone may still ring, or be up, on the dead worker's switch: NotReady
    # with a reason, until they say they are free, rather than Ready for a call they could
    # not take.
    (S.RESERVED, A.CALL_LOST): S.NOT_READY,
    (S.TALKING, A.CALL_LOST): S.WRAP_UP,
    (S.READY, A.LOGOUT): S.LOGGED_OUT,
    (S.NOT_READY, A.LOGOUT): S.LOGGED_OUT,
}


class IllegalTransition(ValueError):
    """An action the agent's state does not allow; the message says which and why."""

    def __init__(self, state: AgentState, action: AgentAction) -> None:
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s == state)
        super().__init__(
            f"an agent in state {state.value} cannot {action.value}; "
            f"from {state.value} an agent can: {', '.join(allowed)}"
        )
        self.state, self.action = state, action


def next_state(state: AgentState, action: AgentAction, *, ready: bool = False) -> AgentState:
    """The state `action` takes an agent in `state` to; `ready` makes a login start Ready.
    Raises `IllegalTransition` for a move the table does not allow."""
    after = TRANSITIONS.get((state, action))
    if after is None:
        raise IllegalTransition(state, action)
    if action is AgentAction.LOGIN and ready:
        return AgentState.READY
    return after
