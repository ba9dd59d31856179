"""kdial's parts as local processes on loopback: Redis, the simulator, workers, the operator.

The benchmarks and the demo run everything for real on this machine; these start each part,
wait until it answers, and stop it again however the run ends. Each runs in its own process
group, so a Ctrl-C at the terminal reaches only the parent, which then stops its parts in
order (workers drain while Redis and the switch are still there).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import yaml

_SIM_ANNOUNCE = re.compile(r"kdial-sim listening on (?P<host>\S+):(?P<port>\d+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kdial(*args: str) -> list[str]:
    """The command line that runs `kdial args` with this interpreter."""
    return [sys.executable, "-m", "kdial_cli", *args]


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port; yields its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        process_group=0,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait(lambda: redis.Redis.from_url(url).ping(), "redis-server", proc)
        yield url
    finally:
        _stop(proc)


@contextmanager
def simulator(
    scenario: dict[str, Any], workdir: Path, speed: float = 1.0
) -> Iterator[tuple[str, int]]:
    """`kdial sim` on a port it picks itself; yields (host, port)."""
    path = workdir / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario), "utf-8")
    log = (workdir / "sim.log").open("w")
    proc = subprocess.Popen(
        kdial("sim", "--scenario", str(path), "--listen", "127.0.0.1:0", "--speed", str(speed)),
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        process_group=0,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            found = _SIM_ANNOUNCE.search(line)
            if found:
                yield found["host"], int(found["port"])
                return
            if not line and proc.poll() is not None:
                break
        raise SystemExit(f"kdial sim did not start; see {workdir / 'sim.log'}")
    finally:
        _stop(proc)
        log.close()


def worker(
    campaign: str, redis_url: str, esl: tuple[str, int], log: Path, worker_id: str, **env: str
) -> subprocess.Popen[bytes]:
    """A `kdial worker` process for `campaign` against the switch at `esl`."""
    return subprocess.Popen(
        kdial("worker", "--campaign", campaign),
        env=os.environ
        | {
            "KDIAL_REDIS_URL": redis_url,
            "KDIAL_ESL_HOST": esl[0],
            "KDIAL_ESL_PORT": str(esl[1]),
            "KDIAL_ESL_PASSWORD": "ClueCon",
            "KDIAL_METRICS_PORT": str(free_port()),
            "KDIAL_WORKER_ID": worker_id,
        }
        | env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        process_group=0,
    )


def stop(proc: subprocess.Popen[Any], timeout: float = 20) -> None:
    _stop(proc, timeout)


def _stop(proc: subprocess.Popen[Any], timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting, and leave nothing behind
            proc.kill()
            proc.wait()
            raise


def _wait(probe: Any, what: str, proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if probe():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.05)


@contextmanager
def operator(
    kubeconfig: Path, redis_url: str, log: Path, *args: str, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`kdial operator args` against the API server of `kubeconfig`, logging to `log`."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            kdial("operator", *args),
            # KUBECONFIG must be set when the process starts: kopf's client reads it at import.
            env=os.environ | {"KUBECONFIG": str(kubeconfig), "KDIAL_REDIS_URL": redis_url} | env,
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    try:
        yield proc
    finally:
        _stop(proc)
