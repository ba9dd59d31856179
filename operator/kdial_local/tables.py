"""Server-side printing: a custom resource's `additionalPrinterColumns` as a meta.k8s.io Table.

kubectl asks for lists and objects `as=Table` and prints the columns the server computes; a
server that answers with plain objects gets NAME and AGE only. The emulated API server
(kdial_local.apiserver) answers with these Tables for CRDs that declare printer columns, so
`kubectl get camp,tp` shows READY, STATUS, PROGRESS, ... as on a cluster. Pure functions.

JSONPath: the subset printer columns use: `.field` steps, `[n]` indexes and `[?(@.key=="value")]`
filters. The first match is the cell, as the API server does it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

_STEP = re.compile(r'\.([\w-]+)|\[(\d+)\]|\[\?\(@\.([\w-]+)\s*==\s*"([^"]*)"\)\]')


def wants_table(accept: str) -> bool:
    """kubectl's Accept header: `application/json;as=Table;v=v1;g=meta.k8s.io,...`."""
    return any(
        "as=Table" in part and "g=meta.k8s.io" in part and "v=v1;" in part + ";"
        for part in accept.split(",")
    )


def jsonpath(obj: Any, path: str) -> list[Any]:
    """The values at `path`; raises ValueError on syntax outside the subset."""
    values = [obj]
    position = 0
    for step in _STEP.finditer(path):
        if step.start() != position:
            raise ValueError(f"unsupported JSONPath {path!r}")
        position = step.end()
        field, index, key, wanted = step.groups()
        if field is not None:
            values = [v[field] for v in values if isinstance(v, Mapping) and field in v]
        elif index is not None:
            values = [v[int(index)] for v in values if isinstance(v, list) and int(index) < len(v)]
        else:
            values = [
                item
                for v in values
                if isinstance(v, list)
                for item in v
                if isinstance(item, Mapping) and str(item.get(key)) == wanted
            ]
    if position != len(path):
        raise ValueError(f"unsupported JSONPath {path!r}")
    return values


def age(since: str, now: datetime) -> str:
    """A timestamp's age as kubectl prints it: 42s, 5m10s, 3h, 2d."""
    seconds = int((now - datetime.fromisoformat(since.replace("Z", "+00:00"))).total_seconds())
    seconds = max(seconds, 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if days < 2:
        return f"{hours}h"
    return f"{days}d"


def _cell(obj: Mapping[str, Any], column: Mapping[str, Any], now: datetime) -> Any:
    try:
        found = jsonpath(obj, column["jsonPath"])
    except ValueError:
        return None
    if not found or found[0] is None:
        return None
    value = found[0]
    if column.get("type") == "date" and isinstance(value, str):
        try:
            return age(value, now)
        except ValueError:
            return value
    return value


def table(
    objects: Sequence[Mapping[str, Any]],
    columns: Sequence[Mapping[str, Any]],
    resource_version: str,
    now: datetime,
) -> dict[str, Any]:
    """A `meta.k8s.io/v1` Table of `objects` with a Name column and the printer `columns`."""
    definitions = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name must be unique within a namespace.",
            "priority": 0,
        }
    ] + [
        {
            "name": c["name"],
            "type": c.get("type", "string"),
            "format": c.get("format", ""),
            "description": c.get("description", ""),
            "priority": c.get("priority", 0),
        }
        for c in columns
    ]
    rows = [
        {
            "cells": [obj["metadata"]["name"], *(_cell(obj, c, now) for c in columns)],
            "object": {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            },
        }
        for obj in objects
    ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": definitions,
        "rows": rows,
    }
