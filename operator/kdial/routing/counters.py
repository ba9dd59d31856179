"""Line counters: what workers count per trunk and per caller ID, and how it is read back.

Workers add each finished attempt to a one-second bucket (a Redis HASH per pool and second,
`PoolKeys.counts`) with plain HINCRBYs; the operator reads the buckets that are complete and
folds them into the health state machine (`health.evaluate`) and the quarantine review
(`quarantine.review`). Buckets, not a stream, because a bucket costs the same at 1 and at 1,000
calls per second, and expires by itself.

An attempt is counted in the second its worker recorded it, by the worker's clock, so a bucket
may still grow after the operator first read it (a call ending now, a worker whose clock is a
little behind). The operator therefore reads the current second as it is and re-reads the last
`REREAD_SECONDS` at every pass, folding in only what is new since it last saw each bucket
(`fresh`): nothing waits for a bucket to fill, and nothing is counted twice. Counts later than
that are not used for health (they are still in the attempt stream and the campaign's
counters).

Fields are ``<name>|<counter>``: trunk names are DNS labels and numbers are E.164, neither can
hold a ``|``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence

from kdial.outcomes import Outcome, counts_against_trunk, is_answered
from kdial.routing.health import Observation
from kdial.routing.quarantine import Counts

__all__ = [
    "BUCKET_TTL_SECONDS",
    "PDD_BOUNDS_MS",
    "REREAD_SECONDS",
    "fresh",
    "number_counts",
    "number_increments",
    "pdd_histograms",
    "percentile_ms",
    "trunk_increments",
    "trunk_observations",
]

#: How long a bucket is kept: long enough for an operator restart to pick up where it was.
BUCKET_TTL_SECONDS = 900
#: Seconds back the operator re-reads buckets for late counts.
REREAD_SECONDS = 3
#: Upper bounds of the post-dial-delay histogram's bins (ms); the last bin is open.
PDD_BOUNDS_MS: tuple[int, ...] = (500, 1000, 2000, 3000, 4000, 6000, 8000, 12000, 20000)

_SEP = "|"
# Counter names in a trunk's fields, in `Observation` order.
_TRUNK_COUNTERS = ("attempts", "answered", "loss", "risk", "self")


def trunk_increments(
    trunk: str, outcome: Outcome, self_inflicted: bool, pdd_ms: int | None
) -> dict[str, int]:
    """The fields one attempt adds to its trunk's bucket."""
    prefix = trunk + _SEP
    if self_inflicted or outcome is Outcome.CANCELLED:
        return {prefix + "self": 1}
    out = {prefix + "attempts": 1}
    if is_answered(outcome):
        out[prefix + "answered"] = 1
    if counts_against_trunk(outcome):
        out[prefix + "loss"] = 1
    if outcome is Outcome.RISK_BLOCKED:
        out[prefix + "risk"] = 1
    if pdd_ms is not None:
        out[f"{prefix}pdd{_SEP}{bisect.bisect_left(PDD_BOUNDS_MS, pdd_ms)}"] = 1
    return out


def number_increments(number: str, outcome: Outcome) -> dict[str, int]:
    """The fields one attempt adds to its caller ID's bucket: our own cancellations say
    nothing about how callees treat the number."""
    if outcome is Outcome.CANCELLED:
        return {}
    out = {number + _SEP + "attempts": 1}
    if is_answered(outcome):
        out[number + _SEP + "answered"] = 1
    return out


def fresh(bucket: Mapping[str, str | int], seen: Mapping[str, str | int]) -> dict[str, int]:
    """What a bucket gained since it was last read as ``seen``."""
    out = {}
    for field, value in bucket.items():
        gained = int(value) - int(seen.get(field, 0))
        if gained > 0:
            out[field] = gained
    return out


def _parsed(buckets: Iterable[Mapping[str, str | int]]) -> dict[str, dict[str, int]]:
    """Sums the buckets' fields by name: {name: {counter: total}}."""
    totals: dict[str, dict[str, int]] = {}
    for bucket in buckets:
        for field, value in bucket.items():
            name, _, counter = field.partition(_SEP)
            if not counter:
                continue  # not ours: ignore rather than fail a whole evaluation
            mine = totals.setdefault(name, {})
            mine[counter] = mine.get(counter, 0) + int(value)
    return totals


def trunk_observations(buckets: Iterable[Mapping[str, str | int]]) -> dict[str, Observation]:
    """Every trunk's counts over the buckets, as the health state machine takes them."""
    return {
        name: Observation(*(c.get(k, 0) for k in _TRUNK_COUNTERS))
        for name, c in _parsed(buckets).items()
    }


def pdd_histograms(buckets: Iterable[Mapping[str, str | int]]) -> dict[str, list[int]]:
    """Every trunk's post-dial-delay histogram over the buckets (bins of `PDD_BOUNDS_MS`)."""
    out: dict[str, list[int]] = {}
    for name, counters in _parsed(buckets).items():
        bins = [0] * (len(PDD_BOUNDS_MS) + 1)
        for counter, value in counters.items():
            head, _, index = counter.partition(_SEP)
            if head == "pdd" and index.isdigit() and int(index) < len(bins):
                bins[int(index)] += value
        if any(bins):
            out[name] = bins
    return out


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
    return {
        name: Counts(c.get("attempts", 0), c.get("answered", 0))
        for name, c in _parsed(buckets).items()
    }
