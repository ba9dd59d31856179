"""kdial's CRDs and examples as a real API server judges them, beyond what the offline checks in
tests/unit can: the CRDs' structural schemas and CEL rules (compiled, within their cost budget)
are accepted; with them installed, every example is accepted by a server-side dry run, and an
object its CRD forbids is refused, naming the field.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes import dynamic
from kubernetes.dynamic.exceptions import DynamicApiError

from tests.support.cluster import dry_run_apply
from tests.support.manifests import crd_documents, example_documents

EXAMPLES = example_documents()


@pytest.mark.parametrize("doc", crd_documents(), ids=lambda d: d["metadata"]["name"])
def test_the_api_server_accepts_each_crd(
    cluster: dynamic.DynamicClient, doc: dict[str, Any]
) -> None:
    applied = dry_run_apply(cluster, doc)

    assert applied.metadata.name == doc["metadata"]["name"]


@pytest.mark.usefixtures("installed_crds")
@pytest.mark.parametrize(("where", "doc"), EXAMPLES, ids=[where for where, _ in EXAMPLES])
def test_the_api_server_accepts_each_example(
    cluster: dynamic.DynamicClient, where: str, doc: dict[str, Any]
) -> None:
    applied = dry_run_apply(cluster, doc)

    assert (applied.kind, applied.metadata.name) == (doc["kind"], doc["metadata"]["name"]), where


@pytest.mark.usefixtures("installed_crds")
def test_the_api_server_refuses_a_campaign_with_a_misspelt_field(
    cluster: dynamic.DynamicClient,
) -> None:
    (campaign,) = [d for w, d in EXAMPLES if w == "quickstart/campaign.yaml:Campaign/quickstart"]
    wrong = copy.deepcopy(campaign)
    wrong["spec"]["pacing"]["maxConcurency"] = wrong["spec"]["pacing"].pop("maxConcurrency")

    with pytest.raises(DynamicApiError) as refused:
        dry_run_apply(cluster, wrong)

    assert refused.value.status in (400, 422)
    assert "maxConcurency" in str(refused.value.body)
