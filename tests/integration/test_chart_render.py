"""The Helm chart, rendered and linted by the real Helm engine (helm-python-sdk binds Helm's Go
SDK), for the default values and each documented option; every rendered object validated
against the Kubernetes schemas (kubernetes-validate), the CRDs' objects against the CRDs, the
Prometheus Operator's objects against the fields of its API the chart writes, the alert rules
with promtool where it is installed. Then what the chart promises: one operator with Recreate,
least-privilege RBAC, CRDs equal to the generated ones, Redis with AOF, worker settings the
operator reads.
"""

from __future__ import annotations

import base64
import copy
import inspect
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import helm_python as helm
import jsonschema
import pytest
import yaml
from prometheus_client import Counter, Histogram

from kdial.api.crd import crd_manifest
from kdial.api.kinds import KINDS
from kdial_api import cli as api_cli
from kdial_api.stats import AgentMetrics
from kdial_cli import chart as chart_cli
from kdial_cli.main import SUBCOMMANDS
from kdial_operator import kube
from kdial_operator import metrics as operator_metrics
from kdial_operator.kube import APPLY_PATCH, Kube
from kdial_operator.settings import OperatorSettings
from kdial_operator.workload import secret_refs, worker_deployment
from kdial_worker import metrics
from tests.support.chart import (
    CHART,
    NAMESPACE,
    Rendered,
    env_of,
    loaded_chart,
    render_files,
    render_values,
)
from tests.support.manifests import manifest_problems
from tests.support.paths import REPO

DOCKERFILE = REPO / "Dockerfile"
MONITORING_API = "monitoring.coreos.com/v1"
MONITORING = {
    "podMonitor": {"enabled": True},
    "prometheusRule": {"enabled": True},
    "grafanaDashboard": {"enabled": True},
}


@dataclass(frozen=True)
class Scenario:
    """One documented way to install the chart."""

    values: dict[str, Any] = field(default_factory=dict)
    #: API groups the cluster serves beyond the built-in ones (`helm template --api-versions`).
    api_versions: tuple[str, ...] = ()


SCENARIOS = {
    "defaults": Scenario(),
    "external-redis-url": Scenario(
        {
            "redis": {
                "bundled": {"enabled": False},
                "external": {"url": "redis://:secret@redis.example:6379/0"},
            }
        }
    ),
    "existing-secrets": Scenario(
        {
            "redis": {"bundled": {"enabled": False}, "external": {"existingSecret": "my-redis"}},
            "worker": {"esl": {"existingSecret": "my-esl"}},
        }
    ),
    "watch-namespaces": Scenario({"watchNamespaces": ["team-a", "team-b"]}),
    "monitoring": Scenario({"monitoring": MONITORING}, (MONITORING_API,)),
    "monitoring-without-the-api": Scenario({"monitoring": MONITORING}),
    "monitoring-forced": Scenario({"monitoring": MONITORING | {"skipApiCheck": True}}),
    "crds-off": Scenario({"crds": {"create": False}}),
    "crds-not-kept": Scenario({"crds": {"keep": False}}),
    "kopf-crds-from-elsewhere": Scenario({"crds": {"peering": False}}),
    "peering-off": Scenario({"peering": {"create": False}}),
    "redis-without-volume": Scenario({"redis": {"bundled": {"persistence": {"enabled": False}}}}),
    "voice-node-pool": Scenario(
        {
            "worker": {
                "hostNetwork": True,
                "sipPort": 5080,
                "rtpPortRange": {"start": 20000, "end": 20999},
                "nodeSelector": {"voip-environment": "rtp"},
                "tolerations": [{"key": "sip", "operator": "Exists", "effect": "NoSchedule"}],
            }
        }
    ),
    "internal-list-servers": Scenario(
        {
            "operator": {
                "contactSources": {
                    "allowedNetworks": ["10.20.30.0/24", "fd00:1::/64"],
                    "clusterNetworks": [],
                }
            }
        }
    ),
    "own-service-account": Scenario(
        {"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "kdial-sa"}}
    ),
    "everything": Scenario(
        {
            "watchNamespaces": ["team-a"],
            "monitoring": MONITORING,
            "operator": {"logFormat": "json", "verbose": True, "extraArgs": ["--priority=10"]},
            "redis": {"bundled": {"enabled": False}, "external": {"existingSecret": "my-redis"}},
            "image": {"digest": "sha256:" + "0" * 64},
        },
        (MONITORING_API,),
    ),
}


@cache
def render(name: str) -> Rendered:
    scenario = SCENARIOS[name]
    return render_values(scenario.values, scenario.api_versions)


def operator_deployment(name: str) -> dict[str, Any]:
    return render(name).one("Deployment", "kdial-operator")


def operator_container(name: str) -> dict[str, Any]:
    container: dict[str, Any] = operator_deployment(name)["spec"]["template"]["spec"]["containers"][
        0
    ]
    return container


# Prometheus Operator objects: their CRDs do not ship here. These schemas hold the fields of
# monitoring.coreos.com/v1 the chart writes, as the Prometheus Operator's CRDs define them
# (durations by its pattern); anything else is refused, so a misspelt field fails here.

_DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?"
    r"(([0-9]+)ms)?)$",
}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_METADATA = {"type": "object", "required": ["name"]}
MONITORING_SCHEMAS: dict[str, dict[str, Any]] = {
    "PodMonitor": _closed(
        {
            "apiVersion": {"const": MONITORING_API},
            "kind": {"const": "PodMonitor"},
            "metadata": _METADATA,
            "spec": _closed(
                {
                    "namespaceSelector": _closed(
                        {"any": {"type": "boolean"}, "matchNames": {"type": "array"}}
                    ),
                    "selector": _closed(
                        {"matchLabels": _STRINGS, "matchExpressions": {"type": "array"}}
                    ),
                    "podMetricsEndpoints": {
                        "type": "array",
                        "items": _closed(
                            {
                                "port": {"type": "string"},
                                "path": {"type": "string"},
                                "honorLabels": {"type": "boolean"},
                                "interval": _DURATION,
                                "scrapeTimeout": _DURATION,
                            }
                        ),
                    },
                },
                ("selector",),
            ),
        },
        ("apiVersion", "kind", "metadata", "spec"),
    ),
    "PrometheusRule": _closed(
        {
            "apiVersion": {"const": MONITORING_API},
            "kind": {"const": "PrometheusRule"},
            "metadata": _METADATA,
            "spec": _closed(
                {
                    "groups": {
                        "type": "array",
                        "items": _closed(
                            {
                                "name": {"type": "string", "minLength": 1},
                                "interval": _DURATION,
                                "rules": {
                                    "type": "array",
                                    "items": _closed(
                                        {
                                            "record": {"type": "string"},
                                            "alert": {"type": "string"},
                                            "expr": {"type": "string", "minLength": 1},
                                            "for": _DURATION,
                                            "keep_firing_for": _DURATION,
                                            "labels": _STRINGS,
                                            "annotations": _STRINGS,
                                        },
                                        ("expr",),
                                    ),
                                },
                            },
                            ("name", "rules"),
                        ),
                    }
                },
                ("groups",),
            ),
        },
        ("apiVersion", "kind", "metadata", "spec"),
    ),
}


