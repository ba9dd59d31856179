"""Line counters read back for judgement: the summed buckets (`kdial.state.counters`, the
schema workers write) as the health state machine (`health.evaluate`) and the quarantine
review (`quarantine.review`) take them, and post-dial-delay percentiles for status.

Counts later than `REREAD_SECONDS` are not used for health (they are still in the attempt
stream and the campaign's counters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kdial.routing.health import Observation
from kdial.routing.quarantine import Counts
from kdial.state.counters import (
    BUCKET_TTL_SECONDS,
    PDD_BOUNDS_MS,
    REREAD_SECONDS,
    fresh,
    number_increments,
    number_totals,
    pair_totals,
    trunk_increments,
    trunk_totals,
)

__all__ = [
    "BUCKET_TTL_SECONDS",
    "PDD_BOUNDS_MS",
    "REREAD_SECONDS",
    "fresh",
    "number_counts",
    "number_increments",
    "pair_observations",
    "pdd_histograms",
    "percentile_ms",
    "trunk_increments",
    "trunk_observations",
]


def trunk_observations(buckets: Iterable[Mapping[str, str | int]]) -> dict[str, Observation]:
    """Every trunk's counts over the buckets, as the health state machine takes them."""
    return {
        name: Observation(c.attempts, c.answered, c.loss, c.risk, c.self_inflicted, c.causes)
        for name, c in trunk_totals(buckets).items()
    }


def pdd_histograms(buckets: Iterable[Mapping[str, str | int]]) -> dict[str, list[int]]:
    """Every trunk's post-dial-delay histogram over the buckets (bins of `PDD_BOUNDS_MS`)."""
    return {name: list(c.pdd) for name, c in trunk_totals(buckets).items() if any(c.pdd)}


def percentile_ms(bins: Sequence[int], q: float) -> int | None:
    """The ``q`` quantile (0..1) of a histogram, as the upper bound of its bin (the open last
    bin reports the last bound); None for an empty histogram."""
    total = sum(bins)
    if total == 0:
        return None
    rank, seen = q * total, 0
    for index, count in enumerate(bins):
        seen += count
        if seen >= rank and count:
            return PDD_BOUNDS_MS[min(index, len(PDD_BOUNDS_MS) - 1)]
    return PDD_BOUNDS_MS[-1]


def number_counts(buckets: Iterable[Mapping[str, str | int]]) -> dict[str, Counts]:
    """Every caller ID's attempts and answers over the buckets, as quarantine reviews them."""
    return {name: Counts(c.attempts, c.answered) for name, c in number_totals(buckets).items()}


def pair_observations(
    buckets: Iterable[Mapping[str, str | int]],
) -> dict[str, dict[str, Observation]]:
    """Every callee network's counts on each trunk over the buckets, {network: {trunk: ...}},
    as `kdial.routing.destinations` judges them."""
    out: dict[str, dict[str, Observation]] = {}
    for (trunk, network), c in pair_totals(buckets).items():
        out.setdefault(network, {})[trunk] = Observation(c.attempts, c.answered, c.loss, c.risk)
    return out
