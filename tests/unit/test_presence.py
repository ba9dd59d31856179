"""Local presence: which caller ID a callee sees (kdial.routing.presence)."""

from __future__ import annotations

import random

from kdial.api.calleridpool import CallerId, LocalPresence, NumberType, Selection
from kdial.numbers import normalize
from kdial.routing.presence import (
    CN_PROVINCES,
    Candidate,
    Place,
    choose,
    locate,
    recently_shown,
)

CITY, PROVINCE, CAPITAL, DEFAULT = (
    LocalPresence.CITY,
    LocalPresence.PROVINCE,
    LocalPresence.CAPITAL,
    LocalPresence.DEFAULT,
)
SHENZHEN = Place("Guangdong", "Shenzhen")
POOL = [
    Candidate("+8675500000001", Place("Guangdong", "Shenzhen")),
    Candidate("+8676900000002", Place("Guangdong", "Dongguan")),
    Candidate("+862000000003", Place("Guangdong", "Guangzhou")),
    Candidate("+861000000004", Place("Beijing", "Beijing")),
]
SELECTION = Selection()


def number(choice: object) -> str:
    assert choice is not None
    return choice.number  # type: ignore[attr-defined, no-any-return]


def test_city_then_province_then_capital_then_default() -> None:
    assert choose(SHENZHEN, POOL, SELECTION) == choose(SHENZHEN, POOL[:1], SELECTION)
    assert choose(SHENZHEN, POOL, SELECTION).tier is CITY  # type: ignore[union-attr]
    busy = {"+8675500000001"}
    found = choose(SHENZHEN, POOL, SELECTION, capped=busy)
    assert found is not None and found.tier is PROVINCE
    assert found.number in {"+8676900000002", "+862000000003"}
    # A province-level number (region CN-GD, no city) is Province, not City.
    provincial = [Candidate("+8675500000009", locate("CN-GD"))]
    assert choose(SHENZHEN, provincial, SELECTION).tier is PROVINCE  # type: ignore[union-attr]
    xinjiang = Place("Xinjiang", "Kashi")
    found = choose(xinjiang, POOL, SELECTION, default="+861000000004")
    assert found is not None and (found.number, found.tier) == ("+861000000004", DEFAULT)


def test_the_capital_tier_and_a_configured_order() -> None:
    capital_first = Selection(order=[CITY, CAPITAL, PROVINCE, DEFAULT])
    found = choose(SHENZHEN, POOL[1:], capital_first)
    assert found is not None and (found.number, found.tier) == ("+862000000003", CAPITAL)
    # Under the default order the province tier already finds it (the capital is in it).
    assert choose(SHENZHEN, POOL[2:], SELECTION).tier is PROVINCE  # type: ignore[union-attr]
    # Capitals by every spelling of the geocoder, and only in the callee's own province.
    xian = [Candidate("+862900000005", Place("Shaanxi", "XiAn/Xianyang"))]
    found = choose(Place("Shaanxi", "Baoji"), xian, Selection(order=[CAPITAL]))
    assert found is not None and found.tier is CAPITAL
    fuzhou_jiangxi = [Candidate("+867940000006", Place("Jiangxi", "Fuzhou"))]
    assert choose(Place("Fujian", "Xiamen"), fuzhou_jiangxi, Selection(order=[CAPITAL])) is None
    assert choose(SHENZHEN, POOL[3:], Selection(order=[CITY, PROVINCE])) is None


def test_verified_numbers_first_when_the_pool_says_so_then_mobiles() -> None:
    pool = [
        Candidate("+8675500000011", SHENZHEN, verified=False, type=NumberType.MOBILE),
        Candidate("+8675500000012", SHENZHEN, verified=True, type=NumberType.LANDLINE),
        Candidate("+8613800000013", SHENZHEN, verified=True, type=NumberType.MOBILE),
    ]
    assert number(choose(SHENZHEN, pool, SELECTION)) == "+8613800000013"
    assert number(choose(SHENZHEN, pool[:2], SELECTION)) == "+8675500000012"
    indifferent = Selection(prefer_verified=False)
    assert number(choose(SHENZHEN, pool[:2], indifferent)) == "+8675500000011"


def test_capped_quarantined_and_recently_shown_numbers_are_skipped() -> None:
    found = choose(
        SHENZHEN,
        POOL,
        SELECTION,
        capped={"+8675500000001"},
        quarantined={"+8676900000002"},
        shown_recently={"+862000000003"},
    )
    assert found is not None and (found.number, found.tier) == ("+861000000004", DEFAULT)
    everything = {c.number for c in POOL}
    assert choose(SHENZHEN, POOL, SELECTION, quarantined=everything) is None
    # A busy default gives way to any free number.
    found = choose(Place(), POOL, SELECTION, default="+861000000004", capped={"+861000000004"})
    assert found is not None and found.tier is DEFAULT and found.number != "+861000000004"


def test_cooldown_from_when_numbers_were_last_shown() -> None:
    day = 86_400.0
    shown = {"+8675500000001": 10 * day, "+8676900000002": 3 * day}
    assert recently_shown(shown, 12 * day, 7) == {"+8675500000001"}
    assert recently_shown(shown, 12 * day, 0) == frozenset()


def test_random_choice_among_equals_uses_the_callers_rng() -> None:
    pool = [Candidate(f"+86755000000{i:02d}", SHENZHEN) for i in range(10)]
    picks = {number(choose(SHENZHEN, pool, SELECTION, rng=random.Random(i))) for i in range(50)}
    assert len(picks) > 3
    assert number(choose(SHENZHEN, pool, SELECTION)) == pool[0].number


def test_locate_reads_regions_and_phone_numbers() -> None:
    assert locate("CN-GD") == Place("Guangdong", "")
    assert locate("Guangzhou, Guangdong") == Place("Guangdong", "Guangzhou")
    assert locate("Guangzhou") == Place("Guangdong", "Guangzhou")
    assert locate("Beijing") == Place("Beijing", "Beijing")
    assert locate("inner mongolia") == Place("Inner Mongolia", "")
    assert locate(None, normalize("+8620 1234 5678", "CN")) == Place("Guangdong", "Guangzhou")
    spec = CallerId(number="+862012345678", verified=True)
    candidate = Candidate.of(spec, normalize(spec.number, "CN"))
    assert candidate.place == Place("Guangdong", "Guangzhou") and candidate.verified
    assert candidate.type is NumberType.LANDLINE


def test_every_mainland_province_has_a_code_and_a_capital() -> None:
    assert len(CN_PROVINCES) == 31
    assert len({p.code for p in CN_PROVINCES.values()}) == 31
    assert CN_PROVINCES["Guangdong"].capital == "Guangzhou"