def rendered_problems(doc: dict[str, Any]) -> list[str]:
    if doc["apiVersion"] == MONITORING_API:
        validator = jsonschema.Draft202012Validator(MONITORING_SCHEMAS[doc["kind"]])
        return [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
    return manifest_problems(doc)


# Lint and validation, for every scenario


@pytest.mark.parametrize("name", SCENARIOS)
def test_lint_is_clean(name: str) -> None:
    report = helm.lint(
        CHART,
        SCENARIOS[name].values,
        strict=True,
        namespace=NAMESPACE,
        kube_version="v1.29.0",
    )
    problems = [m for m in report["messages"] if m["severity"] >= 2]

    assert report["errors"] == []
    assert problems == []


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_rendered_object_validates(name: str) -> None:
    problems = {
        f"{doc['kind']}/{doc['metadata']['name']}": rendered_problems(doc)
        for doc in render(name).objects
    }

    assert {key: value for key, value in problems.items() if value} == {}


@pytest.mark.parametrize("name", SCENARIOS)
def test_namespaced_objects_say_their_namespace(name: str) -> None:
    cluster_scoped = {
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterKopfPeering",
    }
    watched = set(SCENARIOS[name].values.get("watchNamespaces", []))

    for doc in render(name).objects:
        namespace = doc["metadata"].get("namespace")
        if doc["kind"] in cluster_scoped:
            assert namespace is None, doc["metadata"]["name"]
        else:
            assert namespace in watched | {NAMESPACE}, f"{doc['kind']}/{doc['metadata']['name']}"


def test_the_values_schema_refuses_what_would_break_an_install() -> None:
    chart = loaded_chart()
    wrong: list[dict[str, Any]] = [
        {"replicas": 2},
        {"operator": {"logFormat": "yaml"}},
        {"watchNamespaces": ["Team_A"]},
        {"worker": {"callsPerWorker": 0}},
        {"redis": {"bundled": {"enabled": False}}},
        {"redis": {"external": {"url": "redis://elsewhere:6379/0"}}},
        {"redis": {"bundled": {"persistence": {"size": "lots"}}}},
        {"monitoring": {"podMonitor": {"interval": "often"}}},
        {"operator": {"contactSources": {"allowedNetworks": ["file-server.internal"]}}},
    ]
    for values in wrong:
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema(chart.merge_values(values))
    chart.validate_schema(chart.merge_values({}))


def test_the_values_document_every_key() -> None:
    """Every value has a `# --` comment, on itself or on the section it belongs to (whose default
    it then is): what helm-docs turns into the chart's reference."""
    lines = (CHART / "values.yaml").read_text("utf-8").splitlines()
    documented_at: list[int] = []  # indents of the documented keys enclosing the current line
    undocumented = []
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z]\w*):(.*)$", line)
        if not match:
            continue
        indent = len(match.group(1))
        documented_at = [i for i in documented_at if i < indent]
        comments = []
        for previous in reversed(lines[:index]):
            if not previous.strip().startswith("#"):
                break
            comments.append(previous.strip())
        documented = any(c.startswith("# --") for c in comments)
        following = next((n for n in lines[index + 1 :] if n.strip()), "")
        leaf = bool(match.group(3).strip()) or following.strip().startswith("- ")
        if documented:
            documented_at.append(indent)
        elif leaf and not documented_at:
            undocumented.append(match.group(2))

    assert undocumented == []


def test_rules_the_schema_cannot_say_fail_the_render_with_a_message() -> None:
    with pytest.raises(helm.HelmRenderError, match="start must not exceed end"):
        render_files({"worker": {"rtpPortRange": {"start": 30000, "end": 20000}}})
    for values in (
        {"redis": {"bundled": {"enabled": True}, "external": {"url": "redis://x:6379/0"}}},
        {"redis": {"bundled": {"enabled": False}}},
    ):
        with pytest.raises(helm.HelmValuesError, match="/redis/external"):
            render_files(values)


# The operator Deployment


@pytest.mark.parametrize("name", SCENARIOS)
def test_one_operator_replaced_by_recreate(name: str) -> None:
    deployment = operator_deployment(name)

    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert len(render(name).of_kind("Deployment")) <= 2  # the operator, and the agent API


def test_operator_arguments_cluster_wide_and_per_namespace() -> None:
    default = operator_container("defaults")["args"]
    watched = operator_container("watch-namespaces")["args"]

    assert default[0] == "operator"
    assert "--peering=kdial" in default
    assert "--liveness=http://0.0.0.0:8080/healthz" in default
    assert "--all-namespaces" in default
    assert not any(a.startswith("--namespace") for a in default)
    assert "--all-namespaces" not in watched
    assert [a for a in watched if a.startswith("--namespace")] == [
        "--namespace=team-a",
        "--namespace=team-b",
    ]
    everything = operator_container("everything")["args"]
    assert {"--log-format=json", "--verbose", "--priority=10"} <= set(everything)
    assert operator_container("everything")["image"] == "ghcr.io/kdial/kdial@sha256:" + "0" * 64


def test_operator_liveness_and_security() -> None:
    pod = operator_deployment("defaults")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    security = container["securityContext"]

    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    assert "readinessProbe" not in container
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"]
    assert pod["serviceAccountName"] == "kdial-operator"


def _image_name(image: str) -> str:
    """`registry/path/name:tag@digest` -> `name`."""
    return image.split("@", maxsplit=1)[0].rsplit("/", 1)[-1].split(":", maxsplit=1)[0]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_chart_runs_only_commands_kdial_has(name: str) -> None:
    """Every container of the kdial image, in the chart and in the worker pods the operator
    writes, runs a `kdial` subcommand that exists: the chart deploys nothing unreleased."""
    pods = [
        doc["spec"]["template"]["spec"]
        for doc in render(name).objects
        if doc["kind"] in {"Deployment", "StatefulSet"}
    ]
    pods.append(
        worker_deployment(
            "team-a", "quickstart", "uid", 1, OperatorSettings(), trunk_pools=["lines"]
        )["spec"]["template"]["spec"]
    )
    kdial_containers = [
        c for pod in pods for c in pod["containers"] if _image_name(c["image"]) == "kdial"
    ]

    assert {c["args"][0] for c in kdial_containers} == {"operator", "worker", "api"}
    assert all(c["args"][0] in SUBCOMMANDS for c in kdial_containers)


@pytest.mark.parametrize("name", ["defaults", "voice-node-pool"])
def test_every_pod_of_the_chart_runs_locked_down(name: str) -> None:
    workloads = [
        doc for doc in render(name).objects if doc["kind"] in {"Deployment", "StatefulSet"}
    ]
    assert len(workloads) >= 2
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]["memory"]


