"""The runtime config a campaign's workers read from Redis (pure).

Workers find everything else (the list's contacts, suppression lists, pools) from the spec's
references through the one key schema, `kdial.state.keys`.
"""

from __future__ import annotations

from typing import Any

from kdial.api.campaign import CampaignSpec


def campaign_config(namespace: str, name: str, spec: CampaignSpec, dialing: bool) -> dict[str, Any]:
    """The campaign's spec as workers read it; `dialing` False halts claims."""
    return {
        "campaign": f"{namespace}/{name}",
        "dialing": dialing,
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
