"""kdial's parts as local processes on loopback: redis-server, `kdial sim`, `kdial worker`,
`kdial operator`, `kdial api`; one launcher each, and the one way to stop them.

The demo, the benchmarks and the tests run everything for real on this machine. A launcher
starts its part in its own process group, so that a Ctrl-C at the terminal reaches only the
parent, which then stops its parts in order (workers drain while Redis and the switch are still
there). The launchers that yield (redis-server, the simulator, the agent API) return once their
part answers, and stop it however the block ends; the others return the process for `stop`.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import redis
import yaml

#: FreeSWITCH's stock Event Socket password, the simulator's default too.
CLUECON = "ClueCon"
_SIM_ANNOUNCE = re.compile(r"kdial-sim listening on (?P<host>\S+):(?P<port>\d+)")
_API_ANNOUNCE = re.compile(r"kdial-api listening on (?P<host>\S+):(?P<port>\d+)")
_DESKTOPS_ANNOUNCE = re.compile(r"kdial-desktops: (?P<agents>\d+) agents logged in")


class SimAddress(NamedTuple):
    host: str
    port: int


class DidNotStart(SystemExit):
    """A part exited or did not answer in time: the demo and the benches end with this message
    (a SystemExit, not a traceback), a test fails with it."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kdial(*args: str) -> list[str]:
    """The command line that runs `kdial args` with this interpreter."""
    return [sys.executable, "-m", "kdial_cli", *args]


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
    """Sends `sig` (SIGTERM: drain and exit), waits up to `timeout` seconds, then SIGKILL; always
    reaps the process. Returns its exit code (None if it was never started)."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting, and leave nothing behind
            proc.kill()
            proc.wait()
            raise
    return proc.returncode


@contextmanager
def redis_server(
    workdir: Path, *, port: int | None = None, appendonly: bool = False
) -> Iterator[str]:
    """A throwaway redis-server on loopback (`port`, or a free one), persisting nothing unless
    `appendonly`: then it keeps an AOF in `workdir` as the chart's Redis does (fsync every
    second), and one started again on the same folder and port takes up where it stopped; yields
    its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise DidNotStart("redis-server is not installed (Debian: apt-get install redis-server)")
    port = port or free_port()
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
            "yes" if appendonly else "no",
            "--appendfsync",
            "everysec",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        process_group=0,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_until(lambda: redis.Redis.from_url(url).ping(), "redis-server", proc)
        yield url
    finally:
        stop(proc)


@contextmanager
def simulator(
    scenario: Path | dict[str, Any],
    speed: float = 1.0,
    *,
    workdir: Path | None = None,
    seed: int | None = None,
    password: str = CLUECON,
    startup_timeout: float = 15.0,
    conf: Path | None = None,
) -> Iterator[SimAddress]:
    """`kdial sim` playing `scenario` (a file, or a dict written to one) on a port it picks
    itself and announces, so there is no port race; yields its address. Its stderr goes to
    `sim.log` in `workdir` (a temporary folder if None). With `conf`, its gateways are those of
    that FreeSWITCH configuration folder."""
    with _folder(workdir) as folder:
        path = scenario
        if isinstance(scenario, dict):
            path = folder / "scenario.yaml"
            path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
        args = ["sim", "--scenario", str(path), "--listen", "127.0.0.1:0"]
        args += ["--speed", str(speed), "--password", password]
        if seed is not None:
            args += ["--seed", str(seed)]
        if conf is not None:
            args += ["--conf", str(conf)]
        log = folder / "sim.log"
        with log.open("w") as errors:
            proc = subprocess.Popen(
                kdial(*args),
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                env=os.environ | {"PYTHONUNBUFFERED": "1"},
                process_group=0,
            )
        try:
            yield _announced(proc, startup_timeout, log, _SIM_ANNOUNCE, "kdial sim")
        finally:
            stop(proc)
            if proc.stdout is not None:
                proc.stdout.close()


