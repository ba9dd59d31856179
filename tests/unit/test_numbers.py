"""kdial.numbers: hygiene, validation reasons, enrichment and its per-prefix memo."""

from __future__ import annotations

import dataclasses
import random

import phonenumbers
import pytest
from phonenumbers import carrier, geocoder, timezone

from kdial import numbers
from kdial.numbers import (
    UNKNOWN_TIME_ZONE,
    InvalidNumber,
    InvalidReason,
    NumberType,
    PhoneNumber,
    is_e164,
    normalize,
    primary_time_zone,
)

MOBILE = "+8613812345678"


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "138 1234 5678",
        "138-1234-5678",
        "138.1234.5678",
        "(138) 1234 5678",
        "+8613812345678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "(+86) 138-1234-5678",
        "008613812345678",
        "0086 138 1234 5678",
        "  13812345678  ",
        "\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",  # full-width
        "\uff0b\uff18\uff16\u3000\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
        "138\u00a01234\u00a05678",  # no-break spaces from a spreadsheet
        "\uff08\uff0b86\uff09138\uff0d1234\uff0d5678",  # full-width parentheses and dashes
    ],
)
def test_common_spellings_of_one_mobile_normalise_to_e164(raw: str) -> None:
    assert normalize(raw, "CN").e164 == MOBILE


def test_mobile_enrichment() -> None:
    n = normalize("13812345678", "CN")
    assert n.region_code == "CN"
    assert n.country_code == 86
    assert n.number_type is NumberType.MOBILE
    assert n.carrier == "China Mobile"
    assert n.time_zones == ("Asia/Shanghai",)
    # The area is whatever the geocoder says for this range; the split must agree with it.
    parsed = phonenumbers.parse(MOBILE)
    assert n.area == geocoder.description_for_number(parsed, "en")
    assert n.area
    if ", " in n.area:
        assert n.area == f"{n.city}, {n.province}"


def test_landline_with_area_code_is_geocoded_to_city_and_province() -> None:
    n = normalize("020-8361 2345", "CN")
    assert n.e164 == "+862083612345"
    assert n.number_type is NumberType.FIXED_LINE
    assert n.area == "Guangzhou, Guangdong"
    assert (n.province, n.city) == ("Guangdong", "Guangzhou")
    assert n.carrier == ""  # landlines have no carrier in the data


def test_municipality_is_its_own_province_and_city() -> None:
    n = normalize("+86 10 6552 9988", "CN")
    assert n.area == "Beijing"
    assert (n.province, n.city) == ("Beijing", "Beijing")


def test_country_level_area_gives_no_province() -> None:
    n = normalize("8001234567", "CN")  # CN toll-free: only the country is known
    assert n.number_type is NumberType.TOLL_FREE
    assert n.area == "China"
    assert (n.province, n.city) == ("", "")


def test_foreign_number_with_country_code_ignores_default_region() -> None:
    n = normalize("+1 (415) 555-2671", "CN")
    assert n.e164 == "+14155552671"
    assert n.region_code == "US"
    assert n.country_code == 1
    assert n.time_zones == ("America/Los_Angeles",)
    assert (n.province, n.city) == ("", "")  # the split is for CN numbers only


def test_default_region_is_case_insensitive_and_empty_means_none() -> None:
    assert normalize("13812345678", "cn").e164 == MOBILE
    assert normalize("+8613812345678", "").e164 == MOBILE
    with pytest.raises(InvalidNumber) as exc:
        normalize("13812345678", "")
    assert exc.value.reason is InvalidReason.MISSING_COUNTRY_CODE


