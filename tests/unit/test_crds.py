"""The generated CRDs: names, columns, a structural schema, CEL rules as the API server sees them,
and `kdial crds` / `kdial crds --check`."""

from __future__ import annotations

import copy
import re
import typing
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import celpy
import pytest
import yaml
from celpy.evaluation import CELEvalError
from pydantic import BaseModel, ValidationError

from kdial.api.cel import holds
from kdial.api.crd import crd_manifest
from kdial.api.kinds import API_VERSION, KINDS, Kind
from kdial.api.meta import ApiModel, Rule, explain
from kdial_cli import crds as crds_cli
from kdial_cli.main import main as kdial_main

REPO = Path(__file__).resolve().parents[2]
BY_NAME = {kind.kind: kind for kind in KINDS}
SHORT_NAMES = {"Campaign": "camp", "TrunkPool": "tp", "CallerIdPool": "cidp", "ContactList": "cl"}
KIND_IDS = [kind.kind for kind in KINDS]
FORBIDDEN_KEYS = {"$ref", "$defs", "definitions", "anyOf", "allOf", "oneOf", "not", "title"}
TIME_FORMATS = {"date-time", "date", "duration"}


@cache
def manifest(kind_name: str) -> dict[str, Any]:
    return crd_manifest(BY_NAME[kind_name])


def version(kind_name: str) -> dict[str, Any]:
    versions: list[dict[str, Any]] = manifest(kind_name)["spec"]["versions"]
    return versions[0]


def root_schema(kind_name: str) -> dict[str, Any]:
    schema: dict[str, Any] = version(kind_name)["schema"]["openAPIV3Schema"]
    return schema


def spec_schema(kind_name: str) -> dict[str, Any]:
    schema: dict[str, Any] = root_schema(kind_name)["properties"]["spec"]
    return schema


def nodes(schema: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")


def all_nodes() -> list[tuple[str, dict[str, Any]]]:
    return [pair for kind in KINDS for pair in nodes(root_schema(kind.kind), kind.kind)]


def all_rules() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [
        (path, node, rule)
        for path, node in all_nodes()
        for rule in node.get("x-kubernetes-validations", [])
    ]


RULE_IDS = [f"{path}:{rule.get('fieldPath', '')}" for path, _, rule in all_rules()]


# Names, versions, columns


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_crd_names_and_version(kind: Kind) -> None:
    crd = manifest(kind.kind)

    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{kind.plural}.kdial.io"
    assert crd["spec"]["group"] == "kdial.io"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"] == {
        "kind": kind.kind,
        "listKind": f"{kind.kind}List",
        "plural": kind.kind.lower() + "s",
        "singular": kind.kind.lower(),
        "shortNames": [SHORT_NAMES[kind.kind]],
        "categories": ["kdial"],
    }
    assert API_VERSION == "kdial.io/v1alpha1"
    assert [v["name"] for v in crd["spec"]["versions"]] == ["v1alpha1"]
    assert version(kind.kind)["served"] is True
    assert version(kind.kind)["storage"] is True
    assert version(kind.kind)["subresources"] == {"status": {}}


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_root_schema_requires_spec(kind: Kind) -> None:
    schema = root_schema(kind.kind)

    assert schema["type"] == "object"
    assert schema["required"] == ["spec"]
    assert schema["description"]
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert schema["properties"]["metadata"] == {"type": "object"}


def test_campaign_columns_make_a_dashboard() -> None:
    columns = version("Campaign")["additionalPrinterColumns"]
    wide = {c["name"] for c in columns if c.get("priority", 0) == 1}

    assert [c["name"] for c in columns if c.get("priority", 0) == 0] == [
        "Ready",
        "Status",
        "Progress",
        "Active",
        "ASR",
        "Abandon",
        "Workers",
        "Age",
    ]
    assert "Message" in wide


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_every_kind_shows_ready_age_and_a_wide_message(kind: Kind) -> None:
    columns = {c["name"]: c for c in version(kind.kind)["additionalPrinterColumns"]}

    assert version(kind.kind)["additionalPrinterColumns"][0]["name"] == "Ready"
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Age"] == {
        "name": "Age",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
    }
    assert columns["Message"]["priority"] == 1
    assert columns["Message"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].message'


