"""Every manifest in examples/ is one a user can apply as it is.

Each kdial.io object is checked twice, as the two parts of kdial that meet it would: against
the generated CRD's openAPIV3Schema the way the API server checks it (unknown fields refused,
as `kubectl apply` does, defaults filled in, then the CEL rules), and against the pydantic
models the operator validates with. Built-in kinds (ConfigMaps) are checked against the
Kubernetes OpenAPI schemas of kubernetes-validate. Then what only the examples as a set can
say: every reference resolves, every contact row imports, every caller ID is accepted.

`examples/sim/` holds simulator scenarios, not manifests, and is left out.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils
from referencing import Registry, Resource

from kdial.api.calleridpool import CallerIdPoolSpec
from kdial.api.campaign import CampaignSpec
from kdial.api.cel import holds
from kdial.api.contactlist import ContactListSpec, Purpose
from kdial.api.crd import crd_manifest
from kdial.api.kinds import API_VERSION, GROUP, KINDS
from kdial.api.meta import DNS_SUBDOMAIN
from kdial_cli.chart import peering_crds
from kdial_operator import contact_import, routing
from kdial_operator.campaign_status import schedule_hold

REPO = Path(__file__).resolve().parents[2]
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


def manifest_problems(doc: dict[str, Any]) -> list[str]:
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


# The examples


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


DOCUMENTS = example_documents()
BY_KIND: dict[str, dict[str, dict[str, Any]]] = {}
for _, _doc in DOCUMENTS:
    BY_KIND.setdefault(_doc["kind"], {})[_doc["metadata"]["name"]] = _doc


def test_the_examples_cover_the_documented_cases() -> None:
    names = {str(path.relative_to(EXAMPLES)) for path in example_files()}

    assert {
        "quickstart/contacts.yaml",
        "quickstart/trunkpool.yaml",
        "quickstart/calleridpool.yaml",
        "quickstart/campaign.yaml",
        "notification-reminder.yaml",
        "predictive-sales.yaml",
        "survey-trial.yaml",
        "trunkpool-regions.yaml",
        "calleridpool-local.yaml",
        "do-not-call.yaml",
    } <= names
    assert {kind.kind for kind in KINDS} <= set(BY_KIND)


@pytest.mark.parametrize("path", example_files(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_each_example_explains_itself(path: Path) -> None:
    text = path.read_text("utf-8")

    assert text.startswith("# "), "an example opens with comments saying what it shows"
    assert all(doc.get("metadata", {}).get("namespace") is None for doc in load_documents(text)), (
        "examples apply into the namespace the user chooses"
    )


@pytest.mark.parametrize(("name", "doc"), DOCUMENTS, ids=[name for name, _ in DOCUMENTS])
def test_example_validates(name: str, doc: dict[str, Any]) -> None:
    assert manifest_problems(doc) == []


def test_kdial_objects_are_of_the_served_version() -> None:
    kdial = [doc for _, doc in DOCUMENTS if doc["apiVersion"].startswith(GROUP + "/")]

    assert kdial
    assert {doc["apiVersion"] for doc in kdial} == {API_VERSION}


def _campaigns() -> list[dict[str, Any]]:
    return list(BY_KIND.get("Campaign", {}).values())


@pytest.mark.parametrize("campaign", _campaigns(), ids=lambda c: c["metadata"]["name"])
def test_campaign_references_resolve_within_the_examples(campaign: dict[str, Any]) -> None:
    spec = campaign["spec"]
    lists = BY_KIND["ContactList"]

    assert spec["contactListRef"]["name"] in lists
    assert lists[spec["contactListRef"]["name"]]["spec"].get("purpose", "Dial") == "Dial"
    assert all(ref["name"] in BY_KIND["TrunkPool"] for ref in spec["trunkPoolRefs"])
    assert spec["callerIdPoolRef"]["name"] in BY_KIND["CallerIdPool"]
    for ref in spec.get("suppressionListRefs", []):
        assert lists[ref["name"]]["spec"]["purpose"] == Purpose.SUPPRESS


def test_the_modes_and_features_the_examples_promise() -> None:
    campaigns = {c["metadata"]["name"]: c["spec"] for c in _campaigns()}

    assert campaigns["quickstart"]["mode"] == "Agentless"
    assert campaigns["parcel-reminder"]["mode"] == "Agentless"
    assert len(campaigns["parcel-reminder"]["schedule"]["windows"]) > 1
    assert campaigns["parcel-reminder"]["retry"]["rules"]
    assert campaigns["broadband-renewal"]["mode"] == "Predictive"
    assert campaigns["broadband-renewal"]["pacing"]["maxDialRatio"]
    assert campaigns["satisfaction-survey"]["trial"]["samplePercent"] > 0
    assert BY_KIND["ContactList"]["do-not-call"]["spec"]["purpose"] == "Suppress"
    assert len(BY_KIND["TrunkPool"]["quickstart-trunks"]["spec"]["trunks"]) == 3
    regions = {
        t["name"]: t.get("regions") for t in BY_KIND["TrunkPool"]["carriers"]["spec"]["trunks"]
    }
    assert len(regions) >= 3
    assert all(regions.values())
    provinces = {n["region"] for n in BY_KIND["CallerIdPool"]["local-presence"]["spec"]["numbers"]}
    assert len(provinces) >= 5


@pytest.mark.parametrize("campaign", _campaigns(), ids=lambda c: c["metadata"]["name"])
def test_every_campaign_may_dial_today(campaign: dict[str, Any]) -> None:
    """An example applied as it is dials: its start/end times do not rule out today."""
    schedule = CampaignSpec.model_validate(campaign["spec"]).schedule

    assert schedule_hold(schedule.start_time, schedule.end_time, datetime.now(UTC)) is None


def _contact_lists() -> list[dict[str, Any]]:
    return list(BY_KIND.get("ContactList", {}).values())


@pytest.mark.parametrize("contact_list", _contact_lists(), ids=lambda c: c["metadata"]["name"])
def test_every_contact_row_imports(contact_list: dict[str, Any]) -> None:
    spec = ContactListSpec.model_validate(contact_list["spec"])
    assert spec.source.config_map is not None
    config_map = BY_KIND["ConfigMap"][spec.source.config_map.name]
    text = config_map["data"][spec.source.config_map.key]

    rows = contact_import.rows(text, spec)
    result = contact_import.import_rows(rows, spec, b"example-key")

    assert rows
    assert dict(result.rejected) == {}
    assert result.duplicates == 0
    assert len(result.contacts) == result.read == len(rows)
    if spec.tags_field is not None:
        assert result.tagged, "the example's tags column is read"


def test_the_quickstart_list_has_a_few_hundred_numbers() -> None:
    config_map = BY_KIND["ConfigMap"]["quickstart-contacts"]
    rows = config_map["data"]["contacts.csv"].strip().splitlines()[1:]

    assert 200 <= len(rows) <= 1000


@pytest.mark.parametrize(
    "pool", list(BY_KIND.get("CallerIdPool", {}).values()), ids=lambda p: p["metadata"]["name"]
)
def test_caller_ids_are_accepted(pool: dict[str, Any]) -> None:
    spec = CallerIdPoolSpec.model_validate(pool["spec"])
    extra: list[str] = []
    if spec.numbers_from:
        config_map = BY_KIND["ConfigMap"][spec.numbers_from.name]
        extra = config_map["data"][spec.numbers_from.key].splitlines()

    _, problems = routing.caller_ids(spec, extra)

    assert problems == []


# The validation itself: it must catch what the API server and the operator would refuse.


def _quickstart_campaign() -> dict[str, Any]:
    return copy.deepcopy(BY_KIND["Campaign"]["quickstart"])


def test_an_unknown_field_is_refused() -> None:
    doc = _quickstart_campaign()
    doc["spec"]["pacing"]["maxConcurency"] = 5

    assert any("maxConcurency" in p for p in custom_resource_problems(doc))


def test_a_value_out_of_range_is_refused() -> None:
    doc = _quickstart_campaign()
    doc["spec"]["pacing"]["ringTimeoutSeconds"] = 1

    assert any("ringTimeoutSeconds" in p for p in custom_resource_problems(doc))
    assert model_problems(doc)


def test_a_cross_field_rule_is_refused_with_defaults_applied() -> None:
    doc = _quickstart_campaign()
    doc["spec"]["workers"] = {"max": 1, "min": 2}
    del doc["spec"]["destination"]

    problems = custom_resource_problems(doc)

    assert ".spec.workers.min: min must not exceed max" in problems
    assert any("needs destination" in p for p in problems)
    assert model_problems(doc)


def test_a_built_in_object_with_an_unknown_field_is_refused() -> None:
    doc = copy.deepcopy(BY_KIND["ConfigMap"]["quickstart-contacts"])
    doc["datas"] = {}

    assert builtin_problems(doc)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate"):
        load_documents("a: 1\na: 2\n")
