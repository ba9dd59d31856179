"""The runtime config a campaign's workers read from Redis (pure)."""

from __future__ import annotations

from kdial.api.campaign import CampaignSpec
from kdial.state.config import CampaignConfig


def campaign_config(namespace: str, name: str, spec: CampaignSpec, dialing: bool) -> CampaignConfig:
    """The campaign's spec as workers read it; `dialing` False halts claims."""
    return CampaignConfig(campaign=f"{namespace}/{name}", dialing=dialing, spec=spec)
