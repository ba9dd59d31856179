"""The test-side Kubernetes API emulator behaves like an API server where kopf and clients look.

One test per gap of plain kmock 0.8 (see kdial_local/apiserver.py), plus a real kopf operator
process that logs in with its default login and runs its whole create/delete loop over HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import kubernetes.client as k8s
import kubernetes.config
import kubernetes.watch
import pytest
from kubernetes.client.exceptions import ApiException

from kdial_local import processes
from kdial_local.apiserver import KubeServer

T = TypeVar("T")

GROUP, VERSION, PLURAL = "example.dev", "v1", "widgets"
WIDGETS = f"/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}"
WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {
                        "name": "Ready",
                        "type": "string",
                        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                    },
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color", "priority": 1},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer", "default": 1},
                                    "color": {"type": "string"},
                                },
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
KOPF_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


def wait_for(
    probe: Callable[[], T | None], describe: Callable[[], str] = str, timeout: float = 20.0
) -> T:
    """Poll until probe() gives something truthy; bounded, so a bug fails instead of hanging."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout} s: {describe()}")


@pytest.fixture
def server() -> Iterator[KubeServer]:
    with KubeServer.start([WIDGET_CRD]) as server:
        yield server


@pytest.fixture
def client(server: KubeServer) -> Iterator[k8s.ApiClient]:
    config = k8s.Configuration()
    config.host = server.url
    with k8s.ApiClient(config) as api_client:
        yield api_client


@pytest.fixture
def custom(client: k8s.ApiClient) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(client)


@pytest.fixture
def core(client: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(client)


def create_widget(server: KubeServer, name: str, **spec: Any) -> dict[str, Any]:
    status, body = server.request("POST", WIDGETS, {"metadata": {"name": name}, "spec": spec})
    assert status == 201, body
    return dict(body)


def patch(server: KubeServer, path: str, body: Any, content_type: str = MERGE) -> dict[str, Any]:
    status, result = server.request("PATCH", path, body, content_type=content_type)
    assert status == 200, result
    return dict(result)


def rv(body: dict[str, Any]) -> int:
    return int(body["metadata"]["resourceVersion"])


def names(items: Iterable[Any]) -> list[str]:
    return [item.metadata.name for item in items]


# The kubernetes client takes plain dicts as bodies at runtime; its models type them as models,
# and their every field as optional. Tests use Any for both instead of asserting each level.


def test_create_fills_server_metadata(custom: k8s.CustomObjectsApi) -> None:
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget", "metadata": {"name": "w"}}
    created: Any = custom.create_namespaced_custom_object(GROUP, VERSION, "team-a", PLURAL, body)
    meta = created["metadata"]
    assert meta["namespace"] == "team-a"  # from the URL
    assert len(meta["uid"]) == 36
    assert int(meta["resourceVersion"]) > 0
    assert meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1


def test_every_write_gets_a_new_resource_version(server: KubeServer) -> None:
    created = create_widget(server, "w")
    spec_patched = patch(server, f"{WIDGETS}/w", {"spec": {"size": 2}})
    status_patched = patch(server, f"{WIDGETS}/w/status", {"status": {"phase": "Up"}})
    assert rv(created) < rv(spec_patched) < rv(status_patched)
    # Like an API server, a no-op write changes nothing: no new version, no watch event.
    assert rv(patch(server, f"{WIDGETS}/w", {"spec": {"size": 2}})) == rv(status_patched)


def test_a_burst_of_writes_is_all_served_while_the_request_log_stays_short(
    server: KubeServer,
) -> None:
    # kmock's cost per request grows with its request log, so the emulator trims it; a write
    # that waited for the lock while the burst trimmed the log must still be served.
    count = 3 * server.emu.max_requests
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(
            pool.map(
                lambda n: server.request("POST", WIDGETS, {"metadata": {"name": f"w{n}"}})[0],
                range(count),
            )
        )
    assert statuses == [201] * count
    status, listed = server.request("GET", WIDGETS)
    assert status == 200 and len(listed["items"]) == count
    assert len(server.emu._requests) <= server.emu.max_requests + 1


def test_generation_follows_spec_but_not_status_or_metadata(server: KubeServer) -> None:
    create_widget(server, "w", size=1)
    assert patch(server, f"{WIDGETS}/w", {"spec": {"size": 2}})["metadata"]["generation"] == 2
    status_patched = patch(server, f"{WIDGETS}/w/status", {"status": {"phase": "Up"}})
    assert status_patched["metadata"]["generation"] == 2
    labelled = patch(server, f"{WIDGETS}/w", {"metadata": {"labels": {"a": "b"}}})
    assert labelled["metadata"]["generation"] == 2


def test_status_subresource_is_isolated_both_ways(server: KubeServer) -> None:
    create_widget(server, "w", size=1)
    via_status = patch(server, f"{WIDGETS}/w/status", {"spec": {"size": 9}, "status": {"n": 1}})
    assert via_status["spec"] == {"size": 1}
    assert via_status["status"] == {"n": 1}
    via_main = patch(server, f"{WIDGETS}/w", {"spec": {"size": 2}, "status": {"n": 9}})
    assert via_main["spec"] == {"size": 2}
    assert via_main["status"] == {"n": 1}


def test_stale_resource_version_conflicts(server: KubeServer, custom: k8s.CustomObjectsApi) -> None:
    created = create_widget(server, "w")
    patch(server, f"{WIDGETS}/w", {"spec": {"size": 2}})
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}}
    status, body = server.request("PATCH", f"{WIDGETS}/w", stale, content_type=MERGE)
    assert (status, body["reason"]) == (409, "Conflict")
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w", created)
    assert err.value.status == 409


