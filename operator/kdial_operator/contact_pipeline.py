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

import redis

from kdial.api.contactlist import ContactListSpec, Encoding
from kdial.state.contact import Contact
from kdial.state.keys import ListKeys
from kdial_operator import contact_import, contact_reader, contact_store
from kdial_operator.contact_import import Rejection, Tally
from kdial_operator.contact_reader import BadRow

#: Contacts per Redis round trip: large enough that the round trip is noise, small enough that
#: one batch (and the Lua call writing it) stays well under a millisecond or two of Redis time.
BATCH = 2000


#: Row tags status shows by name (`status.rowTags.top`); Redis keeps the counts of all.
TOP_TAGS = 20


@dataclass
class Outcome:
    """What an import did. `version` is the list's new version, 0 when the source was unchanged
    (then Redis was not touched). `distinct_tags` and `top_tags` (tag, contacts) describe row
    tags when the list has a `tagsField`."""

    tally: Tally = field(default_factory=Tally)
    bytes_read: int = 0
    version: int = 0
    digest: str = ""
    distinct_tags: int = 0
    top_tags: list[tuple[str, int]] = field(default_factory=list)


Progress = Callable[[Outcome], None]


def spec_digest(spec: ContactListSpec) -> str:
    """The part of the digest that comes from the spec: how rows are read and checked. `source`
    and `refresh` only say where and when to look, not what the list holds."""
    return spec.model_dump_json(exclude={"source", "refresh"})


class _Batches:
    """Checked contacts on their way to the staging generation, `BATCH` per round trip; the
    tally learns from Redis which were duplicates (and how many carried row tags)."""

    def __init__(self, generation: contact_store.Generation, spec: ContactListSpec, tally: Tally):
        self.generation, self.spec, self.tally = generation, spec, tally
        self.contacts: list[Contact] = []
        # Each contact's row tags, beside it, when the list has a tags column.
        self.row_tags: list[list[str]] | None = [] if spec.tags_field is not None else None
        if self.row_tags is not None and tally.tagged is None:
            tally.tagged = 0

    def add(self, contact: Contact) -> None:
        self.contacts.append(contact)
        if self.row_tags is not None:
            self.row_tags.append(contact_import.row_tags_of(contact, self.spec))
        if len(self.contacts) >= BATCH:
            self.flush()

    def flush(self) -> None:
        added = self.generation.add(self.contacts, self.row_tags or ())
        self.tally.duplicates += added.duplicates
        self.tally.imported += len(self.contacts) - added.duplicates
        if self.tally.tagged is not None:
            self.tally.tagged += added.tagged
        self.contacts.clear()
        if self.row_tags is not None:
            self.row_tags.clear()


def admit(
    record: contact_reader.Record, spec: ContactListSpec, id_key: bytes, tally: Tally
) -> Contact | None:
    """One row read: the contact it holds, or None with the reason it was refused counted in
    `tally` (a row the reader could not read, or one the checks refuse)."""
    tally.read += 1
    if isinstance(record, BadRow):
        tally.reject(tally.read, "", record.reason, record.line)
        return None
    checked = contact_import.check(record, spec, id_key)
    if isinstance(checked, Rejection):
        tally.reject(tally.read, checked.number, checked.reason)
        return None
    return checked


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
    batches = _Batches(generation, spec, tally)

    def counted(source: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in source:
            digest.update(chunk)
            outcome.bytes_read += len(chunk)
            yield chunk

    next_report = time.monotonic() + progress_seconds
    try:
        for record in contact_reader.records(counted(chunks), spec, encoding):
            if (contact := admit(record, spec, secret, tally)) is not None:
                batches.add(contact)
            # The clock is read every 256 rows, so a source that trickles in still reports.
            if progress is not None and not tally.read & 255 and time.monotonic() >= next_report:
                batches.flush()
                progress(outcome)
                next_report = time.monotonic() + progress_seconds
        batches.flush()
        if tally.tagged is not None:
            # Read before the commit: an unchanged source drops its staging keys there.
            outcome.distinct_tags, outcome.top_tags = generation.top_tags(TOP_TAGS)
        outcome.digest = digest.hexdigest()
        outcome.version = generation.commit(outcome.digest)
    except BaseException:
        # Failed, or killed: the live list stays as it was. (The staging keys would expire
        # anyway; removing them now frees the memory at once.)
        with contextlib.suppress(redis.RedisError):
            generation.discard()
        raise
    return outcome
