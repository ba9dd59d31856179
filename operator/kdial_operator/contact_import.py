"""Reading a contact list: rows in, clean contacts and counted rejections out (pure).

Every row is either imported, rejected with a reason, or dropped as a duplicate; the counts
always add up to the rows read.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import NotRequired, TypedDict

from pydantic import JsonValue

from kdial import tags
from kdial.api.contactlist import ContactListSpec, FieldSpec, ListFormat
from kdial.api.meta import FieldType
from kdial.networks import network_of
from kdial.numbers import InvalidNumber, normalize
from kdial.privacy import mask_number
from kdial.state.contact import Contact, FieldValue
from kdial_operator.contact_reader import Row

FIRST_REJECTED = 20


class RejectedSample(TypedDict):
    """A rejected row as status shows it (`status.firstRejected`), its number masked."""

    row: int
    number: str
    reason: str
    line: NotRequired[int]
    """The source line the row starts on, when the reader rejected it."""


@dataclass
class Tally:
    """What an import did with each row it read; the counts add up to `read`."""

    read: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    first_rejected: list[RejectedSample] = field(default_factory=list)
    #: Imported contacts with row tags; None when the list has no `tagsField`.
    tagged: int | None = None

    def reject(self, row: int, number: str, reason: str, line: int | None = None) -> None:
        """Counts a rejected row; `line` is the source line it starts on, when the reader
        rejected it (a row it could read is found by its `row` number)."""
        self.rejected[reason] += 1
        if len(self.first_rejected) < FIRST_REJECTED:
            shown: RejectedSample = {"row": row, "number": mask_number(number), "reason": reason}
            if line is not None:
                shown["line"] = line
            self.first_rejected.append(shown)

    def as_dict(self) -> dict[str, int]:
        """The counts as status shows them (`read`, `imported`, `rejected`, `duplicates`, and
        `tagged` when the list has a `tagsField`)."""
        counts = {
            "read": self.read,
            "imported": self.imported,
            "rejected": sum(self.rejected.values()),
            "duplicates": self.duplicates,
        }
        return counts if self.tagged is None else counts | {"tagged": self.tagged}


@dataclass
class ImportResult(Tally):
    """A whole list checked in memory (small lists, examples); streaming imports use `check`."""

    contacts: dict[str, Contact] = field(default_factory=dict)


def rows(text: str, spec: ContactListSpec) -> list[Row]:
    """The source's rows as dicts; a row that is not an object becomes an empty dict."""
    text = text.removeprefix("\ufeff")
    if spec.format is ListFormat.NDJSON:
        parsed = []
        for line in text.splitlines():
            if line.strip():
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    value = None
                parsed.append(value if isinstance(value, dict) else {})
        return parsed
    return list(csv.DictReader(io.StringIO(text), delimiter=spec.csv.delimiter))


def contact_id(number: str, id_key: bytes) -> str:
    """A contact's id when the list has no id field: a keyed hash of its number, because ids
    travel where numbers must not (ledger keys, attempt records), and an unkeyed hash of a
    phone number is brute-forced in minutes."""
    return hmac.new(id_key, number.encode(), hashlib.sha256).hexdigest()[:24]


def import_rows(records: list[Row], spec: ContactListSpec, id_key: bytes) -> ImportResult:
    result = ImportResult(tagged=0 if spec.tags_field else None)
    seen: set[str] = set()
    for number, record in enumerate(records, start=1):
        result.read += 1
        checked = check(record, spec, id_key)
        if isinstance(checked, Rejection):
            result.reject(number, checked.number, checked.reason)
            continue
        if checked.id in seen:
            result.duplicates += 1
            continue
        seen.add(checked.id)
        result.contacts[checked.id] = checked
        if result.tagged is not None and row_tags_of(checked, spec):
            result.tagged += 1
    result.imported = len(result.contacts)
    return result


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a row was refused, and its raw number (only ever shown masked)."""

    reason: str
    number: str


def check(record: Row, spec: ContactListSpec, id_key: bytes) -> Contact | Rejection:
    """One row as a clean contact, or why it was refused. Duplicates are the caller's to find
    (a streaming import finds them in Redis, not in memory)."""
    raw = str(record.get(spec.phone_field) or "").strip()
    try:
        return _contact(record, raw, spec, id_key)
    except _Rejected as why:
        return Rejection(str(why), raw)


class _Rejected(Exception):
    pass


def _contact(record: Row, raw: str, spec: ContactListSpec, id_key: bytes) -> Contact:
    if not raw:
        raise _Rejected("MissingNumber")
    try:
        phone = normalize(raw, spec.default_region)
    except InvalidNumber as error:
        raise _Rejected(f"InvalidNumber:{error.reason}") from None
    fields = {f.name: _field(f, record.get(f.name)) for f in spec.fields}
    row_tags: list[str] = []
    if spec.tags_field is not None:
        try:
            row_tags = tags.row_tags(record.get(spec.tags_field))
        except tags.BadTags as bad:
            raise _Rejected(f"{bad.reason}:{spec.tags_field}") from None
    cid = str(record.get(spec.id_field, "") if spec.id_field else "") or contact_id(
        phone.e164, id_key
    )
    return Contact(
        id=cid,
        number=phone.e164,
        time_zones=tuple(phone.time_zones),
        region=phone.region_code,
        province=phone.province,
        city=phone.city,
        carrier=phone.carrier,
        network=network_of(phone.region_code, phone.carrier),
        fields={k: v for k, v in fields.items() if v is not None},
        # The list's tags first, then the row's: `row_tags_of` relies on this order.
        tags=tuple(tags.merge(spec.tags, row_tags)),
    )


def row_tags_of(contact: Contact, spec: ContactListSpec) -> list[str]:
    """The tags a contact's row added to the list's own (what `status.rowTags` counts)."""
    return list(contact.tags[len(set(spec.tags)) :])


def _field(spec: FieldSpec, value: JsonValue) -> FieldValue | None:
    if value is None or value == "":
        if spec.required:
            raise _Rejected(f"MissingField:{spec.name}")
        return None
    # A String cell is kept as written, "=", "+", "-" or "@" first included ("+86 139...",
    # "-5 overdue"): it is a formula only in a spreadsheet, and kdial writes no contact field
    # into one. Whatever does must neutralise it there (OWASP: a leading single quote).
    text = str(value).strip()
    try:
        return _typed(spec.type, text)
    except (ValueError, InvalidOperation):
        raise _Rejected(f"WrongType:{spec.name}") from None


def _typed(kind: FieldType, text: str) -> FieldValue:
    if kind is FieldType.INTEGER:
        return int(text)
    if kind is FieldType.DECIMAL:
        return str(Decimal(text))
    if kind is FieldType.BOOLEAN:
        if text.lower() not in {"true", "false", "1", "0", "yes", "no"}:
            raise ValueError(text)
        return text.lower() in {"true", "1", "yes"}
    if kind is FieldType.DATE:
        return date.fromisoformat(text).isoformat()
    return text
