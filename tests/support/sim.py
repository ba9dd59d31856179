"""Run `kdial sim` as a real subprocess for a test.

    with running_sim({"carriers": {...}}, speed=20) as (host, port):
        ...

The scenario is a path or a dict (written to a temporary YAML file). The simulator listens on
a free port it picks itself and announces it on stdout, so there is no port race.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import yaml

#: FreeSWITCH's stock ESL password, the simulator's default too.
CLUECON = "ClueCon"
_ANNOUNCE = re.compile(r"kdial-sim listening on (?P<host>\S+):(?P<port>\d+)")


class SimAddress(NamedTuple):
    host: str
    port: int


class SimFailedToStart(RuntimeError):
    pass


def kdial_command() -> list[str]:
    """The `kdial` console script of the interpreter running the tests."""
    script = Path(sys.executable).with_name("kdial")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from kdial_cli.main import main; sys.exit(main())"]


@contextmanager
def running_sim(
    scenario: Path | str | dict[str, Any],
    speed: float = 1.0,
    *,
    seed: int | None = None,
    password: str = CLUECON,
    startup_timeout: float = 15.0,
) -> Iterator[SimAddress]:
    with tempfile.TemporaryDirectory(prefix="kdial-sim-") as tmp:
        path = _scenario_file(scenario, Path(tmp))
        args = ["sim", "--scenario", str(path), "--listen", "127.0.0.1:0"]
        args += ["--speed", str(speed), "--password", password]
        if seed is not None:
            args += ["--seed", str(seed)]
        errors = Path(tmp) / "stderr.log"
        with errors.open("w") as err:
            proc = subprocess.Popen(
                kdial_command() + args,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            try:
                yield _wait_for_address(proc, startup_timeout, errors)
            finally:
                _stop(proc)


def _scenario_file(scenario: Path | str | dict[str, Any], tmp: Path) -> Path:
    if isinstance(scenario, dict):
        path = tmp / "scenario.yaml"
        path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
        return path
    return Path(scenario)


def _wait_for_address(proc: subprocess.Popen[str], timeout: float, errors: Path) -> SimAddress:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        found = _ANNOUNCE.search(line)
        if found:
            return SimAddress(found["host"], int(found["port"]))
    _stop(proc)
    raise SimFailedToStart(f"kdial sim did not start: {errors.read_text(encoding='utf-8')}")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stdout is not None:
        proc.stdout.close()
