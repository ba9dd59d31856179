"""A real cluster, named by `--kubeconfig PATH`; without it every e2e test is skipped, saying so.

`installed_crds` applies kdial's CRDs to it for real, so the cluster should be a disposable one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import config, dynamic

from tests.support.cluster import install_crds


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> dynamic.DynamicClient:
    """A client of the real cluster the kubeconfig names."""
    kubeconfig = request.config.getoption("--kubeconfig")
    if not kubeconfig:
        pytest.skip("e2e tests need a real cluster: pass --kubeconfig PATH")
    if not Path(kubeconfig).is_file():
        pytest.fail(f"--kubeconfig {kubeconfig}: no such file")
    # The kubernetes package leaves these two untyped.
    api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    return dynamic.DynamicClient(api)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def installed_crds(cluster: dynamic.DynamicClient) -> list[str]:
    return install_crds(cluster)
