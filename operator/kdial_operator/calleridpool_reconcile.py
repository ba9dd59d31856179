"""One pass over a CallerIdPool: its numbers compiled for workers, marked numbers quarantined.

The daemon (`calleridpools.py`) runs a pass every `status_interval_seconds` and keeps a `Watch`:
the quarantine book (`kdial.routing.quarantine.Book`), the last counter bucket read, and each
number's answer counts over the last hour for status. A pass:

1. validates the spec and reads `numbersFrom`; compiles the numbers workers choose from;
2. folds the counter buckets completed since the last pass into the quarantine review, with
   the numbers named in the `kdial.io/quarantine` annotation quarantined by hand;
3. writes the numbers resting now where workers read them within a second, posts an Event per
   number quarantined or released, and patches status when it changed.

Caller IDs are the business's own numbers, declared in the spec: status and Events name them.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from kdial.api.calleridpool import CallerIdPoolSpec, CallerIdPoolStatus, NumberHealth
from kdial.api.conditions import Cond, merge
from kdial.api.kinds import CALLER_ID_POOL, GROUP
from kdial.api.meta import explain
from kdial.plural import plural
from kdial.routing import counters, quarantine
from kdial.routing.quarantine import Book, Change, Counts
from kdial.state.caller_ids import CallerIdTable
from kdial.state.keys import PoolKeys
from kdial_operator import dataplane, routing
from kdial_operator.indexes import key_of

#: Annotation naming numbers to quarantine by hand, separated by commas or spaces; a number
#: taken out of it is released at once.
MANUAL_ANNOTATION = f"{GROUP}/quarantine"
#: Time constant of the answer rates status shows.
STATUS_WINDOW_SECONDS = 3600.0
WORST_SHOWN = 10


@dataclass
class Watch:
    """What a CallerIdPool's daemon keeps between passes."""

    book: Book | None = None
    seen: dict[int, dict[str, str]] = field(default_factory=dict)
    """The recent counter buckets as last read, by second (`counters.fresh`)."""
    rates: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per number, decayed (attempts, answered) over `STATUS_WINDOW_SECONDS`."""
    rated_at: float | None = None
    warned: tuple[str, str] | None = None
    """The Ready=False reason and message last posted as a Warning. Not read off status: a
    status write whose reply was lost may have landed all the same."""


async def reconcile(body: kopf.Body, memo: kopf.Memo, watch: Watch) -> None:
    namespace, name = key_of(body)
    keys = PoolKeys("cidp", namespace, name)
    config, problem = await _compiled(body, memo)
    if config is None:
        await _patch(body, memo, watch, Cond("Ready", False, *problem))
        return
    await dataplane.write_config(memo.redis, keys.config, config)
    spec = CallerIdPoolSpec.model_validate(dict(body.spec))
    numbers = [n.number for n in config.numbers]
    now = time.time()
    watch.book = quarantine.sync_numbers(watch.book or quarantine.initial(numbers), numbers)

    gained = await dataplane.new_counts(memo.redis, keys, watch.seen, int(now))
    counts = counters.number_counts(b for _, b in gained)
    _rate(watch, counts, now)
    before = watch.book.quarantined
    watch.book, changes = quarantine.review(
        watch.book, counts, spec.quarantine, manual_numbers(body.meta.annotations), now
    )
    if watch.book.quarantined != before or changes:
        await memo.redis.set(keys.quarantined, json.dumps(sorted(watch.book.quarantined)))
    for change in changes:
        _announce(body, change)
    capped = await dataplane.capped_numbers(memo.redis, keys, config.numbers)
    total = len(numbers)
    await _patch(
        body,
        memo,
        watch,
        Cond("Ready", True, "NumbersAvailable", f"{plural(total, 'number')} to present"),
        total=total,
        active=len(set(numbers) - watch.book.quarantined - capped),
        quarantined=len(watch.book.quarantined),
        capped=len(capped),
        worst=worst(watch, capped),
    )


async def _compiled(
    body: kopf.Body, memo: kopf.Memo
) -> tuple[CallerIdTable | None, tuple[str, str]]:
    """The pool as workers read it, or None and (reason, message) saying what is wrong."""
    try:
        spec = CallerIdPoolSpec.model_validate(dict(body.spec))
    except ValidationError as error:
        return None, ("InvalidSpec", explain(error))
    extra: list[str] = []
    if spec.numbers_from:
        ref, namespace = spec.numbers_from, key_of(body)[0]
        text = await memo.kube.config_map_value(namespace, ref.name, ref.key)
        if text is None:
            return None, (
                "SourceNotFound",
                f"spec.numbersFrom: ConfigMap {ref.name!r} with key {ref.key!r} not found in "
                f"namespace {namespace!r}; retrying",
            )
        if isinstance(text, bytes):  # binaryData: numbers are ASCII, anything else is refused
            text = text.decode("utf-8", "replace")
        extra = text.splitlines()
    config, problems = routing.caller_ids(spec, extra)
    if problems:
        message = "spec.numbersFrom / spec.defaultNumber: " + "; ".join(problems[:5])
        return None, ("InvalidNumbers", message)
    return config, ("", "")


def manual_numbers(annotations: kopf.Annotations) -> frozenset[str]:
    """The numbers the `kdial.io/quarantine` annotation names."""
    return frozenset(n for n in re.split(r"[\s,]+", annotations.get(MANUAL_ANNOTATION, "")) if n)


def _rate(watch: Watch, counts: dict[str, Counts], now: float) -> None:
    last = watch.rated_at
    decay = math.exp(-(now - last) / STATUS_WINDOW_SECONDS) if last is not None else 1.0
    numbers = set(watch.rates) | set(counts)
    for number in numbers:
        attempts, answered = watch.rates.get(number, (0.0, 0.0))
        c = counts.get(number, Counts())
        watch.rates[number] = (attempts * decay + c.attempts, answered * decay + c.answered)
    watch.rated_at = now


def worst(watch: Watch, capped: set[str]) -> list[NumberHealth]:
    """The numbers with the lowest answer rates over the last hour (those with attempts)."""
    assert watch.book is not None
    resting = watch.book.quarantined
    rows = []
    for number, (attempts, answered) in watch.rates.items():
        if number not in watch.book.numbers or attempts < 0.5:
            continue
        state = "Quarantined" if number in resting else "Capped" if number in capped else "Active"
        rows.append((answered / attempts, number, round(attempts), state))
    rows.sort()
    return [
        NumberHealth(number=n, attempts=a, answer_rate=f"{100 * r:.1f}%", state=s)
        for r, n, a, s in rows[:WORST_SHOWN]
    ]


def _announce(body: kopf.Body, change: Change) -> None:
    if change.quarantined:
        kopf.warn(body, reason="NumberQuarantined", message=f"{change.number}: {change.message}")
    else:
        kopf.info(body, reason="NumberReleased", message=f"{change.number}: {change.message}")


async def _patch(body: kopf.Body, memo: kopf.Memo, watch: Watch, cond: Cond, **fields: Any) -> None:
    namespace, name = key_of(body)
    generation = body.meta.get("generation")
    old = list(body.status.get("conditions", []))
    fields["observedGeneration"] = generation
    fields["conditions"] = merge(old, [cond], generation, datetime.now(UTC))
    status = CallerIdPoolStatus.normalized(dict(body.status) | fields)
    if any(body.status.get(k) != v for k, v in status.items()):
        await memo.kube.patch_status(CALLER_ID_POOL.plural, namespace, name, status)
    problem = None if cond.status else (cond.reason, cond.message)
    if problem and problem != watch.warned:
        kopf.warn(body, reason=cond.reason, message=cond.message)
    watch.warned = problem
