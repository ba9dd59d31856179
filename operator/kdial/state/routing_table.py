"""A TrunkPool's routing table, under `PoolKeys.config`: each trunk's spec, its health state
and its weight for a callee nothing is known of; workers refine the weight per callee from the
same fields (`kdial.routing.weights`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import ConfigDict, Field

from kdial.api.trunkpool import Trunk, TrunkState
from kdial.state.wire import WireValue


class TrunkRow(Trunk):
    """One trunk: its spec (limits, regions, cost, priority, with the spec's defaults) as of
    the routing generation, and what the operator judged of it."""

    model_config = ConfigDict(frozen=True)

    state: TrunkState
    weight: int
    """The weight for a callee nothing is known of; 0 takes no calls."""
    networks: dict[str, TrunkState] = Field(default_factory=dict)
    """Callee networks (`kdial.networks`) this trunk's route to is not Healthy, with that
    route's state: the trunk's weight for their callees is that of the worse of the two."""
    gateway_fingerprint: str = ""
    """The fingerprint of this trunk's gateway as compiled in `RoutingTable.gateways_generation`
    (`kdial.state.gateways.fingerprints`); "" for a trunk without one, or whose gateway was
    left out (its credentials missing)."""


class RoutingTable(WireValue):
    """Every trunk of a pool, in the spec's order."""

    KIND: ClassVar[str] = "routing table"
    #: 2: `gatewaysGeneration`. 3: `networks` of a trunk, `networksDown`. 4: a trunk's
    #: `gatewayFingerprint`.
    SCHEMA_VERSION: ClassVar[int] = 4

    trunks: tuple[TrunkRow, ...]
    gateways_generation: str = ""
    """The generation of the pool's compiled gateways (`kdial.state.gateways.generation_of`)
    this table goes with: a worker whose mounted gateways are older waits for them before
    dialling."""
    networks_down: dict[str, int] = Field(default_factory=dict)
    """Callee networks failing on every trunk of the pool, with when each is probed (ms since
    the epoch): no trunk of the pool takes their calls, and their contacts wait rather than
    spend attempts."""
