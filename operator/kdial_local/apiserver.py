"""A Kubernetes API emulator for the integration tests and `kdial demo`, built on kmock 0.8.

Plain ``kmock.KubernetesEmulator`` serves discovery, objects and watch-streams, but leaves out
what an operator relies on (kopf, for one, cannot even add its finalizer there).
:class:`KubeEmu` closes those gaps:

* create fills ``metadata`` (namespace from the URL, uid, resourceVersion, creationTimestamp,
  generation=1), expands ``generateName``, and creates the Namespace object on first use;
* every effective write gets a new ``resourceVersion`` from one global counter; a no-op write
  changes nothing and emits no event, as in a real API server (an operator that re-patches the
  same status must not loop here when it would not loop on a cluster);
* JSON patch (kopf's finalizers) is applied to a copy: a failed ``test`` op answers 422;
* merge patch answers 409 when the body carries a stale ``metadata.resourceVersion``; PUT
  (``replace_*``) works the same;
* server-side apply (``application/apply-patch+yaml``, see kdial_local.server_side_apply)
  creates an absent object and otherwise merges the applied configuration by the list types of
  the fields kdial applies, with field ownership, conflicts (409 unless ``force``) and the real
  server's checks (``fieldManager`` required, ``force`` only with apply: 422);
* a strategic-merge patch (the kubernetes client's default for dicts on built-in kinds) is
  refused (415) when it holds a list or a ``$`` directive: a real server merges lists by patch
  strategies and keys from its schema (container ports by ``containerPort`` alone, so two ports
  sharing a number clash), which the emulator would only guess. Without lists and directives it
  is a JSON merge patch on a real server too, and is applied as one. Custom resources refuse
  strategic merge altogether, as on a cluster;
* with a ``status`` subresource, ``/status`` writes change only ``status`` and main-endpoint
  writes never change it; ``generation`` grows only when the non-metadata, non-status content
  changes;
* DELETE honours finalizers (deletionTimestamp first, DELETED once they are emptied), then
  deletes dependents whose every ``ownerReferences`` owner is gone (a synchronous stand-in for
  the garbage collector);
* list responses carry ``apiVersion``, ``kind: <Kind>List`` and a resourceVersion; lists and
  watches honour label and field selectors (equality and set-based);
* watches honour ``resourceVersion`` (replaying the change log after it, or 410 when too old),
  ``timeoutSeconds``, ``allowWatchBookmarks`` and ``sendInitialEvents``, never lose a change
  between a LIST and the next WATCH, and answer ``Content-Type: application/json``;
* core discovery says ``groupVersion: v1``; ``GET /api/v1/namespaces[/name]`` works;
* custom resources registered from CRD manifests get structural-schema defaulting and pruning,
  as on a real cluster (``register_crd``), and their printer columns as a ``meta.k8s.io`` Table
  when kubectl asks for one (lists, single objects and watches; see kdial_local.tables), so
  ``kubectl get camp,tp`` prints the same columns as on a cluster.
* for fault tests, ``KubeServer.failing`` answers every new request late with 500
  ``InternalError``, as an API server whose etcd fails, and writes nothing meanwhile.

:class:`KubeServer` runs it on 127.0.0.1 in a daemon thread for sync tests, subprocesses and
the demo; ``KubeServer.write_kubeconfig`` points clients at it.

kopf's default login (measured with kopf 1.45.2 and kubernetes 37.0.2): a fresh process with
``KUBECONFIG`` pointing at the written kubeconfig connects with no ``@kopf.on.login`` handler.
kopf's ``login_via_client`` calls ``kubernetes.config.load_kube_config()``, which accepts a user
with no credentials at all; kopf then sends no Authorization header. The kubeconfig still
carries a dummy bearer token so that clients which insist on some credential also load it; the
emulator ignores authentication. The variable must be exported before the process starts:
importing kopf imports ``kubernetes``, which reads ``$KUBECONFIG`` once at import time.

Not emulated: authentication/authorization, admission and schema validation (types, enums,
required, CEL rules), ``managedFields``, protobuf, OpenAPI, ``dryRun`` (rejected with 400),
``scale`` and other subresources except ``status``, deletecollection, paging (``limit`` is
ignored and everything is returned), controllers (Deployments never get pods or status here:
tests patch ``/status`` themselves, and the demo runs kdial_local.kubelet), namespace deletion
cascading to its objects, Tables for built-in kinds (kubectl then prints NAME and AGE).
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import copy
import datetime
import gzip
import importlib.resources
import json
import random
import re
import threading
import urllib.error
import urllib.request
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiohttp.test_utils
import aiohttp.web
import attrs
import jsonpatch
import jsonpointer
import kmock
import yaml

# kmock 0.8 internals, used on purpose (kmock is pinned to ==0.8 and warns of breaking changes
# before v1), all in this module: the URL parser (patched below, _parse_path); Response (it is
# kmock.Response at runtime, but missing from kmock's __all__); the emulator's private hooks
# that KubeEmu overrides or uses (_handle, _serve_*, _lock, _get_resources, _requests,
# _errors); the bundled resources file (_load_builtins).
from kmock._internal import parsing as _kmock_parsing
from kmock._internal.rendering import Response as _KmockResponse

from kdial_local import server_side_apply as ssa
from kdial_local import tables

Body = dict[str, Any]
Key = tuple[kmock.resource, str | None, str]
T = TypeVar("T")

WATCHABLE_VERBS = frozenset({"list", "watch", "get", "patch", "create", "delete", "update"})
NAMESPACES = kmock.resource("", "v1", "namespaces")
CRDS = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
SECRETS = kmock.resource("", "v1", "secrets")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")

_MERGE_PATCH = "application/merge-patch+json"
_STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
_JSON_PATCH = "application/json-patch+json"
_APPLY_PATCH = "application/apply-patch+yaml"
_SYSTEM_META = ("uid", "creationTimestamp", "name", "namespace", "generation", "deletionTimestamp")
_ROOT_KEYS = frozenset({"apiVersion", "kind", "metadata"})
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # what the API server uses for generateName


# ---------------------------------------------------------------------------------------------
# kmock 0.8 private internals: the URL parser.
# It raises on /api/v1/namespaces (so kopf -n and kubectl get ns die with a 500) and reads
# /api/v1/namespaces/NAME as "namespace NAME, no resource". Namespaces are the only resource
# whose plural collides with the namespace prefix, so they are special-cased before it.
# ---------------------------------------------------------------------------------------------
_ORIGINAL_PARSE_PATH: Callable[[str], _kmock_parsing.ParsedPath] = getattr(
    _kmock_parsing.parse_path, "__wrapped__", _kmock_parsing.parse_path
)


def _parse_path(path: str) -> _kmock_parsing.ParsedPath:
    parts = path.strip("/").split("/")
    rest = parts[3:]
    namespace_path = len(rest) <= 1 or (len(rest) == 2 and rest[1] in {"status", "finalize"})
    if parts[:3] == ["api", "v1", "namespaces"] and namespace_path:
        return _kmock_parsing.ParsedPath(
            group="",
            version="v1",
            plural="namespaces",
            name=rest[0] if rest else None,
            subresource=rest[1] if len(rest) == 2 else None,
        )
    return _ORIGINAL_PARSE_PATH(path)


_parse_path.__wrapped__ = _ORIGINAL_PARSE_PATH  # type: ignore[attr-defined]
_kmock_parsing.parse_path = _parse_path


# ---------------------------------------------------------------------------------------------
# Errors in the shape of the API server's Status objects.
# ---------------------------------------------------------------------------------------------
def _error(status: int, reason: str, message: str) -> kmock.KubernetesError:
    # Non-empty details keep kmock from dumping a server-side traceback into every 404 or 409.
    return kmock.KubernetesError(
        status=status, reason=reason, message=message, details={"causes": []}
    )


#: What the API server answers when a request's deadline passes, even after its write.
_DEADLINE_EXCEEDED = (
    "Timeout: request did not complete within requested timeout - context deadline exceeded"
)


def _not_found(key: Key) -> kmock.KubernetesError:
    return _error(404, "NotFound", f"{key[0].plural} {key[2]!r} not found")


def _bad_request(message: str) -> kmock.KubernetesError:
    return _error(400, "BadRequest", message)


# ---------------------------------------------------------------------------------------------
# Selectors for lists and watches.
# ---------------------------------------------------------------------------------------------
_SELECTOR_TERM = re.compile(r"(?:[^,(]|\([^)]*\))+")
_LABEL_TERM = re.compile(
    r"^(?P<neg>!?)(?P<key>[^\s!=(),]+)"
    r"(?:\s*(?P<op>==|=|!=)\s*(?P<value>[^\s,()]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?$"
)
_FIELD_TERM = re.compile(r"^(?P<path>[\w.-]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*)$")


@attrs.frozen
class _Requirement:
    """One term of a label or field selector; ``op`` is =, !=, in, notin, exists or !."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def matches(self, value: str | None) -> bool:
        match self.op:
            case "=" | "in":
                return value is not None and value in self.values
            case "!=" | "notin":
                return value is None or value not in self.values
            case "exists":
                return value is not None
            case _:
                return value is None


