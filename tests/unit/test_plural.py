"""Counts in messages take the number of their count."""

from __future__ import annotations

from kdial.plural import plural


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert plural(1, "call") == "1 call"
    assert [plural(n, "call") for n in (0, 2, 10)] == ["0 calls", "2 calls", "10 calls"]
    assert plural(2, "entry", "entries") == "2 entries"
    assert plural(1, "entry", "entries") == "1 entry"
