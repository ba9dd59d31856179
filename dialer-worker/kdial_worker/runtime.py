"""The runtime config a worker dials by: the campaign, its trunks and its caller IDs.

The operator compiles each into one Redis key (a JSON document with a version), so a read
sees one whole generation. The worker re-reads them at most once a second, which is how a
new routing generation reaches it within a second.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import redis

from kdial.api.calleridpool import CallerId as CallerIdSpec
from kdial.api.calleridpool import Selection
from kdial.api.campaign import CampaignSpec
from kdial.api.trunkpool import TrunkState
from kdial.numbers import InvalidNumber, normalize
from kdial.routing.presence import Candidate
from kdial.routing.weights import RoutedTrunk
from kdial.state.caller_ids import CallerIdTable
from kdial.state.config import CampaignConfig
from kdial.state.keys import CampaignKeys, ListKeys, PoolKeys
from kdial.state.routing_table import RoutingTable, TrunkRow
from kdial.state.wire import Generation

log = logging.getLogger(__name__)

#: How long a worker's refusal of the config outlives its last refusing read.
REFUSAL_TTL_SECONDS = 10


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
    networks: Mapping[str, TrunkState] = field(default_factory=lambda: MappingProxyType({}))
    """Callee networks the trunk's route to is not Healthy, with that route's state (a network
    down on every trunk of its pool reads as Ejected)."""
    gateway_fingerprint: str = ""
    """The fingerprint of the gateway's definition the routing table goes with; "" for none."""


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
    gateway_generations: tuple[tuple[str, str], ...] = ()
    """(pool, gateways generation its routing table names, "" for none) of each pool."""
    networks_down: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    """Callee networks down on every trunk of some pool, with the soonest probe (epoch
    seconds): a contact of one that no trunk takes waits until then."""

    @property
    def gateway_trunks(self) -> tuple[tuple[PoolKeys, str], ...]:
        """(pool, gateway) of every trunk dialled through a gateway."""
        return tuple((t.pool, t.gateway) for t in self.trunks if t.gateway)


def _stored(rdb: redis.Redis, key: str) -> dict[str, object] | None:
    raw = rdb.get(key)
    return None if raw is None else Generation.decode(raw).content


def _candidates(numbers: Iterable[CallerIdSpec]) -> tuple[Candidate, ...]:
    """The pool's numbers with where each is local."""
    out = []
    for spec in numbers:
        try:
            phone = normalize(spec.number, "ZZ")
        except (InvalidNumber, ValueError):
            phone = None
        out.append(Candidate.of(spec, phone))
    return tuple(out)


def load(rdb: redis.Redis, campaign: CampaignKeys) -> Runtime | None:
    """The current runtime; None while the operator has not compiled the campaign.

    Raises `NewerSchema` for a value from a newer operator, ValueError for a malformed one."""
    content = _stored(rdb, campaign.config)
    if content is None:
        return None
    config = CampaignConfig.of(content)
    spec = config.spec
    namespace = campaign.namespace
    trunks: list[Trunk] = []
    generations: list[tuple[str, str]] = []
    down: dict[str, float] = {}
    for ref in spec.trunk_pool_refs:
        pool = PoolKeys("tp", namespace, ref.name)
        stored = _stored(rdb, pool.config)
        if stored is not None:
            table = RoutingTable.of(stored)
            trunks += [_trunk(pool, row, table.networks_down) for row in table.trunks]
            generations.append((ref.name, table.gateways_generation))
            for network, ms in table.networks_down.items():
                down[network] = min(down.get(network, math.inf), ms / 1000)
    lists = [ListKeys(namespace, spec.contact_list_ref.name)]
    suppression = [ListKeys(namespace, ref.name) for ref in spec.suppression_list_refs]
    return Runtime(
        dialing=config.dialing,
        spec=spec,
        contacts_key=lists[0].contacts,
        suppression_keys=tuple(keys.numbers for keys in suppression),
        list_versions=tuple(keys.version for keys in lists + suppression),
        trunks=tuple(trunks),
        caller_ids=_caller_ids(rdb, PoolKeys("cidp", namespace, spec.caller_id_pool_ref.name)),
        gateway_generations=tuple(generations),
        networks_down=MappingProxyType(down),
    )


