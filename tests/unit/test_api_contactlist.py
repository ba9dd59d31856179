"""ContactList spec: defaults, the source rule, field-level rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kdial.api.contactlist import ContactListSpec
from kdial.api.crd import crd_manifest
from kdial.api.kinds import CONTACT_LIST
from kdial.api.meta import explain

SOURCE_MSG = "set exactly one of configMap and url"
CONFIG_MAP: dict[str, Any] = {"name": "leads-2026", "key": "leads.csv"}
URL: dict[str, Any] = {"url": "https://crm.example.com/export/leads.csv"}


def contact_list(**fields: Any) -> dict[str, Any]:
    return {"source": {"configMap": CONFIG_MAP}, "defaultRegion": "CN", **fields}


def rejection(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        ContactListSpec.model_validate(data)
    return explain(info.value)


def test_minimal_contact_list_gets_documented_defaults() -> None:
    spec = ContactListSpec.model_validate(contact_list()).model_dump(by_alias=True, mode="json")

    assert spec == {
        "source": {"configMap": CONFIG_MAP, "url": None},
        "format": "CSV",
        "csv": {"delimiter": ",", "encoding": "UTF-8"},
        "phoneField": "phone",
        "idField": None,
        "fields": [],
        "defaultRegion": "CN",
        "purpose": "Dial",
        "tags": [],
        "tagsField": None,
        "refresh": None,
        "display": [],
    }


def test_field_spec_defaults() -> None:
    spec = ContactListSpec.model_validate(contact_list(fields=[{"name": "amount_due"}]))

    assert spec.model_dump(by_alias=True, mode="json")["fields"] == [
        {"name": "amount_due", "type": "String", "required": False}
    ]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(contact_list(), id="config-map"),
        pytest.param(contact_list(source={"url": URL}), id="url"),
        pytest.param(
            contact_list(
                source={"url": {**URL, "authSecretRef": {"name": "crm-token", "key": "token"}}}
            ),
            id="url-with-secret",
        ),
        pytest.param(
            contact_list(
                format="NDJSON",
                purpose="Suppress",
                phoneField="mobile",
                idField="customer_id",
                fields=[
                    {"name": "amount_due", "type": "Decimal", "required": True},
                    {"name": "due_date", "type": "Date"},
                ],
                csv={"delimiter": "\t", "encoding": "GB18030"},
                tags=["collections", "q1", "高意向", "batch:2026-01-15", "v1.2"],
                tagsField="segments",
                refresh="2026-01-02",
            ),
            id="full",
        ),
    ],
)
def test_contact_list_accepts(data: dict[str, Any]) -> None:
    ContactListSpec.model_validate(data)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param({"configMap": CONFIG_MAP, "url": URL}, id="both"),
        pytest.param({}, id="neither"),
    ],
)
def test_source_needs_exactly_one_of_config_map_and_url(source: dict[str, Any]) -> None:
    assert rejection(contact_list(source=source)) == f"spec.source: {SOURCE_MSG}"


def test_every_contact_list_rule_has_a_refusing_case() -> None:
    schema = crd_manifest(CONTACT_LIST)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    source = schema["properties"]["spec"]["properties"]["source"]

    assert [rule["message"] for rule in source["x-kubernetes-validations"]] == [SOURCE_MSG]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        pytest.param(contact_list(defaultRegion="cn"), "spec.defaultRegion", id="region-lower"),
        pytest.param(contact_list(defaultRegion="CHN"), "spec.defaultRegion", id="region-alpha3"),
        pytest.param(contact_list(defaultRegion="C"), "spec.defaultRegion", id="region-short"),
        pytest.param(contact_list(defaultRegion="CN\n"), "spec.defaultRegion", id="region-nl"),
        pytest.param(
            {"source": {"configMap": CONFIG_MAP}}, "spec.defaultRegion", id="region-missing"
        ),
        pytest.param({"defaultRegion": "CN"}, "spec.source", id="source-missing"),
        pytest.param(contact_list(format="csv"), "spec.format", id="format-lower"),
        pytest.param(contact_list(format="XLSX"), "spec.format", id="format-unknown"),
        pytest.param(contact_list(purpose="DoNotCall"), "spec.purpose", id="purpose-unknown"),
        pytest.param(contact_list(purpose="dial"), "spec.purpose", id="purpose-lower"),
        pytest.param(contact_list(phoneField="phone number"), "spec.phoneField", id="phone-space"),
        pytest.param(contact_list(phoneField="1phone"), "spec.phoneField", id="phone-digit"),
        pytest.param(contact_list(phoneField=""), "spec.phoneField", id="phone-empty"),
        pytest.param(contact_list(idField="id-field"), "spec.idField", id="id-dash"),
        pytest.param(
            contact_list(csv={"delimiter": ";;"}), "spec.csv.delimiter", id="delimiter-two"
        ),
        pytest.param(contact_list(csv={"delimiter": ""}), "spec.csv.delimiter", id="delimiter-0"),
        pytest.param(contact_list(csv={"encoding": "GBK"}), "spec.csv.encoding", id="encoding"),
        pytest.param(
            contact_list(fields=[{"name": "due date"}]), "spec.fields[0].name", id="field-space"
        ),
        pytest.param(
            contact_list(fields=[{"name": "x", "type": "Float"}]),
            "spec.fields[0].type",
            id="field-type",
        ),
        pytest.param(
            contact_list(source={"url": {"url": "ftp://crm.example.com/leads.csv"}}),
            "spec.source.url.url",
            id="url-ftp",
        ),
        pytest.param(
            contact_list(source={"url": {"url": "https://crm.example.com/a b"}}),
            "spec.source.url.url",
            id="url-space",
        ),
        pytest.param(
            contact_list(source={"url": {**URL, "authSecretRef": {"name": "crm-token"}}}),
            "spec.source.url.authSecretRef.key",
            id="secret-key-missing",
        ),
        pytest.param(
            contact_list(source={"configMap": {"name": "leads", "key": "../leads.csv"}}),
            "spec.source.configMap.key",
            id="config-map-key-slash",
        ),
        pytest.param(
            contact_list(tags=[f"t{i}" for i in range(33)]), "spec.tags", id="too-many-tags"
        ),
        pytest.param(contact_list(tags=["ok", ""]), "spec.tags[1]", id="tag-empty"),
        pytest.param(contact_list(tags=["a" * 64]), "spec.tags[0]", id="tag-too-long"),
        pytest.param(contact_list(tags=["=cmd|x"]), "spec.tags[0]", id="tag-formula"),
        pytest.param(contact_list(tags=["-x"]), "spec.tags[0]", id="tag-dash-first"),
        pytest.param(contact_list(tags=["two words"]), "spec.tags[0]", id="tag-space"),
        pytest.param(contact_list(tags=["a,b"]), "spec.tags[0]", id="tag-separator"),
        pytest.param(contact_list(tags=["vip", "13800001111"]), "spec.tags", id="tag-number"),
        pytest.param(contact_list(tags=["138-0000-1111"]), "spec.tags", id="tag-number-dashes"),
        pytest.param(contact_list(tagsField="tag list"), "spec.tagsField", id="tags-field-space"),
        pytest.param(contact_list(tagsField="phone"), "spec.tagsField", id="tags-field-phone"),
    ],
)
def test_field_rules_refuse(data: dict[str, Any], path: str) -> None:
    assert rejection(data).startswith(f"{path}: ")


def test_a_number_in_a_list_tag_is_refused_without_echoing_it() -> None:
    message = rejection(contact_list(tags=["vip", "13800001111"]))
    assert "tag 1" in message and "phone number" in message
    assert "13800001111" not in message


def test_the_tag_rule_is_in_the_crd() -> None:
    schema = crd_manifest(CONTACT_LIST)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = schema["properties"]["spec"]
    item = spec["properties"]["tags"]["items"]
    assert (item["minLength"], item["maxLength"]) == (1, 63)
    assert item["pattern"].startswith("^[A-Za-z0-9")
    rules = [r["message"] for r in spec["x-kubernetes-validations"]]
    assert "must name a column other than phoneField" in rules


@pytest.mark.parametrize(
    ("data", "path"),
    [
        pytest.param(contact_list(header=True), "spec.header", id="spec"),
        pytest.param(
            contact_list(source={"configMap": CONFIG_MAP, "secret": "x"}),
            "spec.source.secret",
            id="source",
        ),
        pytest.param(
            contact_list(source={"url": {**URL, "password": "hunter2"}}),
            "spec.source.url.password",
            id="url",
        ),
        pytest.param(contact_list(csv={"quote": "'"}), "spec.csv.quote", id="csv"),
        pytest.param(
            contact_list(fields=[{"name": "x", "mask": True}]), "spec.fields[0].mask", id="field"
        ),
    ],
)
def test_unknown_fields_are_refused(data: dict[str, Any], path: str) -> None:
    assert rejection(data) == f"{path}: Extra inputs are not permitted"
