"""Local presence (地区路由): which caller ID a callee is shown.

The trade's rule: a number from the callee's city first, else from their province, else from
their province's capital, else the pool's default. `Selection.order` sets the order of those
tiers (with the default order a Capital tier only matters for numbers whose province is known
but not their city; put Capital before Province to prefer the capital within the province).

Within a tier only *available* numbers count: not at a cap, not quarantined, not shown to this
callee within the cooldown. Among them verified numbers come first when
`Selection.preferVerified` (号码认证), then mobile numbers before landlines (a local mobile number
is answered most), then one at random (``rng``) or the first in pool order.

The Default tier is the pool's ``defaultNumber`` when available, else any available number of
the pool: a busy default should not stall a campaign while others are free. Nothing is chosen
(None) when no tier of the order has an available number.

Places are compared as phonenumbers' English geocoder names them ("Guangzhou, Guangdong"):
`CN_PROVINCES` maps every mainland province-level division to its ISO 3166-2 code and its
capital, with the capital's spellings in the geocoder data ("XiAn", "Urumchi", "Huhehaote").
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from kdial.api.calleridpool import CallerId, LocalPresence, NumberType, Selection
from kdial.numbers import PhoneNumber

__all__ = [
    "CN_PROVINCES",
    "Candidate",
    "Choice",
    "Place",
    "Province",
    "choose",
    "locate",
    "place_of",
    "recently_shown",
    "subdivision",
]


@dataclass(frozen=True, slots=True)
class Province:
    """A province-level division of mainland China."""

    name: str
    """As phonenumbers' English geocoder writes it ("Guangdong", "Inner Mongolia")."""
    code: str
    """ISO 3166-2 ("CN-GD"), as `Trunk.regions` and `CallerId.region` may give it."""
    capital: str
    aliases: tuple[str, ...] = ()
    """Other spellings of the capital in the geocoder data."""


def _provinces(*rows: tuple[str, str, str, tuple[str, ...]]) -> Mapping[str, Province]:
    return MappingProxyType({r[0]: Province(*r) for r in rows})


CN_PROVINCES: Mapping[str, Province] = _provinces(
    ("Beijing", "CN-BJ", "Beijing", ()),
    ("Tianjin", "CN-TJ", "Tianjin", ()),
    ("Shanghai", "CN-SH", "Shanghai", ()),
    ("Chongqing", "CN-CQ", "Chongqing", ()),
    ("Hebei", "CN-HE", "Shijiazhuang", ()),
    ("Shanxi", "CN-SX", "Taiyuan", ()),
    ("Inner Mongolia", "CN-NM", "Hohhot", ("Huhehaote",)),
    ("Liaoning", "CN-LN", "Shenyang", ()),
    ("Jilin", "CN-JL", "Changchun", ()),
    ("Heilongjiang", "CN-HL", "Harbin", ()),
    ("Jiangsu", "CN-JS", "Nanjing", ()),
    ("Zhejiang", "CN-ZJ", "Hangzhou", ()),
    ("Anhui", "CN-AH", "Hefei", ()),
    ("Fujian", "CN-FJ", "Fuzhou", ()),
    ("Jiangxi", "CN-JX", "Nanchang", ()),
    ("Shandong", "CN-SD", "Jinan", ()),
    ("Henan", "CN-HA", "Zhengzhou", ()),
    ("Hubei", "CN-HB", "Wuhan", ()),
    ("Hunan", "CN-HN", "Changsha", ()),
    ("Guangdong", "CN-GD", "Guangzhou", ()),
    ("Guangxi", "CN-GX", "Nanning", ()),
    ("Hainan", "CN-HI", "Haikou", ()),
    ("Sichuan", "CN-SC", "Chengdu", ()),
    ("Guizhou", "CN-GZ", "Guiyang", ()),
    ("Yunnan", "CN-YN", "Kunming", ()),
    ("Tibet", "CN-XZ", "Lhasa", ()),
    ("Shaanxi", "CN-SN", "Xi'an", ("XiAn",)),
    ("Gansu", "CN-GS", "Lanzhou", ()),
    ("Qinghai", "CN-QH", "Xining", ()),
    ("Ningxia", "CN-NX", "Yinchuan", ()),
    ("Xinjiang", "CN-XJ", "Urumqi", ("Urumchi",)),
)