def test_the_chart_runs_the_kdial_image_as_its_user() -> None:
    """The image's USER (its passwd entry, which kopf's peering would otherwise need) is the
    user the chart's pods and the worker pods' dialer run as."""
    final_stage = DOCKERFILE.read_text("utf-8").rsplit("\nFROM ", 1)[1]
    user = re.search(r"^USER (\d+):(\d+)$", final_stage, re.MULTILINE)
    assert user is not None, "the kdial image runs as a numeric uid:gid (runAsNonRoot checks it)"
    uid, gid = int(user[1]), int(user[2])
    pod = operator_deployment("defaults")["spec"]["template"]["spec"]
    worker = worker_deployment(
        "team-a", "quickstart", "uid", 1, OperatorSettings(), trunk_pools=["lines"]
    )
    dialer = worker["spec"]["template"]["spec"]["containers"][0]

    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (uid, gid)
    assert (dialer["securityContext"]["runAsUser"], dialer["securityContext"]["runAsGroup"]) == (
        uid,
        gid,
    )
    assert dialer["securityContext"]["readOnlyRootFilesystem"] is True
    # Peering names the operator after its pod, which works for whatever uid runs it.
    assert env_of(pod["containers"][0])["POD_ID"] == {
        "name": "POD_ID",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    }


@pytest.mark.parametrize("name", SCENARIOS)
def test_operator_environment_is_what_the_operator_reads(name: str) -> None:
    env = env_of(operator_container(name))
    known = {f"KDIAL_{field_name.upper()}" for field_name in OperatorSettings.model_fields}
    known.add("POD_ID")  # kopf's

    assert set(env) - known == set()
    assert {
        "KDIAL_REDIS_URL",
        "KDIAL_REDIS_URL_SECRET",
        "KDIAL_WORKER_IMAGE",
        "KDIAL_FREESWITCH_IMAGE",
        "KDIAL_ESL_PASSWORD_SECRET",
        "KDIAL_WORKER_GRACE_SECONDS",
        "KDIAL_CALLS_PER_WORKER",
    } <= set(env)
    assert "value" not in env["KDIAL_REDIS_URL"], "the Redis URL comes from a Secret"


def _settings_from(container: dict[str, Any]) -> OperatorSettings:
    """The settings the operator reads from the environment the chart gives it."""
    given = {name: entry["value"] for name, entry in env_of(container).items() if "value" in entry}
    with mock.patch.dict(os.environ, given):
        return OperatorSettings()


@pytest.mark.parametrize("name", ["defaults", "watch-namespaces", "existing-secrets", "everything"])
def test_worker_pods_find_their_secrets(name: str) -> None:
    """The operator, configured by the chart, writes worker Deployments whose Secrets the chart
    created in that namespace (or the user was told to bring)."""
    settings = _settings_from(operator_container(name))
    values = SCENARIOS[name].values
    namespaces = values.get("watchNamespaces") or [NAMESPACE]
    created = {
        (s["metadata"]["namespace"], s["metadata"]["name"]) for s in render(name).of_kind("Secret")
    }
    brought = {values.get("redis", {}).get("external", {}).get("existingSecret")} | {
        values.get("worker", {}).get("esl", {}).get("existingSecret")
    }

    for namespace in namespaces:
        deployment = worker_deployment(
            namespace, "quickstart", "uid-1", 1, settings, trunk_pools=["lines"]
        )
        assert manifest_problems(deployment) == []
        pod = deployment["spec"]["template"]["spec"]
        refs = {
            (env["valueFrom"]["secretKeyRef"]["name"], env["valueFrom"]["secretKeyRef"]["key"])
            for container in pod["containers"]
            for env in container.get("env", [])
            if "secretKeyRef" in env.get("valueFrom", {})
        }
        # What the operator checks for before it scales workers is what the pods read.
        assert refs == set(secret_refs(settings)), refs
        assert all((namespace, ref) in created or ref in brought for ref, _ in refs), refs
        assert pod["terminationGracePeriodSeconds"] == 120


def test_the_download_cap_reaches_the_operator_as_a_whole_number() -> None:
    env = env_of(operator_container("defaults"))

    assert env["KDIAL_MAX_DOWNLOAD_BYTES"]["value"] == "2147483648"
    assert _settings_from(operator_container("defaults")).max_download_bytes == 2 << 30


def test_contact_sources_are_public_https_unless_the_chart_allows_a_network() -> None:
    default = _settings_from(operator_container("defaults"))
    assert default.source_allowed_networks == []
    assert [str(n) for n in default.cluster_networks] == ["10.96.0.0/12"]

    settings = _settings_from(operator_container("internal-list-servers"))
    assert [str(n) for n in settings.source_allowed_networks] == ["10.20.30.0/24", "fd00:1::/64"]
    assert settings.cluster_networks == []


def test_worker_settings_reach_the_operator() -> None:
    env = env_of(operator_container("voice-node-pool"))

    assert env["KDIAL_WORKER_HOST_NETWORK"]["value"] == "true"
    assert env["KDIAL_SIP_PORT"]["value"] == "5080"
    assert (env["KDIAL_RTP_PORT_START"]["value"], env["KDIAL_RTP_PORT_END"]["value"]) == (
        "20000",
        "20999",
    )
    assert json.loads(env["KDIAL_WORKER_NODE_SELECTOR"]["value"]) == {"voip-environment": "rtp"}
    assert json.loads(env["KDIAL_WORKER_TOLERATIONS"]["value"])[0]["key"] == "sip"
    resources = json.loads(env["KDIAL_DIALER_RESOURCES"]["value"])
    assert resources["requests"]["cpu"] == "250m"


def test_worker_pods_follow_the_charts_worker_settings() -> None:
    """What the chart says of worker pods reaches the Deployments the operator writes."""
    settings = _settings_from(operator_container("voice-node-pool"))
    deployment = worker_deployment(
        "team-a", "quickstart", "uid", 1, settings, trunk_pools=["lines"]
    )
    pod = deployment["spec"]["template"]["spec"]
    dialer, freeswitch = pod["containers"]

    assert manifest_problems(deployment) == []
    assert (pod["hostNetwork"], pod["dnsPolicy"]) == (True, "ClusterFirstWithHostNet")
    assert pod["nodeSelector"] == {"voip-environment": "rtp"}
    assert pod["tolerations"][0]["key"] == "sip"
    fs_env = {e["name"]: e.get("value") for e in freeswitch["env"]}
    assert (fs_env["SIP_PORT"], fs_env["RTP_PORT_START"], fs_env["RTP_PORT_END"]) == (
        "5080",
        "20000",
        "20999",
    )
    assert {p["containerPort"] for p in freeswitch["ports"]} == {5080}
    assert dialer["resources"] == SCENARIO_DEFAULT_RESOURCES["dialer"]
    assert freeswitch["resources"] == SCENARIO_DEFAULT_RESOURCES["freeswitch"]
    plain = worker_deployment(
        "team-a", "quickstart", "uid", 1, OperatorSettings(), trunk_pools=["lines"]
    )
    assert "hostNetwork" not in plain["spec"]["template"]["spec"]


