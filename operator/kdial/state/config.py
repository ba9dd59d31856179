"""The compiled campaign config: what a campaign's workers dial by, under `CampaignKeys.config`.

Workers find everything else (the list's contacts, suppression lists, pools) from the spec's
references through the one key schema, `kdial.state.keys`.
"""

from __future__ import annotations

from typing import ClassVar

from kdial.api.campaign import CampaignSpec
from kdial.state.wire import WireValue


class CampaignConfig(WireValue):
    """A campaign as its workers read it."""

    KIND: ClassVar[str] = "campaign config"
    #: 2: the spec carries `dispositions`, which a worker of schema 1 would refuse unread.
    SCHEMA_VERSION: ClassVar[int] = 2

    campaign: str
    """`namespace/name`."""
    dialing: bool
    """False halts claims: the campaign is paused, held, invalid or lost its state."""
    spec: CampaignSpec
