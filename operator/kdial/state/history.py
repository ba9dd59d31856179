"""A contact's history in the ledger: the JSON `complete.lua` keeps per contact and `claim.lua`
hands back with each claim. Lua writes it; Python only reads it, so it is a shape, not a codec.
"""

from __future__ import annotations

from typing import TypedDict


class ContactHistory(TypedDict, total=False):
    """Empty for a contact never attempted (the claim has no history yet)."""

    attempts: int
    """Attempts that count as such (`kdial.outcomes.counts_as_attempt`)."""
    first: int
    """When the first counted attempt ended, ms since the epoch."""
    last: str
    """The last attempt's outcome."""
    trunk: str
    """The trunk of the last attempt that had one: a lost call is re-dialled on another."""
    shown: dict[str, int]
    """Caller ID -> when it was last shown to this contact (ms), for the per-callee cooldown."""
    outcomes: dict[str, int]
    """Outcome -> attempts that ended so."""