@pytest.mark.parametrize("region", ["XX", "China", "C"])
def test_unknown_default_region_is_a_configuration_error(region: str) -> None:
    with pytest.raises(ValueError, match="unsupported default region") as exc:
        normalize("13812345678", region)
    assert not isinstance(exc.value, InvalidNumber)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", InvalidReason.EMPTY),
        ("   ", InvalidReason.EMPTY),
        ("+", InvalidReason.NOT_A_NUMBER),
        ("()", InvalidReason.NOT_A_NUMBER),
        ("1-", InvalidReason.NOT_A_NUMBER),
        ("12", InvalidReason.TOO_SHORT),
        ("123456", InvalidReason.LOCAL_ONLY),  # a landline without its area code
        ("1381234567890123456789", InvalidReason.TOO_LONG),
        ("1" * 65, InvalidReason.TOO_LONG),  # refused before parsing
        ("+999 1234567", InvalidReason.INVALID_COUNTRY_CODE),
        ("0000000", InvalidReason.INVALID_COUNTRY_CODE),  # 00 prefix, then country code 0
        ("+86 1381234567", InvalidReason.INVALID_FOR_REGION),  # one digit short for a mobile
        ("+86 12345678901", InvalidReason.INVALID_FOR_REGION),  # no such range
        ("+8640012345678", InvalidReason.INVALID_FOR_REGION),
    ],
)
def test_invalid_numbers_have_clear_reasons(raw: str, reason: InvalidReason) -> None:
    with pytest.raises(InvalidNumber) as exc:
        normalize(raw, "CN")
    assert exc.value.reason is reason


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "138abc45678",
        "1381234567x",  # extension markers are letters too
        "13812345678 ext. 12",
        "tel:+8613812345678",
        "13812345678\n",
        "13812345678\r\n",
        "138\t1234\t5678",
        "138\x0012345678",
        "\u202e13812345678",  # bidi override
        "138\u200b12345678",  # zero-width space
        "13812345678,",
        "138;12345678",
        "13812345678|13900000000",
        "&13812345678",
        "{13812345678}",
        "[13812345678]",
        "13812345678'",
        '"13812345678"',
        "13812345678\\",
        "${13812345678}",
        "1381234567*",
        "#13812345678",
        "020/83612345",
        "++8613812345678",
        "138+12345678",
        "\u0661\u0663\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",  # Arabic-Indic
        "\u0967\u0969\u096e\u0967\u0968\u0969\u096a\u096b\u096c\u096d\u096e",  # Devanagari
        "1\u00b3812345678",  # superscript three
        "13812345678 api_on_answer=system",
    ],
)
def test_letters_controls_and_metacharacters_are_refused_not_guessed(raw: str) -> None:
    with pytest.raises(InvalidNumber) as exc:
        normalize(raw, "CN")
    assert exc.value.reason is InvalidReason.INVALID_CHARACTERS


def test_invalid_number_is_a_value_error_that_never_repeats_the_number() -> None:
    with pytest.raises(ValueError, match="InvalidForRegion") as exc:
        normalize("+86 12345678901", "CN")
    assert "12345678901" not in str(exc.value)
    assert not any(c.isdigit() for c in str(exc.value))


def test_phone_number_is_frozen() -> None:
    n = normalize("13812345678", "CN")
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.e164 = "+8613900000000"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+8613812345678", True),
        ("+14155552671", True),
        ("+1234567", True),  # seven digits: the shortest allowed
        ("+123456789012345", True),  # fifteen: the longest
        ("+123456", False),
        ("+1234567890123456", False),
        ("8613812345678", False),
        ("+0613812345678", False),
        ("+86 13812345678", False),
        ("+86-13812345678", False),
        ("+8613812345678\n", False),  # `$` would have let this through
        ("\n+8613812345678", False),
        ("+\uff18\uff16\uff11\uff13\uff18\uff11\uff12\uff13\uff14\uff15\uff16", False),
        ("+\u0668\u0666\u0661\u0663\u0668\u0661\u0662\u0663\u0664\u0665", False),
        ("", False),
        ("+", False),
        ("++8613812345678", False),
    ],
)
def test_is_e164_is_strict(value: str, expected: bool) -> None:
    assert is_e164(value) is expected


