"""The images `make images` builds, checked where no container engine runs.

Every Dockerfile passes hadolint. The kdial image's build is replayed: the build stage's
sources, as its COPY steps take them and .dockerignore lets them through, are built into a wheel
and installed into a fresh virtualenv by its RUN step (images/kdial/install.sh, the script the
image runs). Then `kdial operator` and `kdial worker` run from that virtualenv with the final
stage's environment, on a read-only root filesystem as their pods run them (the operator's with
a writable /tmp, the dialer's with nothing writable): the operator against the emulated API
server until it is alive, the worker against Redis and the switch until it is ready, the agent
API until it answers /healthz; each stops cleanly on SIGTERM.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kdial_cli.main import SUBCOMMANDS
from kdial_local import processes
from kdial_local.processes import CLUECON, free_port
from kdial_local.processes import simulator as running_sim
from tests.support.chart import env_of, render_values
from tests.support.operator import wait_for
from tests.support.paths import REPO

DOCKERFILE = REPO / "Dockerfile"
#: What the image is for.
IMAGE_COMMANDS = ("operator", "worker", "api")


@dataclass(frozen=True)
class Step:
    keyword: str
    args: str


def stages(dockerfile: Path) -> list[list[Step]]:
    """The Dockerfile's steps, one list per stage (continuation lines joined, comments out)."""
    lines = dockerfile.read_text("utf-8").splitlines()
    lines = [line for line in lines if not line.lstrip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", " ")
    result: list[list[Step]] = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            result.append([])
        result[-1].append(Step(keyword.upper(), " ".join(args.split())))
    return result


def dockerignored(relative: str, patterns: list[str]) -> bool:
    """.dockerignore's rule: the last pattern that matches a path or a parent decides (fnmatch's
    `*` also spans `/`, which the patterns kdial's .dockerignore uses do not tell apart)."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.removeprefix("!").rstrip("/")
        globs = [glob, glob.removeprefix("**/")] if glob.startswith("**/") else [glob]
        if any(fnmatch.fnmatchcase(c, g) for c in candidates for g in globs):
            ignored = not negated
    return ignored


def replay_copy(step: Step, root: Path, workdir: str, patterns: list[str]) -> None:
    """A COPY from the build context into `root` (the image's filesystem)."""
    *sources, dest = shlex.split(step.args)
    target = Path(dest if dest.startswith("/") else f"{workdir}/{dest}")
    for source in sources:
        origin = REPO / source
        files = [origin] if origin.is_file() else sorted(origin.rglob("*"))
        for file in filter(Path.is_file, files):
            relative = file.relative_to(REPO).as_posix()
            if dockerignored(relative, patterns):
                continue
            if origin.is_file():
                into = target / file.name if dest.endswith("/") else target
            else:
                into = target / file.relative_to(origin)
            path = root / into.relative_to("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, path)


@dataclass(frozen=True)
class Image:
    root: Path
    venv: Path
    env: dict[str, str]
    entrypoint: list[str]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """The kdial image's filesystem and configuration, by replaying its Dockerfile."""
    build, final = stages(DOCKERFILE)
    root = tmp_path_factory.mktemp("image")
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    workdir = "/"
    runs = []
    for step in build[1:]:
        if step.keyword == "WORKDIR":
            workdir = step.args
        elif step.keyword == "COPY":
            replay_copy(step, root, workdir, patterns)
        elif step.keyword == "RUN":
            runs.append(step.args)
    assert len(runs) == 1, f"the build stage runs the install script alone: {runs}"
    command, *arguments = shlex.split(runs[0])
    script = root / "usr/local/bin" / command
    assert script.is_file(), f"{command} is not where the build stage copied it"
    done = subprocess.run(
        [script, *(str(root / a.lstrip("/")) for a in arguments)],
        env=os.environ | {"PYTHON": sys.executable},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    venv = arguments[-1]
    # A virtualenv is not relocatable: the final stage must take it from where it was made.
    assert Step("COPY", f"--from=build {venv} {venv}") in final
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    for step in final:
        if step.keyword == "ENV":
            for pair in shlex.split(step.args):
                name, _, value = pair.partition("=")
                env[name] = value.replace("$PATH", env["PATH"]).replace(venv, str(root / venv[1:]))
    entrypoint = next(json.loads(s.args) for s in final if s.keyword == "ENTRYPOINT")
    return Image(root, root / venv[1:], env, entrypoint)


def read_only_root(image: Image, *argv: str, tmp: bool = True) -> list[str]:
    """`argv` in a mount namespace whose root filesystem and virtualenv are read-only: the
    chart's readOnlyRootFilesystem, with its /tmp emptyDir where `tmp` (the operator's pod has
    one, the worker pod's dialer none)."""
    remount = (
        ("mount --bind /tmp /tmp && " if tmp else "")
        + 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" '
        + '&& mount -o remount,bind,ro / && exec "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", remount,
            str(image.venv), *image.entrypoint, *argv]  # fmt: skip


def run(image: Image, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        read_only_root(image, *argv), env=image.env, capture_output=True, text=True, check=False
    )


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


Procs = list[subprocess.Popen[bytes]]


@pytest.fixture
def started() -> Iterator[Procs]:
    """The processes a test starts, killed after it when it left them running."""
    procs: Procs = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start(
    procs: Procs, image: Image, log: Path, argv: list[str], *, tmp: bool, **env: str
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        read_only_root(image, *argv, tmp=tmp),
        env=image.env | env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    procs.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM (the kubelet's stop): the process drains and exits 0, and never tried to write
    to its read-only root."""
    code = processes.stop(proc, timeout=30)
    assert code == 0, log.read_text("utf-8", "replace")[-3000:]
    assert "Read-only file system" not in log.read_text("utf-8", "replace")


# hadolint


def test_every_dockerfile_passes_hadolint() -> None:
    dockerfiles = sorted([*REPO.glob("Dockerfile*"), *REPO.glob("images/**/Dockerfile*")])
    assert DOCKERFILE in dockerfiles
    hadolint = Path(sys.executable).with_name("hadolint")

    done = subprocess.run(
        [hadolint, "--failure-threshold", "style", *dockerfiles],
        capture_output=True,
        text=True,
        check=False,
    )

    assert (done.returncode, done.stdout + done.stderr) == (0, "")


# make images


def test_make_images_tags_what_the_chart_installs_by_default() -> None:
    done = subprocess.run(
        ["make", "-n", "images", "ENGINE=podman"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    builds = {
        tuple(shlex.split(line)[3:5])
        for line in done.stdout.splitlines()
        if line.startswith("podman build")
    }
    container = render_values({}).one("Deployment", "kdial-operator")["spec"]["template"]["spec"][
        "containers"
    ][0]
    env = env_of(container)
    expected = {(container["image"], ".")}
    assert env["KDIAL_WORKER_IMAGE"]["value"] == container["image"]
    if (REPO / "images" / "freeswitch" / "Dockerfile").exists():
        expected.add((env["KDIAL_FREESWITCH_IMAGE"]["value"], "images/freeswitch"))

    assert builds == expected


def test_make_images_without_an_engine_says_what_to_install(tmp_path: Path) -> None:
    # A PATH with the shell tools the Makefile uses and no podman or docker.
    for tool in ("sh", "awk"):
        (tmp_path / tool).symlink_to(shutil.which(tool) or tool)
    make = shutil.which("make") or "make"

    done = subprocess.run(
        [make, "images"],
        cwd=REPO,
        env={"PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode != 0
    assert "needs podman, or docker with a running daemon" in done.stderr


# The kdial image


def test_the_image_runs_each_command_it_is_for(image: Image) -> None:
    assert set(IMAGE_COMMANDS) <= set(SUBCOMMANDS)

    listed = run(image, "--help")
    assert listed.returncode == 0, listed.stderr
    for command in IMAGE_COMMANDS:
        assert f"  {command} " in listed.stdout
        done = run(image, command, "--help")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: kdial {command}")


def test_the_operator_runs_on_a_read_only_root(
    image: Image, kubeconfig: Path, redis_url: str, tmp_path: Path, started: Procs
) -> None:
    health = f"http://127.0.0.1:{free_port()}/healthz"
    log = tmp_path / "operator.log"
    operator = start(
        started,
        image,
        log,
        ["operator", "--standalone", "--namespace=image-test", f"--liveness={health}"],
        tmp=True,
        KUBECONFIG=str(kubeconfig),
        KDIAL_REDIS_URL=redis_url,
    )

    wait_for("the operator alive", lambda: operator.poll() is None and answers(health))
    stop(operator, log)


def test_the_agent_api_runs_on_a_read_only_root(
    image: Image, kubeconfig: Path, redis_url: str, tmp_path: Path, started: Procs
) -> None:
    port = free_port()
    log = tmp_path / "api.log"
    api = start(
        started,
        image,
        log,
        ["api", f"--listen=127.0.0.1:{port}"],
        tmp=True,
        KUBECONFIG=str(kubeconfig),
        KDIAL_REDIS_URL=redis_url,
    )

    health = f"http://127.0.0.1:{port}/healthz"
    wait_for("the agent API alive", lambda: api.poll() is None and answers(health))
    stop(api, log)


def test_the_worker_runs_on_a_read_only_root(
    image: Image, redis_url: str, tmp_path: Path, started: Procs
) -> None:
    metrics = free_port()
    log = tmp_path / "worker.log"
    with running_sim({"carriers": {}}) as (host, port):
        worker = start(
            started,
            image,
            log,
            ["worker", "--campaign", "image-test/quickstart"],
            tmp=False,
            KDIAL_REDIS_URL=redis_url,
            KDIAL_ESL_HOST=host,
            KDIAL_ESL_PORT=str(port),
            KDIAL_ESL_PASSWORD=CLUECON,
            KDIAL_METRICS_PORT=str(metrics),
            KDIAL_DRAIN_SECONDS="5",
        )

        wait_for(
            "the worker ready (Redis and the switch reached)",
            lambda: worker.poll() is None and answers(f"http://127.0.0.1:{metrics}/readyz"),
        )
        stop(worker, log)
