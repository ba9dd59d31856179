"""A CallerIdPool's numbers and the rules for choosing among them, under `PoolKeys.config`:
the inline numbers and those from `numbersFrom`, in one list."""

from __future__ import annotations

from typing import ClassVar

from kdial.api.calleridpool import CallerId, Quarantine, Selection
from kdial.state.wire import WireValue


class CallerIdTable(WireValue):
    """A pool as workers choose from it (`kdial.routing.presence.choose`). Every field is
    written by the operator from the spec, whose defaults are the only ones."""

    KIND: ClassVar[str] = "caller-ID table"

    numbers: tuple[CallerId, ...]
    default_number: str | None = None
    """Absent when the pool has none."""
    selection: Selection
    callee_cooldown_days: int
    quarantine: Quarantine
    """The operator's to apply; carried so the table is the pool's whole compiled spec."""
