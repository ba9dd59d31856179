"""The contact record: one imported row as the list keeps it (`ListKeys.contacts`, JSON by
contact id), written by the operator's import and read by the worker before it dials.

`Contact.encode` and `Contact.decode` are the one codec; the JSON keys are the record's wire
names (``timeZones``). The number is E.164 when the import wrote it, but a record may have
been written past the import, so the worker validates it again before dialling.

Schema 2 (``schemaVersion``) added ``network``; a record without one (written before, or past
the import) gets it from its region and carrier as the import would have.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from kdial.networks import UNKNOWN, network_of

__all__ = ["SCHEMA_VERSION", "BadContact", "Contact", "FieldValue"]

#: 2: ``network``.
SCHEMA_VERSION = 2

#: A typed column's value as the import stores it (decimals and dates as text).
FieldValue = str | int | bool


class BadContact(ValueError):
    """A stored contact that is not a contact record (not JSON, not an object, no number)."""


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact: its number, what the number says about where it is, its columns, tags."""

    number: str
    #: The contact's id (its key in the list); "" in a record written without it.
    id: str = ""
    #: The callee's possible time zones, most likely first; none when unknown.
    time_zones: tuple[str, ...] = ()
    #: ISO 3166-1 region of the number ("CN").
    region: str = ""
    province: str = ""
    city: str = ""
    #: The carrier the number's range was allocated to; "" for landlines and unknowns.
    carrier: str = ""
    #: The callee's network (`kdial.networks`): line health is kept per trunk and network.
    network: str = UNKNOWN
    #: The list's typed columns (`ContactListSpec.fields`) that were present.
    fields: Mapping[str, FieldValue] = field(default_factory=lambda: MappingProxyType({}))
    #: The list's tags first, then the row's.
    tags: tuple[str, ...] = ()

    def encode(self) -> str:
        return json.dumps(
            {
                "schemaVersion": SCHEMA_VERSION,
                "id": self.id,
                "number": self.number,
                "timeZones": list(self.time_zones),
                "region": self.region,
                "province": self.province,
                "city": self.city,
                "carrier": self.carrier,
                "network": self.network,
                "fields": dict(self.fields),
                "tags": list(self.tags),
            },
            ensure_ascii=False,
        )

    @classmethod
    def decode(cls, raw: str | bytes) -> Contact:
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError as error:
            raise BadContact(f"contact record is not JSON: {error.msg}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("number"), str):
            raise BadContact("contact record without a number")
        default = cls("")
        region = str(doc.get("region") or default.region)
        carrier = str(doc.get("carrier") or default.carrier)
        return cls(
            number=doc["number"],
            id=str(doc.get("id", default.id)),
            time_zones=tuple(str(z) for z in doc.get("timeZones") or default.time_zones),
            region=region,
            province=str(doc.get("province") or default.province),
            city=str(doc.get("city") or default.city),
            carrier=carrier,
            network=str(doc.get("network") or network_of(region, carrier)),
            fields=MappingProxyType(dict(doc.get("fields") or default.fields)),
            tags=tuple(str(t) for t in doc.get("tags") or default.tags),
        )
