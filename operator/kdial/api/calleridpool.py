"""`CallerIdPool` (cidp): the numbers callees are shown (外显号码), chosen local-first."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from kdial.api.meta import DNS_SUBDOMAIN, E164, ApiModel, Condition, Rule, StatusModel


class NumberType(StrEnum):
    MOBILE = "Mobile"
    LANDLINE = "Landline"
    TOLL_FREE = "TollFree"


class CallerId(ApiModel):
    """One presentable number."""

    number: str = Field(pattern=E164, max_length=16)
    """The number in E.164, e.g. `+8620123456789`."""
    region: str | None = Field(default=None, max_length=64)
    """Where the number is local, e.g. `CN-GD` or `Guangzhou`; derived from the number when
    unset."""
    type: NumberType | None = None
    """Mobile, Landline or TollFree; derived from the number when unset."""
    max_concurrent_calls: int | None = Field(default=None, ge=1, le=10_000)
    """Most calls presenting this number at once."""
    max_calls_per_day: int | None = Field(default=None, ge=1, le=1_000_000)
    """Most calls presenting this number per day."""
    verified: bool = False
    """Carrier-verified (号码认证): routing prefers verified numbers when the pool says so."""


class ConfigMapKeyRef(ApiModel):
    """A key of a ConfigMap in the same namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    """Name of the ConfigMap."""
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")
    """Key within the ConfigMap."""


class LocalPresence(StrEnum):
    CITY = "City"
    PROVINCE = "Province"
    CAPITAL = "Capital"
    DEFAULT = "Default"


def _default_order() -> list[LocalPresence]:
    return list(LocalPresence)


class Selection(ApiModel):
    """How a caller ID is chosen for a callee (地区路由)."""

    order: list[LocalPresence] = Field(default_factory=_default_order, min_length=1, max_length=4)
    """Order in which local presence is tried: a number from the callee's city, their province,
    their province's capital, then the pool default."""
    prefer_verified: bool = True
    """Among equally local numbers, prefer verified ones."""


class Quarantine(ApiModel):
    """Automatic quarantine of numbers whose answer rate collapses (号码标记: marked as spam)."""

    below_pool_percent: int = Field(default=50, ge=1, le=100)
    """Quarantine a number whose answer rate is confidently below this share of the pool's."""
    min_samples: int = Field(default=50, ge=1, le=100_000)
    """Attempts a number needs before it can be judged."""
    cooling_hours: int = Field(default=24, ge=1, le=8760)
    """Hours a quarantined number rests before it is used again."""


class CallerIdPoolSpec(ApiModel):
    """Numbers to present and the rules for choosing among them."""

    numbers: list[CallerId] = Field(
        default_factory=list,
        max_length=5000,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["number"],
        },
    )
    """The numbers, each listed once."""
    numbers_from: ConfigMapKeyRef | None = None
    """A ConfigMap key holding more numbers, one E.164 number per line, for pools too large to
    list inline."""
    default_number: str | None = Field(default=None, pattern=E164, max_length=16)
    """Number shown when no local number fits; one of `numbers` or `numbersFrom`."""
    selection: Selection = Field(default_factory=Selection)
    """How a number is chosen for a callee."""
    callee_cooldown_days: int = Field(default=0, ge=0, le=90)
    """Days before the same callee may be shown the same number again; 0 turns this off."""
    quarantine: Quarantine = Field(default_factory=Quarantine)
    """Automatic quarantine of marked numbers."""

    cel_rules = (
        Rule(
            "(has(self.numbers) && size(self.numbers) > 0) || has(self.numbersFrom)",
            "a pool needs numbers or numbersFrom",
            ".numbers",
        ),
    )


class NumberHealth(StatusModel):
    """How one number is doing."""

    number: str
    """The number."""
    attempts: int = 0
    """Attempts presenting it in the health window."""
    answer_rate: str = ""
    """Its answer rate in the window, in percent."""
    state: str = ""
    """Active, Quarantined or Capped."""


class CallerIdPoolStatus(StatusModel):
    """The observed state of a caller-ID pool, written by the operator."""

    observed_generation: int | None = None
    """The `metadata.generation` this status describes."""
    conditions: list[Condition] = Field(default_factory=list, max_length=16)
    """`Ready` (valid, with numbers to present)."""
    total: int = 0
    """Numbers in the pool."""
    active: int = 0
    """Numbers in use."""
    quarantined: int = 0
    """Numbers resting after a collapse of their answer rate, or by annotation."""
    capped: int = 0
    """Numbers at their daily cap."""
    worst: list[NumberHealth] = Field(default_factory=list, max_length=10)
    """The numbers with the lowest answer rates."""
