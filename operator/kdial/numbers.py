"""Phone number validation and enrichment for contact rows.

A contact row's number is untrusted text. `normalize` accepts the separators people really type
(spaces, dashes, dots, parentheses, a leading ``+`` or ``00``, full-width digits from Chinese
input methods) and refuses everything else (letters, control characters, dial-string
metacharacters) instead of guessing. A valid number comes back as E.164 plus what
phonenumbers knows about it: type, area, carrier and time zones.

Area, carrier and time-zone lookups depend only on the first digits of the E.164 number (the
prefix tables phonenumbers ships are keyed by at most ``*_LONGEST_PREFIX`` digits), so their
results are memoised per prefix: a list of a million numbers from a few cities costs a few
thousand real lookups.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

__all__ = [
    "UNKNOWN_TIME_ZONE",
    "InvalidNumber",
    "InvalidReason",
    "NumberType",
    "PhoneNumber",
    "is_e164",
    "normalize",
    "primary_time_zone",
]

UNKNOWN_TIME_ZONE = "Etc/Unknown"  # what phonenumbers.timezone answers when it does not know

# Longer raw input than this is not a phone number however it is punctuated; refusing early
# keeps hostile rows (megabytes in one cell) away from the parser.
MAX_RAW_LENGTH = 64

# E.164: a country code (no leading 0) and at most 15 digits in all. Seven digits is the
# shortest number any plan assigns. fullmatch, not `$`: `$` would accept a trailing newline.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")

# Full-width forms (what a Chinese IME types) and the non-breaking / ideographic spaces that
# spreadsheets leave behind, mapped to their ASCII equivalents. Nothing else is translated.
_WIDE_TO_ASCII = str.maketrans(
    {
        **{chr(0xFF10 + d): str(d) for d in range(10)},
        "\uff0b": "+",
        "\uff08": "(",
        "\uff09": ")",
        "\uff0d": "-",
        "\uff0e": ".",
        "\u00a0": " ",
        "\u3000": " ",
    }
)
# After translation: an optional "(" then an optional "+", then digits and separators only.
# Letters, "/", ",", ";", "*", "#", "{", "|", "&", quotes, control characters: all refused.
_ALLOWED = re.compile(r"\(?\+?[0-9 ().\-]*")
_SEPARATORS = re.compile(r"[ ().\-]")


class NumberType(StrEnum):
    """What kind of line a number is, as far as phonenumbers' metadata can tell."""

    MOBILE = "Mobile"
    FIXED_LINE = "FixedLine"
    FIXED_LINE_OR_MOBILE = "FixedLineOrMobile"
    TOLL_FREE = "TollFree"
    # Kept apart from Other so that campaigns can refuse to dial numbers that cost per minute.
    PREMIUM_RATE = "PremiumRate"
    VOIP = "Voip"
    OTHER = "Other"


_TYPE_MAP: dict[int, NumberType] = {
    PhoneNumberType.MOBILE: NumberType.MOBILE,
    PhoneNumberType.FIXED_LINE: NumberType.FIXED_LINE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.TOLL_FREE: NumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE: NumberType.PREMIUM_RATE,
    PhoneNumberType.VOIP: NumberType.VOIP,
}


class InvalidReason(StrEnum):
    """Why a raw number was refused; safe to show and to count (it never contains the number)."""

    EMPTY = "Empty"
    INVALID_CHARACTERS = "InvalidCharacters"
    UNPARSEABLE = "Unparseable"
    NOT_A_NUMBER = "NotANumber"
    MISSING_COUNTRY_CODE = "MissingCountryCode"
    INVALID_COUNTRY_CODE = "InvalidCountryCode"
    TOO_SHORT = "TooShort"
    TOO_LONG = "TooLong"
    INVALID_LENGTH = "InvalidLength"
    # Possible only when dialled locally: a landline without its area code.
    LOCAL_ONLY = "LocalOnly"
    # Right shape, but no number range of its country is assigned like this.
    INVALID_FOR_REGION = "InvalidForRegion"


