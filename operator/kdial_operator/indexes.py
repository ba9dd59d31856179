"""In-memory indexes of the objects campaigns refer to, kept current by kopf's watches.

A campaign resolves its references from these instead of GETs; when a referent appears or
becomes Ready the index changes and the campaign's next reconcile sees it, with no restart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import kopf
from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict

from kdial.api.conditions import find
from kdial.api.kinds import CALLER_ID_POOL, CONTACT_LIST, GROUP, TRUNK_POOL, VERSION

Key = tuple[str, str]


class ReferredTrunk(TypedDict, total=False):
    name: str
    maxConcurrentCalls: int
    gateway: dict[str, Any]
    """Present when the switch dials the trunk through a sofia gateway named after it."""


class ReferredSpec(TypedDict, total=False):
    """The fields of a referent's spec that a campaign reads."""

    purpose: str
    """ContactLists: Dial or Suppress."""
    trunks: list[ReferredTrunk]
    """TrunkPools: each trunk's name, limit of concurrent calls and gateway, if any."""


_REFERRED = TypeAdapter(ReferredSpec)


@dataclass(frozen=True)
class Referent:
    """What a campaign needs to know of an object it refers to."""

    ready: bool
    message: str
    spec: ReferredSpec
    serving: int | None = None
    """TrunkPools: trunks taking calls (not Ejected) as status last said; None before any."""


def key_of(body: kopf.Body) -> Key:
    """(namespace, name) of an object; every kdial kind is namespaced."""
    return body.meta.namespace or "", body.meta.name or ""


def referent(spec: kopf.Spec, status: kopf.Status) -> Referent:
    ready = find(list(status.get("conditions", [])), "Ready") or {}
    return Referent(
        ready=ready.get("status") == "True",
        message=str(ready.get("message", "not reconciled yet")),
        spec=_referred(spec),
    )


def _referred(spec: kopf.Spec) -> ReferredSpec:
    try:
        return _REFERRED.validate_python(dict(spec))
    except ValidationError:
        # Its own reconciler says the spec is invalid, and so the referent is not Ready: a
        # campaign waits on that and reads nothing of its spec.
        return ReferredSpec()


@kopf.index(GROUP, VERSION, CONTACT_LIST.plural)
def contactlists(
    *, namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[Key, Referent]:
    return {(namespace or "", name): referent(spec, status)}


@kopf.index(GROUP, VERSION, TRUNK_POOL.plural)
def trunkpools(
    *, namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[Key, Referent]:
    rows = list(status.get("trunks", []))
    serving = sum(r.get("state") != "Ejected" for r in rows) if rows else None
    return {(namespace or "", name): replace(referent(spec, status), serving=serving)}


@kopf.index(GROUP, VERSION, CALLER_ID_POOL.plural)
def calleridpools(
    *, namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[Key, Referent]:
    return {(namespace or "", name): referent(spec, status)}