def column_params() -> list[Any]:
    return [
        pytest.param(kind.kind, column, id=f"{kind.kind}-{column['name']}")
        for kind in KINDS
        for column in version(kind.kind)["additionalPrinterColumns"]
        if column["jsonPath"] != ".metadata.creationTimestamp"
    ]


@pytest.mark.parametrize(("kind_name", "column"), column_params())
def test_printer_columns_point_at_fields_of_their_type(
    kind_name: str, column: dict[str, Any]
) -> None:
    node = root_schema(kind_name)
    for name, selector in re.findall(r"\.(\w+)(\[\?\(@\.\w+==\"\w+\"\)\])?", column["jsonPath"]):
        node = node["properties"][name]
        if selector:
            node = node["items"]

    if column["type"] == "date":
        assert node == node | {"type": "string", "format": "date-time"}
    else:
        assert node["type"] == column["type"]


# A structural schema


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_schema_is_structural(kind: Kind) -> None:
    problems = []
    for path, node in nodes(root_schema(kind.kind), kind.kind):
        problems += [f"{path}: {key}" for key in FORBIDDEN_KEYS & node.keys()]
        if "type" not in node:
            problems.append(f"{path}: no type")
        if "properties" in node and node.get("type") != "object":
            problems.append(f"{path}: properties without type object")
        if node.get("additionalProperties") is False:
            problems.append(f"{path}: additionalProperties: false")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{path}: both properties and additionalProperties")
        if node.get("type") == "array" and not {"items", "maxItems"} <= node.keys():
            problems.append(f"{path}: array without items and maxItems")

    assert problems == []


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_defaults_fit_their_schema(kind: Kind) -> None:
    python_types: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "integer": int,
        "boolean": bool,
        "array": list,
        "object": dict,
    }
    problems = []
    for path, node in nodes(root_schema(kind.kind), kind.kind):
        if "default" not in node:
            continue
        default = node["default"]
        if not isinstance(default, python_types[node["type"]]) or (
            node["type"] == "integer" and isinstance(default, bool)
        ):
            problems.append(f"{path}: default {default!r} is not {node['type']}")
        if "enum" in node and default not in node["enum"]:
            problems.append(f"{path}: default {default!r} not in enum")
        if not node.get("minimum", default) <= default <= node.get("maximum", default):
            problems.append(f"{path}: default {default!r} out of range")
        if "pattern" in node and not re.search(node["pattern"], default):
            problems.append(f"{path}: default {default!r} does not match its pattern")

    assert problems == []


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_patterns_are_re2_compatible(kind: Kind) -> None:
    patterns = [
        (path, node["pattern"])
        for path, node in nodes(root_schema(kind.kind), kind.kind)
        if "pattern" in node
    ]

    assert patterns
    for path, pattern in patterns:
        re.compile(pattern)
        assert not re.search(r"\(\?[=!<]|\\[1-9]", pattern), f"{path}: {pattern}"
        assert pattern.startswith("^"), path
        assert pattern.endswith("$"), path


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_map_lists_require_their_keys(kind: Kind) -> None:
    map_lists = [
        (path, node)
        for path, node in nodes(root_schema(kind.kind), kind.kind)
        if node.get("x-kubernetes-list-type") == "map"
    ]

    assert map_lists
    for path, node in map_lists:
        item = node["items"]
        keys = node["x-kubernetes-list-map-keys"]
        assert item["type"] == "object", path
        assert set(keys) <= set(item.get("required", [])), path
        for key in keys:
            assert item["properties"][key]["type"] in {"string", "integer", "boolean"}, path


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_conditions_are_a_map_keyed_by_type(kind: Kind) -> None:
    conditions = root_schema(kind.kind)["properties"]["status"]["properties"]["conditions"]
    item = conditions["items"]

    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert set(item["required"]) == {"type", "status", "reason", "lastTransitionTime"}
    assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert item["properties"]["lastTransitionTime"]["format"] == "date-time"
    assert set(item["properties"]) == {
        "type",
        "status",
        "reason",
        "message",
        "observedGeneration",
        "lastTransitionTime",
    }