def _parse_labels(text: str) -> tuple[_Requirement, ...]:
    terms = []
    for term in _SELECTOR_TERM.findall(text):
        m = _LABEL_TERM.match(term.strip())
        if m is None or (m["neg"] and (m["op"] or m["setop"])):
            raise _bad_request(f"unable to parse label selector {text!r}")
        if m["op"]:
            op = "!=" if m["op"] == "!=" else "="
            terms.append(_Requirement(m["key"], op, frozenset({m["value"]})))
        elif m["setop"]:
            values = frozenset(v.strip() for v in m["values"].split(","))
            terms.append(_Requirement(m["key"], m["setop"], values))
        else:
            terms.append(_Requirement(m["key"], "!" if m["neg"] else "exists"))
    return tuple(terms)


def _parse_fields(text: str) -> tuple[_Requirement, ...]:
    terms = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        m = _FIELD_TERM.match(term)
        if m is None:
            raise _bad_request(f"unable to parse field selector {text!r}")
        op = "!=" if m["op"] == "!=" else "="
        terms.append(_Requirement(m["path"], op, frozenset({m["value"]})))
    return tuple(terms)


def _field(body: Mapping[str, Any], path: str) -> str:
    value: Any = body
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    # The API server compares the string form; an absent field reads as "".
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


@attrs.frozen
class _Query:
    """Which objects a list or watch request wants."""

    resource: kmock.resource
    namespace: str | None
    name: str | None
    labels: tuple[_Requirement, ...]
    fields: tuple[_Requirement, ...]

    @classmethod
    def of(cls, request: kmock.Request) -> _Query:
        assert request.resource is not None  # only K8s requests are routed here
        return cls(
            resource=request.resource,
            namespace=request.namespace,
            name=request.name,
            labels=_parse_labels(request.params.get("labelSelector", "")),
            fields=_parse_fields(request.params.get("fieldSelector", "")),
        )

    def matches(self, key: Key, body: Mapping[str, Any]) -> bool:
        resource, namespace, name = key
        if resource != self.resource or self.name not in (None, name):
            return False
        if self.namespace not in (None, namespace):
            return False
        labels = body.get("metadata", {}).get("labels") or {}
        return all(req.matches(labels.get(req.key)) for req in self.labels) and all(
            req.matches(_field(body, req.key)) for req in self.fields
        )


# ---------------------------------------------------------------------------------------------
# Patching and structural schemas.
# ---------------------------------------------------------------------------------------------
def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386. Unlike kmock's merge, a dict may replace a scalar, as the API server allows."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _strategic(patch: Any, path: str = "") -> str | None:
    """Where a strategic-merge patch stops being a plain merge patch: its first list (merged by
    a patch strategy and key from the schema) or ``$`` directive; None when it has neither."""
    if isinstance(patch, list):
        return path or "."
    if isinstance(patch, dict):
        for key, value in patch.items():
            if str(key).startswith("$"):
                return f"{path}.{key}"
            if found := _strategic(value, f"{path}.{key}"):
                return found
    return None


def _keeps_unknown(schema: Mapping[str, Any], key: str, *, root: bool) -> bool:
    embedded = root or schema.get("x-kubernetes-embedded-resource")
    if embedded and key in _ROOT_KEYS:
        return True
    extra = schema.get("additionalProperties")
    if extra is True or schema.get("x-kubernetes-preserve-unknown-fields"):
        return True
    # Prune only where the schema names its properties: a generated schema may hide them in
    # anyOf/allOf, and wrongly dropping data would be worse than keeping a stray field.
    return "properties" not in schema and extra is None


