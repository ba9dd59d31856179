"""A contact list's generations in Redis: written aside, then swapped in whole.

An import writes its contacts into *staging* keys of its own (a HASH and a SET beside the live
ones, under the list's hash tag, named by a random token so two imports of one list never mix)
and, when the source has been read to the end, swaps them in with one Lua script: the live keys
are renamed away, the staging keys renamed in, the digest recorded and `version` bumped. Readers
(campaign seeding, workers' contact reads and do-not-call checks) therefore see either the old
list or the new one, never a half-written one; an import that fails or is killed leaves the live
list as it was, and its staging keys expire.

Dedupe happens in Redis too (HSETNX on the staging HASH), so the importing process never keeps a
set of the ids it has seen: memory stays flat however long the list is.

Ids are an HMAC of the number under the list's own key (see `contact_import.contact_id`), so a
contact that stays in a changed list keeps its id, and with it its attempt history in every
campaign; contacts gone from the source are simply absent from the new generation.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any, cast

import redis

from kdial.state.keys import ListKeys

#: Staging keys outlive a killed import by this long at most (refreshed by every batch).
STAGING_TTL_SECONDS = 3600

# KEYS: staging HASH, staging SET. ARGV: ttl, then (id, contact JSON, number) per contact.
# Returns how many were duplicates (already in the staging HASH, first row wins).
_ADD = """
local dups = 0
for i = 2, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('SADD', KEYS[2], ARGV[i + 2])
  else
    dups = dups + 1
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return dups
"""

# KEYS: staging HASH, staging SET, live HASH, live SET, old HASH, old SET, digest, version.
# ARGV: digest. Returns the new version, or 0 when the digest says nothing changed.
# The live keys are renamed away and UNLINKed (freed in the background) rather than overwritten
# by RENAME, which would free a million-field hash inside the script and stall Redis.
_SWAP = """
if redis.call('GET', KEYS[7]) == ARGV[1] then
  redis.call('UNLINK', KEYS[1], KEYS[2])
  return 0
end
for i = 1, 2 do
  if redis.call('EXISTS', KEYS[i + 2]) == 1 then
    redis.call('RENAME', KEYS[i + 2], KEYS[i + 4])
  end
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('RENAME', KEYS[i], KEYS[i + 2])
    redis.call('PERSIST', KEYS[i + 2])
  end
end
redis.call('UNLINK', KEYS[5], KEYS[6])
redis.call('SET', KEYS[7], ARGV[1])
return redis.call('INCR', KEYS[8])
"""


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
        self._old = (f"{prefix}:old-contacts", f"{prefix}:old-numbers")
        self._add = rdb.register_script(_ADD)
        self._swap = rdb.register_script(_SWAP)

    def add(self, contacts: Sequence[dict[str, Any]]) -> int:
        """Stages a batch (in one round trip); returns how many were duplicates of staged ones."""
        if not contacts:
            return 0
        args: list[str | int] = [STAGING_TTL_SECONDS]
        for contact in contacts:
            args += (contact["id"], json.dumps(contact, ensure_ascii=False), contact["number"])
        return int(cast(int, self._add(keys=[self.contacts, self.numbers], args=args)))

    def commit(self, digest: str) -> int:
        """Swaps the staged contacts in; the new version, or 0 when the digest was unchanged
        (then nothing at all changed)."""
        keys = self.keys
        live = [self.contacts, self.numbers, keys.contacts, keys.numbers, *self._old]
        result = self._swap(keys=[*live, keys.digest, keys.version], args=[digest])
        return int(cast(int, result))

    def discard(self) -> None:
        self.rdb.unlink(self.contacts, self.numbers)
