"""A real cluster for tests/e2e, through the kubernetes client: kdial's CRDs installed as
`helm install` would, and objects judged by a server-side dry run (which changes nothing)."""

from __future__ import annotations

from functools import partial
from typing import Any

from kubernetes import dynamic

from tests.support.manifests import crd_documents
from tests.support.operator import wait_for

#: The field manager of everything the e2e tests apply, dry run or not.
FIELD_MANAGER = "kdial-e2e"
#: A namespaced object is judged in a namespace that exists.
NAMESPACE = "default"


def install_crds(cluster: dynamic.DynamicClient) -> list[str]:
    """kdial's CRDs (crds/) applied for real; returns once each is Established."""
    crds = cluster.resources.get(
        api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
    )
    names = []
    for doc in crd_documents():
        crds.server_side_apply(body=doc, field_manager=FIELD_MANAGER, force_conflicts=True)
        names.append(doc["metadata"]["name"])
    for name in names:
        wait_for(f"CRD {name} Established", partial(_established_by_name, crds, name))
    cluster.resources.invalidate_cache()
    return names


def dry_run_apply(cluster: dynamic.DynamicClient, doc: dict[str, Any]) -> Any:
    """What the API server makes of `doc` applied server-side, without storing it."""
    resource = cluster.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
    return resource.server_side_apply(
        body=doc,
        namespace=NAMESPACE if resource.namespaced else None,
        field_manager=FIELD_MANAGER,
        dry_run="All",
    )


def _established_by_name(crds: Any, name: str) -> bool:
    return _established(crds.get(name=name))


def _established(crd: Any) -> bool:
    return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])