def test_failed_json_patch_test_is_422_and_changes_nothing(server: KubeServer) -> None:
    created = create_widget(server, "w")
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "-1"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x"]},
    ]
    status, body = server.request("PATCH", f"{WIDGETS}/w", ops, content_type=JSON_PATCH)
    assert status == 422, body
    assert server.get(f"{GROUP}/{VERSION}/{PLURAL}", "default", "w") == created
    ops[0]["value"] = created["metadata"]["resourceVersion"]
    patched = patch(server, f"{WIDGETS}/w", ops, content_type=JSON_PATCH)
    assert patched["metadata"]["finalizers"] == ["x"]
    assert rv(patched) > rv(created)


def test_generate_name_twice_gives_two_objects(core: k8s.CoreV1Api) -> None:
    event: Any = {
        "metadata": {"generateName": "kopf-event-"},
        "involvedObject": {"kind": "Widget", "name": "w", "namespace": "default"},
        "reason": "Test",
        "message": "hello",
    }
    first, second = names(core.create_namespaced_event("default", event) for _ in range(2))
    assert first != second
    assert first.startswith("kopf-event-")
    assert names(core.list_namespaced_event("default").items) == sorted([first, second])


def test_lists_carry_kind_api_version_and_resource_version(
    server: KubeServer, core: k8s.CoreV1Api
) -> None:
    create_widget(server, "w")
    status, widgets = server.request("GET", WIDGETS)
    assert status == 200
    assert (widgets["apiVersion"], widgets["kind"]) == (f"{GROUP}/{VERSION}", "WidgetList")
    assert int(widgets["metadata"]["resourceVersion"]) >= rv(widgets["items"][0])
    config_map: Any = {"metadata": {"name": "c"}, "data": {"k": "v"}}
    core.create_namespaced_config_map("default", config_map)
    assert server.request("GET", "/api/v1/configmaps")[1]["kind"] == "ConfigMapList"
    assert names(core.list_namespaced_config_map("default").items) == ["c"]


def test_core_discovery_and_namespaces(server: KubeServer, core: k8s.CoreV1Api) -> None:
    assert server.request("GET", "/api/v1")[1]["groupVersion"] == "v1"
    config_map: Any = {"metadata": {"name": "c"}}
    core.create_namespaced_config_map("team-a", config_map)
    assert names(core.list_namespace().items) == ["default", "team-a"]
    team_a: Any = core.read_namespace("team-a")
    assert team_a.status.phase == "Active"
    assert team_a.metadata.uid


