"""Every manifest in examples/ is one a user can apply as it is.

Each kdial.io object is checked twice, as the two parts of kdial that meet it would: by the
API server's rules and by the operator's models; built-in kinds (ConfigMaps) by the Kubernetes
OpenAPI schemas (tests/support/manifests.py). Then what only the examples as a set can
say: every reference resolves, every contact row imports, every caller ID is accepted.

`examples/sim/` holds simulator scenarios, not manifests, and is left out.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kdial.api.calleridpool import CallerIdPoolSpec
from kdial.api.campaign import CampaignSpec
from kdial.api.contactlist import ContactListSpec, Purpose
from kdial.api.kinds import API_VERSION, GROUP, KINDS
from kdial_operator import contact_import, routing
from kdial_operator.campaign_status import schedule_hold
from tests.support.manifests import (
    EXAMPLES,
    builtin_problems,
    custom_resource_problems,
    example_documents,
    example_files,
    load_documents,
    manifest_problems,
    model_problems,
)

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
