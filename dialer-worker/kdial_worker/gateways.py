"""Decisions about the switch's sofia gateways (pure): when to reload, what to send, what the
switch says of its gateways, and which trunks may be dialled given that.

A rescan only adds gateways the profile has not loaded (sofia ignores a known name, "Ignoring
duplicate gateway"), so a gateway that is gone or changed is killed first: `killgw` marks it
for deletion without touching the calls up through it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from xml.etree import ElementTree

from kdial.state.gateways import SwitchGateway

PROFILE = "external"
#: A gateway name as a TrunkPool allows it: nothing else reaches an ESL command.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

#: Gateway name -> the fingerprint of its definition (`kdial.state.gateways.fingerprints`).
Fingerprints = Mapping[str, str]


def wanted_generations(tables: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Pool -> the gateways generation its routing table names; a pool naming none is left
    out (an operator that compiled no gateways for it)."""
    return {pool: generation for pool, generation in tables if generation}


def reload_due(
    wanted: Mapping[str, str], mounted: Mapping[str, str | None], applied: Mapping[str, str]
) -> bool:
    """The switch is told once the mount shows every pool's generation its routing table
    names (the kubelet updates a Secret volume a while after the Secret changes), and that is
    not what it was told last. One reload reads every pool's file, so none is half-applied."""
    return (
        bool(wanted)
        and all(mounted.get(pool) == generation for pool, generation in wanted.items())
        and dict(applied) != dict(wanted)
    )


def gateway_current(
    pool: str,
    gateway: str,
    fingerprint: str,
    *,
    wanted: Mapping[str, str],
    applied: Mapping[str, str],
    applied_gateways: Fingerprints | None,
) -> bool:
    """Whether the switch has `gateway` as `pool`'s routing table wants it (`fingerprint`):
    it was given the generation the table names, or, while a change to the pool waits for the
    kubelet to update the mount, it was given this gateway as it is (so an unchanged gateway
    keeps dialling while a new or changed one waits)."""
    if pool not in wanted or applied.get(pool) == wanted[pool]:
        return True
    return bool(fingerprint) and (applied_gateways or {}).get(gateway) == fingerprint


def combined(pools: Mapping[str, Fingerprints]) -> dict[str, str]:
    """The gateways of every pool (pool -> gateway -> fingerprint), as the switch holds them:
    one name across pools is refused (ValueError), as the switch would keep one of them."""
    out: dict[str, str] = {}
    owner: dict[str, str] = {}
    for pool, found in pools.items():
        for name, params in found.items():
            if name in owner:
                raise ValueError(f"gateway {name!r} is defined by pools {owner[name]} and {pool}")
            out[name], owner[name] = params, pool
    return out


def stale_gateways(
    before: Fingerprints | None, after: Fingerprints, on_switch: Collection[str]
) -> list[str]:
    """The gateways to kill to bring the switch from `before` (the gateways last applied; None
    when unknown, after a restart) to `after`: those gone, and those changed (a rescan would
    keep them as they were). One the switch has that `after` lacks is stale even when `before`
    is unknown. Raises ValueError for a name unsafe to send in a command."""
    unsafe = [name for name in [*after, *(before or {})] if not SAFE_NAME.match(name)]
    if unsafe:
        raise ValueError(f"gateway names unsafe in a command: {unsafe!r}")
    previous: dict[str, str | None] = dict.fromkeys(n for n in on_switch if SAFE_NAME.match(n))
    previous |= dict(before or {})
    return sorted(
        name
        for name, fingerprint in previous.items()
        if name not in after or (fingerprint is not None and fingerprint != after[name])
    )


def reload_commands(stale: Iterable[str]) -> list[str]:
    """The API commands that load a new gateways file: reloadxml, killgw for each stale
    gateway, then the rescan that loads what the profile does not have."""
    return [
        "reloadxml",
        *(f"sofia profile {PROFILE} killgw {name}" for name in stale),
        f"sofia profile {PROFILE} rescan",
    ]


class BadStatus(ValueError):
    """A `sofia xmlstatus gateway` reply that is not the gateways document."""


def parse_xml_status(reply: str) -> dict[str, SwitchGateway]:
    """Gateway name -> state and status, from `sofia xmlstatus gateway` (mod_sofia.c,
    cmd_xml_status: `<gateways>` of `<gateway>` with `<name>`, `<state>`, `<status>`)."""
    try:
        root = ElementTree.fromstring(reply.strip())  # noqa: S314 (our own switch's reply)
    except ElementTree.ParseError as error:
        raise BadStatus(f"not the gateways document: {reply[:80]!r} ({error})") from None
    if root.tag != "gateways":
        raise BadStatus(f"not the gateways document: <{root.tag}>")
    out = {}
    for gateway in root.findall("gateway"):
        name = gateway.findtext("name") or ""
        state = gateway.findtext("state") or ""
        status = gateway.findtext("status") or ""
        if name and (gateway.findtext("profile") or PROFILE) == PROFILE:
            out[name] = SwitchGateway(state=state, status=status)
    return out


def gateway_ok(gateway: str | None, on_switch: Mapping[str, SwitchGateway] | None) -> bool:
    """Whether a trunk may be dialled: a SIP URI trunk always; a gateway trunk once the switch
    has its gateway, registered if it registers and up if it is pinged. Nothing is known
    (None) until the switch has been asked."""
    if gateway is None:
        return True
    found = (on_switch or {}).get(gateway)
    return found is not None and found.dialable
