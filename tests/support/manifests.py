"""What the API server, and the operator, would refuse in a manifest, checked offline.

A kdial.io object is checked against the generated CRD's openAPIV3Schema the way the API server
checks it (unknown fields refused, as `kubectl apply` does, defaults filled in, then the CEL
rules), and against the pydantic models the operator validates with; a built-in kind against the
Kubernetes OpenAPI schemas of kubernetes-validate, at the oldest and newest Kubernetes the chart
supports. YAML is read as the API server reads it: a key given twice is an error.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils
from referencing import Registry, Resource

from kdial.api.cel import holds
from kdial.api.crd import crd_manifest
from kdial.api.kinds import API_VERSION, KINDS
from kdial.api.meta import DNS_SUBDOMAIN
from kdial_cli.chart import peering_crds
from tests.support.paths import REPO

EXAMPLES = REPO / "examples"
#: Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schema shipped.
KUBE_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())


class _StrictLoader(yaml.SafeLoader):
    """YAML as the API server reads it: a key given twice is an error, not a silent overwrite."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise yaml.constructor.ConstructorError(
            None, None, f"duplicate keys {sorted(duplicates)}", node.start_mark
        )
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_documents(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of `text`, duplicate keys refused."""
    return [doc for doc in yaml.load_all(text, Loader=_StrictLoader) if doc]


# Custom resources: the API server's view


@cache
def custom_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of every custom resource the chart installs."""
    schemas = {}
    for crd in [crd_manifest(kind) for kind in KINDS] + peering_crds():
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def strict(schema: dict[str, Any], *, root: bool = True) -> dict[str, Any]:
    """`schema` refusing unknown fields wherever the API server would (kubectl applies with
    strict field validation): every object with properties, unless it preserves unknown fields.
    `metadata` is the API server's to check."""
    out = dict(schema)
    if root:
        # Every object has these, whether its schema lists them or not.
        implicit = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {}}
        schema = schema | {"properties": implicit | schema.get("properties", {})}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if "properties" in schema:
        out["properties"] = {
            name: ({"type": "object"} if root and name == "metadata" else strict(sub, root=False))
            for name, sub in schema["properties"].items()
        }
    if isinstance(schema.get("items"), dict):
        out["items"] = strict(schema["items"], root=False)
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = strict(schema["additionalProperties"], root=False)
    return out


def defaulted(schema: dict[str, Any], value: Any) -> Any:
    """`value` with the schema's defaults filled in where fields are unset, as the API server
    stores an object (CEL rules see the defaulted object)."""
    if isinstance(value, dict) and "properties" in schema:
        out = dict(value)
        for name, sub in schema["properties"].items():
            if name not in out and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
            if name in out:
                out[name] = defaulted(sub, out[name])
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [defaulted(schema["items"], item) for item in value]
    return value


def typed(schema: dict[str, Any], value: Any) -> Any:
    """`value` as CEL sees it: `date-time` strings are timestamps."""
    if schema.get("format") == "date-time" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {
            k: typed(props.get(k, extra if isinstance(extra, dict) else {}), v)
            for k, v in value.items()
        }
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [typed(schema["items"], item) for item in value]
    return value


def cel_violations(schema: dict[str, Any], value: Any, path: str) -> Iterator[str]:
    """Messages of every `x-kubernetes-validations` rule `value` breaks, with their paths."""
    for rule in schema.get("x-kubernetes-validations", []):
        if not holds(rule["rule"], typed(schema, value)):
            yield f"{path}{rule.get('fieldPath', '')}: {rule['message']}"
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                yield from cel_violations(sub, value[name], f"{path}.{name}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from cel_violations(schema["items"], item, f"{path}[{index}]")


def custom_resource_problems(doc: dict[str, Any]) -> list[str]:
    """What the API server would refuse in a custom resource of a kind the chart installs."""
    schema = custom_schemas()[(doc["apiVersion"], doc["kind"])]
    validator = jsonschema.Draft202012Validator(strict(schema))
    problems = [
        f"{'.'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(doc)
    ]
    name = doc.get("metadata", {}).get("name", "")
    if not re.fullmatch(DNS_SUBDOMAIN, name) or len(name) > 253:
        problems.append(f"metadata.name: {name!r} is not a DNS subdomain")
    if not problems:
        problems += cel_violations(schema, defaulted(schema, doc), "")
    return problems


def model_problems(doc: dict[str, Any]) -> list[str]:
    """What the operator would refuse: the spec through the kind's pydantic model."""
    kind = next(k for k in KINDS if k.kind == doc["kind"])
    try:
        kind.spec.model_validate(doc["spec"])
    except ValueError as error:
        return [str(error)]
    return []


@cache
def _builtin_validator(version: str, api_version: str, kind: str) -> jsonschema.Validator:
    """kubernetes-validate's strict schema of one kind, loaded once (`kubernetes_validate.
    validate` reads its megabyte of definitions on every call)."""
    major_minor = utils.major_minor(version)
    resolved = [v for v in utils.all_versions() if utils.major_minor(v) <= major_minor][-1]
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    folder = f"kubernetes-json-schema/v{resolved}-local-strict"
    try:
        schema = utils.schema_contents(f"{folder}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        pytest.fail(f"kubernetes-validate has no schema for {api_version} {kind}")
    definitions = utils.schema_contents(f"{folder}/_definitions.json", version)
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def builtin_problems(doc: dict[str, Any]) -> list[str]:
    """What the API server would refuse in a built-in object, by its OpenAPI schema (strict:
    unknown fields refused), at the oldest and newest Kubernetes the chart supports."""
    return [
        f"{version}: {'.'.join(map(str, error.absolute_path))}: {error.message}"
        for version in KUBE_VERSIONS
        for error in _builtin_validator(version, doc["apiVersion"], doc["kind"]).iter_errors(doc)
    ]


def manifest_problems(doc: Mapping[str, Any]) -> list[str]:
    """Every problem of one manifest, whatever its kind."""
    return list(_manifest_problems(json.dumps(doc, sort_keys=True)))


@cache
def _manifest_problems(text: str) -> tuple[str, ...]:
    doc = json.loads(text)
    if (doc.get("apiVersion"), doc.get("kind")) in custom_schemas():
        problems = custom_resource_problems(doc)
        if doc["apiVersion"] == API_VERSION:
            problems += model_problems(doc)
        return tuple(problems)
    return tuple(builtin_problems(doc))


# The examples: every YAML file in examples/ but the simulator scenarios in examples/sim/


def example_files() -> list[Path]:
    return sorted(
        path for path in EXAMPLES.rglob("*.yaml") if (EXAMPLES / "sim") not in path.parents
    )


def example_documents() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{path.relative_to(EXAMPLES)}:{doc['kind']}/{doc['metadata']['name']}", doc)
        for path in example_files()
        for doc in load_documents(path.read_text("utf-8"))
    ]


def crd_documents() -> list[dict[str, Any]]:
    """kdial's CRDs as the repository ships them (crds/, generated by `kdial crds`)."""
    return [yaml.safe_load(p.read_text("utf-8")) for p in sorted((REPO / "crds").glob("*.yaml"))]
