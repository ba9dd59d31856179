"""The runtime config a worker dials by: the campaign, its trunks and its caller IDs.

The operator compiles each into one Redis key (a JSON document with a version), so a read
sees one whole generation. The worker re-reads them at most once a second, which is how a
new routing generation reaches it within a second.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis

from kdial.api.calleridpool import CallerId as CallerIdSpec
from kdial.api.calleridpool import Selection
from kdial.api.campaign import CampaignSpec
from kdial.api.trunkpool import TrunkState
from kdial.numbers import InvalidNumber, normalize
from kdial.routing.presence import Candidate
from kdial.routing.weights import RoutedTrunk
from kdial.state.keys import CampaignKeys, ListKeys, PoolKeys


@dataclass(frozen=True)
class Trunk:
    pool: PoolKeys
    name: str
    gateway: str | None
    max_concurrent: int
    max_cps: int
    weight: int
    """The routing generation's weight for a callee nothing is known of; 0 takes no calls."""
    state: str
    routed: RoutedTrunk = field(default_factory=lambda: RoutedTrunk(""))
    """What per-callee weights are computed from (`kdial.routing.weights.weight_for`)."""
    sip_uri: str | None = None
    """`host[:port]` dialled directly when the trunk has no gateway (the TrunkPool's sipUri)."""


@dataclass(frozen=True)
class CallerId:
    pool: PoolKeys
    number: str
    max_concurrent: int | None
    max_per_day: int | None
    region: str | None = None


@dataclass(frozen=True)
class CallerIds:
    """A CallerIdPool as a worker chooses from it (`kdial.routing.presence.choose`)."""

    numbers: tuple[CallerId, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    default: str | None = None
    selection: Selection = field(default_factory=Selection)
    cooldown_days: int = 0
    quarantined: frozenset[str] = frozenset()

    def get(self, number: str) -> CallerId | None:
        return next((n for n in self.numbers if n.number == number), None)


@dataclass(frozen=True)
class Runtime:
    """One consistent view of everything a worker needs to place calls."""

    dialing: bool
    spec: CampaignSpec
    contacts_key: str
    suppression_keys: tuple[str, ...]
    list_versions: tuple[str, ...]
    """The version key of the contact list and of each suppression list: one missing means
    that list was deleted (its contacts and numbers with it)."""
    trunks: tuple[Trunk, ...]
    caller_ids: CallerIds


def _document(rdb: redis.Redis, key: str) -> dict[str, Any] | None:
    raw = rdb.get(key)
    return None if raw is None else dict(json.loads(raw)["content"])


@functools.lru_cache(maxsize=16)
def _candidates(numbers_json: str) -> tuple[Candidate, ...]:
    """The pool's numbers with where each is local. Cached on the pool's content: the runtime
    is re-read every second, and a pool may hold thousands of numbers to geocode."""
    out = []
    for entry in json.loads(numbers_json):
        spec = CallerIdSpec.model_validate(entry)
        try:
            phone = normalize(spec.number, "ZZ")
        except (InvalidNumber, ValueError):
            phone = None
        out.append(Candidate.of(spec, phone))
    return tuple(out)


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
    lists = [ListKeys(namespace, spec.contact_list_ref.name)]
    suppression = [ListKeys(namespace, ref.name) for ref in spec.suppression_list_refs]
    return Runtime(
        dialing=bool(content["dialing"]),
        spec=spec,
        contacts_key=lists[0].contacts,
        suppression_keys=tuple(keys.numbers for keys in suppression),
        list_versions=tuple(keys.version for keys in lists + suppression),
        trunks=tuple(trunks),
        caller_ids=_caller_ids(rdb, PoolKeys("cidp", namespace, spec.caller_id_pool_ref.name)),
    )


def contacts_key(rdb: redis.Redis, campaign: CampaignKeys) -> str | None:
    """The contacts key of the list the campaign dials now, read afresh (not cached)."""
    content = _document(rdb, campaign.config)
    if content is None:
        return None
    return ListKeys(campaign.namespace, content["spec"]["contactListRef"]["name"]).contacts


def _caller_ids(rdb: redis.Redis, pool: PoolKeys) -> CallerIds:
    ids = _document(rdb, pool.config)
    if ids is None:
        return CallerIds()
    resting = rdb.get(pool.quarantined)
    return CallerIds(
        numbers=tuple(_caller_id(pool, n) for n in ids["numbers"]),
        candidates=_candidates(json.dumps(ids["numbers"], sort_keys=True)),
        default=ids.get("defaultNumber"),
        selection=Selection.model_validate(ids.get("selection", {})),
        cooldown_days=int(ids.get("calleeCooldownDays", 0)),
        quarantined=frozenset(json.loads(resting)) if resting else frozenset(),
    )


def _trunk(pool: PoolKeys, t: dict[str, Any]) -> Trunk:
    state = TrunkState(t.get("state", TrunkState.HEALTHY))
    return Trunk(
        pool=pool,
        name=t["name"],
        gateway=t.get("gateway"),
        max_concurrent=int(t["maxConcurrentCalls"]),
        max_cps=int(t["maxCallsPerSecond"]),
        weight=int(t.get("weight", 1)),
        state=state.value,
        routed=RoutedTrunk(
            t["name"],
            state,
            int(t.get("priority", 100)),
            int(t.get("costPerMinuteMicros", 0)),
            int(t["maxConcurrentCalls"]),
            0,
            tuple(t.get("regions", ())),
            tuple(t.get("carriers", ())),
        ),
        sip_uri=t.get("sipUri"),
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