def _structural(value: Any, schema: Mapping[str, Any], *, root: bool = False) -> Any:
    """Apply a CRD's structural-schema defaults and pruning, as the API server does."""
    if isinstance(value, list):
        items = schema.get("items")
        return [_structural(v, items) for v in value] if isinstance(items, Mapping) else value
    if not isinstance(value, dict):
        return value
    properties: Mapping[str, Any] = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    result: Body = {}
    for key, item in value.items():
        if key in properties and not (root and key in _ROOT_KEYS):
            result[key] = _structural(item, properties[key])
        elif isinstance(extra, Mapping):
            result[key] = _structural(item, extra)
        elif _keeps_unknown(schema, key, root=root):
            result[key] = item
    for key, sub in properties.items():
        if key not in result and "default" in sub:
            result[key] = _structural(copy.deepcopy(sub["default"]), sub)
    return result


def _content(body: Mapping[str, Any], *, has_status: bool) -> Body:
    """What metadata.generation tracks: everything but metadata (and status if separate)."""
    skipped = {"metadata", "status"} if has_status else {"metadata"}
    return {k: v for k, v in body.items() if k not in skipped}


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _api_version(resource: kmock.resource) -> str:
    return f"{resource.group}/{resource.version}" if resource.group else str(resource.version)


def _header(request: kmock.Request, name: str) -> str:
    return next((v for k, v in request.headers.items() if k.lower() == name), "")


def _content_type(request: kmock.Request) -> str:
    return _header(request, "content-type").split(";")[0].strip().lower()


def _json_body(request: kmock.Request) -> Any:
    # Parsed here rather than taken from request.data: kmock falls back to form-parsing there.
    try:
        return json.loads(request.body) if request.body else None
    except ValueError as e:
        raise _bad_request(f"the request body is not JSON: {e}") from None


# ---------------------------------------------------------------------------------------------
# The emulator.
# ---------------------------------------------------------------------------------------------
@attrs.frozen
class _Change:
    """One entry of the change log that watches replay and follow."""

    rv: int
    key: Key
    event: Body


@attrs.frozen
class _WatchOptions:
    query: _Query
    since: int | None  # None: start with the current state as ADDED events
    timeout: float | None
    bookmarks: bool
    initial_events: bool

    @classmethod
    def of(cls, request: kmock.Request) -> _WatchOptions:
        params = request.params
        rv = params.get("resourceVersion") or "0"
        timeout = params.get("timeoutSeconds")
        try:
            since = int(rv) or None
            seconds = float(timeout) if timeout else None
        except ValueError:
            raise _bad_request(f"bad resourceVersion {rv!r} or timeout {timeout!r}") from None
        initial = params.get("sendInitialEvents") == "true"
        return cls(
            query=_Query.of(request),
            since=None if initial else since,
            timeout=seconds,
            bookmarks=params.get("allowWatchBookmarks") == "true",
            initial_events=initial,
        )


