"""The `originate` API's arguments and dial strings, parsed as FreeSWITCH 1.10 parses them.

    originate <call url> <exten>|&<app>(<args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>]
              [<timeout_sec>]

A call url is `<...>` / `{...}` variables for every leg, then legs separated by `|` (tried one
after another) and `,` (rung at once), each optionally prefixed by `[...]` variables of its own:
`{a=b,c=d}[x=y]sofia/gateway/<gw>/<number>` or `sofia/<profile>/<user>@<host>`. The simulator
dials the first leg; the others are parsed (so syntax errors surface) but not rung.
"""

from __future__ import annotations

from dataclasses import dataclass

from kdial_sim import fsstring
from kdial_sim.fsstring import QUOTED_ESC_COMMA, UNQUOTED_ESC_COMMA

USAGE = (
    "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] "
    "[<cid_name>] [<cid_num>] [<timeout_sec>]\n"
)
DEFAULT_TIMEOUT = 60


class OriginateUsageError(ValueError):
    """The line does not have the shape of an originate command; FreeSWITCH prints USAGE."""


@dataclass(frozen=True)
class DialTarget:
    """Where one leg goes: `<endpoint>/<data>`, with the parts the simulator routes on."""

    endpoint: str
    data: str
    #: `sofia/gateway/<gateway>/...`
    gateway: str | None = None
    #: `sofia/<profile>/...` (None for gateway dial strings)
    profile: str | None = None
    #: The user part: the dialled number for gateways and SIP URIs, the name for `user/`.
    destination: str = ""
    #: The host (and port) of a SIP URI, if any.
    host: str | None = None

    @property
    def channel_name(self) -> str:
        """FreeSWITCH's Channel-Name for the leg (a gateway leg is named after its profile)."""
        if self.gateway is not None:
            return f"sofia/external/{self.destination}"
        return f"{self.endpoint}/{self.data}"


@dataclass(frozen=True)
class Leg:
    target: DialTarget
    #: `[...]` variables of this leg only, in the order given.
    variables: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class OriginateRequest:
    #: `<...>` and `{...}` variables, in the order given.
    global_vars: tuple[tuple[str, str], ...]
    #: Groups tried one after another (`|`); each group's legs ring at once (`,`).
    groups: tuple[tuple[Leg, ...], ...]
    app: str | None
    app_arg: str | None
    exten: str | None
    dialplan: str
    context: str
    cid_name: str | None
    cid_num: str | None
    timeout: int

    @property
    def first_leg(self) -> Leg:
        return self.groups[0][0]

    def variables_for(self, leg: Leg) -> list[tuple[str, str]]:
        """The leg's channel variables: globals, then its own, which override same-named ones."""
        own = dict(leg.variables)
        merged = [(name, value) for name, value in self.global_vars if name not in own]
        return merged + list(leg.variables)


def parse_originate(arg: str | None) -> OriginateRequest:
    """Parse the argument of `originate`; OriginateUsageError when FreeSWITCH would print USAGE."""
    argv = fsstring.separate(arg or "", " ", 10)
    if not 2 <= len(argv) <= 7:
        raise OriginateUsageError(USAGE)
    args: list[str | None] = [None if a.lower() == "undef" else a for a in argv]
    args += [None] * (7 - len(args))
    aleg, exten = args[0], args[1]
    if not aleg or not exten:
        raise OriginateUsageError(USAGE)
    global_vars, legs_text = _split_global_vars(aleg)
    app, app_arg, dial_exten = _parse_exten(exten)
    return OriginateRequest(
        global_vars=tuple(global_vars),
        groups=_parse_groups(legs_text),
        app=app,
        app_arg=app_arg,
        exten=dial_exten,
        dialplan=args[2] or "XML",
        context=args[3] or "default",
        cid_name=args[4],
        cid_num=args[5],
        timeout=_timeout(args[6]),
    )


def _timeout(text: str | None) -> int:
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = int(text)
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def _parse_exten(exten: str) -> tuple[str | None, str | None, str | None]:
    """`&app(args)` -> (app, args, None); anything else is an extension for the dialplan."""
    if not (exten.startswith("&") and len(exten) > 1):
        return None, None, exten
    body = exten[1:]
    close = body.find(")")
    if close >= 0:
        body = body[:close]
    name, paren, app_arg = body.partition("(")
    return name, (app_arg if paren else None), None