def _key(name: str) -> str:
    """A place name for comparison: "Xi'an", "XiAn" and "xi an" are one key."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _keys(city: str) -> frozenset[str]:
    """The keys of a geocoder city, which may name several ("Hefei/Chaohu")."""
    return frozenset(k for k in (_key(part) for part in city.split("/")) if k)


_BY_KEY = {_key(p.name): p for p in CN_PROVINCES.values()}
_BY_CODE = {p.code: p for p in CN_PROVINCES.values()}
_BY_CAPITAL = {_key(alias): p for p in CN_PROVINCES.values() for alias in (p.capital, *p.aliases)}
_CAPITAL_KEYS = {
    p.name: frozenset(_key(a) for a in (p.capital, *p.aliases)) for p in _BY_KEY.values()
}


@dataclass(frozen=True, slots=True)
class Place:
    """Where a number is local: a province (canonical name, "" unknown) and a city ("" unknown,
    or a geocoder city such as "Hefei/Chaohu")."""

    province: str = ""
    city: str = ""

    @property
    def city_keys(self) -> frozenset[str]:
        return _keys(self.city)


def locate(region: str | None = None, phone: PhoneNumber | None = None) -> Place:
    """A number's place: from ``region`` when given (``CN-GD``, ``Guangdong``, ``Guangzhou``,
    ``Guangzhou, Guangdong``), else from what phonenumbers says of the number."""
    if region and region.strip():
        return _parse_region(region.strip())
    if phone is not None and phone.province:
        province = _BY_KEY.get(_key(phone.province))
        return Place(province.name if province else phone.province, phone.city)
    return Place()


def place_of(province: str, city: str) -> Place:
    """A callee's place from the province and city its contact list stored (the geocoder's
    names, `kdial.numbers.PhoneNumber`)."""
    found = _BY_KEY.get(_key(province))
    return Place(found.name if found else province, city)


def subdivision(province: str) -> str | None:
    """The ISO 3166-2 code of a mainland province ("Guangdong" -> "CN-GD"), as
    `Trunk.regions` names regions; None when the province is unknown."""
    found = _BY_KEY.get(_key(province))
    return found.code if found else None


def _parse_region(region: str) -> Place:
    if region.upper() in _BY_CODE:
        return Place(_BY_CODE[region.upper()].name)
    city, sep, province_name = region.rpartition(",")
    if sep:
        province = _BY_KEY.get(_key(province_name))
        return Place(province.name if province else province_name.strip(), city.strip())
    province = _BY_KEY.get(_key(region))
    if province is not None:
        # A municipality is its own city.
        return Place(province.name, province.capital if province.capital == province.name else "")
    capital_of = _BY_CAPITAL.get(_key(region))
    if capital_of is not None:
        return Place(capital_of.name, region)
    return Place("", region)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A number the pool may present, with where it is local."""

    number: str
    place: Place = Place()
    verified: bool = False
    type: NumberType | None = None

    @classmethod
    def of(cls, caller_id: CallerId, phone: PhoneNumber | None = None) -> Candidate:
        """From the pool's spec entry; ``phone`` (kdial.numbers.normalize of the number) fills
        in what the spec leaves unset."""
        kind = caller_id.type
        if kind is None and phone is not None:
            kind = _TYPES.get(phone.number_type.value)
        return cls(caller_id.number, locate(caller_id.region, phone), caller_id.verified, kind)


_TYPES = {
    "Mobile": NumberType.MOBILE,
    "FixedLine": NumberType.LANDLINE,
    "TollFree": NumberType.TOLL_FREE,
}


@dataclass(frozen=True, slots=True)
class Choice:
    number: str
    tier: LocalPresence
    """Which tier of the order found it."""


def recently_shown(
    last_shown: Mapping[str, float], now: float, cooldown_days: int
) -> frozenset[str]:
    """Numbers shown to one callee within the cooldown, from when each was last shown to them
    (seconds since the epoch); none when the cooldown is off."""
    if cooldown_days <= 0:
        return frozenset()
    horizon = now - cooldown_days * 86_400.0
    return frozenset(n for n, at in last_shown.items() if at > horizon)


def choose(
    callee: Place,
    candidates: Sequence[Candidate],
    selection: Selection,
    *,
    default: str | None = None,
    capped: Collection[str] = (),
    quarantined: Collection[str] = (),
    shown_recently: Collection[str] = (),
    rng: random.Random | None = None,
) -> Choice | None:
    """The number to present to ``callee``, and the tier that found it; None when nothing is
    available (the caller waits, or tries another pool)."""
    blocked = set(capped) | set(quarantined) | set(shown_recently)
    available = [c for c in candidates if c.number not in blocked]
    if not available:
        return None
    for tier in selection.order:
        found = _tier(tier, callee, available, default)
        if found:
            return Choice(_pick(found, selection.prefer_verified, rng).number, tier)
    return None


def _tier(
    tier: LocalPresence, callee: Place, available: list[Candidate], default: str | None
) -> list[Candidate]:
    province = _key(callee.province)
    if tier is LocalPresence.DEFAULT:
        chosen = [c for c in available if c.number == default]
        return chosen or available
    if not province:
        return []
    same_province = [c for c in available if _key(c.place.province) == province]
    if tier is LocalPresence.PROVINCE:
        return same_province
    if tier is LocalPresence.CITY:
        keys = callee.city_keys
        return [c for c in same_province if keys & c.place.city_keys] if keys else []
    capital = _CAPITAL_KEYS.get(_canonical(callee.province), frozenset())
    return [c for c in same_province if capital & c.place.city_keys]


def _canonical(province: str) -> str:
    found = _BY_KEY.get(_key(province))
    return found.name if found else province


def _pick(
    found: Iterable[Candidate], prefer_verified: bool, rng: random.Random | None
) -> Candidate:
    ranked = sorted(found, key=lambda c: _rank(c, prefer_verified))
    best = _rank(ranked[0], prefer_verified)
    top = [c for c in ranked if _rank(c, prefer_verified) == best]
    return rng.choice(top) if rng is not None else top[0]


def _rank(candidate: Candidate, prefer_verified: bool) -> tuple[int, int]:
    verified = 0 if (candidate.verified or not prefer_verified) else 1
    mobile = 0 if candidate.type is NumberType.MOBILE else 1 if candidate.type is None else 2
    return verified, mobile
