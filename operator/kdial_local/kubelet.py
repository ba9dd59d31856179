"""A kubelet for one machine: runs the pods of kdial's worker Deployments as local processes.

On a cluster, the Deployment controller, the ReplicaSet controller and the kubelet turn a
Deployment's `spec.replicas` into running pods and report them back in its `status`. Here one
loop plays all three for the Deployments the operator writes, so that scaling up, scaling down
and draining happen exactly as the operator decides them:

* each pod is its `dialer` container run as `kdial <args>` (the image's entrypoint) with the
  container's environment, Secret references resolved from the API;
* pods share this machine's network, so each gets its own metrics port (`KDIAL_METRICS_PORT`),
  and its name as `KDIAL_WORKER_ID` (on a cluster: the pod's hostname); the FreeSWITCH container
  beside each dialer is played by one shared `kdial sim`, whose address replaces
  `KDIAL_ESL_HOST`/`KDIAL_ESL_PORT` (the `env` overrides given to the kubelet);
* Secret volumes, and projected volumes of Secrets, are written into folders as a kubelet
  does (kdial_local.volumes): the dialer's environment names its folders instead of the
  container's mount paths, and what the FreeSWITCH container mounts under its configuration
  directory lands in the shared simulator's `--conf` folder (`switch_conf`), one subfolder
  per pod; they are refreshed `volume_sync_seconds` after the Secret changes at the earliest,
  not at once;
* a pod is ready when its readinessProbe (`/readyz`) answers 200;
* a pod to remove gets SIGTERM, so the worker drains, and SIGKILL after the pod's
  `terminationGracePeriodSeconds`; a pod that exits on its own is replaced, with a back-off;
* the Deployment's `status` (replicas, readyReplicas, ...) is written back, which is what the
  operator reads.

Decisions are in kdial_local.pods; this module is the I/O. Not done: liveness probes, resource
limits, the FreeSWITCH container itself, pods of any other Deployment.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kdial_local import pods, processes, volumes
from kdial_local.pods import PodView

#: The Deployments this kubelet runs: kdial's worker Deployments.
SELECTOR = "app.kubernetes.io/name=kdial-worker"
#: The container it runs; the FreeSWITCH container beside it is the shared simulator.
CONTAINER = "dialer"
#: Back-off after a pod exits on its own (CrashLoopBackOff), doubling up to the last value.
BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Pod:
    """One pod: a local `kdial` process for a Deployment's dialer container."""

    name: str
    deployment: str
    template_hash: str
    proc: subprocess.Popen[bytes]
    port: int
    readiness_path: str | None
    grace_seconds: float
    started: float = field(default_factory=time.monotonic)
    ready: bool = False
    terminating_since: float | None = None
    projections: list[volumes.Projection] = field(default_factory=list)
    projected_at: float = field(default_factory=time.monotonic)

    def view(self) -> PodView:
        return PodView(self.name, self.template_hash, self.ready, self.started)


@dataclass(frozen=True)
class PodInfo:
    """A pod as `kubectl get pods` would list it."""

    name: str
    deployment: str
    phase: str
    """Running, Terminating."""
    ready: bool
    age_seconds: float