def test_an_rtp_range_upside_down_is_refused_naming_both_settings() -> None:
    with (
        mock.patch.dict(
            os.environ, {"KDIAL_RTP_PORT_START": "30000", "KDIAL_RTP_PORT_END": "20000"}
        ),
        pytest.raises(ValueError, match="KDIAL_RTP_PORT_END"),
    ):
        OperatorSettings()


# The Pod Security Standards' "restricted" profile (which includes "baseline"), as the rules a
# pod is checked by: https://kubernetes.io/docs/concepts/security/pod-security-standards/
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
RESTRICTED_SECCOMP = frozenset({"RuntimeDefault", "Localhost"})
RESTRICTED_CAPABILITIES_ADDED = frozenset({"NET_BIND_SERVICE"})
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What the "restricted" Pod Security profile refuses in a pod spec."""
    found = [f"spec.{key}" for key in HOST_NAMESPACES if pod.get(key)]
    pod_security = pod.get("securityContext", {})
    for volume in pod.get("volumes", []):
        types = set(volume) - {"name"}
        if not types <= RESTRICTED_VOLUME_TYPES:
            found.append(f"volume {volume['name']}: {sorted(types)}")
    containers = [*pod.get("initContainers", []), *pod["containers"]]
    for container in containers:
        security = container.get("securityContext", {})
        name = container["name"]

        def effective(key: str, security: dict[str, Any] = security) -> Any:
            return security.get(key, pod_security.get(key))

        if security.get("privileged"):
            found.append(f"{name}: privileged")
        if security.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation is not false")
        if effective("runAsNonRoot") is not True or effective("runAsUser") == 0:
            found.append(f"{name}: may run as root")
        if (effective("seccompProfile") or {}).get("type") not in RESTRICTED_SECCOMP:
            found.append(f"{name}: no RuntimeDefault or Localhost seccomp profile")
        capabilities = security.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            found.append(f"{name}: capabilities not dropped (ALL)")
        if not set(capabilities.get("add", [])) <= RESTRICTED_CAPABILITIES_ADDED:
            found.append(f"{name}: adds {capabilities['add']}")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            found.append(f"{name}: hostPort")
    return found


def _worker_pod(scenario: str) -> dict[str, Any]:
    settings = _settings_from(operator_container(scenario))
    deployment = worker_deployment("team-a", "promo", "uid", 1, settings, trunk_pools=["lines"])
    return dict(deployment["spec"]["template"]["spec"])


def test_the_restricted_rules_catch_what_they_are_about() -> None:
    """The rules above refuse a pod as the profile does, so a pass below means something."""
    pod = _worker_pod("defaults")
    loose = copy.deepcopy(pod)
    del loose["securityContext"]
    loose["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    loose["containers"][1]["securityContext"] = {"capabilities": {"add": ["NET_ADMIN"]}}

    assert restricted_violations(loose) == [
        "volume host: ['hostPath']",
        "dialer: no RuntimeDefault or Localhost seccomp profile",
        "freeswitch: allowPrivilegeEscalation is not false",
        "freeswitch: may run as root",
        "freeswitch: no RuntimeDefault or Localhost seccomp profile",
        "freeswitch: capabilities not dropped (ALL)",
        "freeswitch: adds ['NET_ADMIN']",
    ]
    assert restricted_violations(_worker_pod("voice-node-pool")) == ["spec.hostNetwork"]


@pytest.mark.parametrize("name", ["defaults", "watch-namespaces", "everything"])
def test_worker_pods_pass_the_restricted_pod_security_profile(name: str) -> None:
    """A namespace that enforces "restricted" admits the worker pods the chart's operator
    writes (not with worker.hostNetwork, which the values say needs a privileged namespace)."""
    pod = _worker_pod(name)

    assert restricted_violations(pod) == []
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    freeswitch = pod["containers"][1]
    assert freeswitch["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in freeswitch["volumeMounts"]}
    assert {f"/usr/local/freeswitch/{d}" for d in ("db", "log", "run", "recordings")} <= mounts


def test_host_network_needs_a_privileged_namespace_and_the_values_say_so() -> None:
    values_text = (CHART / "values.yaml").read_text("utf-8")
    comment = values_text.split("hostNetwork: false")[0].rsplit("# --", 1)[1]

    assert "restricted" in comment
    assert "pod-security.kubernetes.io/enforce: privileged" in comment


@pytest.mark.parametrize("grace", [120, 30, 600])
def test_the_switch_outlives_the_dialers_drain(grace: int) -> None:
    """On SIGTERM the dialer drains for KDIAL_DRAIN_SECONDS, then hangs up and exits; the
    switch's preStop hook holds FreeSWITCH up until then, and ends before the kubelet's
    SIGKILL at terminationGracePeriodSeconds, leaving FreeSWITCH time to stop itself."""
    with mock.patch.dict(os.environ, {"KDIAL_WORKER_GRACE_SECONDS": str(grace)}):
        settings = OperatorSettings()
    pod = worker_deployment("team-a", "promo", "uid", 1, settings, trunk_pools=["lines"])["spec"][
        "template"
    ]["spec"]
    dialer, freeswitch = pod["containers"]
    drain = int(env_of(dialer)["KDIAL_DRAIN_SECONDS"]["value"])
    command = freeswitch["lifecycle"]["preStop"]["exec"]["command"]
    program, cap, dialer_port = command

    assert program == "kdial-freeswitch-drain"
    assert drain < int(cap) < pod["terminationGracePeriodSeconds"] == grace
    # The hook knows the dialer is gone when its metrics port closes.
    assert {"name": "metrics", "containerPort": int(dialer_port), "protocol": "TCP"} in dialer[
        "ports"
    ]
    assert "preStop" not in dialer.get("lifecycle", {}), "the dialer drains on SIGTERM itself"
    script = (REPO / "images" / "freeswitch" / "drain.sh").read_text("utf-8")
    dockerfile = (REPO / "images" / "freeswitch" / "Dockerfile").read_text("utf-8")
    assert f"/usr/local/bin/{program}" in dockerfile
    assert "show channels count" in script


def test_freeswitch_gets_the_charts_session_rate() -> None:
    settings = _settings_from(operator_container("defaults"))
    pod = worker_deployment("team-a", "promo", "uid", 1, settings, trunk_pools=["lines"])["spec"][
        "template"
    ]["spec"]
    fs_env = env_of(pod["containers"][1])

    assert settings.sessions_per_second == 30
    assert fs_env["SESSIONS_PER_SECOND"]["value"] == "30"
    assert fs_env["ESL_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "password"


def test_the_freeswitch_image_the_chart_names_is_the_one_the_repository_builds() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())["worker"]["freeswitchImage"]
    dockerfile = (REPO / "images" / "freeswitch" / "Dockerfile").read_text("utf-8")
    version = re.search(r"^ARG FREESWITCH_VERSION=v(\d+\.\d+)\.\d+$", dockerfile, re.M)

    assert values["repository"] == "ghcr.io/kdial/freeswitch"
    assert version is not None and values["tag"] == version.group(1)


#: The chart's default worker resources, which the operator's own defaults mirror.
SCENARIO_DEFAULT_RESOURCES = yaml.safe_load((CHART / "values.yaml").read_text())["worker"][
    "resources"
]


# RBAC


def _rules(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = doc.get("rules", [])
    return rules


def _operator_roles(name: str) -> list[dict[str, Any]]:
    return [
        doc
        for doc in render(name).objects
        if doc["kind"] in {"Role", "ClusterRole"}
        and doc["metadata"]["labels"].get("app.kubernetes.io/component") == "operator"
    ]


def _grants(roles: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for role in roles
        for rule in _rules(role)
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("name", SCENARIOS)
def test_rbac_has_no_wildcards_and_reads_secrets_only_by_name(name: str) -> None:
    for doc in render(name).objects:
        for rule in _rules(doc):
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(key, []), (doc["metadata"]["name"], rule)
            if any(r.startswith("secrets") for r in rule["resources"]):
                # Read by name, written only by apply (the pools' gateways); never listed.
                assert rule["resources"] == ["secrets"], rule
                assert rule["verbs"] in (["get"], ["create", "patch"]), rule
            assert "escalate" not in rule["verbs"]
            assert "bind" not in rule["verbs"]


@pytest.mark.parametrize("name", ["defaults", "watch-namespaces"])
def test_every_operator_rule_says_whom_it_is_for(name: str) -> None:
    text = render(name).text("rbac.yaml")
    operator_part = text.split("# Users:")[0]

    rules = re.findall(r"^\s*- apiGroups:", operator_part, re.MULTILINE)
    reasons = re.findall(r"^\s*# (Framework|Application): ", operator_part, re.MULTILINE)

    assert rules
    assert len(reasons) == len(rules)


#: What the operator calls on the API (kdial_operator.kube, its kopf handlers, kopf itself).
OPERATOR_CALLS = {
    *{
        ("kdial.io", plural, verb)
        for plural in ("campaigns", "trunkpools", "calleridpools", "contactlists")
        for verb in ("list", "watch", "patch")
    },
    *{
        ("kdial.io", f"{plural}/status", "patch")
        for plural in ("campaigns", "trunkpools", "calleridpools", "contactlists")
    },
    *{("apps", "deployments", verb) for verb in ("get", "create", "patch", "delete")},
    ("policy", "poddisruptionbudgets", "create"),
    ("policy", "poddisruptionbudgets", "patch"),
    # Not a call: what blockOwnerDeletion on the Deployment's owner reference requires.
    ("kdial.io", "campaigns/finalizers", "update"),
    ("", "configmaps", "get"),
    ("", "secrets", "get"),
    # The pools' gateways Secrets, by server-side apply: create when absent, else patch.
    ("", "secrets", "create"),
    ("", "secrets", "patch"),
    ("", "events", "create"),
    ("events.k8s.io", "events", "create"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
}


def test_every_call_the_operator_makes_itself_is_in_its_rbac() -> None:
    """kube.py is the operator's one way to the API besides kopf. The emulator the integration
    tests run against has no RBAC, so a call missing here would fail only in a real cluster."""
    source = (REPO / "operator" / "kdial_operator" / "kube.py").read_text("utf-8")
    calls = re.findall(
        r"self\.(apps|core|custom|policy)\.(read|create|patch|delete)_namespaced_(\w+)", source
    )
    assert len(calls) >= 6, calls
    verbs = {"read": "get", "create": "create", "patch": "patch", "delete": "delete"}
    for api, verb, what in calls:
        if what == "custom_object_status":
            wanted = {("kdial.io", f"{kind.plural}/status", "patch") for kind in KINDS}
        else:
            group = {"apps": "apps", "core": "", "policy": "policy"}[api]
            wanted = {(group, what.replace("_", "") + "s", verbs[verb])}
        assert wanted <= OPERATOR_CALLS, (api, verb, what)


def test_the_worker_deployment_is_applied_server_side_with_create_and_patch() -> None:
    """Server-side apply creates the Deployment when it is absent: the API server authorizes
    that as create, the rest as patch. Never a strategic merge of the whole manifest, which a
    real server refuses (the FreeSWITCH container lists its SIP port twice)."""
    assert "self.apps.patch_namespaced_deployment" in inspect.getsource(Kube.apply_deployment)
    source = inspect.getsource(kube._apply)
    assert "_content_type=APPLY_PATCH" in source and "field_manager=FIELD_MANAGER" in source
    assert APPLY_PATCH == "application/apply-patch+yaml"
    assert {("apps", "deployments", "create"), ("apps", "deployments", "patch")} <= OPERATOR_CALLS


def test_the_operator_may_make_a_campaign_wait_for_its_workers_deletion() -> None:
    deployment = worker_deployment(
        "sales", "promo", "uid-1", 1, OperatorSettings(), trunk_pools=["lines"]
    )
    (owner,) = deployment["metadata"]["ownerReferences"]
    assert owner["kind"] == "Campaign" and owner["blockOwnerDeletion"] is True
    for name in ("defaults", "watch-namespaces"):
        grants = _grants(_operator_roles(name))
        assert ("kdial.io", "campaigns/finalizers", "update") in grants, name


def test_cluster_wide_rbac_is_exactly_what_the_operator_calls() -> None:
    roles = _operator_roles("defaults")
    peering = {("kopf.dev", "clusterkopfpeerings", v) for v in ("get", "list", "watch", "patch")}

    assert [r["kind"] for r in roles] == ["ClusterRole"]
    assert _grants(roles) == OPERATOR_CALLS | peering
    binding = render("defaults").one("ClusterRoleBinding", "kdial-operator")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kdial-operator", "namespace": NAMESPACE}
    ]


def test_namespaced_rbac_grants_per_namespace() -> None:
    roles = _operator_roles("watch-namespaces")
    cluster = [r for r in roles if r["kind"] == "ClusterRole"]
    namespaced = {r["metadata"]["namespace"]: r for r in roles if r["kind"] == "Role"}
    cluster_calls = {c for c in OPERATOR_CALLS if c[0] == "apiextensions.k8s.io"}
    peering = {("kopf.dev", "kopfpeerings", v) for v in ("get", "list", "watch", "patch")}

    assert set(namespaced) == {"team-a", "team-b"}
    assert _grants(cluster) == cluster_calls | {
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
    }
    for role in namespaced.values():
        assert _grants([role]) == (OPERATOR_CALLS - cluster_calls) | peering
    bindings = render("watch-namespaces").of_kind("RoleBinding")
    assert {b["metadata"]["namespace"] for b in bindings} == {"team-a", "team-b"}
    assert all(b["subjects"][0]["namespace"] == NAMESPACE for b in bindings)


def test_user_roles_aggregate_into_the_built_in_ones() -> None:
    view = render("defaults").one("ClusterRole", "kdial-view")
    edit = render("defaults").one("ClusterRole", "kdial-edit")

    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert "aggregate-to-view" not in json.dumps(edit["metadata"]["labels"])
    assert not render("own-service-account").of_kind("ClusterRole")
    assert not render("own-service-account").of_kind("ServiceAccount")
    pod = operator_deployment("own-service-account")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kdial-sa"


# CRDs and peering


def test_crd_templates_are_generated_from_the_models() -> None:
    directory = CHART / "templates" / "crds"
    on_disk = {path.name: path.read_text("utf-8") for path in directory.glob("*.yaml")}

    assert on_disk == chart_cli.chart_crd_files()
    assert chart_cli.check(directory) == []


def test_rendered_crds_equal_the_generated_ones() -> None:
    rendered = {
        c["metadata"]["name"]: c for c in render("defaults").of_kind("CustomResourceDefinition")
    }
    wanted = {c["metadata"]["name"]: c for c in chart_cli.chart_crd_manifests()}

    peering = {"kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"}
    assert set(rendered) == set(wanted) == {k.crd_name for k in KINDS} | peering
    for name, crd in rendered.items():
        meta = crd.pop("metadata")
        expected = dict(wanted[name])
        expected_meta = expected.pop("metadata")
        assert crd == expected, name
        assert meta["labels"].items() >= expected_meta.get("labels", {}).items()
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert meta["annotations"] == {"helm.sh/resource-policy": "keep"}
    for kind in KINDS:
        on_disk = yaml.safe_load((REPO / "crds" / f"{kind.crd_name}.yaml").read_text("utf-8"))
        assert on_disk == crd_manifest(kind), "crds/ is stale: run `kdial crds`"


def test_crds_switches() -> None:
    assert not render("crds-off").of_kind("CustomResourceDefinition")
    shared = {
        c["metadata"]["name"]
        for c in render("kopf-crds-from-elsewhere").of_kind("CustomResourceDefinition")
    }
    assert shared == {kind.crd_name for kind in KINDS}
    assert render("kopf-crds-from-elsewhere").of_kind("ClusterKopfPeering")
    not_kept = render("crds-not-kept").of_kind("CustomResourceDefinition")
    assert not_kept
    assert all("annotations" not in crd["metadata"] for crd in not_kept)


def test_a_template_escapes_what_go_templates_would_read() -> None:
    manifest = crd_manifest(KINDS[0])
    manifest["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"] = "a {{ b }} c"

    text = chart_cli.crd_template(manifest)

    assert '{{ "{{" }} b }}' in text


def test_peering_objects_match_the_operator_scope() -> None:
    cluster = render("defaults")
    namespaced = render("watch-namespaces")
    hook = {
        "helm.sh/hook": "post-install,post-upgrade",
        "helm.sh/hook-delete-policy": "before-hook-creation",
    }

    (peering,) = cluster.of_kind("ClusterKopfPeering")
    assert peering["metadata"]["name"] == "kdial"
    assert peering["metadata"]["annotations"] == hook
    assert not cluster.of_kind("KopfPeering")
    assert not namespaced.of_kind("ClusterKopfPeering")
    assert {
        (p["metadata"]["namespace"], p["metadata"]["name"])
        for p in namespaced.of_kind("KopfPeering")
    } == {("team-a", "kdial"), ("team-b", "kdial")}
    assert not render("peering-off").of_kind("ClusterKopfPeering")


# Secrets and Redis


def _secret_data(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


@pytest.mark.parametrize(
    ("name", "where"), [("defaults", NAMESPACE), ("watch-namespaces", "team-a")]
)
def test_the_notes_try_the_quickstart_where_its_workers_find_their_secrets(
    name: str, where: str
) -> None:
    rendered = render(name)
    assert f"kubectl -n {where} apply -f examples/quickstart/" in rendered.text("NOTES.txt")
    assert {(where, "kdial-esl"), (where, "kdial-redis")} <= {
        (s["metadata"]["namespace"], s["metadata"]["name"]) for s in rendered.of_kind("Secret")
    }


@pytest.mark.parametrize("name", ["defaults", "existing-secrets"])
def test_the_notes_copy_every_secret_worker_pods_read(name: str) -> None:
    """Watching all namespaces, the chart writes the Secrets into its own namespace only: the
    notes say how to copy each one the operator's worker pods read, with its key."""
    notes = render(name).text("NOTES.txt")
    refs = secret_refs(_settings_from(operator_container(name)))

    assert len(refs) == 2
    for secret, key in refs:
        assert (
            f"kubectl -n NS create secret generic {secret} --from-literal={key}="
            f"\"$(kubectl -n {NAMESPACE} get secret {secret} -o jsonpath='{{.data.{key}}}'"
        ) in notes


