"""Where personal data is left in Redis: every key, whatever its type, read in full."""

from __future__ import annotations

from collections.abc import Iterable

import redis


def keys_holding(rdb: redis.Redis, texts: Iterable[str]) -> list[str]:
    """Every key whose name or content (any field, member, score or stream entry) contains one
    of `texts`."""
    wanted = list(texts)
    found = []
    for key in rdb.scan_iter(count=1000):
        content = f"{key} {_content(rdb, key)}"
        if any(text in content for text in wanted):
            found.append(key)
    return sorted(found)


def _content(rdb: redis.Redis, key: str) -> str:
    kind = rdb.type(key)
    if kind == "string":
        return str(rdb.get(key))
    if kind == "hash":
        return str(rdb.hgetall(key))
    if kind == "set":
        return str(rdb.smembers(key))
    if kind == "zset":
        return str(rdb.zrange(key, 0, -1, withscores=True))
    if kind == "list":
        return str(rdb.lrange(key, 0, -1))
    if kind == "stream":
        return str(rdb.xrange(key))
    return ""  # gone between the scan and the read