@pytest.mark.parametrize("part", ["spec", "status"])
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_every_property_is_described_on_one_line(kind: Kind, part: str) -> None:
    schema = root_schema(kind.kind)["properties"][part]
    problems = []
    for path, node in nodes(schema, f"{kind.kind}.{part}"):
        for name, child in node.get("properties", {}).items():
            description = child.get("description", "")
            if not description.strip():
                problems.append(f"{path}.{name}: no description")
            elif "\n" in description or "  " in description:
                problems.append(f"{path}.{name}: description not on one line")

    assert problems == []


# CEL rules as the API server sees them


@pytest.mark.parametrize(("path", "node", "rule"), all_rules(), ids=RULE_IDS)
def test_rule_compiles_and_names_a_real_field(
    path: str, node: dict[str, Any], rule: dict[str, Any]
) -> None:
    environment = celpy.Environment()
    environment.compile(rule["rule"])

    assert set(rule) <= {"rule", "message", "fieldPath"}
    assert "oldSelf" not in rule["rule"]
    assert rule["message"]
    assert node["type"] == "object"
    target = node
    for name in rule.get("fieldPath", "").split(".")[1:]:
        target = target["properties"][name]


def referenced_strings(node: dict[str, Any], rule: str) -> list[tuple[str, dict[str, Any]]]:
    """Fields whose *values* a rule reads (not only their presence), with their schema nodes."""
    text = re.sub(r"has\([^()]*\)", "", rule)
    props = node.get("properties", {})
    found = [(name, props[name]) for name in re.findall(r"\bself\.(\w+)", text)]
    loops = re.findall(r"\bself\.(\w+)\.(?:all|exists|exists_one|map|filter)\((\w+),", text)
    for list_name, variable in loops:
        item = props[list_name]["items"]["properties"]
        found += [
            (f"{list_name}[].{name}", item[name])
            for name in re.findall(rf"\b{variable}\.(\w+)", text)
        ]
    return [
        (name, child)
        for name, child in found
        if child.get("type") == "string" and child.get("format") not in TIME_FORMATS
    ]


def compared_string_params() -> list[Any]:
    params = []
    for path, node, rule in all_rules():
        for name, child in referenced_strings(node, rule["rule"]):
            field = f"{path}.{name}"
            marks: list[Any] = []
            params.append(pytest.param(field, child, marks=marks, id=field))
    return params


def test_compared_string_extraction_finds_the_known_cases() -> None:
    fields = {param.values[0] for param in compared_string_params()}

    assert {
        "Campaign.spec.mode",
        "Campaign.spec.schedule.windows[].start",
        "Campaign.spec.schedule.windows[].end",
        "Campaign.spec.retry.rules[].outcome",
        "Campaign.spec.pacing.maxDialRatio",
    } <= fields


@pytest.mark.parametrize(("field", "node"), compared_string_params())
def test_strings_read_by_rules_are_bounded(field: str, node: dict[str, Any]) -> None:
    assert "maxLength" in node or "enum" in node, field


