"""Which kind a test is, read from its folder, so a file cannot drop out of `make unit`.

tests/unit (no processes, no network), tests/integration (real redis-server, processes, loopback
sockets) and tests/e2e (a real cluster, only with --kubeconfig) are the only homes of tests; the
folder is the marker. A test elsewhere, or one declaring another kind's marker, is refused.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

KINDS = ("unit", "integration", "e2e")


class Misplaced(Exception):
    """A test file outside the kinds' folders, or one contradicting its folder."""


class NotAUnitTest(AssertionError):
    """A unit test reached for a process or the network."""


def kind_of(path: Path, tests: Path, markers: Iterable[str]) -> str:
    """The kind of the test in `path` (a file under the `tests` folder), given the names of the
    markers it declares."""
    parts = path.relative_to(tests).parts if path.is_relative_to(tests) else ()
    folder = parts[0] if len(parts) > 1 else ""
    where = Path(tests.name, *parts) if parts else path
    if folder not in KINDS:
        raise Misplaced(f"{where}: a test lives in one of {', '.join(f'tests/{k}' for k in KINDS)}")
    contradicting = sorted(set(markers) & set(KINDS) - {folder})
    if contradicting:
        raise Misplaced(
            f"{where}: marked {', '.join(contradicting)} but lives in tests/{folder}; "
            f"the folder says what a test is: move the file instead"
        )
    return folder


def refuse_processes_and_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, starting a process, opening a socket or looking a name up fails the test,
    naming what it did."""
    for module, name in [
        (subprocess.Popen, "_execute_child"),
        (os, "system"),
        (os, "fork"),
        (os, "posix_spawn"),
        (os, "posix_spawnp"),
    ]:
        monkeypatch.setattr(module, name, _refusing(f"started a process ({name})"))
    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, _refusing(f"opened a socket ({name})"))
    monkeypatch.setattr(socket, "getaddrinfo", _refusing("looked a name up (getaddrinfo)"))


def _refusing(what: str) -> Callable[..., Any]:
    def refuse(*_: Any, **__: Any) -> Any:
        raise NotAUnitTest(f"a unit test {what}: it belongs in tests/integration")

    return refuse
