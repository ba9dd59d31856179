"""The chart rendered against an API server (the emulated one), as `helm install` renders it:
what its `lookup` calls find there decides whether the install may go ahead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import pytest

from kdial_local.apiserver import KubeServer
from tests.support.operator import Api
from tests.support.paths import REPO

CHART = REPO / "charts" / "kdial"
RELEASE, NAMESPACE = "kdial", "kdial-system"


def install_render(kubeconfig: Path, values: dict[str, Any]) -> dict[str, str]:
    with helm.Config(kubeconfig_path=kubeconfig, namespace=NAMESPACE) as cluster:
        return cluster.render(
            helm.Chart.load(CHART), values, name=RELEASE, namespace=NAMESPACE, is_install=True
        )


def test_a_watched_namespace_that_does_not_exist_fails_the_install_before_anything_is_created(
    kubeconfig: Path, kube: KubeServer, namespace: str
) -> None:
    values = {"watchNamespaces": [namespace]}
    with pytest.raises(helm.HelmRenderError) as refused:
        install_render(kubeconfig, values)
    assert f'watchNamespaces: namespace "{namespace}" does not exist' in str(refused.value)
    assert f"kubectl create namespace {namespace}" in str(refused.value)

    Api(kube.url, namespace).core.create_namespace({"metadata": {"name": namespace}})  # type: ignore[arg-type]  # a dict body is fine
    rendered = install_render(kubeconfig, values)
    assert any(namespace in text for text in rendered.values())
