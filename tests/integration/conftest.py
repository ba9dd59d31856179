"""Integration fixtures: the emulated Kubernetes API (over HTTP) and the operator process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kdial_local import processes
from kdial_local.apiserver import KubeServer
from kdial_local.processes import free_port
from tests.support.list_server import ListServer
from tests.support.manifests import crd_documents
from tests.support.operator import Api, OperatorProcess


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeServer]:
    server = KubeServer.start(crd_documents())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kubeconfig(kube: KubeServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kube.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")


@pytest.fixture
def namespace() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


#: The Secret worker pods read their Event Socket password from, as the chart writes it into
#: each namespace where campaigns run (the operator's default name).
ESL_SECRET = "kdial-esl"  # noqa: S105 (the Secret's name, not a password)


@pytest.fixture
def api(kube: KubeServer, namespace: str) -> Api:
    api = Api(kube.url, namespace)
    api.secret(ESL_SECRET, {"password": "ClueCon"})
    return api


@pytest.fixture
def operator(
    kubeconfig: Path, redis_url: str, namespace: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    """`kdial operator` watching this test's namespace only, so tests never see each other."""
    proc = OperatorProcess(
        kubeconfig,
        redis_url,
        tmp_path / "operator.log",
        "--standalone",
        f"--namespace={namespace}",
        f"--liveness=http://127.0.0.1:{free_port()}/healthz",
    ).start()
    yield proc
    proc.stop()


@pytest.fixture
def server() -> Iterator[ListServer]:
    """A list server on loopback for contact imports."""
    srv = ListServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def agent_api(kubeconfig: Path, redis_url: str, tmp_path: Path) -> Iterator[str]:
    """`kdial api` for one test (test_agent_api.py keeps one per module)."""
    with processes.agent_api(kubeconfig, redis_url, tmp_path / "api.log") as url:
        yield url
