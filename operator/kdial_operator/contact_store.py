"""A contact list's generations in Redis: written aside, then swapped in whole.

An import writes its contacts into *staging* keys of its own (a HASH and a SET beside the live
ones, under the list's hash tag, named by a random token so two imports of one list never mix)
and, when the source has been read to the end, swaps them in with one Lua script: the live keys
are renamed away, the staging keys renamed in, the digest recorded and `version` bumped. Readers
(campaign seeding, workers' contact reads and do-not-call checks) therefore see either the old
list or the new one, never a half-written one; an import that fails or is killed leaves the live
list as it was, and its staging keys expire.

Dedupe happens in Redis too (HSETNX on the staging HASH), so the importing process never keeps a
set of the ids it has seen: memory stays flat however long the list is. Row tags are counted
there for the same reason, and in the same script, so a duplicate row's tags are not counted:
a staging tags HASH (tag -> contacts) grows with the distinct tags, never the importer.

Ids are an HMAC of the number under the list's own key (see `contact_import.contact_id`), so a
contact that stays in a changed list keeps its id, and with it its attempt history in every
campaign; contacts gone from the source are simply absent from the new generation.
"""

from __future__ import annotations

import heapq
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import redis

from kdial.state.contact import Contact
from kdial.state.keys import ListKeys

#: Staging keys outlive a killed import by this long at most (refreshed by every batch).
STAGING_TTL_SECONDS = 3600

# KEYS: staging HASH, staging SET, staging tags HASH. ARGV: ttl, then (id, contact JSON,
# number, row tags joined by spaces) per contact; tags never hold a space (`kdial.tags`).
# Returns {duplicates (already in the staging HASH, first row wins), contacts with row tags}.
_ADD = """
local dups, tagged = 0, 0
for i = 2, #ARGV, 4 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('SADD', KEYS[2], ARGV[i + 2])
    if ARGV[i + 3] ~= '' then
      tagged = tagged + 1
      for tag in string.gmatch(ARGV[i + 3], '%S+') do
        redis.call('HINCRBY', KEYS[3], tag, 1)
      end
    end
  else
    dups = dups + 1
  end
end
for k = 1, 3 do
  redis.call('EXPIRE', KEYS[k], ARGV[1])
end
return {dups, tagged}
"""

# KEYS: staging HASH, SET and tags HASH; live HASH, SET and tags HASH; old HASH, SET and tags
# HASH; digest; version. ARGV: digest. Returns the new version, or 0 when the digest says
# nothing changed. The live keys are renamed away and UNLINKed (freed in the background)
# rather than overwritten by RENAME, which would free a million-field hash inside the script
# and stall Redis. A live key without a staged one (no row tags any more) goes too.
_SWAP = """
if redis.call('GET', KEYS[10]) == ARGV[1] then
  redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3])
  return 0
end
for i = 1, 3 do
  if redis.call('EXISTS', KEYS[i + 3]) == 1 then
    redis.call('RENAME', KEYS[i + 3], KEYS[i + 6])
  end
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('RENAME', KEYS[i], KEYS[i + 3])
    redis.call('PERSIST', KEYS[i + 3])
  end
end
redis.call('UNLINK', KEYS[7], KEYS[8], KEYS[9])
redis.call('SET', KEYS[10], ARGV[1])
return redis.call('INCR', KEYS[11])
"""


@dataclass(frozen=True)
class Added:
    """What one staged batch did."""

    duplicates: int
    #: Contacts of the batch staged with at least one row tag (duplicates not included).
    tagged: int


def id_key(rdb: redis.Redis, keys: ListKeys) -> bytes:
    """The list's id secret, made once and kept with its contacts (as dataplane.id_key)."""
    rdb.set(keys.id_key, secrets.token_hex(32), nx=True)
    return str(rdb.get(keys.id_key)).encode()


class Generation:
    """One import's staging keys: add contacts in batches, then `commit` or `discard`."""

    def __init__(self, rdb: redis.Redis, keys: ListKeys) -> None:
        self.rdb, self.keys = rdb, keys
        token = secrets.token_hex(6)
        prefix = f"{keys.staging}:{token}"
        self.contacts, self.numbers = f"{prefix}:contacts", f"{prefix}:numbers"
        self.tags = f"{prefix}:tags"
        self._old = (f"{prefix}:old-contacts", f"{prefix}:old-numbers", f"{prefix}:old-tags")
        self._add = rdb.register_script(_ADD)
        self._swap = rdb.register_script(_SWAP)

    def add(self, contacts: Sequence[Contact], row_tags: Sequence[Sequence[str]] = ()) -> Added:
        """Stages a batch (in one round trip). `row_tags`, when given, holds each contact's row
        tags (counted for contacts that are not duplicates)."""
        if not contacts:
            return Added(0, 0)
        args: list[str | int] = [STAGING_TTL_SECONDS]
        for index, contact in enumerate(contacts):
            joined = " ".join(row_tags[index]) if row_tags else ""
            args += (contact.id, contact.encode(), contact.number, joined)
        staged = [self.contacts, self.numbers, self.tags]
        duplicates, tagged = cast(list[int], self._add(keys=staged, args=args))
        return Added(int(duplicates), int(tagged))

    def top_tags(self, count: int) -> tuple[int, list[tuple[str, int]]]:
        """(distinct row tags, the `count` most frequent as (tag, contacts)) of what is staged,
        most contacts first, ties by tag; read in pages, so memory holds `count` of them."""
        distinct = int(self.rdb.hlen(self.tags))
        top = heapq.nsmallest(count, self._tag_counts(), key=lambda item: (-item[1], item[0]))
        return distinct, top

    def _tag_counts(self) -> Iterator[tuple[str, int]]:
        for tag, contacts in self.rdb.hscan_iter(self.tags, count=1000):
            yield str(tag), int(contacts)

    def commit(self, digest: str) -> int:
        """Swaps the staged contacts in; the new version, or 0 when the digest was unchanged
        (then nothing at all changed)."""
        keys = self.keys
        staged = [self.contacts, self.numbers, self.tags]
        live = [*staged, keys.contacts, keys.numbers, keys.tags, *self._old]
        result = self._swap(keys=[*live, keys.digest, keys.version], args=[digest])
        return int(cast(int, result))

    def discard(self) -> None:
        self.rdb.unlink(self.contacts, self.numbers, self.tags)
