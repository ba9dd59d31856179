"""Session-wide: a redis-server the session starts; every test marked by its folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import redis

from kdial_local import processes
from tests.support import layout
from tests.support.paths import TESTS


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kubeconfig",
        metavar="PATH",
        help="run tests/e2e against the cluster of this kubeconfig (a disposable one: the e2e "
        "tests install kdial's CRDs there); without it they are skipped",
    )


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on loopback for the whole session; its URL."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: `make test` installs it (apt-get redis-server)")
    with processes.redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session's Redis, emptied for this test."""
    redis.Redis.from_url(redis_server).flushall()
    return redis_server


@pytest.fixture
def rdb(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by its folder; refuse, naming them, tests outside the folders or marked
    against theirs."""
    problems = set()
    for item in items:
        markers = {marker.name for marker in item.iter_markers()}
        try:
            item.add_marker(layout.kind_of(item.path, TESTS, markers))
        except layout.Misplaced as error:
            problems.add(str(error))
    if problems:
        raise pytest.UsageError("\n".join(sorted(problems)))
