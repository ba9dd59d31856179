"""CustomResourceDefinitions generated from the pydantic models.

Pydantic emits JSON Schema (draft 2020-12) with `$ref`s, `anyOf` for optionals and titles;
Kubernetes wants a *structural* OpenAPI v3 schema: every node typed, everything inline, no
`additionalProperties: false` beside `properties`. `structural()` bridges the two.
"""

from __future__ import annotations

from typing import Any

from kdial.api.kinds import CATEGORY, GROUP, VERSION, Kind

_DROP = {"title", "examples", "$defs"}


def structural(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Turns one pydantic JSON Schema node (and its children) into a structural schema node."""
    defs = schema.get("$defs", defs) or {}
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs)
    if "anyOf" in schema:
        return _optional(schema, defs)
    if "allOf" in schema and len(schema["allOf"]) == 1:
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return structural({**schema["allOf"][0], **rest}, defs)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        out.update(_keyword(key, value, defs))
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def _keyword(key: str, value: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """One keyword of a schema node, as a structural schema says it (or nothing)."""
    if key in _DROP or (key == "default" and value is None):
        return {}
    if key == "properties":
        return {key: {name: structural(sub, defs) for name, sub in value.items()}}
    if key == "items":
        return {key: structural(value, defs)}
    if key == "additionalProperties":
        # `false` beside `properties` is not structural; pruning does its job.
        return {key: structural(value, defs)} if isinstance(value, dict) else {}
    if key == "const":
        return {"enum": [value]}
    if key == "description":
        return {key: " ".join(value.split())}
    return {key: value}


def _optional(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """`X | None`: absent means unset, so the field is simply X and not required."""
    variants = [v for v in schema["anyOf"] if v.get("type") != "null"]
    if len(variants) != 1:
        raise ValueError(f"cannot express a union in a structural schema: {schema}")
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return structural({**variants[0], **rest}, defs)


def _object_schema(kind: Kind) -> dict[str, Any]:
    spec = structural(kind.spec.model_json_schema(by_alias=True))
    status = structural(kind.status.model_json_schema(by_alias=True))
    _describe_conditions(status)
    return {
        "type": "object",
        "description": kind.description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }


def _describe_conditions(status: dict[str, Any]) -> None:
    conditions = status.get("properties", {}).get("conditions")
    if conditions:
        conditions["x-kubernetes-list-type"] = "map"
        conditions["x-kubernetes-list-map-keys"] = ["type"]


def crd_manifest(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name, "labels": {"app.kubernetes.io/part-of": "kdial"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": list(kind.columns),
                    "schema": {"openAPIV3Schema": _object_schema(kind)},
                }
            ],
        },
    }
