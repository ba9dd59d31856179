"""Caller-ID quarantine (kdial.routing.quarantine)."""

from __future__ import annotations

import random

from kdial.api.calleridpool import Quarantine
from kdial.routing.quarantine import Book, Change, Counts, initial, review, sync_numbers

RULE = Quarantine()  # below 50% of the pool, 50 samples, 24 h cooling
NUMBERS = [f"n{i}" for i in range(8)]


class Pool:
    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.book: Book = initial(NUMBERS)
        self.now = 0.0
        self.answer = dict.fromkeys(NUMBERS, 0.3)
        self.changes: list[Change] = []

    def run(self, reviews: int, per_number: int = 10, manual: frozenset[str] = frozenset()) -> None:
        for _ in range(reviews):
            self.now += 60.0
            counts = {}
            for n in NUMBERS:
                if n in self.book.quarantined:
                    continue
                answered = sum(self.rng.random() < self.answer[n] for _ in range(per_number))
                counts[n] = Counts(per_number, answered)
            self.book, changes = review(self.book, counts, RULE, manual, self.now)
            self.changes.extend(changes)


def test_a_marked_number_is_quarantined_and_released_after_cooling() -> None:
    pool = Pool()
    pool.run(60)
    assert not pool.changes
    pool.answer["n0"] = 0.03
    pool.run(60)
    (marked,) = pool.changes
    assert (marked.number, marked.quarantined, marked.reason) == ("n0", True, "Marked")
    assert "answer rate" in marked.message and "+" not in marked.message
    assert pool.book.quarantined == {"n0"}
    pool.answer["n0"] = 0.3
    cooling = RULE.cooling_hours * 3600
    pool.run(int((marked.at + cooling - pool.now) / 60) - 1)
    assert pool.book.quarantined == {"n0"}, "rests the cooling time"
    pool.run(2)
    released = pool.changes[-1]
    assert (released.number, released.quarantined, released.reason) == ("n0", False, "Cooled")
    assert released.at - marked.at >= RULE.cooling_hours * 3600


def test_a_pool_wide_drop_quarantines_nothing() -> None:
    pool = Pool(seed=2)
    pool.run(60)
    pool.answer = dict.fromkeys(NUMBERS, 0.08)
    pool.run(300)
    assert not pool.changes


def test_min_samples_protect_a_quiet_number() -> None:
    pool = Pool(seed=3)
    pool.run(60)
    pool.answer["n0"] = 0.0
    pool.run(4, per_number=10)  # 40 attempts, none answered: below minSamples
    assert not pool.changes


def test_manual_quarantine_holds_until_the_annotation_goes() -> None:
    pool = Pool(seed=4)
    pool.run(5, manual=frozenset({"n3"}))
    (manual,) = pool.changes
    assert (manual.number, manual.quarantined, manual.reason) == ("n3", True, "Manual")
    pool.run(int(RULE.cooling_hours * 60) + 10, manual=frozenset({"n3"}))
    assert pool.book.quarantined == {"n3"}, "no cooling for a person's decision"
    pool.run(1)
    assert pool.changes[-1].reason == "ManualReleased" and not pool.book.quarantined


def test_sync_keeps_known_numbers() -> None:
    pool = Pool(seed=5)
    pool.run(1, manual=frozenset({"n1"}))
    book = sync_numbers(pool.book, ["n1", "new"])
    assert list(book.numbers) == ["n1", "new"] and book.quarantined == {"n1"}
