"""Routing weights: each trunk's share of new calls, as integers for the routing table.

For a trunk in service (Healthy or Degraded)::

    weight = round(SCALE * health * priority/100 * cost * headroom * fit), at least 1

- health: 1 when Healthy, `DEGRADED_SHARE` when Degraded (suspect lines get less traffic but
  enough to clear or confirm the suspicion);
- priority: the trunk's priority over the default 100 (0 counts as 1: a listed trunk is usable);
- cost: ``COST_REFERENCE_MICROS / (COST_REFERENCE_MICROS + costPerMinuteMicros)``, 1 for a free
  trunk and one half at the reference cost, so that a trunk costing twice another gets
  noticeably, not overwhelmingly, less;
- headroom: the free share of its channels, ``1 - active/maxConcurrentCalls`` (0 when full);
- fit: region fit times carrier fit, each `FIT_MATCH` when the trunk declares the callee's
  region (or carrier), `FIT_MISMATCH` when it declares only others, 1 when it declares none or
  the callee's is unknown.

An Ejected trunk weighs 0. A Probing trunk weighs `PROBE_WEIGHT` whatever its priority, cost or
fit (while it has a free channel): a small fixed share, enough to judge the probe within
seconds at ordinary pool rates and small enough that a failed probe costs a few calls.
A Healthy trunk at default priority, free, idle and neutral weighs `SCALE`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kdial.api.trunkpool import Trunk, TrunkState

__all__ = [
    "COST_REFERENCE_MICROS",
    "DEGRADED_SHARE",
    "FIT_MATCH",
    "FIT_MISMATCH",
    "PROBE_WEIGHT",
    "SCALE",
    "RoutedTrunk",
    "carrier_fit",
    "region_fit",
    "table",
    "weight_for",
]

SCALE = 1000
PROBE_WEIGHT = 100
DEGRADED_SHARE = 0.5
COST_REFERENCE_MICROS = 100_000
FIT_MATCH = 2.0
FIT_MISMATCH = 0.25


@dataclass(frozen=True, slots=True)
class RoutedTrunk:
    """What routing knows about a trunk: its spec, its health state and its load."""

    name: str
    state: TrunkState = TrunkState.HEALTHY
    priority: int = 100
    cost_per_minute_micros: int = 0
    max_concurrent_calls: int = 1
    active_calls: int = 0
    regions: tuple[str, ...] = ()
    """ISO 3166 codes served best: a country (``CN``) or a subdivision (``CN-GD``)."""
    carriers: tuple[str, ...] = ()
    """Callee carriers served best, as phonenumbers names them (``China Mobile``)."""

    @classmethod
    def of(cls, trunk: Trunk, state: TrunkState, active_calls: int = 0) -> RoutedTrunk:
        return cls(
            trunk.name,
            state,
            trunk.priority,
            trunk.cost_per_minute_micros,
            trunk.max_concurrent_calls,
            active_calls,
            tuple(trunk.regions),
            tuple(trunk.carriers),
        )

    @property
    def headroom(self) -> float:
        """Free share of the trunk's channels, in [0, 1]."""
        if self.max_concurrent_calls <= 0:
            return 0.0
        return min(max(1.0 - self.active_calls / self.max_concurrent_calls, 0.0), 1.0)


def region_fit(regions: Iterable[str], callee_region: str | None) -> float:
    """FIT_MATCH when a declared region contains the callee's (``CN`` contains ``CN-GD``),
    1 when none is declared, the callee's is unknown or coarser than a declared one,
    FIT_MISMATCH when the trunk serves only elsewhere."""
    declared = [r.strip().upper() for r in regions if r.strip()]
    if not declared or not callee_region:
        return 1.0
    callee = callee_region.strip().upper()
    if any(callee == r or callee.startswith(r + "-") for r in declared):
        return FIT_MATCH
    if any(r.startswith(callee + "-") for r in declared):
        return 1.0  # the callee is known only to the country, the trunk serves a part of it
    return FIT_MISMATCH


def carrier_fit(carriers: Iterable[str], callee_carrier: str | None) -> float:
    """FIT_MATCH when the trunk declares the callee's carrier, 1 when it declares none or the
    carrier is unknown (landlines, ported numbers), FIT_MISMATCH otherwise."""
    declared = {c.strip().casefold() for c in carriers if c.strip()}
    if not declared or not callee_carrier:
        return 1.0
    return FIT_MATCH if callee_carrier.strip().casefold() in declared else FIT_MISMATCH


def weight_for(
    trunk: RoutedTrunk, callee_region: str | None = None, callee_carrier: str | None = None
) -> int:
    """The trunk's weight for a callee (see the module docstring for the formula)."""
    headroom = trunk.headroom
    if trunk.state is TrunkState.EJECTED or headroom <= 0.0:
        return 0
    if trunk.state is TrunkState.PROBING:
        return PROBE_WEIGHT
    health = DEGRADED_SHARE if trunk.state is TrunkState.DEGRADED else 1.0
    priority = max(trunk.priority, 1) / 100.0
    cost = COST_REFERENCE_MICROS / (COST_REFERENCE_MICROS + max(trunk.cost_per_minute_micros, 0))
    fit = region_fit(trunk.regions, callee_region) * carrier_fit(trunk.carriers, callee_carrier)
    return max(round(SCALE * health * priority * cost * headroom * fit), 1)


def table(
    trunks: Iterable[RoutedTrunk],
    callee_region: str | None = None,
    callee_carrier: str | None = None,
) -> dict[str, int]:
    """Every trunk's weight, by name: with no callee, the routing table's base weights."""
    return {t.name: weight_for(t, callee_region, callee_carrier) for t in trunks}