def test_the_readme_quickstart_goes_where_the_notes_send_it() -> None:
    """Each command of the README's install block runs in the namespace the notes of that
    install (the default values) try the quickstart in, where the workers' Secrets are."""
    block = re.search(r"```sh\n(.*?)```", (CHART / "README.md").read_text("utf-8"), re.S)
    assert block is not None
    install, *commands = block.group(1).strip().splitlines()
    notes = render("defaults").text("NOTES.txt")

    assert f"-n {NAMESPACE} " in install
    assert commands
    for command in commands:
        assert command.startswith(f"kubectl -n {NAMESPACE} "), command
        assert command in notes, command


def test_generated_secrets_in_every_namespace_where_workers_run() -> None:
    secrets = render("watch-namespaces").of_kind("Secret")
    by_place = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in secrets}
    namespaces = {NAMESPACE, "team-a", "team-b"}

    assert set(by_place) == {
        (ns, name) for ns in namespaces for name in ("kdial-redis", "kdial-esl")
    }
    urls = {_secret_data(by_place[(ns, "kdial-redis")])["url"] for ns in namespaces}
    assert len(urls) == 1, "every copy of the Redis URL agrees"
    (url,) = urls
    password = _secret_data(by_place[(NAMESPACE, "kdial-redis")])["password"]
    assert url == f"redis://:{password}@kdial-redis.{NAMESPACE}.svc:6379/0"
    assert len(password) == 32
    auth = _secret_data(by_place[(NAMESPACE, "kdial-redis")])["redis-auth.conf"]
    assert auth == f"requirepass {password}\n"
    for ns in namespaces:
        assert len(_secret_data(by_place[(ns, "kdial-esl")])["password"]) == 32


