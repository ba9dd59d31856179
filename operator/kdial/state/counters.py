"""Counters on the wire: what a worker adds for each attempt, and the totals read back.

A campaign's counters (`CampaignKeys.totals`, and per minute `CampaignKeys.minute`) are moved
by the ledger's complete script with the names `campaign_increments` gives; the operator reads
them as `CampaignCounts` for status.

The line counters follow, per trunk and per caller ID.

Workers add each finished attempt to a one-second bucket (a Redis HASH per pool and second,
`PoolKeys.counts`) with plain HINCRBYs; the operator sums the buckets and judges them
(`kdial.routing.counters`). Buckets, not a stream, because a bucket costs the same at 1 and at
1,000 calls per second, and expires by itself.

An attempt is counted in the second its worker recorded it, by the worker's clock, so a bucket
may still grow after the operator first read it. The operator therefore re-reads the last
`REREAD_SECONDS` at every pass, folding in only what is new since it last saw each bucket
(`fresh`): nothing waits for a bucket to fill, and nothing is counted twice.

Fields are ``<name>|<counter>``: trunk names are DNS labels and numbers are E.164, neither can
hold a ``|``. A trunk's failures are also counted by their cause class (`kdial.causes`),
``<trunk>|cause|<class>``: an addition to the schema, not a change of it; an operator that
does not read them ignores them, and one that does reads a bucket without them as no failures
of any class. A trunk's counts per callee network (`kdial.networks`) are its counters
``network=<network>|<counter>`` (`pair_increments`), added beside the trunk's own: a reader
that does not know them ignores them, as `trunk_totals` does.

This module is the schema both sides share; it stays free of the health judge, so the worker
does not load it to count.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kdial.causes import CLASSES, CauseClass
from kdial.outcomes import Outcome, counts_against_trunk, counts_as_attempt, is_answered
from kdial.state.preview import SKIPPED

__all__ = [
    "BUCKET_TTL_SECONDS",
    "PDD_BOUNDS_MS",
    "REREAD_SECONDS",
    "CampaignCounts",
    "NumberCounts",
    "PairCounts",
    "TrunkCounts",
    "campaign_increments",
    "fresh",
    "number_increments",
    "number_totals",
    "pair_increments",
    "pair_totals",
    "trunk_increments",
    "trunk_totals",
]

#: How long a bucket is kept: long enough for an operator restart to pick up where it was.
BUCKET_TTL_SECONDS = 900
#: Seconds back the operator re-reads buckets for late counts.
REREAD_SECONDS = 3
#: Upper bounds of the post-dial-delay histogram's bins (ms); the last bin is open.
PDD_BOUNDS_MS: tuple[int, ...] = (500, 1000, 2000, 3000, 4000, 6000, 8000, 12000, 20000)

_SEP = "|"
_PDD = "pdd"
_CAUSE = "cause"


@dataclass(frozen=True, slots=True)
class CampaignCounts:
    """A campaign's counters summed over hashes (its totals, or minute buckets)."""

    #: Attempts that count toward closure: every outcome but Cancelled.
    attempts: int = 0
    answered: int = 0
    abandoned: int = 0
    call_loss: int = 0
    #: Previewed records skipped, by their agent or at the preview timeout (no attempt made).
    preview_skipped: int = 0

    @classmethod
    def decode(cls, hashes: Iterable[Mapping[str, str | int]]) -> CampaignCounts:
        summed: dict[str, int] = {}
        for fields in hashes:
            for name, value in fields.items():
                summed[name] = summed.get(name, 0) + int(value)
        return cls(
            attempts=summed.get("attempts", 0),
            answered=summed.get("answered", 0),
            abandoned=summed.get("abandoned", 0),
            call_loss=summed.get("call_loss", 0),
            preview_skipped=summed.get(SKIPPED, 0),
        )


def campaign_increments(outcome: Outcome) -> tuple[str, ...]:
    """The campaign counters one attempt with `outcome` increments: ``outcome:<Outcome>``, and
    those `CampaignCounts` reads."""
    names = [f"outcome:{outcome.value}"]
    if counts_as_attempt(outcome):
        names.append("attempts")
    if is_answered(outcome):
        names.append("answered")
    if outcome is Outcome.ABANDONED:
        names.append("abandoned")
    if counts_against_trunk(outcome):
        names.append("call_loss")
    return tuple(names)


