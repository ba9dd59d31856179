"""What a campaign last took contacts from, under `CampaignKeys.seeded`: the operator seeds
again when any part differs, and retires the old list's contacts first when the list does."""

from __future__ import annotations

from typing import ClassVar

from kdial.state.wire import WireValue


class SeedMarker(WireValue):
    KIND: ClassVar[str] = "seed marker"

    list: str
    """The list's identity (`kdial_operator.dataplane.list_identity`): a list deleted and
    made again under its name is another list."""
    version: str
    """The list's import version."""
    sample: int | None = None
    """The trial's sample percent; None dials the whole list."""
