"""What every kdial API object is made of: the model base, CEL rules, references, conditions.

The pydantic models are the API. Field docstrings become the CRD's descriptions (and so the
text of `kubectl explain`); camelCase aliases are the wire names. Cross-field rules are CEL
expressions declared once on the model: the CRD carries them as `x-kubernetes-validations`
for the API server, and the operator evaluates the very same expressions when it validates an
object, so an API server that skipped them (an emulator, an older cluster) still cannot make
kdial dial from an invalid spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from kdial.api import cel

#: RFC 1123 DNS label: names of Kubernetes objects and of list items keyed by name.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#: RFC 1123 subdomain: the names of most Kubernetes objects.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
#: A phone number in E.164: the only form a number takes inside kdial.
E164 = r"^\+[1-9][0-9]{6,14}$"
_HOST_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
#: A SIP host and optional port, `host[:port]`: RFC 1123 labels (an IPv4 address is one such
#: name), port 1-65535. No scheme, user part or `;params`: the number is the user part, and
#: `;`, `,`, `|`, `@` or spaces would be dial-string syntax. RE2-compatible (no look-arounds),
#: so the CRD schema enforces the very same pattern.
SIP_HOST_PORT = rf"^{_HOST_LABEL}(\.{_HOST_LABEL})*(:{_PORT})?$"
#: A SIP host or domain alone, without a port.
SIP_HOST = rf"^{_HOST_LABEL}(\.{_HOST_LABEL})*$"


@dataclass(frozen=True)
class Rule:
    """A CEL rule over `self`, the object it is declared on (`x-kubernetes-validations`)."""

    rule: str
    message: str
    #: The field the message is about, relative to the object (e.g. `.end`), as the API server
    #: reports it; kept for the operator's messages too.
    field_path: str | None = None


def _emit_rules(schema: dict[str, Any], cls: type[Any]) -> None:
    rules: tuple[Rule, ...] = getattr(cls, "cel_rules", ())
    if rules:
        schema["x-kubernetes-validations"] = [
            {"rule": r.rule, "message": r.message}
            | ({"fieldPath": r.field_path} if r.field_path else {})
            for r in rules
        ]


class ApiModel(BaseModel):
    """Base of every spec and status model."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        json_schema_extra=_emit_rules,
    )

    #: Cross-field rules of this object; see `Rule`.
    cel_rules: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        self._check_map_keys()
        for rule in self.cel_rules:
            if not cel.holds(rule.rule, self.model_dump(by_alias=True, exclude_none=True)):
                # `explain` moves a leading `.path ` into the field path it reports.
                raise ValueError(f"{rule.field_path or ''} {rule.message}".lstrip())
        return self

    def _check_map_keys(self) -> None:
        """Lists the CRD declares as maps (`x-kubernetes-list-type: map`) have unique keys; the
        API server enforces it, and so must anything that validates without one."""
        for name, info in type(self).model_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            map_keys = extra.get("x-kubernetes-list-map-keys")
            if not isinstance(map_keys, list):
                continue
            seen: set[tuple[Any, ...]] = set()
            for item in getattr(self, name):
                key = tuple(getattr(item, str(k)) for k in map_keys)
                if key in seen:
                    alias = info.alias or name
                    raise ValueError(
                        f".{alias} duplicate {'/'.join(map(str, map_keys))} {key[0]!r}"
                    )
                seen.add(key)


class StatusModel(ApiModel):
    """Base of status models. Status is the operator's to write; fields an older operator wrote
    are ignored rather than refused."""

    model_config = ConfigDict(extra="ignore")

    @classmethod
    def normalized(cls, data: dict[str, Any]) -> dict[str, Any]:
        """`data` with every default filled in, as the API server stores it: a status patch
        that already says everything comes back unchanged."""
        return cls.model_validate(data).as_patch()

    def as_patch(self) -> dict[str, Any]:
        """This status as the JSON of a merge patch: wire names, unset fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class LocalObjectReference(ApiModel):
    """A reference to an object of a known kind in the referrer's own namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    """Name of the referenced object. References never cross namespaces: a namespace is a
    tenant."""


class FieldType(StrEnum):
    """The type of a business field: a ContactList's columns, a Campaign's disposition fields."""

    STRING = "String"
    INTEGER = "Integer"
    DECIMAL = "Decimal"
    BOOLEAN = "Boolean"
    DATE = "Date"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """One aspect of an object's observed state, in the shape of `metav1.Condition`."""

    type: str = Field(max_length=316, pattern=r"^[A-Z][A-Za-z0-9]*$")
    """Condition type in CamelCase, e.g. `Ready`."""
    status: Literal["True", "False", "Unknown"]
    """Whether the condition holds: True, False or Unknown."""
    reason: str = Field(max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    """A CamelCase word a program can switch on, e.g. `ReferenceNotFound`."""
    message: str = Field(default="", max_length=32768)
    """What a person needs to know, and what to do about it."""
    observed_generation: int | None = Field(default=None, ge=0)
    """The `metadata.generation` this condition was computed from."""
    last_transition_time: datetime
    """When `status` last changed."""


def field_path(root: str, loc: tuple[int | str, ...]) -> str:
    """`("windows", 0, "end")` under `spec.schedule` -> `spec.schedule.windows[0].end`."""
    path = root
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def explain(error: ValidationError, root: str = "spec", limit: int = 3) -> str:
    """A message a person can act on: each offending field by its path, and what is wrong."""
    parts = []
    for item in error.errors()[:limit]:
        path = field_path(root, tuple(item["loc"]))
        message = item["msg"].removeprefix("Value error, ")
        if message.startswith("."):
            sub, _, message = message.partition(" ")
            path += sub
        parts.append(f"{path}: {message}")
    more = error.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
