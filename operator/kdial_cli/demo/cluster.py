"""Where the demo runs: an emulated API server on this machine, or a real cluster.

Either way the demo talks to it over HTTP with the kubernetes client, as kubectl would: it
applies manifests, reads status and Events, and pauses the campaign. Objects come back as plain
JSON data.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kubernetes.config
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kdial.api.crd import crd_manifest
from kdial.api.kinds import GROUP, KINDS, VERSION

if TYPE_CHECKING:
    from kdial_local.apiserver import KubeServer

Obj = dict[str, Any]

#: Kind -> plural of the kdial kinds, for applying manifests.
PLURALS = {kind.kind: kind.plural for kind in KINDS}


@dataclass
class Api:
    """The few API calls the demo makes, in one namespace."""

    client: client.ApiClient
    namespace: str

    def __post_init__(self) -> None:
        # Typed Any: the demo passes plain dicts where the client's hints want its model classes.
        self.core: Any = client.CoreV1Api(self.client)
        self.apps: Any = client.AppsV1Api(self.client)
        self.custom: Any = client.CustomObjectsApi(self.client)

    @classmethod
    def from_kubeconfig(cls, path: Path, namespace: str | None) -> Api:
        api = kubernetes.config.new_client_from_config(config_file=str(path))  # type: ignore[no-untyped-call]
        if namespace is None:
            _, active = kubernetes.config.list_kube_config_contexts(config_file=str(path))  # type: ignore[no-untyped-call]
            namespace = (active or {}).get("context", {}).get("namespace") or "default"
        return cls(api, namespace)

    def has_crds(self) -> bool:
        try:
            self.custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURALS["Campaign"], limit=1
            )
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    def ensure_namespace(self) -> None:
        try:
            self.core.create_namespace({"metadata": {"name": self.namespace}})
        except ApiException as error:
            if error.status not in (403, 409):  # exists, or we may not list/create namespaces
                raise

    def apply(self, doc: Obj) -> None:
        """Creates the object, or replaces its spec (data for ConfigMaps and Secrets)."""
        kind = doc["kind"]
        if kind not in {*PLURALS, "ConfigMap", "Secret"}:
            raise ValueError(f"the demo does not apply {kind} objects")
        try:
            self._create(kind, doc | {"metadata": doc["metadata"] | {"namespace": self.namespace}})
        except ApiException as error:
            if error.status != 409:
                raise
            self._update(kind, doc["metadata"]["name"], doc)

    def _create(self, kind: str, body: Obj) -> None:
        if kind == "ConfigMap":
            self.core.create_namespaced_config_map(self.namespace, body)
        elif kind == "Secret":
            self.core.create_namespaced_secret(self.namespace, body)
        else:
            self.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURALS[kind], body
            )

    def _update(self, kind: str, name: str, doc: Obj) -> None:
        if kind == "ConfigMap":
            self.core.patch_namespaced_config_map(name, self.namespace, {"data": doc["data"]})
        elif kind == "Secret":
            self.core.patch_namespaced_secret(name, self.namespace, {"data": doc["data"]})
        else:
            self.patch_spec(PLURALS[kind], name, doc["spec"])

    def secret(self, name: str, data: dict[str, str]) -> None:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        self.apply(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": encoded}
        )

    def get(self, plural: str, name: str) -> Obj | None:
        return self._read(
            lambda: self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, name, _preload_content=False
            )
        )

    def patch_spec(self, plural: str, name: str, spec: Obj) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, name, {"spec": spec}
        )

    def delete(self, plural: str, name: str) -> bool:
        try:
            self.custom.delete_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, name
            )
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    def deployment(self, name: str) -> Obj | None:
        return self._read(
            lambda: self.apps.read_namespaced_deployment(
                name, self.namespace, _preload_content=False
            )
        )

    def events(self) -> list[Obj]:
        response: Any = self.core.list_namespaced_event(self.namespace, _preload_content=False)
        items: list[Obj] = json.loads(response.data)["items"]
        return items

    @staticmethod
    def _read(call: Any) -> Obj | None:
        try:
            response = call()
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        result: Obj = json.loads(response.data)
        return result


@contextmanager
def emulated_api(kubeconfig: Path, namespace: str) -> Iterator[KubeServer]:
    """kdial's CRDs served by the Kubernetes API emulator on a free loopback port, and a
    kubeconfig for it at `kubeconfig` (kubectl works with it too)."""
    try:
        from kdial_local.apiserver import KubeServer
    except ImportError as error:  # kmock comes with the `demo` extra
        raise SystemExit(
            f"kdial demo needs the emulated API server's dependencies ({error.name} is missing): "
            "pip install 'kdial[demo]', or run it against a cluster with --kubeconfig"
        ) from None
    server = KubeServer.start([crd_manifest(kind) for kind in KINDS])
    try:
        server.write_kubeconfig(kubeconfig, namespace)
        yield server
    finally:
        server.stop()