def test_no_secret_is_written_where_the_user_brings_one() -> None:
    assert not render("existing-secrets").of_kind("Secret")
    secret = render("external-redis-url").one("Secret", "kdial-redis")
    assert _secret_data(secret) == {"url": "redis://:secret@redis.example:6379/0"}
    assert not render("external-redis-url").of_kind("StatefulSet")


def test_bundled_redis_is_durable() -> None:
    rendered = render("defaults")
    config = rendered.one("ConfigMap", "kdial-redis")["data"]["redis.conf"]
    statefulset = rendered.one("StatefulSet", "kdial-redis")
    pod = statefulset["spec"]["template"]["spec"]
    container = pod["containers"][0]
    settings = dict(
        line.split(" ", 1) for line in config.splitlines() if line and not line.startswith("#")
    )

    assert settings["appendonly"] == "yes"
    assert settings["appendfsync"] == "everysec"
    assert settings["maxmemory-policy"] == "noeviction"
    assert settings["dir"] == "/data"
    assert settings["include"] == "/etc/redis/auth/redis-auth.conf"
    assert statefulset["spec"]["replicas"] == 1
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    assert container["command"] == ["redis-server", "/etc/redis/conf/redis.conf"]
    assert "requirepass" not in json.dumps(container), "no password on a command line"
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "tcpSocket" in container["livenessProbe"]
    service = rendered.one("Service", "kdial-redis")
    assert service["spec"]["selector"] == statefulset["spec"]["selector"]["matchLabels"]
    assert statefulset["spec"]["serviceName"] == "kdial-redis-headless"


