"""`ContactList` (cl): the people to call (名单), or never to call (do-not-call)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import phonenumbers
from pydantic import Field, StringConstraints, field_validator

from kdial import tags
from kdial.api.calleridpool import ConfigMapKeyRef
from kdial.api.meta import DNS_SUBDOMAIN, ApiModel, Condition, FieldType, Rule, StatusModel

#: A tag, on the list or on a row; the full rule (and why) is in `kdial.tags`.
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=tags.MAX_TAG_CHARS, pattern=tags.TAG_PATTERN)
]


class SecretKeyRef(ApiModel):
    """A key of a Secret in the same namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    """Name of the Secret."""
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")
    """Key within the Secret."""


class UrlSource(ApiModel):
    """A list served over HTTP(S)."""

    url: str = Field(max_length=2048, pattern=r"^https?://[^\s]+$")
    """Where the list is served: https from a public address. Internal addresses (loopback,
    link-local, private, the cluster's), and plain http, only from networks the operator's
    settings allow-list (the chart's `operator.contactSources.allowedNetworks`); checked on the
    resolved address at every redirect, and otherwise Ready=False, reason SourceNotAllowed."""
    auth_secret_ref: SecretKeyRef | None = None
    """A Secret key whose value is sent as the `Authorization` header."""


class Source(ApiModel):
    """Where the list comes from: exactly one of configMap and url."""

    config_map: ConfigMapKeyRef | None = None
    """A ConfigMap key holding the list (small lists)."""
    url: UrlSource | None = None
    """An HTTP(S) URL serving the list (large lists)."""

    cel_rules = (
        Rule("has(self.configMap) != has(self.url)", "set exactly one of configMap and url"),
    )


class ListFormat(StrEnum):
    CSV = "CSV"
    NDJSON = "NDJSON"


class Encoding(StrEnum):
    UTF8 = "UTF-8"
    GB18030 = "GB18030"


class CsvOptions(ApiModel):
    """How a CSV list is read. The first row names the columns."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    """The column delimiter, one character."""
    encoding: Encoding = Encoding.UTF8
    """UTF-8 (with or without a byte-order mark) or GB18030."""


class FieldSpec(ApiModel):
    """A business field of each contact (名单字段)."""

    name: str = Field(max_length=63, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Column or key name."""
    type: FieldType = FieldType.STRING
    """String, Integer, Decimal, Boolean or Date (ISO 8601)."""
    required: bool = False
    """Rows without a value are rejected."""


class Mask(StrEnum):
    CLEAR = "Clear"
    PARTIAL = "Partial"
    FULL = "Full"


