"""A TrunkPool's gateways as FreeSWITCH reads them: the sofia include file the operator compiles
from the pool's gateway trunks and their credentials. How it reaches the worker pods (the
Secret, its keys, the mounts) is the contract in `kdial.state.gateways`.

Every value is checked before it is written, not only escaped: FreeSWITCH expands `${...}` and
`$${...}` in its configuration, and a value it later copies into a channel must not carry
dial-string syntax. The API schema already holds the spec's values to safe patterns; the
credentials come from Secrets nobody validated, so they are checked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from kdial.api.trunkpool import CallerIdIn, Gateway, Trunk

#: What FreeSWITCH could read as something other than a value: dial-string syntax, quotes,
#: markup, a backslash, and any control character or line break.
_UNSAFE = re.compile(r"[{}\[\]|,^'\"<>\\\x00-\x1f\x7f]")
_UNSAFE_TEXT = "{ } [ ] | , ^ ' \" < > \\ or a control character"


@dataclass(frozen=True)
class Credentials:
    """A carrier account, as read from the trunk's `authSecretRef`."""

    username: str
    password: str = field(repr=False)


class UnsafeValue(ValueError):
    """A value FreeSWITCH could interpret; the message names the value's place, never it."""


def problem(value: str) -> str | None:
    """Why `value` cannot be written into the switch's configuration; None when it can."""
    if not value:
        return "is empty"
    if "${" in value:
        return "holds `${`, which FreeSWITCH expands as a variable"
    if _UNSAFE.search(value):
        return f"holds one of {_UNSAFE_TEXT}, which FreeSWITCH could interpret"
    return None


def compile_gateways(trunks: Sequence[Trunk], credentials: Mapping[str, Credentials]) -> str:
    """The sofia include file of `trunks`' gateways, in their order (trunks without a gateway
    are skipped). `credentials` holds, by trunk name, the account of every trunk whose gateway
    has an authSecretRef. Raises `UnsafeValue` for a value FreeSWITCH could interpret."""
    blocks = []
    for trunk in trunks:
        if trunk.gateway is not None:
            blocks.append(_gateway(trunk.name, trunk.gateway, credentials.get(trunk.name)))
    if not blocks:
        return "<include></include>\n"
    return "<include>\n" + "".join(blocks) + "</include>\n"


def _gateway(name: str, gateway: Gateway, account: Credentials | None) -> str:
    if gateway.auth_secret_ref is not None and account is None:
        raise ValueError(f"trunk {name}: the credentials of its authSecretRef are missing")
    host = gateway.proxy.rsplit(":", 1)[0]
    params = [
        ("proxy", gateway.proxy),
        ("realm", gateway.realm or host),
        # sofia registers unless told not to.
        ("register", "true" if gateway.registers else "false"),
        # Also the transport of the calls through the gateway, not only of REGISTER.
        ("register-transport", gateway.transport.value),
    ]
    if account is not None:
        params += [("username", account.username), ("password", account.password)]
    from_header = gateway.caller_id_in is CallerIdIn.FROM
    params.append(("caller-id-in-from", "true" if from_header else "false"))
    # sip_cid_type is a channel variable, not a gateway param: `pid` adds P-Asserted-Identity,
    # `none` keeps the caller ID in From alone (no Remote-Party-ID).
    variables = [("sip_cid_type", "none" if from_header else "pid")]
    variables += [(f"sip_h_{h.name}", h.value) for h in gateway.headers]
    lines = [f'  <gateway name="{_value(name, name, "name")}">\n']
    lines += [
        f'    <param name="{param}" value="{_value(name, value, param)}"/>\n'
        for param, value in params
    ]
    lines.append("    <variables>\n")
    lines += [
        f'      <variable name="{_value(name, var, var)}" value="{_value(name, value, var)}"'
        ' direction="outbound"/>\n'
        for var, value in variables
    ]
    lines.append("    </variables>\n  </gateway>\n")
    return "".join(lines)


def _value(trunk: str, value: str, what: str) -> str:
    """`value` escaped for a double-quoted XML attribute, once it is known to be safe."""
    why = problem(value)
    if why:
        raise UnsafeValue(f"trunk {trunk}: the gateway's {what} {why}")
    return escape(value, {'"': "&quot;"})
