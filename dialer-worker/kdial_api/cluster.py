"""What the agent API reads from the Kubernetes API server: the namespace's agent tokens, its
campaigns and contact lists. Each read is kept for `CACHE_SECONDS` (an object found or found
missing alike), so an agent's requests do not each cost the API server a read, and a token
removed from the Secret stops working within that time.

The `kubernetes` client is synchronous; each call runs in a thread so the event loop is never
blocked.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import time
from typing import Any

import kubernetes
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kdial.api.kinds import GROUP, VERSION

#: The Secret in each namespace that names its agents: key = agent name, value = that agent's
#: bearer token. Keys, not values, are what `kubectl describe` shows.
TOKENS_SECRET = "kdial-agent-tokens"  # noqa: S105 (a name, not a secret)
#: How long a read is kept (s): how long a revoked token may still work.
CACHE_SECONDS = 5.0
#: Reads kept at most; names in request paths are the caller's to choose, so the cache is
#: bounded and sheds what expired (or everything) when full.
_CACHE_ENTRIES = 4096


class Unavailable(Exception):
    """The API server did not answer as it should (not a missing object)."""


def api_client() -> client.ApiClient:
    """A client for the API server of the pod's service account, else of the kubeconfig."""
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    return client.ApiClient()


class Cluster:
    """Typed, async reads of the few objects the agent API needs."""

    def __init__(self, api: client.ApiClient, cache_seconds: float = CACHE_SECONDS) -> None:
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.cache_seconds = cache_seconds
        self._kept: dict[tuple[str, ...], tuple[float, dict[str, Any] | None]] = {}

    async def agent_of(self, namespace: str, token: str) -> str | None:
        """The agent of `namespace` whose token is `token`; None for no such agent."""
        secret = await self._read(self.core.read_namespaced_secret, TOKENS_SECRET, namespace)
        data = (secret or {}).get("data") or {}
        presented = token.encode()
        found = None
        for agent, encoded in data.items():
            try:
                expected = base64.b64decode(encoded, validate=True).strip()
            except (ValueError, TypeError):
                continue
            # Every entry is compared, in constant time: how long the answer takes says
            # nothing about which token came close.
            if expected and hmac.compare_digest(expected, presented):
                found = agent
        return found

    async def campaign(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Campaign object; None when the namespace has none of that name."""
        return await self._read(
            self.custom.get_namespaced_custom_object, GROUP, VERSION, namespace, "campaigns", name
        )

    async def contact_list(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The ContactList object; None when the namespace has none of that name."""
        return await self._read(
            self.custom.get_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            "contactlists",
            name,
        )

    async def _read(self, method: Any, *args: Any) -> dict[str, Any] | None:
        key = (method.__name__, *map(str, args))
        now = time.monotonic()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self.cache_seconds:
            return kept[1]
        found = await self._fetch(method, *args)
        if len(self._kept) >= _CACHE_ENTRIES:
            fresh = {k: v for k, v in self._kept.items() if now - v[0] < self.cache_seconds}
            self._kept = fresh if len(fresh) < _CACHE_ENTRIES else {}
        self._kept[key] = (now, found)
        return found

    async def _fetch(self, method: Any, *args: Any) -> dict[str, Any] | None:
        def run() -> Any:
            return json.loads(method(*args, _preload_content=False).data)

        try:
            found: dict[str, Any] = await asyncio.to_thread(run)
        except ApiException as error:
            if error.status == 404:
                return None
            raise Unavailable(
                f"the Kubernetes API answered {error.status} {error.reason}"
            ) from None
        return found