@attrs.define(kw_only=True)
class KubeEmu(kmock.KubernetesEmulator):
    """A kmock emulator that behaves like an API server where kopf and clients look.

    Use it in the server's event loop (``KubeServer.call`` from other threads). Write through
    HTTP or :meth:`seed` to get resourceVersions and watch events; writing ``emu.objects``
    directly bypasses both.
    """

    max_events: int = 10_000  # change-log length; older resourceVersions answer 410 Gone
    max_history: int = 50  # versions kept per object in emu.objects[...].history
    # kmock keeps every request and error for assertions, and finds a request's reaction by
    # running its whole request log through each reaction's filter: the log's length is paid on
    # every request (at 10,000 the emulator spent nearly all its time there, and slowed down as
    # a test session went on). Nothing here asserts on old requests, so the log stays short.
    max_requests: int = 100
    bookmark_interval: float = 20.0  # kopf reconnects a watch after 70 s of silence
    poll_interval: float = 1.0  # how often an idle watch looks at its deadline

    _rv: int = attrs.field(default=0, init=False)
    _floor_rv: int = attrs.field(default=0, init=False)  # changes up to it were trimmed
    _changes: list[_Change] = attrs.field(factory=list, init=False)
    _schemas: dict[kmock.resource, Body] = attrs.field(factory=dict, init=False)
    _custom: set[kmock.resource] = attrs.field(factory=set, init=False)
    _columns: dict[kmock.resource, list[Body]] = attrs.field(factory=dict, init=False)
    _results: weakref.WeakKeyDictionary[kmock.Request, Body] = attrs.field(
        factory=weakref.WeakKeyDictionary, init=False
    )
    _owners: dict[Key, ssa.Owners] = attrs.field(factory=dict, init=False)
    _created: weakref.WeakSet[kmock.Request] = attrs.field(factory=weakref.WeakSet, init=False)
    _closing: bool = attrs.field(default=False, init=False)
    _background: set[asyncio.Task[None]] = attrs.field(factory=set, init=False)
    _changed: asyncio.Condition = attrs.field(init=False)
    _failing_after: float | None = attrs.field(default=None, init=False)
    _replies_lost: dict[tuple[str, str], int] = attrs.field(factory=dict, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # Shares kmock's lock, so reads in kmock's own fallbacks see consistent state.
        self._changed = asyncio.Condition(self._lock)
        # kmock routes no K8s action for PUT; the write happens in _handle(), this answers it.
        self.fallback[kmock.method.PUT] << self._serve_update
        self._ensure_namespace("default")

    # --- public helpers ----------------------------------------------------------------------

    def set_custom(
        self,
        resource: kmock.resource,
        schema: Mapping[str, Any] | None,
        columns: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Treat a resource as a CRD's: no strategic merge; defaults and pruning by its schema;
        its printer columns in Tables for kubectl."""
        self._custom.add(resource)
        if columns:
            self._columns[resource] = [dict(c) for c in columns]
        if schema:
            self._schemas[resource] = copy.deepcopy(dict(schema))
        else:
            self._schemas.pop(resource, None)

    def seed(self, resource: kmock.resource | str, body: Mapping[str, Any]) -> Body:
        """Create an object without HTTP (before serving, or in the server's loop)."""
        res = kmock.resource(resource)
        info = self._info(res)
        data = copy.deepcopy(dict(body))
        meta = data.setdefault("metadata", {})
        namespace = (meta.get("namespace") or "default") if info.namespaced else None
        created = self._insert(res, namespace, data)
        self._wake()
        return created

    def snapshot(
        self, resource: kmock.resource | str, namespace: str | None, name: str
    ) -> Body | None:
        """A copy of the live object, or None if absent or deleted."""
        try:
            return self._live((kmock.resource(resource), namespace, name))
        except kmock.KubernetesError:
            return None

    def fail(self, after: float | None) -> None:
        """Answer every new request `after` seconds late with 500 InternalError, as an API
        server does while its etcd is failing; None serves again. Watch streams already open
        stay open and silent (nothing is written while failing)."""
        self._failing_after = after

    def lose_status_replies(self, namespace: str, name: str, count: int) -> None:
        """Apply the next `count` status writes of the object, then answer each 504 Timeout,
        as an API server does when a request's deadline passes after its write reached etcd:
        the client sees a failure, watchers see the change."""
        self._replies_lost[namespace, name] = count

    def status_replies_to_lose(self, namespace: str, name: str) -> int:
        """How many of the object's status replies `lose_status_replies` has still to lose."""
        return self._replies_lost.get((namespace, name), 0)

    async def close(self) -> None:
        """End all watch-streams, so that the HTTP server can shut down at once."""
        self._closing = True
        async with self._changed:
            self._changed.notify_all()

    # --- writes ------------------------------------------------------------------------------

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if self._failing_after is not None:
            await asyncio.sleep(self._failing_after)
            raise _error(500, "InternalError", "an error on the server has prevented the request")
        if request.resource is not None and _write_verb(request) is not None:
            async with self._changed:
                self._results[request] = self._write(request)
                self._changed.notify_all()
            self._lose_reply(request)
        self._trim_bookkeeping(request)
        # Skip KubernetesEmulator._handle() on purpose: _write() replaces its state changes.
        # The DSL root still runs user reactions first and our fallbacks below last.
        return await super(kmock.KubernetesEmulator, self)._handle(request)

    def _lose_reply(self, request: kmock.Request) -> None:
        key = (str(request.namespace), str(request.name))
        if request.subresource != "status" or not self._replies_lost.get(key):
            return
        self._replies_lost[key] -= 1
        raise _error(504, "Timeout", _DEADLINE_EXCEEDED)

    def _write(self, request: kmock.Request) -> Body:
        verb = _write_verb(request)
        assert request.resource is not None
        self._check_writable(request)
        if verb == "patch":
            self._check_patch_options(request)
        if verb == "create":
            return self._owned(request, None, self._create(request))
        key: Key = (request.resource, request.namespace, str(request.name))
        if verb == "patch" and _content_type(request) == _APPLY_PATCH:
            return self._apply(request, key)
        current = self._live(key)
        if verb == "delete":
            return self._delete(key, current)
        if verb == "patch":
            candidate = self._patched(request, current)
        else:
            candidate = self._replacement(request, key)
        return self._owned(
            request, current, self._update(key, current, candidate, request.subresource)
        )

    @staticmethod
    def _check_patch_options(request: kmock.Request) -> None:
        # Checked before the object is looked up, as the API server validates PatchOptions.
        apply = _content_type(request) == _APPLY_PATCH
        if apply and not request.params.get("fieldManager"):
            problem = "fieldManager: Required value: is required for apply patch"
        elif not apply and "force" in request.params:
            problem = "force: Forbidden: may not be specified for non-apply patch"
        else:
            return
        raise _error(422, "Invalid", f'PatchOptions.meta.k8s.io "" is invalid: {problem}')

    def _apply(self, request: kmock.Request, key: Key) -> Body:
        """Server-side apply: creates the object when absent, else merges the configuration."""
        if request.subresource is not None:
            raise _error(415, "UnsupportedMediaType", "apply to a subresource is not emulated")
        config = self._applied_config(request, key)
        manager = str(request.params["fieldManager"])
        force = request.params.get("force", "false") in {"1", "t", "T", "true", "True", "TRUE"}
        types = ssa.list_types(str(key[0].group), str(key[0].plural))
        exists = key in self._objects and not self._objects[key].deleted
        current = self._live(key) if exists else None
        try:
            merged, owners = ssa.apply(
                current, config, manager, self._owners.get(key, {}), types, force=force
            )
        except ssa.NotEmulated as e:
            raise _error(415, "UnsupportedMediaType", str(e)) from None
        except ssa.Invalid as e:
            raise _error(422, "Invalid", str(e)) from None
        except ssa.Conflict as e:
            raise _error(409, "Conflict", str(e)) from None
        if current is None:
            result = self._insert(key[0], key[1], merged)
            self._created.add(request)
        else:
            result = self._update(key, current, merged, None)
        self._owners[key] = owners
        return result

    def _applied_config(self, request: kmock.Request, key: Key) -> Body:
        try:
            config = yaml.safe_load(request.body or b"")
        except yaml.YAMLError as e:
            raise _bad_request(f"the applied configuration is not YAML: {e}") from None
        if not isinstance(config, dict) or not isinstance(config.get("metadata"), dict):
            raise _bad_request("the applied configuration must be an object with metadata")
        resource, namespace, name = key
        expected = (_api_version(resource), self._kind(resource))
        if (config.get("apiVersion"), config.get("kind")) != expected:
            raise _bad_request(f"the applied configuration must be of {expected}")
        meta = config["metadata"]
        if meta.get("name") != name or meta.get("namespace", namespace) != namespace:
            raise _bad_request("the name or namespace of the object does not match the URL")
        if "managedFields" in meta:
            raise _bad_request("metadata.managedFields must be nil")
        if self._has_status(resource):
            config.pop("status", None)  # the main endpoint never writes status
        return config

    def _owned(self, request: kmock.Request, before: Body | None, after: Body) -> Body:
        """Any write but apply: its field manager takes over the fields it changed."""
        resource = request.resource
        assert resource is not None
        meta = after["metadata"]
        key: Key = (resource, meta.get("namespace"), meta["name"])
        if key in self._objects and not self._objects[key].deleted:
            types = ssa.list_types(str(resource.group), str(resource.plural))
            owners = self._owners.get(key, {}) if before is not None else {}
            self._owners[key] = ssa.update(before, after, _manager(request), owners, types)
        return after

    def _check_writable(self, request: kmock.Request) -> None:
        assert request.resource is not None
        if not self._known(request.resource):
            raise _error(404, "NotFound", f"the server could not find {request.resource!r}")
        if request.subresource not in (None, "status"):
            raise _error(404, "NotFound", f"subresource {request.subresource!r} is not emulated")
        if "dryRun" in request.params:
            raise _bad_request("dryRun is not emulated")

    def _create(self, request: kmock.Request) -> Body:
        assert request.resource is not None
        body = _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.setdefault("metadata", {}), dict):
            raise _bad_request("the object must be a JSON object with a metadata object")
        namespace = self._creation_namespace(request, body["metadata"])
        return self._insert(request.resource, namespace, body)

    def _creation_namespace(self, request: kmock.Request, meta: Body) -> str | None:
        assert request.resource is not None
        info = self._info(request.resource)
        in_body = meta.get("namespace")
        namespaced = info.namespaced if info.namespaced is not None else bool(request.namespace)
        if not namespaced:
            return None
        if request.namespace and in_body not in (None, request.namespace):
            raise _bad_request("the namespace of the object does not match the URL")
        return str(request.namespace or in_body or "default")

    def _insert(self, resource: kmock.resource, namespace: str | None, body: Body) -> Body:
        meta = body["metadata"]
        name = meta.get("name") or self._generate_name(resource, namespace, meta)
        key: Key = (resource, namespace, name)
        if key in self._objects and not self._objects[key].deleted:
            raise _error(409, "AlreadyExists", f"{resource.plural} {name!r} already exists")
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(field, None)
        meta.update(name=name, uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
        if namespace is None:
            meta.pop("namespace", None)
        else:
            meta["namespace"] = namespace
            self._ensure_namespace(namespace)
        if self._has_status(resource):
            body.pop("status", None)  # the API server ignores status on create
        if resource == NAMESPACES:
            body["status"] = {"phase": "Active"}  # the namespace controller's part
        body.setdefault("apiVersion", _api_version(resource))
        body.setdefault("kind", self._kind(resource))
        if resource == SECRETS:
            _check_secret(None, body)
        return self._commit(key, self._apply_schema(resource, body), "ADDED")

    def _generate_name(self, resource: kmock.resource, namespace: str | None, meta: Body) -> str:
        prefix = meta.get("generateName")
        if not prefix:
            raise _error(422, "Invalid", "metadata.name or metadata.generateName is required")
        while True:  # unlike the API server, retry on a clash: tests must not flake on it
            name = prefix + "".join(random.choices(_NAME_CHARS, k=5))
            key: Key = (resource, namespace, name)
            if key not in self._objects or self._objects[key].deleted:
                return str(name)

    def _ensure_namespace(self, namespace: str) -> None:
        key: Key = (NAMESPACES, None, namespace)
        if key not in self._objects or self._objects[key].deleted:
            body: Body = {
                "apiVersion": "v1",
                "kind": "Namespace",  # before load_bundled(), kmock knows no kind for it
                "metadata": {"name": namespace},
                "spec": {"finalizers": ["kubernetes"]},
            }
            self._insert(NAMESPACES, None, body)

    def _patched(self, request: kmock.Request, current: Body) -> Body:
        patch = _json_body(request)
        media = _content_type(request)
        if media == _STRATEGIC_MERGE_PATCH and request.resource in self._custom:
            # As on a cluster: custom resources have no patch strategies to merge by.
            raise _error(415, "UnsupportedMediaType", "no strategic merge for custom resources")
        if media == _JSON_PATCH:
            if not isinstance(patch, list):
                raise _bad_request("a JSON patch must be a list of operations")
            try:
                return dict(jsonpatch.apply_patch(current, patch, in_place=False))
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
                raise _error(422, "Invalid", f"the JSON patch cannot be applied: {e}") from None
        if media not in {_MERGE_PATCH, _STRATEGIC_MERGE_PATCH}:
            raise _error(415, "UnsupportedMediaType", f"patch type {media!r} is not emulated")
        if not isinstance(patch, dict):
            raise _bad_request("a merge patch must be a JSON object")
        if media == _STRATEGIC_MERGE_PATCH and (where := _strategic(patch)):
            message = (
                f"the emulator does not emulate strategic merge of {where}: a real API server "
                "merges lists by patch strategies and keys from its schema (container ports by "
                "containerPort alone); send a server-side apply or a JSON merge patch"
            )
            raise _error(415, "UnsupportedMediaType", message)
        return dict(_merge_patch(current, patch))

    def _replacement(self, request: kmock.Request, key: Key) -> Body:
        body = _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("metadata", {}), dict):
            raise _bad_request("the object must be a JSON object with a metadata object")
        if body.get("metadata", {}).get("name", key[2]) != key[2]:
            raise _bad_request("the name of the object does not match the URL")
        body.setdefault("apiVersion", _api_version(key[0]))
        body.setdefault("kind", self._kind(key[0]))
        return body

    def _update(self, key: Key, current: Body, candidate: Body, sub: str | None) -> Body:
        stated_rv = (candidate.get("metadata") or {}).get("resourceVersion")
        actual_rv = current["metadata"]["resourceVersion"]
        if stated_rv not in (None, "", actual_rv):
            message = f"the object has been modified ({stated_rv} is not {actual_rv})"
            raise _error(409, "Conflict", message)
        has_status = self._has_status(key[0])
        merged = self._isolated(current, candidate, sub, has_status=has_status)
        merged = self._apply_schema(key[0], merged)
        if key[0] == SECRETS:
            _check_secret(current, merged)
        self._check_finalizers(current, merged)
        if merged == current:
            return current  # a no-op: no new resourceVersion, no watch event
        if _content(merged, has_status=has_status) != _content(current, has_status=has_status):
            merged["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
        updated = self._commit(key, merged, "MODIFIED")
        meta = updated["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._finalize(key, updated)
        return updated

    @staticmethod
    def _check_finalizers(current: Body, merged: Body) -> None:
        old = set(current["metadata"].get("finalizers") or [])
        new = set(merged["metadata"].get("finalizers") or [])
        if current["metadata"].get("deletionTimestamp") and not new <= old:
            message = "no new finalizers can be added if the object is being deleted"
            raise _error(422, "Invalid", message)

    @staticmethod
    def _isolated(current: Body, candidate: Body, sub: str | None, *, has_status: bool) -> Body:
        if sub == "status":
            result = copy.deepcopy(current)
            result.pop("status", None)
            if candidate.get("status") is not None:
                result["status"] = candidate["status"]
            return result
        result = dict(candidate)
        result.pop("status", None)
        if has_status and "status" in current:
            result["status"] = current["status"]
        elif not has_status and "status" in candidate:
            result["status"] = candidate["status"]
        # System metadata is the server's; clients can neither set nor drop it.
        meta = dict(candidate.get("metadata") or {})
        for field in (*_SYSTEM_META, "resourceVersion"):
            meta.pop(field, None)
            if field in current["metadata"]:
                meta[field] = current["metadata"][field]
        result["metadata"] = meta
        return result

    def _delete(self, key: Key, current: Body) -> Body:
        meta = current["metadata"]
        if meta.get("deletionTimestamp"):
            return current
        if meta.get("finalizers"):
            marked = copy.deepcopy(current)
            marked["metadata"].update(deletionTimestamp=_now(), deletionGracePeriodSeconds=0)
            return self._commit(key, marked, "MODIFIED")
        return self._finalize(key, current)

    def _finalize(self, key: Key, body: Body) -> Body:
        gone = self._commit(key, copy.deepcopy(body), "DELETED")
        self._owners.pop(key, None)
        self._collect_dependents(str(body["metadata"].get("uid", "")))
        return gone

    def _collect_dependents(self, owner_uid: str) -> None:
        # A synchronous stand-in for the garbage collector's background propagation.
        for key, obj in list(self._objects.items()):
            if obj.deleted:
                continue
            refs = obj.raw.get("metadata", {}).get("ownerReferences") or []
            uids = {str(ref.get("uid")) for ref in refs}
            if owner_uid in uids and not any(self._uid_alive(uid) for uid in uids):
                self._delete(key, copy.deepcopy(obj.raw))

    def _uid_alive(self, uid: str) -> bool:
        return any(
            not obj.deleted and obj.raw.get("metadata", {}).get("uid") == uid
            for obj in self._objects.values()
        )

    def _commit(self, key: Key, body: Body, event_type: str) -> Body:
        self._rv += 1
        body.setdefault("metadata", {})["resourceVersion"] = str(self._rv)
        if key in self._objects:
            self._objects[key].history.append(body)
        else:
            self._objects[key] = body
        obj = self._objects[key]
        if event_type == "DELETED":
            obj.delete()
        if len(obj.history) > self.max_history:
            del obj.history[: len(obj.history) - self.max_history]
        self._record(key, event_type, body)
        return copy.deepcopy(body)

    def _record(self, key: Key, event_type: str, body: Body) -> None:
        event = {"type": event_type, "object": copy.deepcopy(body)}
        self._changes.append(_Change(rv=self._rv, key=key, event=event))
        if len(self._changes) > self.max_events:
            cut = len(self._changes) // 2
            self._floor_rv = self._changes[cut - 1].rv
            del self._changes[:cut]

    def _wake(self) -> None:
        # Watchers poll anyway; this only makes a seed visible to them at once.
        with contextlib.suppress(RuntimeError):  # no running loop: nobody is watching yet
            task = asyncio.get_running_loop().create_task(self._notify())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _trim_bookkeeping(self, request: kmock.Request) -> None:
        # With a request limit set, kmock counts the log: leave it whole then.
        if self.limit is not None:
            return
        _trim(self._requests, self.max_requests)
        # kmock serves only requests it finds in its log; a burst of others during this one's
        # write could have pushed it out.
        if not any(kept is request for kept in self._requests):
            self._requests.append(request)
        for errors in self._errors:
            _trim(errors, self.max_requests)

    # --- answers to writes (kmock fallbacks) ----------------------------------------------------

    async def _serve_create(self, request: kmock.Request) -> kmock.Payload:
        return _KmockResponse(status=201, payload=self._result(request))

    async def _serve_update(self, request: kmock.Request) -> kmock.Payload:
        # 201 for an apply that created the object. kmock keeps the status of a Response a
        # fallback returns for the next requests too: every answer here states its own.
        status = 201 if request in self._created else 200
        return _KmockResponse(status=status, payload=self._result(request))

    async def _serve_delete(self, request: kmock.Request) -> kmock.Payload:
        return self._result(request)

    def _result(self, request: kmock.Request) -> Body:
        try:
            return self._results.pop(request)
        except KeyError:  # e.g. a PUT to a non-K8s URL: nothing was written
            raise _error(404, "NotFound", "the server could not find the requested URL") from None

    # --- reads -------------------------------------------------------------------------------

    async def _serve_version(self, request: kmock.Request) -> kmock.Payload:
        payload = await super()._serve_version(request)
        if isinstance(payload, dict):
            payload["groupVersion"] = str(payload["groupVersion"]).lstrip("/")  # kmock: "/v1"
            for entry in payload.get("resources", []):
                if "/" in entry["name"]:  # subresources: no names of their own (kubectl warns)
                    entry.update(singularName="", shortNames=[], categories=[])
        return payload

    async def _serve_fetch(self, request: kmock.Request) -> kmock.Payload:
        assert request.resource is not None
        key: Key = (request.resource, request.namespace, str(request.name))
        async with self._lock:
            found = self._live(key)
            return self._as_table(request, [found], self._rv) or found

    async def _serve_list(self, request: kmock.Request) -> kmock.Payload:
        assert request.resource is not None
        if not self._known(request.resource):
            raise _error(404, "NotFound", f"the server could not find {request.resource!r}")
        query = _Query.of(request)
        async with self._lock:
            items = self._matching(query)
            rv = self._rv
        if table := self._as_table(request, items, rv):
            return table
        return {
            "apiVersion": _api_version(request.resource),
            "kind": f"{self._kind(request.resource)}List",
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }

    def _as_table(self, request: kmock.Request, items: list[Body], rv: int) -> Body | None:
        """A Table of the printer columns when kubectl asks for one (and there are columns)."""
        assert request.resource is not None
        columns = self._columns.get(request.resource)
        if not columns or not tables.wants_table(_header(request, "accept")):
            return None
        return tables.table(items, columns, str(rv), datetime.datetime.now(tz=datetime.UTC))

    # The override answers with headers around the stream instead of the bare stream,
    # hence the different return type: kmock renders both.
    def _serve_watch(self, request: kmock.Request) -> _KmockResponse:  # type: ignore[override]
        options = _WatchOptions.of(request)  # fails before the stream starts: a plain 400
        stream = self._watch(options)
        if self._as_table(request, [], 0) is not None:  # kubectl get -w: each object a Table
            stream = self._tabled(stream, self._columns[options.query.resource])
        return _KmockResponse(headers={"Content-Type": "application/json"}, payload=stream)

    async def _tabled(
        self, stream: AsyncIterator[kmock.Payload], columns: list[Body]
    ) -> AsyncIterator[kmock.Payload]:
        async for event in stream:
            if isinstance(event, dict) and event.get("type") in {"ADDED", "MODIFIED", "DELETED"}:
                obj = event["object"]
                rv = obj["metadata"].get("resourceVersion", "")
                now = datetime.datetime.now(tz=datetime.UTC)
                yield event | {"object": tables.table([obj], columns, rv, now)}
            else:
                yield event

    async def _watch(self, options: _WatchOptions) -> AsyncIterator[kmock.Payload]:
        loop = asyncio.get_running_loop()
        deadline = None if options.timeout is None else loop.time() + options.timeout
        async with self._lock:
            initial, cursor = self._watch_start(options)
        yield b""  # send the headers now: a quiet watch must still answer promptly
        for event in initial:
            yield event
        last_sent = loop.time()
        while cursor is not None and not self._closing:
            remaining = self.poll_interval if deadline is None else deadline - loop.time()
            if remaining <= 0:
                break
            events, cursor = await self._next_changes(options.query, cursor, remaining)
            for event in events:
                yield event
            if events:
                last_sent = loop.time()
            elif (
                cursor is not None
                and options.bookmarks
                and loop.time() - last_sent >= self.bookmark_interval
            ):
                last_sent = loop.time()
                yield self._bookmark(options.query.resource, cursor)

    def _watch_start(self, options: _WatchOptions) -> tuple[list[Body], int | None]:
        if options.since is not None and options.since < self._floor_rv:
            return [self._gone(options.since)], None
        if options.since is not None:
            return [], options.since
        events = [{"type": "ADDED", "object": obj} for obj in self._matching(options.query)]
        if options.initial_events:
            bookmark = self._bookmark(options.query.resource, self._rv)
            bookmark["object"]["metadata"]["annotations"] = {"k8s.io/initial-events-end": "true"}
            events.append(bookmark)
        return events, self._rv

    async def _next_changes(
        self, query: _Query, cursor: int, wait: float
    ) -> tuple[list[Body], int | None]:
        async with self._changed:
            changes = self._changes_since(cursor)
            if not changes and not self._closing:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(wait, self.poll_interval)):
                        await self._changed.wait()
                changes = self._changes_since(cursor)
            if cursor < self._floor_rv:  # the log was trimmed under a slow watcher
                return [self._gone(cursor)], None
        events = [c.event for c in changes if query.matches(c.key, c.event["object"])]
        return events, changes[-1].rv if changes else cursor

    def _changes_since(self, rv: int) -> list[_Change]:
        return self._changes[bisect.bisect_right(self._changes, rv, key=lambda c: c.rv) :]

    def _bookmark(self, resource: kmock.resource, rv: int) -> Body:
        obj = {
            "apiVersion": _api_version(resource),
            "kind": self._kind(resource),
            "metadata": {"resourceVersion": str(rv)},
        }
        return {"type": "BOOKMARK", "object": obj}

    def _gone(self, rv: int) -> Body:
        status = {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "reason": "Expired",
            "message": f"too old resource version: {rv} ({self._floor_rv})",
            "code": 410,
        }
        return {"type": "ERROR", "object": status}

    def _matching(self, query: _Query) -> list[Body]:
        found = [
            (key, obj.raw)
            for key, obj in self._objects.items()
            if not obj.deleted and query.matches(key, obj.raw)
        ]
        found.sort(key=lambda item: (item[0][1] or "", item[0][2]))
        return [copy.deepcopy(raw) for _, raw in found]

    # --- lookups -----------------------------------------------------------------------------

    def _live(self, key: Key) -> Body:
        if key not in self._objects or self._objects[key].deleted:
            raise _not_found(key)
        return copy.deepcopy(self._objects[key].raw)

    def _info(self, resource: kmock.resource) -> kmock.ResourceInfo:
        # emu.resources[...] would create an empty entry on a miss, so look before reading.
        return self.resources[resource] if resource in self.resources else kmock.ResourceInfo()

    def _known(self, resource: kmock.resource) -> bool:
        return resource in self.resources or resource in self._get_resources()

    def _kind(self, resource: kmock.resource) -> str:
        return self._info(resource).kind or str(resource.plural).capitalize()

    def _has_status(self, resource: kmock.resource) -> bool:
        return "status" in self._info(resource).subresources

    def _apply_schema(self, resource: kmock.resource, body: Body) -> Body:
        schema = self._schemas.get(resource)
        return body if schema is None else dict(_structural(body, schema, root=True))


def _check_secret(current: Body | None, body: Body) -> None:
    """A Secret as a real API server takes it: `type` defaulted to Opaque and immutable, `data`
    keys valid and values base64. `stringData` is refused: a real server folds it into `data`
    (and apply owns it apart), which the emulator does not do."""
    if "stringData" in body:
        message = "Secret stringData is not emulated (a real server folds it into data): send data"
        raise _error(415, "UnsupportedMediaType", message)
    body.setdefault("type", "Opaque")
    if current is not None and current.get("type", "Opaque") != body["type"]:
        raise _error(
            422, "Invalid", f"Secret type: Invalid value: {body['type']!r}: field is immutable"
        )
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise _bad_request("Secret data must be an object")
    for key, value in data.items():
        if not _SECRET_KEY.fullmatch(str(key)):
            raise _error(
                422,
                "Invalid",
                f"Secret data[{key}]: Invalid value: a valid config key must consist of "
                "alphanumeric characters, '-', '_' or '.'",
            )
        try:
            base64.b64decode(str(value), validate=True)
        except ValueError:
            raise _bad_request(f"Secret data[{key}]: illegal base64 data") from None


def _trim(log: list[Any], limit: int) -> None:
    if len(log) > limit:
        del log[: len(log) - limit // 2]


def _manager(request: kmock.Request) -> str:
    """The field manager of a write: as named, or the client's User-Agent product, as the API
    server derives it."""
    named = request.params.get("fieldManager")
    return str(named) if named else _header(request, "user-agent").split("/")[0] or "unknown"


def _write_verb(request: kmock.Request) -> str | None:
    if request.action == kmock.action.CREATE:
        return "create"
    if request.name is None:
        return None
    if request.action == kmock.action.UPDATE:
        return "patch"
    if request.action == kmock.action.DELETE:
        return "delete"
    return "update" if request.method == kmock.method.PUT else None


# ---------------------------------------------------------------------------------------------
# Resource registration.
# ---------------------------------------------------------------------------------------------
def register_crd(emu: kmock.KubernetesEmulator, crd: Mapping[str, Any]) -> list[kmock.resource]:
    """Serve the custom resource of an apiextensions.k8s.io/v1 CRD (all served versions).

    With a :class:`KubeEmu`, also store the CRD object itself (kopf and kubectl may look) and
    apply the versions' structural schemas. Call before serving or in the server's loop.
    """
    spec, names = crd["spec"], crd["spec"]["names"]
    registered = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        resource = kmock.resource(spec["group"], version["name"], names["plural"])
        emu.resources[resource] = kmock.ResourceInfo(
            kind=names["kind"],
            singular=names.get("singular") or names["kind"].lower(),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            verbs=WATCHABLE_VERBS,
            shortnames=names.get("shortNames", []),
            categories=names.get("categories", []),
            subresources=set(version.get("subresources") or {}),
        )
        if isinstance(emu, KubeEmu):
            emu.set_custom(
                resource,
                (version.get("schema") or {}).get("openAPIV3Schema"),
                version.get("additionalPrinterColumns") or (),
            )
        registered.append(resource)
    if isinstance(emu, KubeEmu) and emu.snapshot(CRDS, None, crd["metadata"]["name"]) is None:
        emu.seed(CRDS, crd)
    return registered


def register_kopf_peering(emu: kmock.KubernetesEmulator) -> None:
    """Serve kopf's peering resources, so that kopf finds them without --standalone too."""
    for plural, kind, namespaced in [
        ("kopfpeerings", "KopfPeering", True),
        ("clusterkopfpeerings", "ClusterKopfPeering", False),
    ]:
        emu.resources[kmock.resource("kopf.dev", "v1", plural)] = kmock.ResourceInfo(
            kind=kind, singular=kind.lower(), namespaced=namespaced, verbs=WATCHABLE_VERBS
        )


def load_crds(*paths: Path | str) -> list[Body]:
    """Read CRD manifests from YAML files or directories of them (e.g. the repo's crds/)."""
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    docs = [doc for file in files for doc in yaml.safe_load_all(file.read_text())]
    return [doc for doc in docs if doc and doc.get("kind") == "CustomResourceDefinition"]


# ---------------------------------------------------------------------------------------------
# The threaded server.
# ---------------------------------------------------------------------------------------------
class KubeServer:
    """A :class:`KubeEmu` served over HTTP on 127.0.0.1, in its own thread and event loop.

    Usable from sync tests, from fixtures that start subprocesses, and from the demo::

        with KubeServer.start(load_crds("crds")) as kube:
            kube.write_kubeconfig(tmp_path / "kubeconfig")
            ...
    """

    def __init__(
        self,
        emu: KubeEmu,
        server: aiohttp.test_utils.RawTestServer,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
    ) -> None:
        self.emu = emu
        self._server = server
        self._loop = loop
        self._thread = thread
        self._stopped = False
        self.url = f"http://127.0.0.1:{server.port}"

    @classmethod
    def start(cls, crds: Iterable[Mapping[str, Any]] = (), *, timeout: float = 10.0) -> KubeServer:
        """Serve the built-in resources, kopf's peering resources and these CRDs."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="kube-emu", daemon=True)
        thread.start()
        try:
            boot = asyncio.run_coroutine_threadsafe(_boot(list(crds)), loop)
            emu, server = boot.result(timeout)
        except BaseException:
            _stop_loop(loop, thread, timeout)
            raise
        return cls(emu, server, loop, thread)

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout)
        finally:
            _stop_loop(self._loop, self._thread, timeout)

    async def _shutdown(self) -> None:
        await self.emu.close()
        await self._server.close()
        await self.emu.__aexit__(None, None, None)
        current = asyncio.current_task()
        leftovers = [task for task in asyncio.all_tasks() if task is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    def __enter__(self) -> KubeServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` in the server's loop: the thread-safe way to touch ``emu`` directly."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    @contextlib.contextmanager
    def failing(self, after: float) -> Iterator[None]:
        """Within the block, every new request is answered `after` seconds late with 500 (see
        `KubeEmu.fail`)."""
        self.call(lambda: self.emu.fail(after))
        try:
            yield
        finally:
            self.call(lambda: self.emu.fail(None))

    def get(self, resource: str, namespace: str | None, name: str) -> Body | None:
        """A copy of a live object, e.g. ``kube.get("apps/v1/deployments", "default", "x")``."""
        return self.call(lambda: self.emu.snapshot(resource, namespace, name))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        timeout: float = 10.0,
    ) -> tuple[int, Any]:
        """A raw API call: (HTTP status, parsed JSON body). Never raises on HTTP errors."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        req = urllib.request.Request(self.url + path, data, headers, method=method)  # noqa: S310 (our http URL)
        try:
            with _OPENER.open(req, timeout=timeout) as rsp:
                return rsp.status, json.loads(rsp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def write_kubeconfig(self, path: Path | str, namespace: str = "default") -> Path:
        """Write a kubeconfig for this server; kopf's default login accepts it as is."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kube-emu", "cluster": {"server": self.url}}],
            # Any token works: the emulator does not authenticate. See the module docstring.
            "users": [{"name": "kube-emu", "user": {"token": "kube-emu-dummy-token"}}],
            "contexts": [
                {
                    "name": "kube-emu",
                    "context": {"cluster": "kube-emu", "user": "kube-emu", "namespace": namespace},
                }
            ],
            "current-context": "kube-emu",
        }
        target = Path(path)
        target.write_text(json.dumps(config, indent=2) + "\n")  # JSON is valid YAML
        return target


# No proxies for 127.0.0.1, whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


async def _boot(crds: list[Mapping[str, Any]]) -> tuple[KubeEmu, aiohttp.test_utils.RawTestServer]:
    emu = KubeEmu()  # created in the server's loop: its locks and queues belong there
    _load_builtins(emu)
    register_kopf_peering(emu)
    for crd in crds:
        register_crd(emu, crd)
    await emu.__aenter__()
    # aiohttp's RawTestServer, the same server kmock.Server wraps, but without kmock.Server's
    # extras: it also patches aiohttp's DNS resolution process-wide and must be exited in LIFO
    # order, which servers in threads cannot promise. Port 0: the OS picks a free port.
    server = aiohttp.test_utils.RawTestServer(emu, host="127.0.0.1", port=0)
    await server.start_server()
    return emu, server


def _load_builtins(emu: KubeEmu) -> None:
    # kmock 0.8's own load_bundled() reads this file with a deprecated importlib API and warns
    # in every run; the file's place inside kmock's private package is pinned with kmock==0.8.
    bundle = importlib.resources.files("kmock._internal") / "resources.json.gz"
    emu.resources.load_data(gzip.decompress(bundle.read_bytes()))


def _stop_loop(loop: asyncio.AbstractEventLoop, thread: threading.Thread, timeout: float) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout)
    if not thread.is_alive():
        loop.close()
