"""The runtime config a campaign's workers read from Redis (pure)."""

from __future__ import annotations

from typing import Any

from kdial.api.campaign import CampaignSpec
from kdial.state.keys import ListKeys, PoolKeys


def campaign_config(namespace: str, name: str, spec: CampaignSpec, dialing: bool) -> dict[str, Any]:
    """Everything a worker needs, resolved to data-plane keys; `dialing` False halts claims."""
    return {
        "campaign": f"{namespace}/{name}",
        "dialing": dialing,
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "keys": {
            "contactList": ListKeys(namespace, spec.contact_list_ref.name).base,
            "suppressionLists": [
                ListKeys(namespace, ref.name).numbers for ref in spec.suppression_list_refs
            ],
            "trunkPools": [
                PoolKeys("tp", namespace, ref.name).config for ref in spec.trunk_pool_refs
            ],
            "callerIdPool": PoolKeys("cidp", namespace, spec.caller_id_pool_ref.name).config,
        },
    }
