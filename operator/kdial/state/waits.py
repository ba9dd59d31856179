"""Why a campaign's pending contacts wait, kept as they move, so status never scans the ledger.

A contact given back to `due` for a later time is tagged with the reason
(`CampaignKeys.waiting`): its calling window (`window:<zones>`), a retry delay, a dial permit
(a trunk or caller ID at its cap), a trunk to take calls, or held for want of a time zone. The
Lua scripts that move contacts in or out of `due` move the tag, the count of each reason
(`CampaignKeys.waiting_counts`) and the latest time a wait of that reason ends
(`CampaignKeys.waiting_ends`) in the same step (`waits.lua`), so the counts never drift. The
counts hash also counts the contacts closed by do-not-call (`SUPPRESSED`). Each tagged
contact's own end is kept too (`CampaignKeys.waiting_until`): before status reads the counts,
`settle.lua` untags the contacts whose wait has ended, which are due now and merely not claimed
yet, so a count is of the contacts still waiting.

`Waits.decode` reads the two small hashes back for status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["SUPPRESSED", "Wait", "Waits", "ZoneWait", "window"]


class Wait(StrEnum):
    """Reasons a contact is due again later, as tags; a window's is `window(zones)`."""

    RETRY = "retry"
    """A retry delay after an attempt (also the re-dial delay of a reclaimed one, and an agent's
    call-back)."""
    CAP = "cap"
    """No dial permit: a trunk or caller ID at its cap, or no caller ID free to show."""
    TRUNK = "trunk"
    """No trunk takes the call: every one ejected, or none serves the callee."""
    HELD = "held"
    """No time the callee may be called: no time zone known, or windows never open together
    in every zone the number may be in."""


_WINDOW = "window:"
#: The counts field of contacts closed by do-not-call (the outcome `Suppressed`).
SUPPRESSED = "suppressed"


def window(zones: Sequence[str]) -> str:
    """The tag of contacts waiting for their window in `zones` (the callee's possible zones;
    a call waits until the window is open in all of them)."""
    return _WINDOW + ",".join(zones)


@dataclass(frozen=True, slots=True)
class ZoneWait:
    """Contacts of one time zone (or set of zones) waiting for their calling window."""

    zones: str
    """IANA names, comma-separated when the numbers may be in any of several."""
    contacts: int
    opens_ms: int
    """When the window next opens (ms since the epoch, Redis clock)."""


@dataclass(frozen=True, slots=True)
class Waits:
    """Pending contacts whose wait has not ended yet, by reason, and those suppressed."""

    windows: tuple[ZoneWait, ...] = ()
    """Soonest opening first."""
    retry: int = 0
    cap: int = 0
    trunk: int = 0
    held: int = 0
    suppressed: int = 0

    @classmethod
    def decode(cls, counts: Mapping[str, str], ends: Mapping[str, str], now_ms: int) -> Waits:
        """From the counts and ends hashes, read after settle.lua. A reason whose every wait
        ended by `now_ms` is left out: those contacts are due now, merely not yet untagged (a
        window that opened for more contacts than one status pass settles)."""
        waiting = {
            reason: int(count)
            for reason, count in counts.items()
            if reason != SUPPRESSED and int(ends.get(reason, 0)) > now_ms
        }
        windows = sorted(
            (
                ZoneWait(reason.removeprefix(_WINDOW), n, int(ends[reason]))
                for reason, n in waiting.items()
                if reason.startswith(_WINDOW)
            ),
            key=lambda w: (w.opens_ms, w.zones),
        )
        return cls(
            windows=tuple(windows),
            retry=waiting.get(Wait.RETRY, 0),
            cap=waiting.get(Wait.CAP, 0),
            trunk=waiting.get(Wait.TRUNK, 0),
            held=waiting.get(Wait.HELD, 0),
            suppressed=int(counts.get(SUPPRESSED, 0)),
        )
