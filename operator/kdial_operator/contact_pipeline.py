"""One import, end to end and in constant memory: source bytes -> rows -> checked contacts ->
batches in a staging generation -> one atomic swap.

Synchronous on purpose: it runs in its own process (see `contact_job`), where a plain loop
over the source is both the simplest and the fastest thing; nothing here waits on the
operator's event loop, nor it on this.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from kdial.api.contactlist import ContactListSpec, Encoding
from kdial.state.keys import ListKeys
from kdial_operator import contact_import, contact_reader, contact_store
from kdial_operator.contact_import import Rejection, Tally
from kdial_operator.contact_reader import BadRow

#: Contacts per Redis round trip: large enough that the round trip is noise, small enough that
#: one batch (and the Lua call writing it) stays well under a millisecond or two of Redis time.
BATCH = 2000


@dataclass
class Outcome:
    """What an import did. `version` is the list's new version, 0 when the source was unchanged
    (then Redis was not touched)."""

    tally: Tally = field(default_factory=Tally)
    bytes_read: int = 0
    version: int = 0
    digest: str = ""


Progress = Callable[[Outcome], None]


def spec_digest(spec: ContactListSpec) -> str:
    """The part of the digest that comes from the spec: how rows are read and checked. `source`
    and `refresh` only say where and when to look, not what the list holds."""
    return spec.model_dump_json(exclude={"source", "refresh"})


def load(
    chunks: Iterable[bytes],
    spec: ContactListSpec,
    rdb: redis.Redis,
    keys: ListKeys,
    *,
    encoding: Encoding | None = None,
    progress: Progress | None = None,
    progress_seconds: float = 1.0,
    outcome: Outcome | None = None,
) -> Outcome:
    """Imports the source. Raises `contact_reader.SourceError` for a source that cannot be
    imported; the live list is then as it was, and `outcome` (if given) holds the counts up to
    where it stopped."""
    outcome = outcome if outcome is not None else Outcome()
    digest = hashlib.sha256(spec_digest(spec).encode())
    secret = contact_store.id_key(rdb, keys)
    generation = contact_store.Generation(rdb, keys)
    tally = outcome.tally

    def counted(source: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in source:
            digest.update(chunk)
            outcome.bytes_read += len(chunk)
            yield chunk

    batch: list[dict[str, Any]] = []
    next_report = time.monotonic() + progress_seconds

    def flush() -> None:
        duplicates = generation.add(batch)
        tally.duplicates += duplicates
        tally.imported += len(batch) - duplicates
        batch.clear()

    try:
        for record in contact_reader.records(counted(chunks), spec, encoding):
            tally.read += 1
            checked: dict[str, Any] | Rejection
            if isinstance(record, BadRow):
                checked = Rejection(record.reason, "")
            else:
                checked = contact_import.check(record, spec, secret)
            if isinstance(checked, Rejection):
                tally.reject(tally.read, checked.number, checked.reason)
            else:
                batch.append(checked)
                if len(batch) >= BATCH:
                    flush()
            # The clock is read every 256 rows, so a source that trickles in still reports.
            if progress is not None and not tally.read & 255 and time.monotonic() >= next_report:
                flush()
                progress(outcome)
                next_report = time.monotonic() + progress_seconds
        flush()
        outcome.digest = digest.hexdigest()
        outcome.version = generation.commit(outcome.digest)
    except BaseException:
        # Failed, or killed: the live list stays as it was. (The staging keys would expire
        # anyway; removing them now frees the memory at once.)
        with contextlib.suppress(redis.RedisError):
            generation.discard()
        raise
    return outcome