def _number(zones: tuple[str, ...]) -> PhoneNumber:
    return PhoneNumber(
        e164="+70000000000",
        region_code="RU",
        country_code=7,
        number_type=NumberType.MOBILE,
        area="",
        province="",
        city="",
        carrier="",
        time_zones=zones,
    )


def test_primary_time_zone() -> None:
    assert primary_time_zone(normalize("13812345678", "CN"), "UTC") == "Asia/Shanghai"
    assert primary_time_zone(_number((UNKNOWN_TIME_ZONE,)), "Asia/Shanghai") == "Asia/Shanghai"
    assert primary_time_zone(_number(()), "UTC") == "UTC"
    many = ("Asia/Almaty", "Europe/Moscow", "Europe/Samara")
    # The campaign's zone wins when the number may be in it; otherwise the first named.
    assert primary_time_zone(_number(many), "Europe/Moscow") == "Europe/Moscow"
    assert primary_time_zone(_number(many), "Asia/Shanghai") == "Asia/Almaty"


def test_unknown_time_zone_constant_matches_phonenumbers() -> None:
    invalid = phonenumbers.parse("+8640012345678")
    assert timezone.time_zones_for_number(invalid) == (UNKNOWN_TIME_ZONE,)


# Numbers across countries and types, including Argentina's mobile token (+54 9) and
# countries whose numbers are spread over several regions (+1, +7, +44).
_SAMPLE = [
    "+8613812345678",
    "+8618612345678",
    "+8619912345678",
    "+862083612345",
    "+861065529988",
    "+8675512345678",
    "+868001234567",
    "+864001234567",
    "+14155552671",
    "+12015550123",
    "+16135550123",  # Canada shares +1
    "+442083612345",
    "+447911123456",
    "+5491123456789",
    "+541123456789",
    "+525512345678",
    "+79161234567",
    "+77012345678",
    "+85291234567",
    "+81312345678",
]


@pytest.mark.parametrize("e164", _SAMPLE)
def test_memoised_enrichment_equals_phonenumbers_own_answers(e164: str) -> None:
    parsed = phonenumbers.parse(e164)
    expected = (
        geocoder.description_for_number(parsed, "en"),
        carrier.name_for_number(parsed, "en"),
        tuple(timezone.time_zones_for_number(parsed)),
    )
    numbers._cache.clear()
    cold = normalize(e164, "")
    warm = normalize(e164, "")
    assert (cold.area, cold.carrier, cold.time_zones) == expected
    assert warm == cold


def test_memo_shares_a_prefix_and_stays_exact_for_every_number_behind_it() -> None:
    numbers._cache.clear()
    rng = random.Random(20261123)
    mobiles = [f"+86138{rng.randrange(10**8):08d}" for _ in range(300)]
    mobiles += [f"+861381234{rng.randrange(10**4):04d}" for _ in range(50)]  # one 7-digit range
    for e164 in mobiles:
        n = normalize(e164, "CN")
        parsed = phonenumbers.parse(e164)
        assert n.area == geocoder.description_for_number(parsed, "en")
        assert n.carrier == carrier.name_for_number(parsed, "en")
    # The fifty numbers of one range cost one lookup, not fifty.
    assert len(numbers._cache) <= 300 + 1


def test_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numbers, "_CACHE_MAX", 8)
    numbers._cache.clear()
    for i in range(50):
        e164 = f"+86138{i:02d}345678"
        assert normalize(e164, "CN").e164 == e164
        assert len(numbers._cache) <= 8


def test_a_large_list_normalises_consistently() -> None:
    # Correctness at volume only: the rate is measured by `kdial bench`, never in a test.
    rng = random.Random(7)
    prefixes = ["130", "138", "139", "150", "186", "188", "199"]
    rows = [rng.choice(prefixes) + f"{rng.randrange(10**8):08d}" for _ in range(10_000)]
    results = [normalize(r, "CN") for r in rows]
    assert all(n.e164 == "+86" + r for n, r in zip(results, rows, strict=True))
    assert all(n.time_zones == ("Asia/Shanghai",) for n in results)
