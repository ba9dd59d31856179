"""The runtime config a worker dials by: the campaign, its trunks and its caller IDs.

The operator compiles each into one Redis key (a JSON document with a version), so a read
sees one whole generation. The worker re-reads them at most once a second, which is how a
new routing generation reaches it within a second.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from kdial.api.campaign import CampaignSpec
from kdial.state.keys import CampaignKeys, ListKeys, PoolKeys


@dataclass(frozen=True)
class Trunk:
    pool: PoolKeys
    name: str
    gateway: str | None
    max_concurrent: int
    max_cps: int
    weight: int
    state: str


@dataclass(frozen=True)
class CallerId:
    pool: PoolKeys
    number: str
    max_concurrent: int | None
    max_per_day: int | None
    region: str | None = None


@dataclass(frozen=True)
class Runtime:
    """One consistent view of everything a worker needs to place calls."""

    dialing: bool
    spec: CampaignSpec
    contacts_key: str
    suppression_keys: tuple[str, ...]
    trunks: tuple[Trunk, ...]
    caller_ids: tuple[CallerId, ...]
    default_caller_id: CallerId | None


def _document(rdb: redis.Redis, key: str) -> dict[str, Any] | None:
    raw = rdb.get(key)
    return None if raw is None else dict(json.loads(raw)["content"])


def load(rdb: redis.Redis, campaign: CampaignKeys) -> Runtime | None:
    """The current runtime; None while the operator has not compiled the campaign."""
    content = _document(rdb, campaign.config)
    if content is None:
        return None
    spec = CampaignSpec.model_validate(content["spec"])
    namespace = campaign.namespace
    trunks: list[Trunk] = []
    for ref in spec.trunk_pool_refs:
        pool = PoolKeys("tp", namespace, ref.name)
        table = _document(rdb, pool.config) or {"trunks": []}
        trunks += [_trunk(pool, t) for t in table["trunks"]]
    ids_pool = PoolKeys("cidp", namespace, spec.caller_id_pool_ref.name)
    ids = _document(rdb, ids_pool.config) or {"numbers": []}
    numbers = [_caller_id(ids_pool, n) for n in ids["numbers"]]
    default = next((n for n in numbers if n.number == ids.get("defaultNumber")), None)
    return Runtime(
        dialing=bool(content["dialing"]),
        spec=spec,
        contacts_key=ListKeys(namespace, spec.contact_list_ref.name).contacts,
        suppression_keys=tuple(
            ListKeys(namespace, ref.name).numbers for ref in spec.suppression_list_refs
        ),
        trunks=tuple(trunks),
        caller_ids=tuple(numbers),
        default_caller_id=default,
    )


def _trunk(pool: PoolKeys, t: dict[str, Any]) -> Trunk:
    return Trunk(
        pool=pool,
        name=t["name"],
        gateway=t.get("gateway"),
        max_concurrent=int(t["maxConcurrentCalls"]),
        max_cps=int(t["maxCallsPerSecond"]),
        weight=int(t.get("weight", 1)),
        state=str(t.get("state", "Healthy")),
    )


def _caller_id(pool: PoolKeys, n: dict[str, Any]) -> CallerId:
    return CallerId(
        pool=pool,
        number=n["number"],
        max_concurrent=n.get("maxConcurrentCalls"),
        max_per_day=n.get("maxCallsPerDay"),
        region=n.get("region"),
    )


class RuntimeCache:
    """Re-reads the runtime at most once per `ttl` seconds."""

    def __init__(self, rdb: redis.Redis, campaign: CampaignKeys, ttl: float = 1.0) -> None:
        self.rdb, self.campaign, self.ttl = rdb, campaign, ttl
        self._value: Runtime | None = None
        self._read_at = -ttl

    def get(self) -> Runtime | None:
        now = time.monotonic()
        if now - self._read_at >= self.ttl:
            self._value = load(self.rdb, self.campaign)
            self._read_at = now
        return self._value
