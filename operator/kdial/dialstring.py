"""What makes data from a contact row safe to put in an ESL ``originate`` command.

A dial string is a small language: ``{a=1,b=2}sofia/gateway/gw/8613812345678 &park()``, or
``{...}sofia/external/8613812345678@sip.carrier.example:5060 &park()`` for a trunk reached by
its SIP host rather than a gateway.
FreeSWITCH reads the ``api``/``bgapi originate`` line in three passes, and each pass treats
some characters as syntax (mod_commands' argument split, then switch_ivr_originate and
switch_event_create_brackets, in switch_utils.c terms):

1. The arguments are split on spaces. Single quotes group (and are then removed), a
   backslash escapes the next character, ``\\s`` becomes a space.
2. The ``{...}`` block is cut out by counting braces, with no regard for quotes or
   backslashes; its items are split on ``,`` (``\\,`` and a quoted comma are data; the
   backslash and the quotes are removed).
3. Each item is split on its first ``=``. Before all that, ``:_:`` anywhere in the string
   makes it an enterprise originate, and ``origination_nested_vars=true`` anywhere turns
   variable expansion back on.

So: a value's commas are escaped ``\\,`` (a quoted comma does not survive pass 1, which
strips the quotes before pass 2 splits on commas: ``{v='x,api_on_answer=...'}`` would set
api_on_answer); a value with spaces is quoted (an unquoted space ends the dial-string argument
and the rest becomes the application); braces and brackets cannot be escaped at all, and
quotes, backslashes and ``$`` (``${...}`` expansion runs API commands) mean different things
to different passes, so values holding them are refused, as are control characters: ESL
commands are line-framed, and a newline would start a command of the caller's choosing.
Numbers reach the dial string as ASCII digits only, a SIP host only as RFC 1123 labels and a
port, and the application comes from a short allowlist with validated arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

from kdial.api.meta import SIP_HOST_PORT
from kdial.numbers import is_e164

__all__ = [
    "AppName",
    "Application",
    "DialFormat",
    "SipUri",
    "abandon_command",
    "agent_leg",
    "agent_originate_command",
    "bridge_command",
    "channel_var",
    "destination",
    "originate_command",
]

MAX_NAME_LENGTH = 64
MAX_VALUE_LENGTH = 1024
MAX_CALL_SECONDS = 24 * 3600

_NAME = re.compile(r"[A-Za-z0-9_]+")
_GATEWAY = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_DIAL_PREFIX = re.compile(r"[0-9]{0,8}")
_SIP_HOST_PORT = re.compile(SIP_HOST_PORT)
MAX_SIP_HOST_LENGTH = 256
#: The sofia profile a SIP URI trunk is dialled through: FreeSWITCH's stock profile for
#: carriers (port 5080, no registration needed), the one a TrunkPool's sipUri documents.
SIP_PROFILE = "external"
# Characters a value may never hold (see the module docstring for why each is here).
_FORBIDDEN_IN_VALUE = frozenset("{}[]'\"\\$")
_FORBIDDEN_SEQUENCES = (":_:", "origination_nested_vars")

# Variables whose value FreeSWITCH runs as an application, an API command or a dialplan
# target (api_on_answer=system ..., execute_on_answer=..., exec_after_bridge_app, ...), or
# that turn expansion on. Only the caller's own code may set them, with allow_exec=True.
_EXEC_PREFIXES = ("api_", "exec", "bridge_pre_execute")
_EXEC_SUFFIXES = ("_hook",)
_EXEC_NAMES = frozenset({"transfer_after_bridge", "origination_nested_vars"})


def _check_name(name: str, *, allow_exec: bool) -> None:
    if len(name) > MAX_NAME_LENGTH or _NAME.fullmatch(name) is None:
        raise ValueError("channel variable name must match [A-Za-z0-9_]+ (at most 64)")
    lowered = name.lower()  # FreeSWITCH looks variables up without regard to case
    executing = (
        lowered.startswith(_EXEC_PREFIXES)
        or lowered.endswith(_EXEC_SUFFIXES)
        or lowered in _EXEC_NAMES
    )
    if executing and not allow_exec:
        raise ValueError(f"channel variable {name!r} executes its value; refused")


def _check_value(value: str) -> None:
    if not value:
        # FreeSWITCH drops "name=" silently (the item has no second part after the split).
        raise ValueError("channel variable value is empty")
    if len(value) > MAX_VALUE_LENGTH:
        raise ValueError(f"channel variable value longer than {MAX_VALUE_LENGTH}")
    if value != value.strip(" "):
        # The item parser trims unquoted edges: the switch would not see the value we meant.
        raise ValueError("channel variable value has leading or trailing spaces")
    for ch in value:
        # isprintable() is False for control characters (newlines: ESL framing), format
        # characters (bidi overrides) and every separator except the ASCII space.
        if not ch.isprintable() or ch in _FORBIDDEN_IN_VALUE:
            raise ValueError(f"channel variable value holds a forbidden character {ch!r}")
    lowered = value.lower()
    for sequence in _FORBIDDEN_SEQUENCES:
        if sequence in lowered:
            raise ValueError(f"channel variable value holds {sequence!r}")


def channel_var(name: str, value: str, *, allow_exec: bool = False) -> str:
    """One ``name=value`` item for an originate ``{...}`` block, escaped as data.

    Commas become ``\\,``; a value with spaces is single-quoted. Raises ValueError for a bad
    name, an executing variable (unless `allow_exec`, for the caller's own constants), and a
    value that cannot be carried safely (empty, control characters, braces, brackets, quotes,
    backslashes, ``$``, leading or trailing spaces).
    """
    _check_name(name, allow_exec=allow_exec)
    _check_value(value)
    escaped = value.replace(",", "\\,")
    if " " in escaped:
        escaped = f"'{escaped}'"
    return f"{name}={escaped}"


class DialFormat(StrEnum):
    """How a trunk wants the number: E.164 digits or the national form, digits only."""

    E164 = "E164"  # 8613812345678, 862088888888
    NATIONAL = "National"  # 13812345678, 02088888888 (with the national trunk prefix)


@dataclass(frozen=True, slots=True)
class SipUri:
    """A trunk reached without a gateway: mod_sofia sends the INVITE straight to `host`.

    `host` is ``host[:port]`` as a TrunkPool's sipUri allows it, checked again here because it
    arrives through Redis: ``;params``, ``,``, ``|``, ``@``, spaces or a scheme would be
    dial-string syntax or a second user part, so nothing but labels and a port gets through.
    """

    host: str

    def __post_init__(self) -> None:
        if len(self.host) > MAX_SIP_HOST_LENGTH or _SIP_HOST_PORT.fullmatch(self.host) is None:
            raise ValueError("SIP URI must be host[:port] (RFC 1123 labels, port 1-65535)")


def destination(
    trunk: str | SipUri,
    number: str,
    *,
    dial_format: DialFormat = DialFormat.E164,
    dial_prefix: str = "",
) -> str:
    """Where `number` (E.164) is dialled on `trunk`, a gateway name or a SipUri:
    ``sofia/gateway/<gateway>/<prefix><digits>`` or ``sofia/external/<prefix><digits>@<host>``.

    mod_sofia reads ``sofia/<profile>/<user>@<host>`` as the Request-URI
    ``sip:<user>@<host>``, so the digits are the user part exactly as a gateway would send them.
    """
    if not isinstance(trunk, SipUri) and (
        not isinstance(trunk, str) or _GATEWAY.fullmatch(trunk) is None
    ):
        raise ValueError("gateway name must match [A-Za-z0-9_.-]+ (at most 128)")
    digits = _digits(number, dial_format, dial_prefix)
    if isinstance(trunk, SipUri):
        return f"sofia/{SIP_PROFILE}/{digits}@{trunk.host}"
    return f"sofia/gateway/{trunk}/{digits}"


def _digits(number: str, dial_format: DialFormat, dial_prefix: str) -> str:
    """The dialled digits: `dial_prefix`, then `number` in `dial_format`, ASCII digits only."""
    if not is_e164(number):
        raise ValueError("number is not E.164 (+ and 7 to 15 ASCII digits)")
    if _DIAL_PREFIX.fullmatch(dial_prefix) is None:
        raise ValueError("dial prefix must be at most 8 ASCII digits")
    if dial_format is DialFormat.E164:
        digits = number[1:]
    else:
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            raise ValueError("number cannot be put in national form") from None
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        digits = "".join(c for c in national if c in "0123456789")
        if not digits:
            raise ValueError("number cannot be put in national form")
    return f"{dial_prefix}{digits}"


class AppName(StrEnum):
    """The applications an originated call may be handed to."""

    PARK = "park"
    BRIDGE = "bridge"
    TRANSFER = "transfer"
    SOCKET = "socket"


_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
_BRIDGE_TARGET = re.compile(
    r"user/[A-Za-z0-9_.+-]{1,64}(?:@" + _HOST + r")?"
    r"|sofia/gateway/[A-Za-z0-9_.-]{1,128}/[0-9]{1,20}"
    r"|sofia/[A-Za-z0-9_.-]{1,64}/[A-Za-z0-9_.+-]{1,64}@" + _HOST + r"(?::[0-9]{1,5})?"
)
_EXTENSION = re.compile(r"[A-Za-z0-9_+*#.-]{1,64}")
_CONTEXT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SOCKET_ADDRESS = re.compile(r"(" + _HOST + r"):([0-9]{1,5})")
_SOCKET_FLAGS = ("async", "full")
_MAX_PORT = 65535


@dataclass(frozen=True, slots=True)
class Application:
    """Where an answered call goes; validated on construction, whichever way it is built.

    park: no args. bridge: (target,), one of user/<ext>[@host],
    sofia/gateway/<gw>/<digits>, sofia/<profile>/<user>@<host>[:port]. transfer:
    (extension,) or (extension, context), XML dialplan. socket: ("host:port", *flags) with
    flags from async, full.
    """

    name: AppName
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _validate_app(self.name, self.args)

    @classmethod
    def park(cls) -> Application:
        return cls(AppName.PARK)

    @classmethod
    def bridge(cls, target: str) -> Application:
        return cls(AppName.BRIDGE, (target,))

    @classmethod
    def transfer(cls, extension: str, context: str = "default") -> Application:
        return cls(AppName.TRANSFER, (extension, context))

    @classmethod
    def socket(
        cls, host: str, port: int, *, async_mode: bool = True, full: bool = True
    ) -> Application:
        flags = tuple(f for f, on in zip(_SOCKET_FLAGS, (async_mode, full), strict=True) if on)
        return cls(AppName.SOCKET, (f"{host}:{port}", *flags))

    def render(self) -> str:
        """The originate arguments after the dial string."""
        if self.name is AppName.TRANSFER:
            # originate's positional form: <exten> <dialplan> <context>.
            context = self.args[1] if len(self.args) > 1 else "default"
            return f"{self.args[0]} XML {context}"
        inner = " ".join(self.args)
        rendered = f"&{self.name.value}({inner})"
        # Spaces would split the argument; pass 1 strips the quotes again.
        return f"'{rendered}'" if " " in rendered else rendered


def _validate_app(name: AppName, args: tuple[str, ...]) -> None:
    if not isinstance(name, AppName):
        raise ValueError(f"application must be one of {', '.join(a.value for a in AppName)}")
    ok = False
    if name is AppName.PARK:
        ok = args == ()
    elif name is AppName.BRIDGE:
        ok = len(args) == 1 and _BRIDGE_TARGET.fullmatch(args[0]) is not None
    elif name is AppName.TRANSFER:
        ok = (
            1 <= len(args) <= 2
            and _EXTENSION.fullmatch(args[0]) is not None
            and all(_CONTEXT.fullmatch(a) is not None for a in args[1:])
        )
    elif name is AppName.SOCKET:
        match = _SOCKET_ADDRESS.fullmatch(args[0]) if args else None
        flags = args[1:]
        ok = (
            match is not None
            and 1 <= int(match.group(2)) <= _MAX_PORT
            and len(set(flags)) == len(flags)
            and all(f in _SOCKET_FLAGS for f in flags)
        )
    if not ok:
        raise ValueError(f"invalid arguments for application {name.value}")


def originate_command(
    trunk: str | SipUri,
    number: str,
    variables: Mapping[str, str] | None = None,
    *,
    application: Application | None = None,
    dial_format: DialFormat = DialFormat.E164,
    dial_prefix: str = "",
    max_call_seconds: int | None = None,
) -> str:
    """``originate {vars}<destination> <application>``, one line.

    `trunk` is a gateway name or a SipUri (see destination). `number` must be E.164 and
    reaches the dial string as digits only. Every variable goes through channel_var
    (executing variables are refused). `max_call_seconds` sets the safety net FreeSWITCH
    lacks for parked calls: ``execute_on_answer`` schedules a hangup (cause ALLOTTED_TIMEOUT)
    that many seconds after answer. The application defaults to park. Prefix the result with
    ``bgapi `` (or ``api ``) to send it.
    """
    items = _items(variables or {})
    if max_call_seconds is not None:
        if not 0 < max_call_seconds <= MAX_CALL_SECONDS:
            raise ValueError(f"max_call_seconds must be in 1..{MAX_CALL_SECONDS}")
        hangup = f"sched_hangup +{int(max_call_seconds)} ALLOTTED_TIMEOUT"
        items.append(channel_var("execute_on_answer", hangup, allow_exec=True))
    dest = destination(trunk, number, dial_format=dial_format, dial_prefix=dial_prefix)
    return _one_line(items, dest, application or Application.park())


def _items(variables: Mapping[str, str]) -> list[str]:
    items: list[str] = []
    seen: set[str] = set()
    for name, value in variables.items():
        if name.lower() in seen:
            raise ValueError(f"channel variable {name!r} given twice (names ignore case)")
        seen.add(name.lower())
        items.append(channel_var(name, value))
    return items


def _one_line(items: list[str], dest: str, application: Application) -> str:
    block = "{" + ",".join(items) + "}" if items else ""
    command = f"originate {block}{dest} {application.render()}"
    # Defence in depth: whatever changes above, the command stays one printable line.
    if not command.isprintable():
        raise ValueError("originate command would not be a single printable line")
    return command


#: A user registered on the switch, as the agent API accepts it (`kdial_api.requests`): nothing
#: a dial string gives meaning to (`,` `;` `|` `{` `[` `@` `/`, spaces) can be part of one.
_AGENT_USER = re.compile(r"[A-Za-z0-9_.+-]{1,64}")


def agent_leg(endpoint: str) -> str:
    """Where an agent's phone is rung: ``user/<name>`` for a user registered on the switch
    (`1001`), ``sofia/external/<user>@<host>[:<port>]`` for a SIP URI
    (`sip:1001@pbx.example.com:5060`). The endpoint comes from an agent's login, through
    Redis: it is checked again here like contact data, and refused (ValueError) unless it is
    exactly one of those two shapes."""
    user, at, host = endpoint.removeprefix("sip:").partition("@")
    if _AGENT_USER.fullmatch(user) is None:
        raise ValueError("agent endpoint must be a user name or sip:user@host[:port]")
    if not endpoint.startswith("sip:"):
        if at:
            raise ValueError("agent endpoint must be a user name or sip:user@host[:port]")
        return f"user/{user}"
    return f"sofia/{SIP_PROFILE}/{user}@{SipUri(host).host}"


def agent_originate_command(endpoint: str, variables: Mapping[str, str]) -> str:
    """``originate {vars}<agent leg> &park()``, one line: the agent's phone rung and, once
    answered, parked until the worker bridges the callee to it (`bridge_command`)."""
    return _one_line(_items(variables), agent_leg(endpoint), Application.park())


def bridge_command(callee: str, agent: str) -> str:
    """``uuid_bridge <callee> <agent>``: the answered callee (the bridge's originator) and the
    agent's answered leg joined; ValueError for a UUID that is not one as kdial makes them."""
    for uuid in (callee, agent):
        if _UUID.fullmatch(uuid) is None:
            raise ValueError("call UUID must be a lower-case UUID")
    return f"uuid_bridge {callee} {agent}"


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The Campaign's abandonMessage pattern again (it arrives through Redis): path segments that
# cannot be `..`, and nothing the argument split (spaces, quotes) or the inline dialplan
# (`,` between applications, `:` between an application and its data) would read as syntax.
_SOUND_FILE = re.compile(r"/?[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")
MAX_SOUND_FILE_LENGTH = 256


def abandon_command(uuid: str, message: str) -> str:
    """``uuid_transfer <uuid> playback:<message>,hangup:NORMAL_CLEARING inline``, one line.

    Takes an answered call away from whatever it waits on (park, a bridge still ringing) into
    an inline dialplan that plays the compliance message and hangs up. Raises ValueError for a
    UUID that is not one (lower-case, as kdial makes them) or a message that is not a plain
    sound file path.
    """
    if _UUID.fullmatch(uuid) is None:
        raise ValueError("call UUID must be a lower-case UUID")
    if len(message) > MAX_SOUND_FILE_LENGTH or _SOUND_FILE.fullmatch(message) is None:
        raise ValueError("abandon message must be a sound file path ([A-Za-z0-9_.-] segments)")
    return f"uuid_transfer {uuid} playback:{message},hangup:NORMAL_CLEARING inline"