class DisplayField(ApiModel):
    """A contact field shown to the agent a call is offered to (screen pop), and how it is
    masked (脱敏)."""

    name: str = Field(max_length=63, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """`phoneField` (the number) or the name of one of `fields`."""
    mask: Mask | None = None
    """Clear (as it is), Partial (the way the trade masks numbers, 138****1234: the first three
    and last four of eleven digits, at most half of shorter ones; text without digits is
    `****`) or Full (`****`). Unset: Partial for the phone number, Clear for the others."""


class Purpose(StrEnum):
    DIAL = "Dial"
    SUPPRESS = "Suppress"


class ContactListSpec(ApiModel):
    """A list of contacts: where it comes from and how to read and check it."""

    source: Source
    """Where the list comes from."""
    format: ListFormat = ListFormat.CSV
    """CSV or NDJSON."""
    csv: CsvOptions = Field(default_factory=CsvOptions)
    """CSV options."""
    phone_field: str = Field(default="phone", max_length=63, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Column or key holding the phone number."""
    id_field: str | None = Field(default=None, max_length=63, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Column or key holding the business's own contact id; the normalised number when unset."""
    fields: list[FieldSpec] = Field(
        default_factory=list,
        max_length=64,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Business fields kept with each contact."""
    default_region: str = Field(pattern=r"^[A-Z]{2}$")
    """ISO 3166-1 region for numbers written without a country code, e.g. `CN`."""
    purpose: Purpose = Purpose.DIAL
    """Dial, or Suppress: a do-not-call list whose numbers campaigns referring to it never dial."""
    tags: list[Tag] = Field(default_factory=list, max_length=32)
    """Tags every contact of the list carries, for routing rules and reports. A tag is 1-63
    characters: ASCII letters, digits, CJK ideographs, and `-_.:` after the first. It never
    holds seven or more digits in a row, even with `-` or `.` between them (it could be a phone
    number, and status shows tags unmasked); an ISO date such as 2026-01-15 is fine."""
    tags_field: str | None = Field(default=None, max_length=63, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Column or key holding each row's own tags, kept on the contact after the list's tags.
    A CSV cell (or NDJSON string) is split on `,` `;` `|` `、` and whitespace, full-width forms
    included (quote the cell when the delimiter is one of them); an NDJSON array holds one tag
    per item. At most 16 tags per row, each following the rule of `tags`. A row whose tags
    break the rule is rejected (reasons InvalidTag, NumberInTag, TooManyTags), never imported
    with tags quietly dropped. `status.rowTags` counts contacts per row tag."""
    refresh: str | None = Field(default=None, max_length=63)
    """Change this token (e.g. to today's date) to import the source again."""
    display: list[DisplayField] = Field(
        default_factory=list,
        max_length=64,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The fields shown to an agent when a call is offered to them, in this order, each masked
    as it says. The phone number is always shown, Partial unless listed here with another
    mask; no other field is shown unless listed."""

    cel_rules = (
        Rule(
            "!has(self.tagsField) || self.tagsField != self.phoneField",
            "must name a column other than phoneField",
            ".tagsField",
        ),
        Rule(
            "!has(self.display) || self.display.all(d, d.name == self.phoneField || "
            "(has(self.fields) && self.fields.exists(f, f.name == d.name)))",
            "each display field must be phoneField or one of fields",
            ".display",
        ),
    )

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{region!r} is not a region with a numbering plan (e.g. CN, US, GB)")
        return region

    @field_validator("tags")
    @classmethod
    def _no_numbers_in_tags(cls, values: list[str]) -> list[str]:
        # The schema's pattern says which characters; it cannot say "not a phone number".
        for index, tag in enumerate(values):
            if tags.problem(tag) == "NumberInTag":
                raise ValueError(
                    f"tag {index} holds a run of seven or more digits, which could be a phone "
                    "number: tags are shown unmasked in status"
                )
        return values


class RejectedRow(StatusModel):
    """A row that was not imported."""

    row: int
    """Row number in the source (1 is the first data row)."""
    line: int | None = None
    """The source line the row starts on (1 is the first line), for a row rejected while
    reading it: a NUL byte, a quote that does not close, a line too long, a malformed cell."""
    number: str = ""
    """The row's phone number, masked."""
    reason: str
    """Why it was rejected."""


class ImportCounts(StatusModel):
    """Counts of the last import."""

    read: int = 0
    """Rows read."""
    imported: int = 0
    """Contacts imported."""
    rejected: int = 0
    """Rows rejected."""
    duplicates: int = 0
    """Rows dropped as duplicates of an earlier row."""
    suppressed: int | None = None
    """For a do-not-call list (purpose Suppress): the numbers it suppresses."""
    tagged: int | None = None
    """When `spec.tagsField` is set: contacts imported with at least one row tag that the
    list's own tags do not already give."""


class ImportProgress(StatusModel):
    """How far the import under way has come; absent when none runs."""

    read: int = 0
    """Rows read so far."""
    imported: int = 0
    """Contacts imported so far."""
    rejected: int = 0
    """Rows rejected so far."""
    duplicates: int = 0
    """Duplicate rows so far."""
    tagged: int | None = None
    """Contacts with row tags so far (when `spec.tagsField` is set)."""
    bytes_read: int = 0
    """Bytes of the source read so far."""
    start_time: datetime | None = None
    """When the import started."""


class TagCount(StatusModel):
    """How many contacts carry one row tag."""

    tag: str
    """The tag (tags never hold phone numbers: see `spec.tags`)."""
    contacts: int
    """Contacts imported with it."""


class RowTags(StatusModel):
    """Contacts per row tag (from `spec.tagsField`) in the last import. The list's own tags
    (`spec.tags`) are on every contact and not counted here; the full counts are in Redis
    beside the contacts."""

    distinct: int = 0
    """Different row tags in the list."""
    top: list[TagCount] = Field(default_factory=list, max_length=20)
    """The most frequent row tags, most contacts first (ties by tag), at most 20."""


class ContactListStatus(StatusModel):
    """The observed state of a contact list, written by the operator."""

    observed_generation: int | None = None
    """The `metadata.generation` this status describes."""
    conditions: list[Condition] = Field(default_factory=list, max_length=16)
    """`Ready` (imported and usable) and `Importing`."""
    counts: ImportCounts | None = None
    """Counts of the last finished import; absent until one has finished."""
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    """Rejected rows by reason."""
    first_rejected: list[RejectedRow] = Field(default_factory=list, max_length=20)
    """The first rejected rows, numbers masked."""
    row_tags: RowTags | None = None
    """Contacts per row tag in the last import; present when `spec.tagsField` is set."""
    last_import_time: datetime | None = None
    """When the last import finished."""
    progress: ImportProgress | None = None
    """The import under way, if any."""