class InvalidNumber(ValueError):
    """A contact number that cannot be dialled. The message never repeats the number."""

    def __init__(self, reason: InvalidReason) -> None:
        super().__init__(f"invalid phone number: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A valid number in E.164 with what phonenumbers knows about it."""

    e164: str
    region_code: str
    country_code: int
    number_type: NumberType
    # Geocoder description in English, e.g. "Guangzhou, Guangdong", "Beijing", or the country
    # name when only the country is known; "" when nothing is known.
    area: str
    # Best-effort split of `area` for CN numbers ("" when unknown or not CN). The four
    # municipalities are their own province and city.
    province: str
    city: str
    # Carrier that was allocated the number range (in English); "" for landlines and unknowns.
    # Mobile number portability means the callee may have moved since.
    carrier: str
    time_zones: tuple[str, ...]


_PARSE_ERRORS: dict[int, InvalidReason] = {
    NumberParseException.INVALID_COUNTRY_CODE: InvalidReason.INVALID_COUNTRY_CODE,
    NumberParseException.NOT_A_NUMBER: InvalidReason.NOT_A_NUMBER,
    NumberParseException.TOO_SHORT_AFTER_IDD: InvalidReason.TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: InvalidReason.TOO_SHORT,
    NumberParseException.TOO_LONG: InvalidReason.TOO_LONG,
}

_POSSIBILITY: dict[int, InvalidReason] = {
    ValidationResult.INVALID_COUNTRY_CODE: InvalidReason.INVALID_COUNTRY_CODE,
    ValidationResult.TOO_SHORT: InvalidReason.TOO_SHORT,
    ValidationResult.TOO_LONG: InvalidReason.TOO_LONG,
    ValidationResult.INVALID_LENGTH: InvalidReason.INVALID_LENGTH,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: InvalidReason.LOCAL_ONLY,
}

# The types phonenumbers.carrier looks up (mobile-capable ranges); others have no carrier.
_CARRIER_TYPES = frozenset(
    {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PAGER}
)
_CN_MUNICIPALITIES = frozenset({"Beijing", "Shanghai", "Tianjin", "Chongqing"})


def is_e164(s: str) -> bool:
    """True for a strict E.164 string: ``+``, a country code, 7 to 15 ASCII digits in all."""
    return _E164.fullmatch(s) is not None


def _compact(raw: str) -> str:
    """Hygiene: the raw text reduced to an optional ``+`` and ASCII digits, or InvalidNumber."""
    # Control characters are refused before any stripping: a number with a newline in it is
    # a broken row, not a number to clean up.
    if len(raw) > MAX_RAW_LENGTH:
        raise InvalidNumber(InvalidReason.TOO_LONG)
    text = raw.translate(_WIDE_TO_ASCII).strip(" ")
    if not text:
        raise InvalidNumber(InvalidReason.EMPTY)
    if _ALLOWED.fullmatch(text) is None:
        raise InvalidNumber(InvalidReason.INVALID_CHARACTERS)
    compact = _SEPARATORS.sub("", text)
    if not compact.lstrip("+"):
        raise InvalidNumber(InvalidReason.NOT_A_NUMBER)
    # 00 is the international call prefix of most of the world (ITU-T E.164 recommends it);
    # phonenumbers only knows that for regions that use it, so make it explicit.
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact


def _region(default_region: str) -> str | None:
    region = default_region.strip().upper()
    if region in ("", "ZZ"):
        return None
    if region not in phonenumbers.SUPPORTED_REGIONS:
        # A configuration error, not a bad row: fail the whole import, loudly.
        raise ValueError(f"unsupported default region {default_region!r}")
    return region


def normalize(raw: str, default_region: str) -> PhoneNumber:
    """Validate and enrich one raw contact number.

    `default_region` (ISO 3166 alpha-2, e.g. "CN") is used for numbers written without a
    country code; "" means every number must carry one. Raises InvalidNumber for a bad
    number and ValueError for an unknown region.
    """
    compact = _compact(raw)
    region = _region(default_region)
    if region is None and not compact.startswith("+"):
        raise InvalidNumber(InvalidReason.MISSING_COUNTRY_CODE)
    try:
        parsed = phonenumbers.parse(compact, region)
    except NumberParseException as exc:
        raise InvalidNumber(_PARSE_ERRORS.get(exc.error_type, InvalidReason.UNPARSEABLE)) from None

    possibility = phonenumbers.is_possible_number_with_reason(parsed)
    if possibility != ValidationResult.IS_POSSIBLE:
        raise InvalidNumber(_POSSIBILITY.get(possibility, InvalidReason.INVALID_LENGTH))
    # Valid means: some region of the country code claims the number and its number plan has
    # a type for it (this is what phonenumbers.is_valid_number computes, without doing it twice).
    number_region = phonenumbers.region_code_for_number(parsed)
    raw_type = phonenumbers.number_type(parsed)
    if number_region is None or raw_type == PhoneNumberType.UNKNOWN:
        raise InvalidNumber(InvalidReason.INVALID_FOR_REGION)

    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    area, province, city, carrier_name, zones = _enrichment(parsed, e164, raw_type, number_region)
    return PhoneNumber(
        e164=e164,
        region_code=number_region,
        country_code=parsed.country_code or 0,
        number_type=_TYPE_MAP.get(raw_type, NumberType.OTHER),
        area=area,
        province=province,
        city=city,
        carrier=carrier_name,
        time_zones=zones,
    )


def primary_time_zone(number: PhoneNumber, fallback: str) -> str:
    """The zone to schedule a call to `number` in.

    `fallback` (typically the campaign's default zone) when phonenumbers does not know, or when
    the number may be in several zones and `fallback` is one of them; otherwise the first zone
    phonenumbers names. Country-level answers for large countries list many zones (a Russian
    mobile gets eleven, alphabetically), so a scheduler that must never call early should check
    its window in every zone of `number.time_zones`.
    """
    zones = [zone for zone in number.time_zones if zone and zone != UNKNOWN_TIME_ZONE]
    if not zones or fallback in zones:
        return fallback
    return zones[0]


# --- enrichment, memoised per prefix ------------------------------------------------------------

_Enrichment = tuple[str, str, str, str, tuple[str, ...]]

# Bounded memo; cleared wholesale when full (cheaper than LRU bookkeeping on every hit, and a
# real list's prefixes fit many times over).
_CACHE_MAX = 1 << 15
_cache: dict[tuple[str, int, str], _Enrichment] = {}


@dataclass(frozen=True, slots=True)
class _Lookups:
    area: Callable[[phonenumbers.PhoneNumber, str], str]
    country: Callable[[phonenumbers.PhoneNumber, str], str]
    carrier: Callable[[phonenumbers.PhoneNumber, str], str]
    geographic_zones: Callable[[phonenumbers.PhoneNumber], tuple[str, ...]]
    zones: Callable[[phonenumbers.PhoneNumber], tuple[str, ...]]
    longest_prefix: int


@cache
def _lookups() -> _Lookups:
    """Import the geocoder, carrier and time-zone data on first use (the geocoder's tables are
    most of an import's memory: README, "Measured figures behind the code"), and the longest
    prefix any of them keys on."""
    from phonenumbers import carrier, geocoder, timezone  # noqa: PLC0415 - deliberately lazy
    from phonenumbers.carrierdata import CARRIER_LONGEST_PREFIX  # noqa: PLC0415
    from phonenumbers.geodata import GEOCODE_LONGEST_PREFIX  # noqa: PLC0415
    from phonenumbers.tzdata import TIMEZONE_LONGEST_PREFIX  # noqa: PLC0415

    # The *_valid_number / geographical variants skip the number-type computation that the
    # general functions repeat on every call (the dominant cost); normalize knows the type.
    return _Lookups(
        area=geocoder.description_for_valid_number,
        country=geocoder.country_name_for_number,
        carrier=carrier.name_for_valid_number,
        geographic_zones=timezone.time_zones_for_geographical_number,
        zones=timezone.time_zones_for_number,
        longest_prefix=max(GEOCODE_LONGEST_PREFIX, CARRIER_LONGEST_PREFIX, TIMEZONE_LONGEST_PREFIX),
    )


def _enrichment(
    parsed: phonenumbers.PhoneNumber, e164: str, raw_type: int, number_region: str
) -> _Enrichment:
    look = _lookups()
    # The prefix tables are read for at most `longest_prefix` digits of the E.164 number; the
    # rest of the answer depends on the number type and region, which the caller computed from
    # the whole number. Where a country puts a mobile token before the area code (Argentina's
    # 9), the geocoder skips it, so the key takes that many digits more. The key is exact.
    country_code = parsed.country_code or 0
    token = phonenumbers.country_mobile_token(country_code)
    key = (e164[1 : 1 + look.longest_prefix + len(token)], raw_type, number_region)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    # Same dispatch as geocoder.description_for_number and timezone.time_zones_for_number.
    if phonenumbers.is_number_type_geographical(raw_type, country_code):
        area, zones = look.area(parsed, "en"), look.geographic_zones(parsed)
    else:
        area, zones = look.country(parsed, "en"), look.zones(parsed)
    carrier_name = look.carrier(parsed, "en") if raw_type in _CARRIER_TYPES else ""
    province, city = "", ""
    if number_region == "CN" and area and area != look.country(parsed, "en"):
        province, city = _split_cn_area(area)
    value: _Enrichment = (area, province, city, carrier_name, tuple(zones))
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = value
    return value


def _split_cn_area(area: str) -> tuple[str, str]:
    """Split "Guangzhou, Guangdong" into ("Guangdong", "Guangzhou"); "Beijing" is both."""
    city, sep, province = area.rpartition(", ")
    if sep:
        return province, city
    if area in _CN_MUNICIPALITIES:
        return area, area
    return area, ""