def test_finalizers_gate_deletion(server: KubeServer) -> None:
    path = f"{WIDGETS}/w"
    server.request("POST", WIDGETS, {"metadata": {"name": "w", "finalizers": ["example.dev/hold"]}})
    status, marked = server.request("DELETE", path)
    assert status == 200
    assert marked["metadata"]["deletionTimestamp"]
    assert server.request("GET", path)[0] == 200  # still there: a finalizer holds it
    patch(server, path, {"metadata": {"finalizers": None}})
    assert server.request("GET", path)[0] == 404


def test_deleting_an_owner_collects_its_dependents(server: KubeServer, core: k8s.CoreV1Api) -> None:
    owner = create_widget(server, "w")
    ref = {"apiVersion": "example.dev/v1", "kind": "Widget", "name": "w"}
    ref["uid"] = owner["metadata"]["uid"]
    config_map: Any = {"metadata": {"name": "c", "ownerReferences": [ref]}}
    core.create_namespaced_config_map("default", config_map)
    server.request("DELETE", f"{WIDGETS}/w")
    assert server.get("v1/configmaps", "default", "c") is None


DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
APPLY = "application/apply-patch+yaml"
SMP = "application/strategic-merge-patch+json"


def web_deployment(replicas: int, *containers: dict[str, Any]) -> dict[str, Any]:
    labels = {"app": "web"}
    pod = {"metadata": {"labels": labels}, "spec": {"containers": list(containers)}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": pod},
    }


SIP = {
    "name": "sip",
    "image": "freeswitch:1",
    "ports": [
        {"name": "sip", "containerPort": 5060, "protocol": "UDP"},
        {"name": "sip-tcp", "containerPort": 5060, "protocol": "TCP"},
    ],
}


def apply(
    server: KubeServer, body: dict[str, Any], manager: str = "op", force: bool = True
) -> tuple[int, Any]:
    query = f"?fieldManager={manager}&force={str(force).lower()}" if manager else ""
    return server.request("PATCH", f"{DEPLOYMENTS}/web{query}", body, content_type=APPLY)


def test_strategic_merge_of_lists_is_refused_as_not_emulated(
    server: KubeServer, client: k8s.ApiClient
) -> None:
    # A real API server merges container ports by containerPort alone: this patch, which a plain
    # merge would accept, is refused there with 422 (Duplicate value: "sip-tcp"). The emulator
    # cannot know every list's patch strategy, so it refuses every list in a strategic merge.
    apps = k8s.AppsV1Api(client)
    apps.create_namespaced_deployment("default", web_deployment(1, SIP))  # type: ignore[arg-type]  # a dict body is fine
    with pytest.raises(ApiException) as refused:
        apps.patch_namespaced_deployment("web", "default", web_deployment(0, SIP))
    assert refused.value.status == 415
    assert "does not emulate strategic merge of .spec.template.spec.containers" in str(
        refused.value.body
    )
    assert server.get("apps/v1/deployments", "default", "web")["spec"]["replicas"] == 1  # type: ignore[index]

    # Without a list or a directive it is a plain merge patch on a real server too.
    patched: Any = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    last_patch = server.call(lambda: [r for r in server.emu if r.method == "PATCH"][-1])
    assert last_patch.headers["Content-Type"] == SMP
    assert (patched.spec.replicas, patched.metadata.generation) == (3, 2)

    patched.spec.replicas = 5
    replaced: Any = apps.replace_namespaced_deployment("web", "default", patched)
    assert (replaced.spec.replicas, replaced.metadata.generation) == (5, 3)
    ready: Any = apps.patch_namespaced_deployment_status(
        "web", "default", {"status": {"readyReplicas": 5}}
    )
    assert (ready.status.ready_replicas, ready.metadata.generation) == (5, 3)