def worker(
    campaign: str, redis_url: str, esl: tuple[str, int], log: Path, worker_id: str, **env: str
) -> subprocess.Popen[bytes]:
    """A `kdial worker` process for `campaign` against the switch at `esl`, logging to `log`;
    `env` overrides its settings (KDIAL_*)."""
    settings = {
        "KDIAL_REDIS_URL": redis_url,
        "KDIAL_ESL_HOST": esl[0],
        "KDIAL_ESL_PORT": str(esl[1]),
        "KDIAL_ESL_PASSWORD": CLUECON,
        "KDIAL_METRICS_PORT": str(free_port()),
        "KDIAL_WORKER_ID": worker_id,
    }
    return spawn(kdial("worker", "--campaign", campaign), log, settings | env)


def operator(
    kubeconfig: Path, redis_url: str, log: Path, *args: str, **env: str
) -> subprocess.Popen[bytes]:
    """`kdial operator args` against the API server of `kubeconfig`, logging to `log`; `env`
    overrides its settings (KDIAL_*)."""
    # KUBECONFIG must be set when the process starts: kopf's client reads it at import.
    settings = {"KUBECONFIG": str(kubeconfig), "KDIAL_REDIS_URL": redis_url}
    return spawn(kdial("operator", *args), log, settings | env)


@contextmanager
def agent_api(
    kubeconfig: Path, redis_url: str, log: Path, *args: str, startup_timeout: float = 15.0
) -> Iterator[str]:
    """`kdial api` (with `args`) on a loopback port it picks itself and announces, against the
    API server of `kubeconfig`, its log in `log`; yields its base URL."""
    env = os.environ | {"KUBECONFIG": str(kubeconfig), "KDIAL_REDIS_URL": redis_url}
    with log.open("w") as errors:
        proc = subprocess.Popen(
            kdial("api", "--listen", "127.0.0.1:0", *args),
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env | {"PYTHONUNBUFFERED": "1"},
            process_group=0,
        )
    try:
        address = _announced(proc, startup_timeout, log, _API_ANNOUNCE, "kdial api")
        yield f"http://{address.host}:{address.port}"
    finally:
        stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()


@contextmanager
def desktops(
    api_url: str,
    namespace: str,
    campaign: str,
    tokens: Path,
    log: Path,
    *args: str,
    startup_timeout: float = 15.0,
) -> Iterator[int]:
    """`kdial desktops` (with `args`) for the agents of the `tokens` file (agent=token lines),
    logged in to `namespace/campaign` through the agent API at `api_url`, its log in `log`;
    yields how many agents are logged in."""
    command = kdial(
        "desktops",
        *("--api", api_url, "--namespace", namespace, "--campaign", campaign),
        *("--tokens", str(tokens), *args),
    )
    with log.open("w") as errors:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
            process_group=0,
        )
    try:
        found = _announcement(proc, startup_timeout, log, _DESKTOPS_ANNOUNCE, "kdial desktops")
        yield int(found["agents"])
    finally:
        stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()


def spawn(command: list[str], log: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """`command` with `env` over this process's environment, its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            env=os.environ | env,
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
        )


@contextmanager
def _folder(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="kdial-sim-") as tmp:
        yield Path(tmp)


def _announced(
    proc: subprocess.Popen[str], timeout: float, log: Path, announce: re.Pattern[str], what: str
) -> SimAddress:
    """The address `what` announces on stdout, read without blocking past `timeout`."""
    found = _announcement(proc, timeout, log, announce, what)
    return SimAddress(found["host"], int(found["port"]))


def _announcement(
    proc: subprocess.Popen[str], timeout: float, log: Path, announce: re.Pattern[str], what: str
) -> re.Match[str]:
    """The line `what` prints on stdout once it is up, read without blocking past `timeout`."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        found = announce.search(line)
        if found:
            return found
    raise DidNotStart(f"{what} did not start ({log}):\n{log.read_text('utf-8', 'replace')}")


def _wait_until(probe: Any, what: str, proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if probe():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise DidNotStart(f"{what} did not start")
        time.sleep(0.05)