def _split_global_vars(aleg: str) -> tuple[list[tuple[str, str]], str]:
    """Peel `<...>` and `{...}` blocks off the front of a call url."""
    found: list[tuple[str, str]] = []
    text = aleg.lstrip(" ")
    for open_ch, close_ch in (("<", ">"), ("{", "}")):
        while text.startswith(open_ch):
            end = fsstring.find_end_paren(text, 0, open_ch, close_ch)
            if end is None:
                raise OriginateUsageError(f"-ERR unclosed {open_ch} in call url\n")
            found += fsstring.parse_bracket_vars(text[1:end], ",")
            text = text[end + 1 :].lstrip(" ")
    if not text:
        raise OriginateUsageError("-ERR No origination URL specified!\n")
    return found, text


def _parse_groups(text: str) -> tuple[tuple[Leg, ...], ...]:
    groups: list[tuple[Leg, ...]] = []
    for group in fsstring.separate(text, "|", 128):
        legs = fsstring.separate(_mark_bracket_commas(group), ",", 128)
        groups.append(tuple(_parse_leg(leg) for leg in legs if leg.strip()))
    if not groups or not groups[0]:
        raise OriginateUsageError("-ERR No origination URL specified!\n")
    return tuple(groups)


def _mark_bracket_commas(group: str) -> str:
    """Hide commas inside `[...]` from the leg split, as switch_ivr_originate does.

    Commas inside quotes (or in a `[^^...]` block) become QUOTED_ESC_COMMA and turn back into
    commas; the others become UNQUOTED_ESC_COMMA, which then separates the leg's variables.
    """
    chars = list(group)
    end: int | None = None
    quoted = alt = False
    for i, ch in enumerate(chars):
        if ch == "[":
            end = fsstring.find_end_paren(group, i, "[", "]")
            alt = group[i + 1 : i + 3] == "^^"
            quoted = False
        if ch == "'":
            quoted = not quoted
        if end is not None and i < end and ch == "," and chars[i - 1] != "\\":
            chars[i] = QUOTED_ESC_COMMA if (quoted or alt) else UNQUOTED_ESC_COMMA
        if i == end:
            end = None
    return "".join(chars)


def _parse_leg(text: str) -> Leg:
    text = text.lstrip(" ")
    variables: list[tuple[str, str]] = []
    while text.startswith("["):
        end = fsstring.find_end_paren(text, 0, "[", "]")
        if end is None:
            raise OriginateUsageError("-ERR unclosed [ in dial string\n")
        inner = text[1:end].replace(QUOTED_ESC_COMMA, ",")
        variables += fsstring.parse_bracket_vars(inner, UNQUOTED_ESC_COMMA)
        text = text[end + 1 :].lstrip(" ")
    # A stray marker outside brackets can only come from a malformed line; keep it a comma.
    text = text.replace(QUOTED_ESC_COMMA, ",").replace(UNQUOTED_ESC_COMMA, ",")
    return Leg(target=parse_dial_target(text), variables=tuple(variables))


def parse_dial_target(text: str) -> DialTarget:
    """`sofia/gateway/<gw>/<number>`, `sofia/<profile>/<uri>`, `user/<name>`, `error/<cause>`..."""
    endpoint, slash, data = text.partition("/")
    if not slash:
        return DialTarget(endpoint=endpoint, data="")
    if endpoint == "sofia":
        return _sofia_target(data)
    user, _, host = _strip_params(data).partition("@")
    return DialTarget(endpoint=endpoint, data=data, destination=user, host=host or None)


def _sofia_target(data: str) -> DialTarget:
    profile, _, rest = data.partition("/")
    if profile == "gateway":
        gateway, _, number = rest.partition("/")
        user, _, host = _strip_params(number).partition("@")
        return DialTarget(
            endpoint="sofia", data=data, gateway=gateway, destination=user, host=host or None
        )
    uri = _strip_params(rest)
    uri = uri.removeprefix("sip:").removeprefix("sips:")
    user, at, host = uri.partition("@")
    if not at:
        user, host = "", user
    return DialTarget(
        endpoint="sofia", data=data, profile=profile, destination=user, host=host or None
    )


def _strip_params(uri: str) -> str:
    """Drop `;param=...` tails, which carry routing hints rather than the address."""
    return uri.split(";", 1)[0]