def test_server_side_apply_creates_then_merges_by_list_keys(server: KubeServer) -> None:
    dialer = {
        "name": "dialer",
        "image": "kdial:1",
        "args": ["worker"],
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
    }
    status, created = apply(server, web_deployment(2, dialer, SIP))
    assert status == 201, created
    assert created["metadata"]["generation"] == 1

    # Another writer's label is its own: the next apply neither needs nor removes it.
    patch(server, f"{DEPLOYMENTS}/web?fieldManager=someone", {"metadata": {"labels": {"x": "y"}}})
    dialer_v2 = dialer | {"image": "kdial:2", "env": [{"name": "B", "value": "3"}]}
    status, applied = apply(server, web_deployment(0, dialer_v2, SIP))
    assert status == 200, applied

    assert applied["spec"]["replicas"] == 0
    assert applied["metadata"]["labels"] == {"x": "y"}
    containers = applied["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["dialer", "sip"]
    assert containers[0]["image"] == "kdial:2"
    assert containers[0]["env"] == [{"name": "B", "value": "3"}]  # A was ours, and is dropped
    assert containers[1]["ports"] == SIP["ports"]  # keyed by (containerPort, protocol): two
    assert applied["metadata"]["generation"] == 2
    # Applying the same configuration again is a no-op, as on a real server.
    assert rv(apply(server, web_deployment(0, dialer_v2, SIP))[1]) == rv(applied)


def test_server_side_apply_conflicts_unless_forced(server: KubeServer) -> None:
    assert apply(server, web_deployment(2, SIP))[0] == 201
    patch(server, f"{DEPLOYMENTS}/web?fieldManager=kubectl-scale", {"spec": {"replicas": 5}})

    status, conflict = apply(server, web_deployment(0, SIP), force=False)
    assert status == 409
    assert 'conflict with "kubectl-scale": .spec.replicas' in conflict["message"]

    status, forced = apply(server, web_deployment(0, SIP), force=True)
    assert (status, forced["spec"]["replicas"]) == (200, 0)


def test_server_side_apply_checks_its_options_and_refuses_unknown_lists(
    server: KubeServer,
) -> None:
    status, body = apply(server, web_deployment(1, SIP), manager="")
    assert status == 422
    assert "fieldManager: Required value: is required for apply patch" in body["message"]
    status, body = server.request(
        "PATCH", f"{DEPLOYMENTS}/web?force=true", {"spec": {"replicas": 1}}, content_type=MERGE
    )
    assert status == 422
    assert "force: Forbidden: may not be specified for non-apply patch" in body["message"]

    # hostAliases: a list whose type (keyed by ip) the emulator is not told, so it refuses it.
    with_aliases = web_deployment(1, SIP)
    with_aliases["spec"]["template"]["spec"]["hostAliases"] = [{"ip": "10.0.0.1"}]
    status, body = apply(server, with_aliases)
    assert status == 415
    assert ".spec.template.spec.hostAliases is not emulated" in body["message"]
    assert server.get("apps/v1/deployments", "default", "web") is None


SECRETS = "/api/v1/namespaces/default/secrets"


def secret(**fields: Any) -> dict[str, Any]:
    meta = {"name": "creds", "namespace": "default"}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, **fields}


def test_secrets_are_applied_and_checked_as_a_real_server_does(server: KubeServer) -> None:
    def apply_secret(body: dict[str, Any]) -> tuple[int, Any]:
        query = "?fieldManager=op&force=true"
        return server.request("PATCH", f"{SECRETS}/creds{query}", body, content_type=APPLY)

    status, created = apply_secret(secret(data={"a": "eA=="}))
    assert status == 201, created
    assert (created["type"], created["data"]) == ("Opaque", {"a": "eA=="})  # type defaulted
    status, applied = apply_secret(secret(type="Opaque", data={"b": "eQ=="}))
    assert (status, applied["data"]) == (200, {"b": "eQ=="})  # `a` was ours, and is dropped
    assert rv(apply_secret(secret(type="Opaque", data={"b": "eQ=="}))[1]) == rv(applied)

    # stringData is folded into data by a real server: not emulated, so refused.
    status, body = apply_secret(secret(stringData={"b": "y"}))
    assert status == 415 and "stringData is not emulated" in body["message"]
    status, body = apply_secret(secret(data={"b": "not base64!"}))
    assert status == 400 and "illegal base64 data" in body["message"]
    status, body = apply_secret(secret(data={"b/c": "eQ=="}))
    assert status == 422 and "a valid config key" in body["message"]
    status, body = apply_secret(secret(type="kubernetes.io/tls", data={"b": "eQ=="}))
    assert status == 422 and "field is immutable" in body["message"]
    status, body = server.request("POST", SECRETS, secret(stringData={"x": "y"}) | {
        "metadata": {"name": "other"}
    })  # fmt: skip
    assert status == 415
    assert server.get("v1/secrets", "default", "creds")["data"] == {"b": "eQ=="}  # type: ignore[index]


