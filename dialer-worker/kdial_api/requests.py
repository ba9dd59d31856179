"""What the agent API accepts in a request body and in a path, validated before anything is
read or written (pure)."""

from __future__ import annotations

import re
from typing import Annotated, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

from kdial.api.meta import SIP_HOST_PORT

__all__ = [
    "BadRequest",
    "Disposition",
    "Empty",
    "Login",
    "NotReady",
    "check_agent",
    "check_endpoint",
    "check_name",
    "parse",
]

#: A user registered on the switch: what `user/<name>` dials. Nothing a dial string gives
#: meaning to (`,`, `;`, `|`, `{`, `[`, `@`, spaces, `/`) can appear in one.
_USER = r"[A-Za-z0-9_.+-]{1,64}"
_REGISTERED_USER = re.compile(_USER)
_SIP_URI = re.compile(rf"sip:{_USER}@{SIP_HOST_PORT.removeprefix('^').removesuffix('$')}")
#: A Kubernetes object name (RFC 1123 subdomain, at most 253 characters).
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_MAX_NAME = 253


class BadRequest(ValueError):
    """A request the API refuses before acting on it; the message says what to change."""


def check_endpoint(endpoint: str) -> str:
    """`endpoint` if it is a registered user name (`1001`) or a SIP URI
    (`sip:1001@pbx.example.com:5060`); raises ValueError naming what is allowed."""
    if _REGISTERED_USER.fullmatch(endpoint) or _SIP_URI.fullmatch(endpoint):
        return endpoint
    raise ValueError(
        "endpoint must be a user registered on the switch (letters, digits and _.+- only, "
        "at most 64, e.g. 1001) or a SIP URI sip:user@host[:port] (e.g. "
        "sip:1001@pbx.example.com:5060) without parameters, headers or spaces"
    )


def check_name(what: str, value: str) -> str:
    """`value` if it can name a Kubernetes object; raises `BadRequest` otherwise."""
    if len(value) <= _MAX_NAME and _NAME.fullmatch(value):
        return value
    raise BadRequest(
        f"{what} {value[:64]!r} is not a Kubernetes name (lower-case letters, digits, '-' and '.')"
    )


#: An agent's name: a key of the namespace's tokens Secret.
_AGENT = re.compile(r"[-._a-zA-Z0-9]{1,253}")


def check_agent(value: str) -> str:
    """`value` if it can name an agent (a Secret key); raises `BadRequest` otherwise."""
    if _AGENT.fullmatch(value):
        return value
    raise BadRequest(
        f"agent {value[:64]!r} is not an agent's name (letters, digits, '-', '_' and '.')"
    )


#: An attempt id as the ledger makes them: the campaign's epoch, '-', a sequence number.
_ATTEMPT = re.compile(r"[-._a-zA-Z0-9]{1,128}")


def check_attempt(value: str) -> str:
    """`value` if it can be an attempt id; raises `BadRequest` otherwise."""
    if _ATTEMPT.fullmatch(value):
        return value
    raise BadRequest(f"attempt {value[:64]!r} is not an attempt id")


class _Body(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


_B = TypeVar("_B", bound=_Body)


class Login(_Body):
    """Log in to a campaign."""

    endpoint: Annotated[str, AfterValidator(check_endpoint)]
    """Where calls are bridged: a user registered on the worker's switch (`1001`) or a SIP URI
    (`sip:1001@pbx.example.com`)."""
    ready: bool = False
    """Start Ready to take calls; NotReady (until `ready`) when false."""


class NotReady(_Body):
    """Stop taking calls, saying why."""

    reason: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")
    """Why, in the agent's words (`break`, `meeting`): printable, 1 to 100 characters."""


class Disposition(_Body):
    """End wrap-up: how the call went, and what follows for the contact."""

    code: str | None = Field(default=None, min_length=1, max_length=63)
    """One of the campaign's disposition codes (`spec.dispositions.codes`); leave it out only
    when the campaign declares none."""
    fields: dict[str, StrictStr | StrictBool | StrictInt | StrictFloat] = Field(
        default_factory=dict, max_length=32
    )
    """Values of the campaign's disposition fields (`spec.dispositions.fields`), by name:
    strings, integers, booleans; a Decimal as a string (`"129.50"`) or a number; a Date as
    `YYYY-MM-DD`."""
    call_back_at: AwareDatetime | None = None
    """When to call the contact again (RFC 3339 with an offset), for a code that asks for a
    call-back; refused for the others."""


class Empty(_Body):
    """No fields: an empty body or `{}`."""


def parse(model: type[_B], body: bytes) -> _B:
    """The request body as `model`; raises `BadRequest` saying what is wrong with it."""
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as error:
        raise BadRequest("; ".join(_problem(e) for e in error.errors())) from None


def _problem(error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
