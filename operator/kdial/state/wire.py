"""What a value on the wire between the operator and the workers is, and how one is stored.

A `WireValue` is a pydantic model with one codec: `encode` writes its camelCase JSON with the
schema version of its class (`schemaVersion`), `decode` reads it back and refuses a value whose
schema is newer than this reader understands (`NewerSchema`) before it reads any field, so a
worker older than its operator stops rather than misreading a value mid rolling upgrade.
A field the reader does not know is refused too: a writer that adds one bumps the version.

The operator stores a compiled value as a `Generation`, ``{"version": n, "content": value}``:
`version` counts changes of the content (status shows it), it is not the schema version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

#: The schema of a value written before values carried a version.
FIRST_SCHEMA = 1


class NewerSchema(ValueError):
    """A value written under a schema newer than this reader's."""


def refusal(kind: str, found: object, understood: int) -> str | None:
    """Why a reader that understands schema `understood` must not read a `kind` written under
    `found`; None when it can."""
    if isinstance(found, int) and not isinstance(found, bool) and 1 <= found <= understood:
        return None
    return (
        f"the {kind} has schemaVersion {found!r}, this worker understands {understood} and "
        "older; upgrade the worker image to the operator's"
    )


class WireValue(BaseModel):
    """Base of every value the operator writes and workers read."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    #: The schema this code writes and the newest it reads; bump it when a field is added or
    #: a meaning changes.
    SCHEMA_VERSION: ClassVar[int] = FIRST_SCHEMA
    #: What the value is called in a refusal.
    KIND: ClassVar[str] = "value"

    def content(self) -> dict[str, object]:
        """The value as JSON data, with its schema version."""
        dumped = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {"schemaVersion": self.SCHEMA_VERSION} | dumped

    def encode(self) -> str:
        return json.dumps(self.content(), sort_keys=True)

    @classmethod
    def decode(cls, raw: str | bytes) -> Self:
        return cls.of(json.loads(raw))

    @classmethod
    def of(cls, content: object) -> Self:
        """The value from its JSON data; raises `NewerSchema` before reading any field of a
        value from a newer writer, and pydantic's ValidationError for a malformed one."""
        data = dict(content) if isinstance(content, Mapping) else {}
        problem = refusal(cls.KIND, data.pop("schemaVersion", FIRST_SCHEMA), cls.SCHEMA_VERSION)
        if problem:
            raise NewerSchema(problem)
        return cls.model_validate(data)


@dataclass(frozen=True)
class Generation:
    """A compiled value as stored under its key, with the count of its changes."""

    version: int
    content: dict[str, object]

    def encode(self) -> str:
        return json.dumps({"version": self.version, "content": self.content}, sort_keys=True)

    @classmethod
    def decode(cls, raw: str | bytes) -> Generation:
        try:
            stored = json.loads(raw)
            return cls(int(stored["version"]), dict(stored["content"]))
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a stored generation: missing or malformed {error}") from None
