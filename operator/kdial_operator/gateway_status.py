"""Each gateway trunk's registration as the workers' switches report it (pure, but for `read`).

Every worker publishes what its own switch says of the pool's gateways (`GatewayReport`); a
report older than `STALE_MS` is from a worker gone (or stuck) and is not counted. A gateway
reads as its worst state over the switches reporting: one switch whose registration failed is
one pod that does not dial that trunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import ValidationError
from redis.asyncio import Redis

from kdial.state.gateways import GatewayReport, SwitchGateway
from kdial.state.keys import PoolKeys

#: Workers report every two seconds; a report this old is from a worker that is gone.
STALE_MS = 15_000
#: A gateway a reporting switch has not loaded.
MISSING = "Missing"


@dataclass(frozen=True)
class GatewaySummary:
    """One gateway over the switches reporting it."""

    state: str
    """The worst switch's registration state (REGED, NOREG, FAIL_WAIT, ...), or Missing."""
    status: str
    """That switch's UP or DOWN."""
    dialable: int
    """Switches on which it may be dialled."""
    switches: int
    """Switches reporting."""

    @property
    def down(self) -> bool:
        return self.dialable < self.switches


async def read(rdb: Redis, pool: PoolKeys) -> list[GatewayReport]:
    """The reports in Redis; one that cannot be read (a newer worker's, say) is left out."""
    reports = []
    for raw in (await rdb.hgetall(pool.gateways)).values():
        try:
            reports.append(GatewayReport.decode(raw))
        except (ValueError, ValidationError):
            continue
    return reports


def summarize(
    gateways: Iterable[str], reports: Iterable[GatewayReport], now_ms: int
) -> dict[str, GatewaySummary]:
    """Each gateway's summary over the fresh reports; none when no switch reports."""
    fresh = [r for r in reports if now_ms - r.at_ms <= STALE_MS]
    out = {}
    for gateway in gateways:
        seen = [r.gateways.get(gateway) for r in fresh]
        if not seen:
            continue
        worst = min(seen, key=_rank)
        out[gateway] = GatewaySummary(
            state=MISSING if worst is None else worst.state,
            status="DOWN" if worst is None else worst.status,
            dialable=sum(1 for s in seen if s is not None and s.dialable),
            switches=len(seen),
        )
    return out


def _rank(seen: SwitchGateway | None) -> int:
    if seen is None:
        return 0
    return 2 if seen.dialable else 1


def transitions(
    before: Mapping[str, bool], summaries: Mapping[str, GatewaySummary]
) -> list[tuple[str, bool]]:
    """(gateway, down) for every gateway whose down-ness changed since `before` (first sight
    of a gateway down counts as a change, first sight of one up does not)."""
    out = []
    for gateway, summary in summaries.items():
        if before.get(gateway, False) != summary.down:
            out.append((gateway, summary.down))
    return out
