"""The folder says what a test is: every test is marked by it, a test elsewhere is refused, and
a unit test starts no process and opens no socket."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.layout import KINDS, Misplaced, NotAUnitTest, kind_of

TESTS = Path("/repo/tests")


def test_every_collected_test_carries_exactly_the_marker_of_its_folder(
    request: pytest.FixtureRequest,
) -> None:
    wrong = {
        item.nodeid
        for item in request.session.items
        if {m.name for m in item.iter_markers()} & set(KINDS) != {Path(item.nodeid).parts[1]}
    }

    assert not wrong, f"tests whose markers are not their folder's: {sorted(wrong)[:5]}"


@pytest.mark.parametrize("kind", KINDS)
def test_the_folder_is_the_kind(kind: str) -> None:
    assert kind_of(TESTS / kind / "test_x.py", TESTS, []) == kind
    assert kind_of(TESTS / kind / "deeper" / "test_x.py", TESTS, [kind, "parametrize"]) == kind


@pytest.mark.parametrize(
    "path",
    [TESTS / "test_x.py", TESTS / "support" / "test_x.py", Path("/elsewhere/test_x.py")],
)
def test_a_test_outside_the_kinds_folders_is_refused_naming_them(path: Path) -> None:
    with pytest.raises(Misplaced, match="tests/unit, tests/integration, tests/e2e"):
        kind_of(path, TESTS, [])


def test_a_marker_against_the_folder_is_refused_naming_both() -> None:
    with pytest.raises(Misplaced, match="marked integration but lives in tests/unit"):
        kind_of(TESTS / "unit" / "test_x.py", TESTS, ["integration"])


def test_a_unit_test_that_starts_a_process_fails_naming_it() -> None:
    with pytest.raises(NotAUnitTest, match=r"started a process .* belongs in tests/integration"):
        subprocess.run(["true"], check=True)


async def test_an_asyncio_subprocess_is_refused_too() -> None:
    with pytest.raises(NotAUnitTest, match="started a process"):
        await asyncio.create_subprocess_exec("true")


def test_a_unit_test_that_opens_a_socket_fails_naming_it() -> None:
    with socket.socket() as sock, pytest.raises(NotAUnitTest, match="opened a socket"):
        sock.connect(("127.0.0.1", 9))
    with pytest.raises(NotAUnitTest, match="opened a socket"):
        socket.create_server(("127.0.0.1", 0))
    with pytest.raises(NotAUnitTest, match="looked a name up"):
        socket.create_connection(("localhost", 9))