def model_graph(model: type[BaseModel]) -> set[type[ApiModel]]:
    found: set[type[ApiModel]] = set()

    def visit(annotation: Any) -> None:
        is_model = isinstance(annotation, type) and issubclass(annotation, ApiModel)
        if is_model and annotation not in found:
            found.add(annotation)
            for field in annotation.model_fields.values():
                visit(field.annotation)
        for argument in typing.get_args(annotation):
            visit(argument)

    visit(model)
    return found


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_every_declared_rule_is_in_the_crd(kind: Kind) -> None:
    declared: list[Rule] = [
        rule
        for model in model_graph(kind.spec) | model_graph(kind.status)
        for rule in model.cel_rules
    ]
    emitted = [
        (rule["rule"], rule["message"], rule.get("fieldPath"))
        for _, node in nodes(root_schema(kind.kind), kind.kind)
        for rule in node.get("x-kubernetes-validations", [])
    ]

    assert declared
    assert sorted(emitted) == sorted((r.rule, r.message, r.field_path) for r in declared)


def admitted(schema: dict[str, Any], value: Any) -> Any:
    """`value` after the API server's structural defaulting (the schema's `default`s only)."""
    if isinstance(value, dict) and "properties" in schema:
        out = dict(value)
        for name, child in schema["properties"].items():
            if name not in out and "default" in child:
                out[name] = copy.deepcopy(child["default"])
            if name in out:
                out[name] = admitted(child, out[name])
        return out
    if isinstance(value, list) and "items" in schema:
        return [admitted(schema["items"], item) for item in value]
    return value