def test_strategic_merge_patch_is_refused_for_custom_resources(server: KubeServer) -> None:
    create_widget(server, "w")
    status, _ = server.request("PATCH", f"{WIDGETS}/w", {"spec": {"size": 2}}, content_type=SMP)
    assert status == 415  # as on a cluster, so that operator code does not rely on it


def test_crd_schema_defaults_and_prunes(server: KubeServer) -> None:
    created = create_widget(server, "w", color="red", bogus=True)
    assert created["spec"] == {"color": "red", "size": 1}
    status = patch(server, f"{WIDGETS}/w/status", {"status": {"anything": {"goes": 1}}})["status"]
    assert status == {"anything": {"goes": 1}}  # preserved: x-kubernetes-preserve-unknown-fields


def test_label_selectors_filter_lists(core: k8s.CoreV1Api) -> None:
    for name, app in [("a", "x"), ("b", "y"), ("c", None)]:
        labels = {"app": app} if app else {}
        config_map: Any = {"metadata": {"name": name, "labels": labels}}
        core.create_namespaced_config_map("default", config_map)

    def selected(selector: str) -> list[str]:
        return names(core.list_namespaced_config_map("default", label_selector=selector).items)

    assert selected("app=x") == ["a"]
    assert selected("app in (x,y)") == ["a", "b"]
    assert selected("!app") == ["c"]
    assert selected("app,app!=x") == ["b"]


def open_watch(server: KubeServer, query: str) -> tuple[str, list[dict[str, Any]], float]:
    started = time.monotonic()
    request = urllib.request.Request(f"{server.url}{WIDGETS}?watch=true&{query}")  # noqa: S310
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as rsp:
        content_type = rsp.headers["Content-Type"]
        events = [json.loads(line) for line in rsp.read().splitlines() if line.strip()]
    return content_type, events, time.monotonic() - started


def test_watch_is_json_and_honours_timeout(server: KubeServer) -> None:
    create_widget(server, "w")
    content_type, events, elapsed = open_watch(server, "timeoutSeconds=1")
    assert content_type.startswith("application/json")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "w")]
    assert 0.9 < elapsed < 5


def test_watch_from_a_list_version_misses_nothing(server: KubeServer) -> None:
    create_widget(server, "w")
    listed = server.request("GET", WIDGETS)[1]["metadata"]["resourceVersion"]
    server.request("DELETE", f"{WIDGETS}/w")  # between the LIST and the WATCH
    _, events, _ = open_watch(server, f"resourceVersion={listed}&timeoutSeconds=1")
    assert [e["type"] for e in events] == ["DELETED"]


def test_kubernetes_client_watch(server: KubeServer, core: k8s.CoreV1Api) -> None:
    config_map: Any = {"metadata": {"name": "c"}}
    core.create_namespaced_config_map("default", config_map)
    watch = kubernetes.watch.Watch()  # type: ignore[no-untyped-call]
    stream = watch.stream(core.list_namespaced_config_map, "default", timeout_seconds=1)  # type: ignore[no-untyped-call]
    assert [(e["type"], e["object"].metadata.name) for e in stream] == [("ADDED", "c")]


#: What kubectl sends to get server-side printing.
AS_TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)


def as_table(server: KubeServer, path: str) -> bytes:
    """The raw answer to a GET as kubectl sends it (no proxy for 127.0.0.1)."""
    request = urllib.request.Request(server.url + path, headers={"Accept": AS_TABLE})  # noqa: S310 (our http URL)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return bytes(response.read())


def get_as_table(server: KubeServer, path: str) -> Any:
    return json.loads(as_table(server, path))


def test_printer_columns_come_as_a_table_when_kubectl_asks(server: KubeServer) -> None:
    create_widget(server, "w1", size=3)
    conditions = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    patch(server, f"{WIDGETS}/w1/status", conditions)
    table = get_as_table(server, WIDGETS)
    assert table["kind"] == "Table"
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert columns == ["Name", "Size", "Ready", "Color", "Age"]
    assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 1, 0]
    [row] = table["rows"]
    name, size, ready, color, age = row["cells"]
    assert (name, size, ready, color) == ("w1", 3, "True", None)
    assert age.endswith("s")
    assert row["object"]["metadata"]["name"] == "w1"
    single = get_as_table(server, f"{WIDGETS}/w1")
    assert [r["cells"][:3] for r in single["rows"]] == [["w1", 3, "True"]]
    # Clients that do not ask for a Table get the objects, and so do resources without columns.
    assert server.request("GET", WIDGETS)[1]["kind"] == "WidgetList"
    assert get_as_table(server, "/api/v1/namespaces/default/configmaps")["kind"] == "ConfigMapList"


