"""Counts as people write them in messages: "1 call", "2 calls", never "1 calls"."""

from __future__ import annotations


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`count` and the noun in the number it takes; `nouns` when the plural is not noun + s."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"
