"""`uuid_bridge <uuid> <other_uuid>`: which bridges the simulator takes, and the answer.

mod_commands' uuid_bridge_function answers `+OK <other_uuid>` when switch_ivr_uuid_bridge
accepts the two channels, `-ERR Invalid uuid` when either is missing or the first has hung up,
and tries a third argument as the other leg when the second fails. The simulator carries out the
case a dialer uses: two answered, parked channels, the first (the originator) carrying
hangup_after_bridge=true. Anything else it refuses with an `-ERR` a real switch would not give,
because what FreeSWITCH then does depends on more than it models: an unanswered leg (the
switch waits for its answer, or swaps the legs), a channel running another application, one
bridged or transferred already, an originator without hangup_after_bridge (once the other leg
hangs up it returns to CS_EXECUTE and whatever is left of its dialplan runs), or
park_after_bridge / transfer_after_bridge on either leg.
"""

from __future__ import annotations

from kdial_sim import fsstring
from kdial_sim.calls import Call

USAGE = "-USAGE: <uuid> <other_uuid>\n"
INVALID = "-ERR Invalid uuid\n"
_AFTER_BRIDGE = ("park_after_bridge", "transfer_after_bridge")


class CannotEmulate(ValueError):
    """A bridge the simulator does not know how a real switch would carry out."""

    def reply(self) -> str:
        return f"-ERR kdial sim cannot emulate uuid_bridge: {self}\n"


def parse_bridge(arg: str | None) -> list[str] | None:
    """The UUIDs of `uuid_bridge`'s argument; None when FreeSWITCH prints its usage."""
    argv = fsstring.separate(arg or "", " ", 4)
    return argv if len(argv) >= 2 and all(argv) else None


def check(originator: Call, peer: Call) -> None:
    """Raises `CannotEmulate` for a bridge of these two calls the simulator does not carry
    out faithfully (see the module docstring)."""
    if peer.channel.hangup_us:
        # switch_ivr_uuid_bridge accepts it and the bridge fails later, one of several ways.
        raise CannotEmulate(f"channel {peer.uuid} has hung up")
    for call in (originator, peer):
        ch = call.channel
        if not ch.answered:
            raise CannotEmulate(f"channel {ch.uuid} is not answered")
        if call.peer is not None or ch.bridged_to is not None or call.transferred:
            raise CannotEmulate(f"channel {ch.uuid} is bridged or transferred already")
        if ch.app != "park":
            raise CannotEmulate(f"channel {ch.uuid} runs {ch.app or 'a dialplan'}, not park")
        for name in _AFTER_BRIDGE:
            if ch.variable(name):
                raise CannotEmulate(f"channel {ch.uuid} sets {name}")
    if (originator.channel.variable("hangup_after_bridge") or "").lower() != "true":
        raise CannotEmulate(
            f"the originator {originator.uuid} lacks hangup_after_bridge=true: once the other "
            "leg hangs up, what it does depends on its dialplan"
        )