def test_a_watch_asked_as_a_table_sends_one_row_per_event(server: KubeServer) -> None:
    create_widget(server, "w2", size=5)
    stream = as_table(server, WIDGETS + "?watch=true&timeoutSeconds=1")
    events = [json.loads(line) for line in stream.splitlines() if line.strip()]
    assert [e["type"] for e in events] == ["ADDED"]
    assert events[0]["object"]["kind"] == "Table"
    assert events[0]["object"]["rows"][0]["cells"][:2] == ["w2", 5]


def test_written_kubeconfig_loads_into_the_kubernetes_client(
    server: KubeServer, tmp_path: Path
) -> None:
    path = server.write_kubeconfig(tmp_path / "kubeconfig")
    config = k8s.Configuration()
    kubernetes.config.load_kube_config(config_file=str(path), client_configuration=config)  # type: ignore[no-untyped-call]
    assert config.host == server.url
    with k8s.ApiClient(config) as client:
        assert names([k8s.CoreV1Api(client).read_namespace("default")]) == ["default"]


OPERATOR = """
import kopf

@kopf.on.create("example.dev", "v1", "widgets")
def created(spec, patch, **_):
    patch.status["phase"] = "Created"
    patch.status["size"] = spec["size"]

@kopf.on.delete("example.dev", "v1", "widgets")
def deleted(name, logger, **_):
    logger.info(f"released {name}")
"""


@pytest.fixture
def kopf_log(server: KubeServer, tmp_path: Path) -> Iterator[Path]:
    """A kopf operator in its own process, as ours runs in tests: default login, KUBECONFIG."""
    script = tmp_path / "operator.py"
    script.write_text(OPERATOR)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}  # in-cluster
    env["KUBECONFIG"] = str(server.write_kubeconfig(tmp_path / "kubeconfig"))
    log = tmp_path / "operator.log"
    command = [sys.executable, "-m", "kopf", "run", "--standalone", "-A", "--verbose", str(script)]
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield log
    finally:
        processes.stop(process, timeout=10)


def test_kopf_operator_runs_its_loop_with_default_login(
    server: KubeServer, custom: k8s.CustomObjectsApi, kopf_log: Path
) -> None:
    def widget() -> dict[str, Any] | None:
        return server.get(f"{GROUP}/{VERSION}/{PLURAL}", "default", "w")

    def log_tail() -> str:
        return f"widget={widget()}\noperator log:\n{kopf_log.read_text()[-4000:]}"

    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget", "metadata": {"name": "w"}}
    body["spec"] = {}  # the CRD schema defaults spec.size to 1
    custom.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, body)
    handled = wait_for(lambda: (w := widget()) and w.get("status", {}).get("phase") and w, log_tail)
    assert handled["status"] == {"phase": "Created", "size": 1}
    assert KOPF_FINALIZER in handled["metadata"]["finalizers"]

    custom.delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "w")
    wait_for(lambda: widget() is None, log_tail)
    assert "released w" in kopf_log.read_text()
    assert "Activity 'login_via_client' succeeded" in kopf_log.read_text()


def test_a_failing_server_answers_500_late_writes_nothing_and_recovers(server: KubeServer) -> None:
    create_widget(server, "before", size=1)
    with server.failing(0.3):
        began = time.monotonic()
        status, body = server.request("POST", WIDGETS, {"metadata": {"name": "during"}})
        assert time.monotonic() - began >= 0.3
        assert (status, body["kind"], body["reason"]) == (500, "Status", "InternalError")
        assert server.request("GET", f"{WIDGETS}/before")[0] == 500
    assert server.request("GET", f"{WIDGETS}/during")[0] == 404
    assert server.request("GET", f"{WIDGETS}/before")[0] == 200