class Kubelet:
    """Runs the pods of the worker Deployments of one namespace; call :meth:`run` in a thread,
    then :meth:`shutdown` from any thread."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        logs: Path,
        env: Mapping[str, str],
        *,
        notify: Callable[[str], None] = print,
        command: Callable[[list[str]], list[str]] | None = None,
        switch_conf: Path | None = None,
        volume_sync_seconds: float = 3.0,
    ) -> None:
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.logs = logs
        self.env = dict(env)
        self.notify = notify
        self.command = command or (lambda args: processes.kdial(*args))
        self.switch_conf = switch_conf
        self.volume_sync_seconds = volume_sync_seconds
        self._pods: dict[str, Pod] = {}
        self._lock = threading.Lock()
        self._rng = random.Random()  # pod name suffixes, not secrets
        self._crashes: dict[str, int] = {}
        self._not_before: dict[str, float] = {}
        self._last_replicas: dict[str, int] = {}
        self._problems: dict[str, str] = {}
        self._stopping = False

    # --- the loop ----------------------------------------------------------------------------

    def run(self, stopped: threading.Event, interval: float = 0.5) -> None:
        """Syncs until `stopped` is set. API errors are retried at the next tick."""
        while not stopped.is_set():
            try:
                self.sync()
            except (ApiException, OSError, ValueError) as error:
                self.notify(f"kubelet: sync failed ({type(error).__name__}); retrying")
            stopped.wait(interval)

    def sync(self) -> None:
        """One pass: reap exited pods, start and stop pods to the spec, probe, report."""
        deployments = {d["metadata"]["name"]: d for d in self._deployments()}
        with self._lock:
            if self._stopping:
                return
            self._reap()
            for name in {p.deployment for p in self._pods.values()} - set(deployments):
                for pod in self._live(name):
                    self._terminate(pod, "its Deployment was deleted")
            for name in set(self._last_replicas) - set(deployments):
                del self._last_replicas[name]
                self.notify(f"kubelet: Deployment {name} is gone")
            for name, deployment in deployments.items():
                self._converge(name, deployment)
            live = [p for p in self._pods.values() if p.terminating_since is None]
        for pod in live:
            self._refresh_volumes(pod)
            pod.ready = self._probe(pod)
            if pod.ready:  # a pod that came up resets its Deployment's crash back-off
                self._crashes.pop(pod.deployment, None)
        for name, deployment in deployments.items():
            self._report(name, deployment)

    def pods(self) -> list[PodInfo]:
        """The pods now, oldest first."""
        now = time.monotonic()
        with self._lock:
            return [
                PodInfo(
                    p.name,
                    p.deployment,
                    "Running" if p.terminating_since is None else "Terminating",
                    p.ready and p.terminating_since is None,
                    now - p.started,
                )
                for p in sorted(self._pods.values(), key=lambda p: p.started)
            ]

    def shutdown(self, timeout: float | None = None) -> None:
        """Stops every pod: SIGTERM (they drain), SIGKILL after their grace period or
        `timeout`, whichever is shorter."""
        with self._lock:
            self._stopping = True
            pods_ = list(self._pods.values())
            for pod in pods_:
                if pod.terminating_since is None:
                    self._terminate(pod, "the kubelet is stopping")
        try:
            for pod in pods_:
                assert pod.terminating_since is not None
                grace = pod.grace_seconds if timeout is None else min(pod.grace_seconds, timeout)
                left = pod.terminating_since + grace - time.monotonic()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    pod.proc.wait(timeout=max(left, 0.1))
        finally:  # also on a second Ctrl-C: nothing is left running
            for pod in pods_:
                if pod.proc.poll() is None:
                    pod.proc.kill()
                    pod.proc.wait()
        with self._lock:
            self._reap()

    # --- pods --------------------------------------------------------------------------------

    def _converge(self, name: str, deployment: dict[str, Any]) -> None:
        spec = deployment.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        hash_ = pods.template_hash(template)
        previous = self._last_replicas.get(name)
        self._last_replicas[name] = replicas
        if previous is None:
            self.notify(f"kubelet: Deployment {name} wants {replicas} pod(s)")
        elif previous != replicas:
            self.notify(f"kubelet: Deployment {name} scaled {previous} → {replicas}")
        todo = pods.plan(replicas, hash_, [p.view() for p in self._live(name)])
        for pod_name in todo.stop:
            self._terminate(self._pods[pod_name], "scale-down" if replicas else "scaled to zero")
        if todo.start and time.monotonic() >= self._not_before.get(name, 0.0):
            for _ in range(todo.start):
                if not self._start(name, hash_, template):
                    break

    def _start(self, deployment: str, hash_: str, template: dict[str, Any]) -> bool:
        spec = template.get("spec") or {}
        container = next(
            (c for c in spec.get("containers") or [] if c.get("name") == CONTAINER), None
        )
        if container is None:
            self._problem(deployment, f"no container named {CONTAINER!r}")
            return False
        name = pods.pod_name(deployment, hash_, self._rng)
        try:
            env = pods.container_env(container, self._secret)
        except pods.UnresolvedEnv as error:
            self._problem(deployment, f"CreateContainerConfigError: {error}")
            return False
        projections: list[volumes.Projection] = []
        try:
            projections, mounts = volumes.plan(name, spec, self.logs / "volumes", self.switch_conf)
            for projection in projections:
                self._project(projection, starting=True)
        except volumes.Unsupported as error:
            volumes.remove([p.folder for p in projections])
            self._problem(deployment, f"CreateContainerConfigError: {error}")
            return False
        env = volumes.mapped_env(env, mounts)
        port = processes.free_port()
        env |= self.env | {"KDIAL_METRICS_PORT": str(port), "KDIAL_WORKER_ID": name}
        args = [str(a) for a in container.get("args") or []]
        proc = processes.spawn(self.command(args), self.logs / f"{name}.log", env)
        probe = (container.get("readinessProbe") or {}).get("httpGet") or {}
        grace = float(spec.get("terminationGracePeriodSeconds", 30))
        self._pods[name] = Pod(
            name, deployment, hash_, proc, port, probe.get("path"), grace, projections=projections
        )
        self._problems.pop(deployment, None)
        self.notify(f"kubelet: started pod {name}")
        return True

    def _terminate(self, pod: Pod, why: str) -> None:
        if pod.terminating_since is not None:
            return
        pod.terminating_since = time.monotonic()
        pod.ready = False
        with contextlib.suppress(ProcessLookupError):
            pod.proc.send_signal(signal.SIGTERM)
        self.notify(f"kubelet: SIGTERM pod {pod.name} ({why}): it drains its calls")

    def _reap(self) -> None:
        now = time.monotonic()
        for pod in list(self._pods.values()):
            code = pod.proc.poll()
            if code is None:
                if pod.terminating_since is not None and now > (
                    pod.terminating_since + pod.grace_seconds
                ):
                    pod.proc.kill()
                    self.notify(f"kubelet: SIGKILL pod {pod.name}: grace period over")
                continue
            del self._pods[pod.name]
            volumes.remove([p.folder for p in pod.projections])
            if pod.terminating_since is not None:
                took = now - pod.terminating_since
                self.notify(f"kubelet: pod {pod.name} stopped (exit {code}) after {took:.0f}s")
                continue
            crashes = self._crashes.get(pod.deployment, 0)
            self._crashes[pod.deployment] = crashes + 1
            delay = BACKOFF_SECONDS[min(crashes, len(BACKOFF_SECONDS) - 1)]
            self._not_before[pod.deployment] = now + delay
            self.notify(
                f"kubelet: pod {pod.name} exited on its own (exit {code}); "
                f"replacing it in {delay:.0f}s"
            )

    def _live(self, deployment: str) -> list[Pod]:
        return [
            p
            for p in self._pods.values()
            if p.deployment == deployment and p.terminating_since is None
        ]

    def _problem(self, deployment: str, message: str) -> None:
        if self._problems.get(deployment) != message:
            self._problems[deployment] = message
            self.notify(f"kubelet: {deployment}: {message}")
        self._not_before[deployment] = time.monotonic() + BACKOFF_SECONDS[1]

    def _project(self, projection: volumes.Projection, *, starting: bool = False) -> None:
        """Writes a volume's files; a Secret missing at the start keeps the pod from starting
        (MountVolume.SetUp failed), one deleted later leaves the files as they were."""
        found = {s.secret: self._secret_data(s.secret) for s in projection.sources}
        missing = [s.secret for s in projection.sources if found[s.secret] is None]
        if any(not s.optional for s in projection.sources if s.secret in missing):
            if starting:
                raise volumes.Unsupported(
                    f"MountVolume.SetUp failed for volume {projection.volume!r}: "
                    f"secret {missing[0]!r} not found"
                )
            return
        secrets = {name: data for name, data in found.items() if data is not None}
        volumes.write_atomically(projection.folder, volumes.files(projection, secrets))

    def _refresh_volumes(self, pod: Pod) -> None:
        if time.monotonic() - pod.projected_at < self.volume_sync_seconds:
            return
        pod.projected_at = time.monotonic()
        for projection in pod.projections:
            try:
                self._project(projection)
            except volumes.Unsupported as error:
                self.notify(f"kubelet: pod {pod.name}: {error}")

    def _probe(self, pod: Pod) -> bool:
        if pod.proc.poll() is not None:
            return False
        if pod.readiness_path is None:
            return True
        url = f"http://127.0.0.1:{pod.port}{pod.readiness_path}"
        try:
            with _OPENER.open(url, timeout=0.5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    # --- the API -----------------------------------------------------------------------------

    def _deployments(self) -> list[dict[str, Any]]:
        response: Any = self.apps.list_namespaced_deployment(
            self.namespace, label_selector=SELECTOR, _preload_content=False
        )
        items: list[dict[str, Any]] = json.loads(response.data)["items"]
        return [d for d in items if not d["metadata"].get("deletionTimestamp")]

    def _secret(self, name: str, key: str) -> str | None:
        value = (self._secret_data(name) or {}).get(key)
        return None if value is None else value.decode()

    def _secret_data(self, name: str) -> dict[str, bytes] | None:
        try:
            response: Any = self.core.read_namespaced_secret(
                name, self.namespace, _preload_content=False
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        data = json.loads(response.data).get("data") or {}
        return {key: base64.b64decode(value) for key, value in data.items()}

    def _report(self, name: str, deployment: dict[str, Any]) -> None:
        spec = deployment.get("spec") or {}
        hash_ = pods.template_hash(spec.get("template") or {})
        with self._lock:
            views = [p.view() for p in self._live(name)]
        status = pods.deployment_status(
            deployment["metadata"].get("generation"), int(spec.get("replicas", 1)), hash_, views
        )
        old = deployment.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()):
            return
        try:
            self.apps.patch_namespaced_deployment_status(
                name, self.namespace, {"status": status}, _preload_content=False
            )
        except ApiException as error:
            if error.status != 404:  # deleted meanwhile
                raise