def contacts_key(rdb: redis.Redis, campaign: CampaignKeys) -> str | None:
    """The contacts key of the list the campaign dials now, read afresh (not cached)."""
    content = _stored(rdb, campaign.config)
    if content is None:
        return None
    config = CampaignConfig.of(content)
    return ListKeys(campaign.namespace, config.spec.contact_list_ref.name).contacts


def _caller_ids(rdb: redis.Redis, pool: PoolKeys) -> CallerIds:
    raw = rdb.get(pool.config)
    if raw is None:
        return CallerIds()
    resting = rdb.get(pool.quarantined)
    quarantined = frozenset(json.loads(resting)) if resting else frozenset()
    return replace(_pool_numbers(pool, raw), quarantined=quarantined)


@functools.lru_cache(maxsize=16)
def _pool_numbers(pool: PoolKeys, raw: str) -> CallerIds:
    """A stored caller-ID table, read once per generation: the runtime is re-read every second,
    and a pool may hold thousands of numbers to validate and geocode."""
    table = CallerIdTable.of(Generation.decode(raw).content)
    return CallerIds(
        numbers=tuple(_caller_id(pool, n) for n in table.numbers),
        candidates=_candidates(table.numbers),
        default=table.default_number,
        selection=table.selection,
        cooldown_days=table.callee_cooldown_days,
    )


def _trunk(pool: PoolKeys, row: TrunkRow, down: Iterable[str] = ()) -> Trunk:
    networks = dict(row.networks) | dict.fromkeys(down, TrunkState.EJECTED)
    return Trunk(
        pool=pool,
        name=row.name,
        gateway=row.name if row.gateway else None,
        max_concurrent=row.max_concurrent_calls,
        max_cps=row.max_calls_per_second,
        weight=row.weight,
        state=row.state.value,
        routed=RoutedTrunk.of(row, row.state),
        sip_uri=row.sip_uri,
        networks=MappingProxyType(networks),
        gateway_fingerprint=row.gateway_fingerprint,
    )


def _caller_id(pool: PoolKeys, n: CallerIdSpec) -> CallerId:
    return CallerId(
        pool=pool,
        number=n.number,
        max_concurrent=n.max_concurrent_calls,
        max_per_day=n.max_calls_per_day,
        region=n.region,
    )


class RuntimeCache:
    """Re-reads the runtime at most once per `ttl` seconds.

    A config it cannot read (from a newer operator, or malformed) reads as none, so nothing
    is claimed; why is logged once, not on every read.
    """

    def __init__(self, rdb: redis.Redis, campaign: CampaignKeys, ttl: float = 1.0) -> None:
        self.rdb, self.campaign, self.ttl = rdb, campaign, ttl
        self._value: Runtime | None = None
        self._read_at = -ttl
        self._unreadable: str | None = None

    def get(self) -> Runtime | None:
        now = time.monotonic()
        if now - self._read_at >= self.ttl:
            self._value = self._load()
            self._read_at = now
        return self._value

    def _load(self) -> Runtime | None:
        try:
            value = load(self.rdb, self.campaign)
        except ValueError as error:
            if str(error) != self._unreadable:
                campaign = f"{self.campaign.namespace}/{self.campaign.name}"
                log.error("campaign %s: not dialling: %s", campaign, error)
            self._unreadable = str(error)
            # Where the operator reads it, to say so in the campaign's status.
            self.rdb.set(self.campaign.config_refused, str(error), ex=REFUSAL_TTL_SECONDS)
            return None
        self._unreadable = None
        return value
