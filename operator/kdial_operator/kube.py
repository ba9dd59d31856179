"""The operator's edge to the Kubernetes API beyond what kopf does: children, status, sources.

The `kubernetes` client is synchronous; each call runs in a thread so the event loop is never
blocked.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import JsonValue, TypeAdapter

from kdial.api.kinds import GROUP, VERSION
from kdial_operator.manifests import Deployment, DeploymentSeen, PodDisruptionBudget, Secret

FIELD_MANAGER = "kdial-operator"
# Content types are named on every write: the client's defaults differ by API (a strategic
# merge for built-in kinds), and a strategic merge of a whole manifest is what a real API server
# refuses for the worker Deployment.
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"

_SEEN = TypeAdapter(DeploymentSeen)


class Refused(Exception):
    """The API server refused a write; the message is its answer in one line."""


class Kube:
    """Typed, async access to the few API calls the operator makes itself."""

    def __init__(self, api: client.ApiClient) -> None:
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.policy = client.PolicyV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    async def apply_deployment(self, manifest: Deployment) -> DeploymentSeen:
        """Server-side applies `manifest` (creating the Deployment when absent); returns the
        server's object. Never a strategic merge: it matches container ports on containerPort
        alone, and the FreeSWITCH container lists its SIP port twice (UDP and TCP)."""
        meta = manifest["metadata"]
        result = await _apply(
            self.apps.patch_namespaced_deployment, meta["name"], meta["namespace"], manifest
        )
        return _SEEN.validate_python(result)

    async def apply_secret(self, manifest: Secret) -> None:
        """Server-side applies the Secret `manifest` (creating it when absent). The answer is
        not returned: it holds the Secret's data."""
        meta = manifest["metadata"]
        await _apply(self.core.patch_namespaced_secret, meta["name"], meta["namespace"], manifest)

    async def apply_disruption_budget(self, manifest: PodDisruptionBudget) -> None:
        """Server-side applies the PodDisruptionBudget `manifest` (creating it when absent)."""
        meta = manifest["metadata"]
        await _apply(
            self.policy.patch_namespaced_pod_disruption_budget,
            meta["name"],
            meta["namespace"],
            manifest,
        )

    async def delete_deployment(self, namespace: str, name: str) -> bool:
        """Deletes the Deployment; False when there was none."""
        try:
            await _call(self.apps.delete_namespaced_deployment, name, namespace)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        return True

    async def read_deployment(self, namespace: str, name: str) -> DeploymentSeen | None:
        found = await _read(self.apps.read_namespaced_deployment, name, namespace)
        return None if found is None else _SEEN.validate_python(found)

    async def config_map_value(self, namespace: str, name: str, key: str) -> str | bytes | None:
        """The value of one ConfigMap key: text from `data`, bytes from `binaryData` (where
        files that are not UTF-8, e.g. GB18030 exports, must go); None when the ConfigMap or
        the key is missing."""
        cm = await _read(self.core.read_namespaced_config_map, name, namespace)
        if cm is None:
            return None
        value = _entry(cm, "data", key)
        if isinstance(value, str):
            return value
        encoded = _entry(cm, "binaryData", key)
        if not isinstance(encoded, str):
            return None
        try:
            return base64.b64decode(encoded, validate=True)
        except ValueError:
            return None  # the API server validates binaryData: only a broken server sends this

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """The decoded value of one Secret key; None when the Secret or the key is missing."""
        value = (await self._secret_data(namespace, name) or {}).get(key)
        if not isinstance(value, str):
            return None
        try:
            return base64.b64decode(value, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None

    async def secret_texts(self, namespace: str, name: str) -> dict[str, str] | None:
        """Every key of the Secret whose value is UTF-8 text, decoded; None when the Secret is
        missing."""
        data = await self._secret_data(namespace, name)
        if data is None:
            return None
        texts = {}
        for key, value in data.items():
            try:
                texts[key] = base64.b64decode(value, validate=True).decode()
            except (ValueError, TypeError, UnicodeDecodeError):
                continue
        return texts

    async def has_secret_key(self, namespace: str, name: str, key: str) -> bool | None:
        """Whether the Secret exists and holds ``key`` (its value is not decoded); None when
        the operator may not read it (403)."""
        try:
            data = await self._secret_data(namespace, name)
        except ApiException as error:
            if error.status == 403:
                return None
            raise
        return key in (data or {})

    async def _secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's `data`: base64 text by key."""
        secret = await _read(self.core.read_namespaced_secret, name, namespace)
        if secret is None:
            return None
        data = secret.get("data")
        if not isinstance(data, dict):
            return {}
        return {key: value for key, value in data.items() if isinstance(value, str)}

    async def patch_status(
        self, plural: str, namespace: str, name: str, status: Mapping[str, JsonValue]
    ) -> None:
        """A JSON merge patch of the status the operator computes whole."""
        await _call(
            self.custom.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            plural,
            name,
            {"status": status},
            _content_type=MERGE_PATCH,
        )


async def _read(method: Any, *args: Any) -> dict[str, JsonValue] | None:
    """One object, or None when there is none (404)."""
    try:
        result: dict[str, JsonValue] = await _call(method, *args)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return result


async def _apply(method: Any, name: str, namespace: str, manifest: Mapping[str, Any]) -> Any:
    """Server-side applies `manifest` with the patch `method`, creating the object when absent,
    as its owner: what someone else changed in the fields it names is taken back."""
    try:
        return await _call(
            method,
            name,
            namespace,
            manifest,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY_PATCH,
        )
    except ApiException as error:
        raise Refused(_answer(error)) from error


async def _call(method: Any, *args: Any, **options: Any) -> Any:
    """Runs one client call in a thread and returns the response as plain JSON data."""

    def run() -> Any:
        response = method(*args, _preload_content=False, **options)
        return _json(response)

    return await asyncio.to_thread(run)


def _entry(obj: Mapping[str, JsonValue], field: str, key: str) -> JsonValue:
    """`obj[field][key]`, or None when either is missing."""
    values = obj.get(field)
    return values.get(key) if isinstance(values, dict) else None


def _answer(error: ApiException) -> str:
    """Code, reason and message of the API server's Status, e.g. `422 Invalid: ...`."""
    try:
        status = json.loads(error.body or "{}")
    except ValueError:
        status = {}
    if not isinstance(status, dict):
        status = {}
    reason = status.get("reason") or error.reason or ""
    message = status.get("message") or ""
    return f"{error.status} {reason}: {message}".strip().rstrip(":")


def _json(response: Any) -> Any:
    return json.loads(response.data or b"null")
