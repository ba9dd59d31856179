"""Server-side apply as the emulated API server does it: a structured merge of an applied
configuration into the live object, and who owns which field.

A real API server merges by each list's type from its OpenAPI schema: atomic (replaced whole)
or a map keyed by some of its items' fields (container ports by containerPort and protocol).
The emulator knows the types of the lists below, those kdial's operator applies; an applied
configuration holding any other list is refused (:class:`NotEmulated`) rather than merged by a
guess. Ownership follows the real rules: an apply owns exactly the fields it names, and drops
from the object those it named last time and no longer does (unless another manager owns them
too); any other write takes over the fields it changes; a field another manager owns that an
apply would change is a conflict unless the apply forces.

Not emulated: ``metadata.managedFields`` (ownership is kept beside the object, not shown),
sets and granular maps, nulls in an applied configuration, defaulting of built-in kinds (except
the ``protocol`` of a port, whose default is part of its key).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

Body = dict[str, Any]
ItemKey = tuple[tuple[str, Any], ...]
"""One item of a keyed list, named by its key fields (name and value)."""
Path = tuple[str | ItemKey, ...]
Owners = dict[str, frozenset[Path]]
"""The paths each field manager owns in one object."""

_ANY = "*"  # in a list's path: any item of the list above it
_ITEM = object()  # the value of a keyed list item's own path: owning it owns the item
_ABSENT = object()
_KEY_DEFAULTS: Mapping[str, Any] = {"protocol": "TCP"}  # a port's key, defaulted by the schema
_SERVER_META = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
    }
)


class NotEmulated(Exception):
    """The applied configuration needs schema knowledge the emulator does not have."""


class Invalid(Exception):
    """An applied configuration a real server rejects as invalid."""


class Conflict(Exception):
    """Fields the apply would change belong to another manager, and the apply did not force."""


@attrs.frozen
class ListTypes:
    """The list types of one kind, by the path of the list (``*`` for any item above it)."""

    keyed: Mapping[tuple[str, ...], tuple[str, ...]]
    atomic: frozenset[tuple[str, ...]] = frozenset()


_META: dict[tuple[str, ...], tuple[str, ...]] = {("metadata", "ownerReferences"): ("uid",)}
_POD = ("spec", "template", "spec")
_CONTAINER = (*_POD, "containers", _ANY)
_PROJECTED = (*_POD, "volumes", _ANY, "projected", "sources")
DEPLOYMENT = ListTypes(
    keyed=_META
    | {
        (*_POD, "containers"): ("name",),
        (*_CONTAINER, "ports"): ("containerPort", "protocol"),
        (*_CONTAINER, "env"): ("name",),
        (*_CONTAINER, "volumeMounts"): ("mountPath",),
        (*_POD, "volumes"): ("name",),
    },
    atomic=frozenset(
        {
            (*_CONTAINER, "args"),
            (*_CONTAINER, "command"),
            (*_CONTAINER, "lifecycle", "preStop", "exec", "command"),
            (*_CONTAINER, "securityContext", "capabilities", "add"),
            (*_CONTAINER, "securityContext", "capabilities", "drop"),
            (*_POD, "tolerations"),
            _PROJECTED,
            (*_PROJECTED, _ANY, "secret", "items"),
        }
    ),
)
OTHER = ListTypes(keyed=_META)


def list_types(group: str, plural: str) -> ListTypes:
    return DEPLOYMENT if (group, plural) == ("apps", "deployments") else OTHER


def apply(
    live: Body | None,
    config: Body,
    manager: str,
    owners: Owners,
    types: ListTypes,
    *,
    force: bool,
) -> tuple[Body, Owners]:
    """The object after `manager` applies `config` to `live` (None: absent), and its owners."""
    applied = fields(config, types, strict=True)
    if live is None:
        return copy.deepcopy(config), {manager: frozenset(applied)}
    others = {m: paths for m, paths in owners.items() if m != manager}
    shared = frozenset().union(*others.values())
    dropped = owners.get(manager, frozenset()) - applied.keys() - shared
    result = _merge(live, config, (), types)
    for path in sorted(dropped, key=len):
        _remove(result, path)
    before, after = fields(live, types), fields(result, types)
    changed = {p for p in applied if before.get(p, _ABSENT) != after.get(p, _ABSENT)}
    taken = {m: sorted(paths & changed, key=describe) for m, paths in others.items()}
    if not force and any(taken.values()):
        raise Conflict(_conflicts(taken))
    kept = {m: paths - changed for m, paths in others.items()}
    return result, _nonempty(kept | {manager: frozenset(applied)})


def update(
    before: Body | None, after: Body, manager: str, owners: Owners, types: ListTypes
) -> Owners:
    """The owners after a write other than apply: its manager takes over what it changed."""
    old = fields(before, types) if before is not None else {}
    new = fields(after, types)
    changed = {p for p in old.keys() | new.keys() if old.get(p, _ABSENT) != new.get(p, _ABSENT)}
    result = {m: paths - changed for m, paths in owners.items()}
    result[manager] = result.get(manager, frozenset()) | (changed & new.keys())
    return _nonempty(result)


def fields(body: Body, types: ListTypes, *, strict: bool = False) -> dict[Path, Any]:
    """Every owned field of `body` and its value; a keyed list's item also has a path of its
    own. Strict (an applied configuration): a list of unknown type is refused; otherwise it is
    one field, as an atomic list is."""
    return dict(_fields(_owned_part(body), (), (), types, strict=strict))


def describe(path: Path) -> str:
    """A path as the API server writes it in messages, e.g. ``.spec.ports[name="sip"]``."""
    text = ""
    for element in path:
        if isinstance(element, str):
            text += f".{element}"
        else:
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in element) + "]"
    return text


def _owned_part(body: Body) -> Body:
    """What fields are owned in: not the type, nor the metadata the server sets."""
    part = {k: v for k, v in body.items() if k not in {"apiVersion", "kind"}}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in _SERVER_META}
    if meta:
        part["metadata"] = meta
    else:
        part.pop("metadata", None)
    return part


def _fields(
    value: Any, at: tuple[str, ...], path: Path, types: ListTypes, *, strict: bool
) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _fields(item, (*at, key), (*path, key), types, strict=strict)
    elif isinstance(value, list) and at in types.keyed and (strict or _all_keyed(value, at, types)):
        keys = [_key(item, types.keyed[at], path) for item in value]
        if len(set(keys)) < len(keys):
            raise Invalid(f"{describe(path)}: duplicate entries for key {types.keyed[at]}")
        for key, item in zip(keys, value, strict=True):
            yield (*path, key), _ITEM
            yield from _fields(item, (*at, _ANY), (*path, key), types, strict=strict)
    elif strict and isinstance(value, list) and at not in types.atomic:
        raise NotEmulated(
            f"server-side apply of the list {describe(path)} is not emulated: its list type "
            "(atomic, set or keyed) is unknown to kdial_local.server_side_apply"
        )
    elif strict and value is None:
        raise NotEmulated(f"server-side apply of a null ({describe(path)}) is not emulated")
    else:
        yield path, value


def _all_keyed(items: list[Any], at: tuple[str, ...], types: ListTypes) -> bool:
    """Whether a live list can be read as keyed (one written without apply need not be)."""
    try:
        keys = [_key(item, types.keyed[at], ()) for item in items]
    except Invalid:
        return False
    return len(set(keys)) == len(keys)


def _key(item: Any, names: tuple[str, ...], path: Path) -> ItemKey:
    if not isinstance(item, dict):
        raise Invalid(f"{describe(path)}: the items of a keyed list must be objects")
    key = tuple((name, item.get(name, _KEY_DEFAULTS.get(name))) for name in names)
    missing = [name for name, value in key if value is None]
    if missing:
        raise Invalid(f"{describe(path)}: an item omits its key field {missing[0]!r}")
    return key


def _merge(live: Any, applied: Any, at: tuple[str, ...], types: ListTypes) -> Any:
    if isinstance(live, dict) and isinstance(applied, dict):
        merged = dict(live)
        for key, value in applied.items():
            merged[key] = _merge(live.get(key), value, (*at, key), types)
        return merged
    if isinstance(live, list) and isinstance(applied, list) and at in types.keyed:
        return _merge_items(live, applied, at, types)
    return copy.deepcopy(applied)


def _merge_items(
    live: list[Any], applied: list[Any], at: tuple[str, ...], types: ListTypes
) -> list[Any]:
    """Items merged by key, ordered as a real server orders them: the applied items in their
    order, items only the live list has staying where they were."""
    names = types.keyed[at]
    ours = [(_key(item, names, ()), item) for item in applied]
    theirs = [(_key(item, names, ()), item) for item in live if isinstance(item, dict)]
    applied_keys = {key for key, _ in ours}
    live_items = dict(theirs)
    merged: list[Any] = []
    done: set[ItemKey] = set()
    i = j = 0
    while i < len(theirs) or j < len(ours):
        if i < len(theirs) and (theirs[i][0] in done or theirs[i][0] not in applied_keys):
            if theirs[i][0] not in done:
                merged.append(copy.deepcopy(theirs[i][1]))
                done.add(theirs[i][0])
            i += 1
        elif j < len(ours):
            key, item = ours[j]
            merged.append(_merge(live_items.get(key), item, (*at, _ANY), types))
            done.add(key)
            j += 1
        else:
            i += 1
    return merged


def _remove(body: Any, path: Path) -> None:
    """Removes the field or list item at `path`, if it is still there."""
    *parents, last = path
    node = body
    for element in parents:
        node = _child(node, element)
        if node is None:
            return
    if isinstance(last, str) and isinstance(node, dict):
        node.pop(last, None)
    elif not isinstance(last, str) and isinstance(node, list):
        node[:] = [item for item in node if not _is_item(item, last)]


def _child(node: Any, element: str | ItemKey) -> Any:
    if isinstance(element, str):
        return node.get(element) if isinstance(node, dict) else None
    if isinstance(node, list):
        return next((item for item in node if _is_item(item, element)), None)
    return None


def _is_item(item: Any, key: ItemKey) -> bool:
    return isinstance(item, dict) and all(
        item.get(name, _KEY_DEFAULTS.get(name)) == value for name, value in key
    )


def _conflicts(taken: Mapping[str, list[Path]]) -> str:
    lines = [
        f'conflict with "{manager}": {describe(path)}'
        for manager, paths in sorted(taken.items())
        for path in paths
    ]
    return f"Apply failed with {len(lines)} conflict(s): " + "; ".join(lines)


def _nonempty(owners: Owners) -> Owners:
    return {manager: paths for manager, paths in owners.items() if paths}