def test_redis_without_a_volume_uses_an_empty_dir() -> None:
    statefulset = render("redis-without-volume").one("StatefulSet", "kdial-redis")

    assert "volumeClaimTemplates" not in statefulset["spec"]
    volumes = {v["name"]: v for v in statefulset["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}


# Monitoring


def test_monitoring_needs_the_prometheus_operator_api_or_force() -> None:
    for name, present in [
        ("monitoring", True),
        ("monitoring-forced", True),
        ("monitoring-without-the-api", False),
        ("defaults", False),
    ]:
        rendered = render(name)
        assert bool(rendered.of_kind("PodMonitor")) is present, name
        assert bool(rendered.of_kind("PrometheusRule")) is present, name
    assert render("monitoring-without-the-api").of_kind("ConfigMap")
    assert "skipped" in render("monitoring-without-the-api").text("NOTES.txt")


def _monitor(name: str, component: str) -> dict[str, Any]:
    (monitor,) = [
        m for m in render(name).of_kind("PodMonitor") if m["metadata"]["name"].endswith(component)
    ]
    return monitor


def test_the_pod_monitor_selects_the_workers_the_operator_creates() -> None:
    monitor = _monitor("monitoring", "-workers")
    worker = worker_deployment(
        "team-a", "quickstart", "uid", 1, OperatorSettings(), trunk_pools=["lines"]
    )
    pod = worker["spec"]["template"]
    ports = {p["name"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}

    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] in ports
    assert monitor["spec"]["namespaceSelector"] == {"any": True}
    scoped = _monitor("everything", "-workers")
    assert scoped["spec"]["namespaceSelector"] == {"matchNames": ["team-a"]}


def test_the_operators_line_health_metrics_are_scraped() -> None:
    monitor = _monitor("monitoring", "-operator")
    (deployment,) = [
        d
        for d in render("monitoring").of_kind("Deployment")
        if d["metadata"]["name"].endswith("-operator")
    ]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert _settings_from(container).metrics_port == ports["metrics"]


@cache
def worker_metric_names() -> set[str]:
    """Every series name the workers, the operator and the agent API expose."""
    names = set()
    for family in AgentMetrics(agent_label=False).collect():
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    for value in [*vars(metrics).values(), *vars(operator_metrics).values()]:
        if isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif isinstance(value, Histogram):
            names |= {f"{value._name}_{suffix}" for suffix in ("bucket", "sum", "count")}
        elif hasattr(value, "_name") and hasattr(value, "_type"):
            names.add(value._name)
    return names


PROMQL_WORDS = {
    "sum", "by", "on", "and", "or", "unless", "rate", "increase", "max", "histogram_quantile",
    "group_left", "count", "le", "bool",
}  # fmt: skip


def metrics_in(expr: str) -> set[str]:
    """Metric names an expression reads (identifiers outside label matchers and durations)."""
    bare = re.sub(r"\{[^}]*\}|\[[^]]*\]|\"[^\"]*\"", "", expr)
    bare = re.sub(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)", "", bare)
    return {
        word
        for word in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare)
        if word not in PROMQL_WORDS and not word.startswith("$")
    }


def _rule_groups() -> list[dict[str, Any]]:
    (rule,) = render("monitoring").of_kind("PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def test_the_alerts_the_chart_promises() -> None:
    alerts = {r["alert"] for g in _rule_groups() for r in g["rules"] if "alert" in r}

    assert {
        "KdialTrunkEjected",
        "KdialAbandonRateOverCap",
        "KdialCampaignStalled",
        "KdialContactListImportFailed",
    } <= alerts


def test_rules_read_only_metrics_that_exist() -> None:
    recorded = {r["record"] for g in _rule_groups() for r in g["rules"] if "record" in r}
    known = worker_metric_names() | recorded

    read = {name for g in _rule_groups() for r in g["rules"] for name in metrics_in(r["expr"])}

    assert read - known == set()
    assert {"kdial_attempts_total", "kdial_esl_up"} <= read


@pytest.fixture
def promtool() -> str:
    """Prometheus's rule checker; `make test` installs it (Debian: prometheus)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: `make test` installs it (apt-get prometheus)")
    return path


@pytest.mark.usefixtures("promtool")
def test_rules_pass_promtool(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": _rule_groups()}), "utf-8")

    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr


def _series(labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{labels.pop('__name__')}{{{inner}}}", "values": values}


def _attempts(campaign: str, trunk: str, per_minute: dict[str, int]) -> list[dict[str, str]]:
    """A worker's attempt counters over 30 minutes: `per_minute` attempts of each outcome."""
    namespace = campaign.split("/", maxsplit=1)[0]
    return [
        _series(
            {
                "__name__": "kdial_attempts_total",
                "namespace": namespace,
                "campaign": campaign,
                "trunk": trunk,
                "outcome": outcome,
            },
            f"0+{count}x30",
        )
        for outcome, count in per_minute.items()
    ]


def _expected(alert: str, labels: dict[str, str], value: str = "") -> dict[str, Any]:
    """The alert as promtool should see it: labels, and annotations with the templates filled."""
    (rule,) = [r for g in _rule_groups() for r in g["rules"] if r.get("alert") == alert]
    annotations = {}
    for key, template in rule["annotations"].items():
        text = template.replace("{{ $value | humanizePercentage }}", value)
        for name, label in labels.items():
            text = text.replace(f"{{{{ $labels.{name} }}}}", label)
        annotations[key] = text
    return {"exp_labels": labels | rule["labels"], "exp_annotations": annotations}


@pytest.mark.usefixtures("promtool")
def test_alerts_fire_on_synthetic_series(tmp_path: Path) -> None:
    """The alerts' PromQL, run by Prometheus's own rule engine over made-up series: each fires
    where it should, and stays quiet where it should."""
    series = [
        # carrier-a loses 60% of its calls; carrier-b none.
        *_attempts("team-a/sales", "carrier-a", {"CallLoss": 6, "NoAnswer": 4}),
        *_attempts("team-a/sales", "carrier-b", {"AnsweredHuman": 9, "Abandoned": 1}),
        # Three campaigns abandoning 10% of answered calls: sales has no cap of its own (the
        # chart's 3% applies), lenient allows 20%, strict 5%.
        *_attempts("team-a/lenient", "carrier-b", {"AnsweredHuman": 9, "Abandoned": 1}),
        *_attempts("team-a/strict", "carrier-b", {"AnsweredHuman": 9, "Abandoned": 1}),
        _series({"__name__": "kdial_campaign_max_abandon_ratio", "campaign": "team-a/lenient"},
                "0.2x30"),
        _series({"__name__": "kdial_campaign_max_abandon_ratio", "campaign": "team-a/strict"},
                "0.05x30"),
        # idle says it is dialing but its counters stand still; sales dials.
        _series({"__name__": "kdial_attempts_total", "campaign": "team-a/idle", "trunk": "t",
                 "outcome": "NoAnswer"}, "5x30"),
        *[
            _series({"__name__": "kdial_campaign_condition", "campaign": c, "condition": "Dialing",
                     "status": "True"}, "1x30")
            for c in ("team-a/idle", "team-a/sales")
        ],
        # sales's pacer is braked (on the worker that paces it; the other exports no brake).
        _series({"__name__": "kdial_pacer_braked", "campaign": "team-a/sales", "pod": "w-1"},
                "1x30"),
        _series({"__name__": "kdial_pacer_braked", "campaign": "team-a/lenient", "pod": "w-2"},
                "0x30"),
        # One worker lost its switch.
        _series({"__name__": "kdial_esl_up", "namespace": "team-a", "pod": "w-1"}, "0x30"),
        _series({"__name__": "kdial_esl_up", "namespace": "team-a", "pod": "w-2"}, "1x30"),
    ]  # fmt: skip
    expected = {
        "KdialTrunkCallLossHigh": [
            _expected(
                "KdialTrunkCallLossHigh", {"namespace": "team-a", "trunk": "carrier-a"}, "60%"
            )
        ],
        "KdialAbandonRateOverCap": [
            _expected("KdialAbandonRateOverCap", {"campaign": c}, "10%")
            for c in ("team-a/sales", "team-a/strict")
        ],
        "KdialPacerBraked": [_expected("KdialPacerBraked", {"campaign": "team-a/sales"})],
        "KdialCampaignStalled": [_expected("KdialCampaignStalled", {"campaign": "team-a/idle"})],
        "KdialEventSocketDown": [
            _expected("KdialEventSocketDown", {"namespace": "team-a", "pod": "w-1"})
        ],
        "KdialTrunkEjected": [],
        "KdialContactListImportFailed": [],
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": _rule_groups()}), "utf-8")
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "25m", "alertname": name, "exp_alerts": alerts}
                    for name, alerts in expected.items()
                ],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests), "utf-8")

    result = subprocess.run(
        ["promtool", "test", "rules", "tests.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_shows_the_worker_and_line_health_metrics() -> None:
    config_map = render("monitoring").one("ConfigMap", "kdial-dashboard")
    dashboard = json.loads(config_map["data"]["kdial.json"])
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    read = set().union(*(metrics_in(e) for e in exprs))

    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["uid"] == "kdial-overview"
    assert read - worker_metric_names() == set()
    assert {
        "kdial_attempts_total",
        "kdial_calls_active",
        "kdial_originate_latency_seconds_bucket",
        "kdial_post_dial_delay_seconds_bucket",
        "kdial_permits_denied_total",
        "kdial_esl_up",
        "kdial_trunk_weight",
        "kdial_campaign_contacts",
        "kdial_campaign_waiting_contacts",
    } <= read
    assert all(panel["gridPos"]["w"] <= 24 for panel in dashboard["panels"])
    assert {
        "kdial_agent_talk_seconds_total",
        "kdial_agent_idle_seconds_total",
        "kdial_agent_calls_handled_total",
        "kdial_agent_dispositions_total",
        "kdial_agents",
    } <= read, "the agents' panels"


# The agent API


def test_the_agent_api_is_served_checked_for_health_and_reachable() -> None:
    deployment = render("defaults").one("Deployment", "kdial-api")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert args[0] == "api"
    api_cli.build_parser().parse_args(args[1:])  # every flag the chart passes exists
    assert "--metrics-agent-label" not in args, "no agent names in labels unless opted in"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert env_of(container)["KDIAL_REDIS_URL"]["valueFrom"]["secretKeyRef"]["key"] == "url"
    assert pod["serviceAccountName"] == "kdial-api"
    service = render("defaults").one("Service", "kdial-api")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    opted_in = render_values({"api": {"metrics": {"agentLabel": True}}})
    assert (
        "--metrics-agent-label"
        in opted_in.one("Deployment", "kdial-api")["spec"]["template"]["spec"]["containers"][0][
            "args"
        ]
    )


#: What the agent API calls on the API server (kdial_api.cluster): the tokens Secret by name,
#: campaigns and contact lists.
API_CALLS = {
    ("", "secrets", "get"),
    ("kdial.io", "campaigns", "get"),
    ("kdial.io", "contactlists", "get"),
}


def _api_roles(name: str) -> list[dict[str, Any]]:
    return [
        doc
        for doc in render(name).objects
        if doc["kind"] in {"Role", "ClusterRole"}
        and doc["metadata"]["labels"].get("app.kubernetes.io/component") == "api"
    ]


def test_the_agent_api_reads_only_the_tokens_secret_and_what_agents_log_in_to() -> None:
    source = (REPO / "dialer-worker" / "kdial_api" / "cluster.py").read_text("utf-8")
    calls = set(re.findall(r"self\.(core|custom)\.(read|get)_namespaced_(\w+)", source))
    assert calls == {("core", "read", "secret"), ("custom", "get", "custom_object")}
    (role,) = _api_roles("defaults")
    assert role["kind"] == "ClusterRole"
    assert _grants([role]) == API_CALLS
    secrets = next(r for r in role["rules"] if r["resources"] == ["secrets"])
    assert secrets["resourceNames"] == ["kdial-agent-tokens"]
    binding = render("defaults").one("ClusterRoleBinding", "kdial-api")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "kdial-api", "namespace": NAMESPACE}
    ]
    namespaced = _api_roles("watch-namespaces")
    assert {(r["kind"], r["metadata"]["namespace"]) for r in namespaced} == {
        ("Role", "team-a"),
        ("Role", "team-b"),
    }
    assert all(_grants([r]) == API_CALLS for r in namespaced)
    assert not _api_roles("own-service-account")


def test_the_agent_apis_metrics_are_scraped_keeping_the_campaigns_namespace() -> None:
    monitor = _monitor("monitoring", "-api")
    deployment = render("monitoring").one("Deployment", "kdial-api")
    pod = deployment["spec"]["template"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]

    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    assert endpoint["honorLabels"] is True, "the series' namespace is the campaign's"