@dataclass(frozen=True, slots=True)
class TrunkCounts:
    """One trunk's counters summed over buckets. ``self_inflicted`` attempts (our throttle,
    our cancellations, 503s our own pace provoked) are not in ``attempts``."""

    attempts: int = 0
    answered: int = 0
    loss: int = 0
    risk: int = 0
    self_inflicted: int = 0
    #: The post-dial-delay histogram, one bin per bound of `PDD_BOUNDS_MS` plus the open one.
    pdd: tuple[int, ...] = (0,) * (len(PDD_BOUNDS_MS) + 1)
    #: Failures among ``attempts`` by cause class, in the order of `kdial.causes.CLASSES`.
    causes: tuple[int, ...] = (0,) * len(CLASSES)


@dataclass(frozen=True, slots=True)
class NumberCounts:
    """One caller ID's attempts and answers summed over buckets."""

    attempts: int = 0
    answered: int = 0


def trunk_increments(
    trunk: str,
    outcome: Outcome,
    self_inflicted: bool,
    pdd_ms: int | None,
    cause: CauseClass | None = None,
) -> dict[str, int]:
    """The fields one attempt adds to its trunk's bucket; ``cause`` is its failure's class
    (`kdial.causes.cause_class`), None when it did not fail."""
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
        out[f"{prefix}{_PDD}{_SEP}{bisect.bisect_left(PDD_BOUNDS_MS, pdd_ms)}"] = 1
    if cause is not None:
        out[f"{prefix}{_CAUSE}{_SEP}{cause.value}"] = 1
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


def _summed(buckets: Iterable[Mapping[str, str | int]]) -> dict[str, dict[str, int]]:
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


def _pdd(counters: Mapping[str, int]) -> tuple[int, ...]:
    bins = [0] * (len(PDD_BOUNDS_MS) + 1)
    for counter, value in counters.items():
        head, _, index = counter.partition(_SEP)
        if head == _PDD and index.isdigit() and int(index) < len(bins):
            bins[int(index)] += value
    return tuple(bins)


def _causes(counters: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(counters.get(f"{_CAUSE}{_SEP}{c.value}", 0) for c in CLASSES)


def trunk_totals(buckets: Iterable[Mapping[str, str | int]]) -> dict[str, TrunkCounts]:
    """Every trunk's counters over the buckets."""
    return {
        name: TrunkCounts(
            attempts=c.get("attempts", 0),
            answered=c.get("answered", 0),
            loss=c.get("loss", 0),
            risk=c.get("risk", 0),
            self_inflicted=c.get("self", 0),
            pdd=_pdd(c),
            causes=_causes(c),
        )
        for name, c in _summed(buckets).items()
    }


def number_totals(buckets: Iterable[Mapping[str, str | int]]) -> dict[str, NumberCounts]:
    """Every caller ID's counters over the buckets."""
    return {
        name: NumberCounts(c.get("attempts", 0), c.get("answered", 0))
        for name, c in _summed(buckets).items()
    }


_NETWORK = "network="


@dataclass(frozen=True, slots=True)
class PairCounts:
    """One (trunk, callee network) pair's judged attempts summed over buckets (self-inflicted
    ones are the trunk's business, not the network's, and are not counted per pair)."""

    attempts: int = 0
    answered: int = 0
    loss: int = 0
    risk: int = 0


def pair_increments(
    trunk: str, network: str, outcome: Outcome, self_inflicted: bool
) -> dict[str, int]:
    """The fields one attempt adds to its bucket for its (trunk, callee network) pair."""
    if self_inflicted or outcome is Outcome.CANCELLED:
        return {}
    prefix = f"{trunk}{_SEP}{_NETWORK}{network}{_SEP}"
    out = {prefix + "attempts": 1}
    if is_answered(outcome):
        out[prefix + "answered"] = 1
    if counts_against_trunk(outcome):
        out[prefix + "loss"] = 1
    if outcome is Outcome.RISK_BLOCKED:
        out[prefix + "risk"] = 1
    return out


def pair_totals(buckets: Iterable[Mapping[str, str | int]]) -> dict[tuple[str, str], PairCounts]:
    """Every (trunk, network) pair's counters over the buckets."""
    summed: dict[tuple[str, str], dict[str, int]] = {}
    for trunk, counters in _summed(buckets).items():
        for counter, value in counters.items():
            if not counter.startswith(_NETWORK):
                continue
            network, _, name = counter.removeprefix(_NETWORK).partition(_SEP)
            mine = summed.setdefault((trunk, network), {})
            mine[name] = mine.get(name, 0) + value
    return {
        pair: PairCounts(
            c.get("attempts", 0), c.get("answered", 0), c.get("loss", 0), c.get("risk", 0)
        )
        for pair, c in summed.items()
    }
