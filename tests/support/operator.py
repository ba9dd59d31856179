"""The operator as a real process (`kdial operator`) against an API server, and API helpers."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from kubernetes import client
from urllib3 import HTTPResponse

from kdial.api.kinds import GROUP, VERSION
from kdial_local import processes

T = TypeVar("T")


class OperatorProcess:
    """`kdial operator` in a subprocess, with its log kept for failure messages."""

    def __init__(self, kubeconfig: Path, redis_url: str, log: Path, *args: str, **env: str) -> None:
        self.kubeconfig, self.redis_url, self.log, self.args = kubeconfig, redis_url, log, args
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        env = {"KDIAL_STATUS_INTERVAL_SECONDS": "0.5", "KDIAL_RETRY_SECONDS": "1"} | self.env
        self.proc = processes.operator(self.kubeconfig, self.redis_url, self.log, *self.args, **env)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            processes.stop(self.proc, timeout=15)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])


class Tailed(Protocol):
    """A process whose log's last lines a failed wait shows."""

    def tail(self, lines: int = 40) -> str: ...


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = 60.0,
    log: Tailed | None = None,
) -> T:
    """Polls `probe` until it returns something truthy; fails naming `what` (and the log).

    The default bound is generous because only a failure waits it out: it is no measure of
    speed (the benches are), and a busy CI machine must not turn a slow pass into a failure.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            got = probe()
        except AssertionError as error:
            last = error
        else:
            last = got
            if got:
                return got
        time.sleep(0.1)
    raise AssertionError(
        f"timed out waiting for {what}; last: {last!r}"
        + (f"\n--- {type(log).__name__} log ---\n{log.tail()}" if log else "")
    )


class Api:
    """Thin helpers over the kubernetes client for the kdial kinds, in one namespace."""

    def __init__(self, url: str, namespace: str) -> None:
        config = client.Configuration()
        config.host = url
        self.api = client.ApiClient(config)
        self.custom = client.CustomObjectsApi(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.policy = client.PolicyV1Api(self.api)
        self.namespace = namespace

    def create(self, plural: str, name: str, spec: dict[str, Any], kind: str) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        }
        created = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, body
        )
        return cast(dict[str, Any], created)

    def get(self, plural: str, name: str) -> dict[str, Any] | None:
        try:
            got = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, name
            )
            return cast(dict[str, Any], got)
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise

    def patch_spec(self, plural: str, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, name, {"spec": spec}
        )

    def delete(self, plural: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)

    def condition(self, plural: str, name: str, type_: str) -> dict[str, Any] | None:
        obj = self.get(plural, name) or {}
        return next(
            (c for c in obj.get("status", {}).get("conditions", []) if c["type"] == type_), None
        )

    def config_map(
        self, name: str, data: dict[str, str], binary_data: dict[str, bytes] | None = None
    ) -> None:
        body: dict[str, Any] = {"metadata": {"name": name}, "data": data}
        if binary_data:
            body["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary_data.items()}
        self.core.create_namespaced_config_map(self.namespace, body)  # type: ignore[arg-type]  # the client takes a dict body as well

    def secret(self, name: str, data: dict[str, str]) -> None:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        body = {"metadata": {"name": name}, "data": encoded}
        self.core.create_namespaced_secret(self.namespace, body)  # type: ignore[arg-type]  # a dict body as well

    def deployment(self, name: str) -> dict[str, Any] | None:
        return self._read(self.apps.read_namespaced_deployment, name)

    def disruption_budget(self, name: str) -> dict[str, Any] | None:
        return self._read(self.policy.read_namespaced_pod_disruption_budget, name)

    def _read(self, method: Any, name: str) -> dict[str, Any] | None:
        try:
            response = method(name, self.namespace, _preload_content=False)
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        return cast(dict[str, Any], json.loads(cast(HTTPResponse, response).data))

    def set_ready_replicas(self, name: str, ready: int) -> None:
        """Plays the Deployment controller, which the emulator does not run."""
        self.apps.patch_namespaced_deployment_status(
            name, self.namespace, {"status": {"readyReplicas": ready}}
        )

    def events(self, involved: str) -> list[dict[str, Any]]:
        events = self.core.list_namespaced_event(self.namespace, _preload_content=False)
        items = json.loads(cast(HTTPResponse, events).data)["items"]
        return [e for e in items if e.get("involvedObject", {}).get("name") == involved]