def cel_typed(schema: dict[str, Any], value: Any) -> Any:
    """`value` typed as the API server types it for CEL: `date-time` strings are timestamps."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {name: cel_typed(props.get(name, {}), item) for name, item in value.items()}
    if isinstance(value, list):
        return [cel_typed(schema.get("items", {}), item) for item in value]
    if isinstance(value, str) and schema.get("format") == "date-time":
        return datetime.fromisoformat(value)
    return value


def violations(
    schema: dict[str, Any], value: Any, path: str, evaluated: set[str] | None = None
) -> list[str]:
    """What the API server would refuse in `value`, as `path: message` lines."""
    found = []
    if isinstance(value, dict):
        for name, child in schema.get("properties", {}).items():
            if name in value:
                found += violations(child, value[name], f"{path}.{name}", evaluated)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += violations(schema["items"], item, f"{path}[{index}]", evaluated)
    for rule in schema.get("x-kubernetes-validations", []):
        if evaluated is not None:
            evaluated.add(rule["rule"])
        where = path + rule.get("fieldPath", "")
        try:
            if not holds(rule["rule"], value):
                found.append(f"{where}: {rule['message']}")
        except CELEvalError as error:
            found.append(f"{where}: {rule['message']} (evaluation error: {error})")
    return found


def api_server_violations(
    kind_name: str, spec: dict[str, Any], evaluated: set[str] | None = None
) -> list[str]:
    schema = spec_schema(kind_name)
    return violations(schema, cel_typed(schema, admitted(schema, spec)), "spec", evaluated)


REFS: dict[str, Any] = {
    "contactListRef": {"name": "leads"},
    "trunkPoolRefs": [{"name": "carrier-a"}],
    "callerIdPoolRef": {"name": "local-numbers"},
}
CAMPAIGN: dict[str, Any] = {"mode": "Predictive", **REFS}
AGENTLESS: dict[str, Any] = {
    **CAMPAIGN,
    "mode": "Agentless",
    "destination": {"sipUri": "sip:bot@voice.example.com"},
    "pacing": {"maxConcurrency": 20, "abandonMessage": "kdial/abandoned.wav"},
}
TRUNK: dict[str, Any] = {
    "name": "carrier-a",
    "gateway": {"proxy": "sip.carrier-a.example"},
    "maxConcurrentCalls": 30,
    "maxCallsPerSecond": 10,
}
CONFIG_MAP: dict[str, Any] = {"name": "numbers", "key": "numbers.txt"}
LIST_SOURCE: dict[str, Any] = {"configMap": CONFIG_MAP}

VALID_AT_SCHEMA_LEVEL: list[Any] = [
    pytest.param("Campaign", CAMPAIGN, id="campaign-minimal"),
    pytest.param("Campaign", {**CAMPAIGN, "pacing": {}}, id="campaign-empty-pacing"),
    pytest.param("Campaign", {**CAMPAIGN, "pacing": {"maxDialRatio": "2.5"}}, id="campaign-ratio"),
    pytest.param("Campaign", {**CAMPAIGN, "retry": {}}, id="campaign-retry-without-rules"),
    pytest.param(
        "Campaign", {**CAMPAIGN, "retry": {"closure": {}}}, id="campaign-retry-closure-only"
    ),
    pytest.param("Campaign", {**CAMPAIGN, "retry": {"rules": []}}, id="campaign-no-retries"),
    pytest.param(
        "Campaign",
        {**CAMPAIGN, "retry": {"rules": [{"outcome": "Busy", "delayMinutes": 5}]}},
        id="campaign-one-retry",
    ),
    pytest.param("Campaign", {**CAMPAIGN, "workers": {}}, id="campaign-empty-workers"),
    pytest.param(
        "Campaign",
        {**CAMPAIGN, "dispositions": {"codes": [{"code": "Sale", "closesContact": True}]}},
        id="campaign-dispositions",
    ),
    pytest.param("Campaign", {**CAMPAIGN, "workers": {"max": 3}}, id="campaign-workers-max"),
    pytest.param("Campaign", {**CAMPAIGN, "workers": {"min": 2}}, id="campaign-workers-min"),
    pytest.param("Campaign", {**CAMPAIGN, "schedule": {}}, id="campaign-empty-schedule"),
    pytest.param(
        "Campaign",
        {**CAMPAIGN, "schedule": {"startTime": "2026-01-01T00:00:00Z"}},
        id="campaign-start-only",
    ),
    pytest.param(
        "Campaign",
        {
            **CAMPAIGN,
            "schedule": {
                "startTime": "2026-01-01T10:00:00+08:00",
                "endTime": "2026-01-01T03:00:00Z",
            },
        },
        id="campaign-times-other-offsets",
    ),
    pytest.param(
        "Campaign",
        {**CAMPAIGN, "schedule": {"windows": [{"start": "20:00", "end": "24:00"}]}},
        id="campaign-window",
    ),
    pytest.param(
        "Campaign",
        {**CAMPAIGN, "destination": {"extension": "5000"}, "trial": {"samplePercent": 5}},
        id="campaign-destination-trial",
    ),
    pytest.param("Campaign", AGENTLESS, id="campaign-agentless"),
    pytest.param("TrunkPool", {"trunks": [TRUNK]}, id="trunkpool-minimal"),
    pytest.param("TrunkPool", {"trunks": [TRUNK], "health": {}}, id="trunkpool-empty-health"),
    pytest.param(
        "TrunkPool",
        {"trunks": [TRUNK], "health": {"maxEjectSeconds": 60}},
        id="trunkpool-max-eject-only",
    ),
    pytest.param(
        "TrunkPool",
        {
            "trunks": [
                TRUNK,
                {**TRUNK, "name": "carrier-b", "gateway": None, "sipUri": "10.0.0.5:5060"},
            ]
        },
        id="trunkpool-two-trunks",
    ),
    pytest.param(
        "TrunkPool",
        {
            "trunks": [
                {
                    **TRUNK,
                    "gateway": {
                        "proxy": "sip.carrier-a.example:5060",
                        "register": True,
                        "authSecretRef": {"name": "carrier-a"},
                        "headers": [{"name": "X-Account", "value": "7"}],
                    },
                }
            ]
        },
        id="trunkpool-registering-gateway",
    ),
    pytest.param("CallerIdPool", {"numbersFrom": CONFIG_MAP}, id="calleridpool-from-only"),
    pytest.param(
        "CallerIdPool", {"numbers": [{"number": "+8620123456789"}]}, id="calleridpool-numbers"
    ),
    pytest.param(
        "ContactList", {"source": LIST_SOURCE, "defaultRegion": "CN"}, id="contactlist-configmap"
    ),
    pytest.param(
        "ContactList",
        {"source": {"url": {"url": "https://crm.example.com/a.csv"}}, "defaultRegion": "CN"},
        id="contactlist-url",
    ),
]

INVALID_AT_SCHEMA_LEVEL: list[Any] = [
    pytest.param(
        "Campaign",
        {**CAMPAIGN, "mode": "Agentless"},
        [
            "spec.destination: an Agentless campaign needs destination: where answered calls go",
            "spec.pacing.maxConcurrency: an Agentless campaign needs pacing.maxConcurrency",
        ],
        id="campaign-agentless-bare",
    ),
    pytest.param(
        "Campaign",
        {**AGENTLESS, "destination": {}},
        ["spec.destination: set exactly one of extension and sipUri"],
        id="campaign-empty-destination",
    ),
    pytest.param(
        "Campaign",
        {**CAMPAIGN, "workers": {"min": 11}},
        ["spec.workers.min: min must not exceed max"],
        id="campaign-workers-min-above-default-max",
    ),
    pytest.param(
        "Campaign",
        {
            **CAMPAIGN,
            "schedule": {
                "startTime": "2026-01-01T03:00:00Z",
                "endTime": "2026-01-01T10:00:00+08:00",
            },
        },
        ["spec.schedule.endTime: endTime must be after startTime"],
        id="campaign-end-before-start-as-instants",
    ),
    pytest.param(
        "Campaign",
        {**CAMPAIGN, "schedule": {"windows": [{"start": "22:00", "end": "06:00"}]}},
        [
            "spec.schedule.windows[0].end: end must be after start "
            "(a window cannot wrap past midnight: split it in two)"
        ],
        id="campaign-window-wraps",
    ),
    pytest.param(
        "Campaign",
        {**CAMPAIGN, "pacing": {"maxDialRatio": "0.5"}},
        ["spec.pacing.maxDialRatio: maxDialRatio must be at least 1"],
        id="campaign-ratio-below-1",
    ),
    pytest.param(
        "Campaign",
        {
            **CAMPAIGN,
            "retry": {
                "rules": [
                    {"outcome": "Busy", "delayMinutes": 5},
                    {"outcome": "Busy", "delayMinutes": 9},
                ]
            },
        },
        ["spec.retry.rules: each outcome may have one retry rule only"],
        id="campaign-duplicate-outcome",
    ),
    pytest.param(
        "TrunkPool",
        {"trunks": [{**TRUNK, "sipUri": "10.0.0.5"}]},
        ["spec.trunks[0]: set exactly one of gateway and sipUri"],
        id="trunkpool-gateway-and-uri",
    ),
    pytest.param(
        "TrunkPool",
        {"trunks": [TRUNK], "health": {"ejectSeconds": 900}},
        ["spec.health.maxEjectSeconds: maxEjectSeconds must be at least ejectSeconds"],
        id="trunkpool-eject-above-default-max",
    ),
    pytest.param(
        "TrunkPool",
        {"trunks": [{**TRUNK, "gateway": {"proxy": "sip.carrier-a.example", "register": True}}]},
        [
            "spec.trunks[0].gateway.authSecretRef: a gateway that registers needs authSecretRef "
            "(the account's username and password)"
        ],
        id="trunkpool-register-without-credentials",
    ),
    pytest.param(
        "TrunkPool",
        {
            "trunks": [
                {
                    **TRUNK,
                    "gateway": {
                        "proxy": "sip.carrier-a.example",
                        "headers": [{"name": "P-Asserted-Identity", "value": "1"}],
                    },
                }
            ]
        },
        [
            "spec.trunks[0].gateway.headers[0].name: FreeSWITCH writes this header itself; "
            "name another"
        ],
        id="trunkpool-own-header",
    ),
    pytest.param(
        "CallerIdPool", {}, ["spec.numbers: a pool needs numbers or numbersFrom"], id="pool-empty"
    ),
    pytest.param(
        "CallerIdPool",
        {"numbers": []},
        ["spec.numbers: a pool needs numbers or numbersFrom"],
        id="pool-no-numbers",
    ),
    pytest.param(
        "ContactList",
        {"source": {}, "defaultRegion": "CN"},
        ["spec.source: set exactly one of configMap and url"],
        id="contactlist-no-source",
    ),
]


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


@pytest.mark.parametrize(("kind_name", "spec"), VALID_AT_SCHEMA_LEVEL)
def test_api_server_admits_valid_objects_before_pydantic_defaults(
    kind_name: str, spec: dict[str, Any]
) -> None:
    spec = without_nulls(spec)

    assert api_server_violations(kind_name, spec) == []
    BY_NAME[kind_name].spec.model_validate(spec)


@pytest.mark.parametrize(("kind_name", "spec", "expected"), INVALID_AT_SCHEMA_LEVEL)
def test_api_server_and_models_refuse_the_same_objects(
    kind_name: str, spec: dict[str, Any], expected: list[str]
) -> None:
    assert api_server_violations(kind_name, spec) == expected
    with pytest.raises(ValidationError) as info:
        BY_NAME[kind_name].spec.model_validate(spec)
    message = explain(info.value)
    assert any(line.split(": ", 1)[1] in message for line in expected), message


def test_valid_objects_exercise_every_rule() -> None:
    evaluated: set[str] = set()
    for param in VALID_AT_SCHEMA_LEVEL:
        kind_name, spec = param.values
        api_server_violations(kind_name, without_nulls(spec), evaluated)

    assert evaluated == {rule["rule"] for _, _, rule in all_rules()}


def test_instants_are_compared_not_strings() -> None:
    start, end = "2026-01-01T03:00:00Z", "2026-01-01T10:00:00+08:00"
    spec = {**CAMPAIGN, "schedule": {"startTime": start, "endTime": end}}
    schema = spec_schema("Campaign")

    assert end > start
    assert violations(schema, admitted(schema, spec), "spec") == []
    assert api_server_violations("Campaign", spec) != []


@pytest.mark.parametrize(("kind_name", "spec"), VALID_AT_SCHEMA_LEVEL)
def test_crd_defaults_agree_with_model_defaults(kind_name: str, spec: dict[str, Any]) -> None:
    spec = without_nulls(spec)
    model = BY_NAME[kind_name].spec.model_validate(spec)
    dumped = model.model_dump(by_alias=True, exclude_none=True, mode="json")

    assert_subset(admitted(spec_schema(kind_name), spec), dumped, "spec")
    assert api_server_violations(kind_name, dumped) == []


def assert_subset(part: Any, whole: Any, path: str) -> None:
    if isinstance(part, dict):
        assert isinstance(whole, dict), path
        for key, value in part.items():
            assert key in whole, f"{path}.{key}"
            assert_subset(value, whole[key], f"{path}.{key}")
    elif isinstance(part, list):
        assert isinstance(whole, list), path
        assert len(part) == len(whole), path
        for index, (a, b) in enumerate(zip(part, whole, strict=True)):
            assert_subset(a, b, f"{path}[{index}]")
    else:
        assert part == whole, f"{path}: {part!r} != {whole!r}"


def test_holds_counts_an_evaluation_error_as_a_violation() -> None:
    assert holds("self.min <= self.max", {"min": 1}) is False


class _Probe(ApiModel):
    limit: int | None = None

    cel_rules = (Rule("self.limit > 0", "limit must be positive", ".limit"),)


def test_a_rule_that_errors_refuses_the_object() -> None:
    with pytest.raises(ValidationError) as info:
        _Probe.model_validate({})

    assert explain(info.value) == "spec.limit: limit must be positive"


# kdial crds


def test_rendered_yaml_is_the_manifest_without_aliases() -> None:
    rendered = crds_cli.rendered()

    assert sorted(rendered) == sorted(f"{kind.plural}.kdial.io.yaml" for kind in KINDS)
    for kind in KINDS:
        text = rendered[f"{kind.plural}.kdial.io.yaml"]
        assert text.startswith(crds_cli.HEADER)
        assert yaml.safe_load(text) == crd_manifest(kind)
        assert not re.search(r"[&*]id\d", text)


def test_written_folder_passes_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        crds_cli.main(
            ["--dir", str(tmp_path), "--chart-dir", str(tmp_path.parent / f"{tmp_path.name}-chart")]
        )
        == 0
    )
    capsys.readouterr()

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(crds_cli.rendered())
    assert (
        crds_cli.main(
            [
                "--check",
                "--dir",
                str(tmp_path),
                "--chart-dir",
                str(tmp_path.parent / f"{tmp_path.name}-chart"),
            ]
        )
        == 0
    )
    assert capsys.readouterr().err == ""


def test_check_names_an_edited_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crds_cli.main(
        ["--dir", str(tmp_path), "--chart-dir", str(tmp_path.parent / f"{tmp_path.name}-chart")]
    )
    edited = tmp_path / "trunkpools.kdial.io.yaml"
    edited.write_text(edited.read_text("utf-8").replace("maxItems: 64", "maxItems: 65"), "utf-8")
    capsys.readouterr()

    assert (
        crds_cli.main(
            [
                "--check",
                "--dir",
                str(tmp_path),
                "--chart-dir",
                str(tmp_path.parent / f"{tmp_path.name}-chart"),
            ]
        )
        == 1
    )
    assert capsys.readouterr().err.splitlines() == [f"{edited}: stale (run `kdial crds`)"]


def test_check_names_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crds_cli.main(
        ["--dir", str(tmp_path), "--chart-dir", str(tmp_path.parent / f"{tmp_path.name}-chart")]
    )
    missing = tmp_path / "campaigns.kdial.io.yaml"
    missing.unlink()
    capsys.readouterr()

    assert (
        crds_cli.main(
            [
                "--check",
                "--dir",
                str(tmp_path),
                "--chart-dir",
                str(tmp_path.parent / f"{tmp_path.name}-chart"),
            ]
        )
        == 1
    )
    assert str(missing) in capsys.readouterr().err


def test_check_names_a_stray_yaml_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crds_cli.main(
        ["--dir", str(tmp_path), "--chart-dir", str(tmp_path.parent / f"{tmp_path.name}-chart")]
    )
    stray = tmp_path / "widgets.kdial.io.yaml"
    stray.write_text("apiVersion: v1\n", "utf-8")
    capsys.readouterr()

    assert (
        crds_cli.main(
            [
                "--check",
                "--dir",
                str(tmp_path),
                "--chart-dir",
                str(tmp_path.parent / f"{tmp_path.name}-chart"),
            ]
        )
        == 1
    )
    assert capsys.readouterr().err.splitlines() == [
        f"{stray}: not generated from the models (remove it)"
    ]


def test_kdial_crds_dispatches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        kdial_main(
            [
                "crds",
                "--dir",
                str(tmp_path),
                "--chart-dir",
                str(tmp_path.parent / f"{tmp_path.name}-chart"),
            ]
        )
        == 0
    )
    assert (
        kdial_main(
            [
                "crds",
                "--check",
                "--dir",
                str(tmp_path),
                "--chart-dir",
                str(tmp_path.parent / f"{tmp_path.name}-chart"),
            ]
        )
        == 0
    )
    capsys.readouterr()


def test_committed_crds_are_up_to_date() -> None:
    assert crds_cli.check(REPO / "crds") == []
