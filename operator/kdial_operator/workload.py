"""The worker Deployment of a campaign (one dialer container beside one FreeSWITCH container),
and its PodDisruptionBudget."""

from __future__ import annotations

from collections.abc import Sequence

from kdial.api.kinds import API_VERSION, CAMPAIGN
from kdial.state import gateways as contract
from kdial_operator.manifests import (
    Container,
    Deployment,
    EnvVar,
    KeyToPath,
    ObjectMeta,
    PodDisruptionBudget,
    PodSpec,
    Volume,
    VolumeMount,
    VolumeProjection,
)
from kdial_operator.settings import OperatorSettings

METRICS_PORT = 9100
#: Seconds FreeSWITCH gets after its preStop hook to shut down before the pod's grace period
#: ends; the hook waits at most until then for the dialer to drain.
SWITCH_STOP_SECONDS = 5
#: The directories FreeSWITCH writes to (its image's root filesystem is read-only): volume
#: name -> mount path. Nothing in them outlives the pod.
SWITCH_WRITABLE = {
    "freeswitch-db": "/usr/local/freeswitch/db",
    "freeswitch-log": "/usr/local/freeswitch/log",
    "freeswitch-run": "/usr/local/freeswitch/run",
    "freeswitch-recordings": "/usr/local/freeswitch/recordings",
    "freeswitch-storage": "/usr/local/freeswitch/storage",
    "freeswitch-cache": "/usr/local/freeswitch/cache",
    "freeswitch-tmp": "/tmp",  # noqa: S108 (the container's own /tmp, an emptyDir)
}
#: The kdial image's user and group (the Dockerfile's USER).
KDIAL_UID = 10001
MANAGED_BY = {"app.kubernetes.io/managed-by": "kdial-operator"}


def deployment_name(campaign: str) -> str:
    # Deployment names are DNS subdomains of at most 253 characters; pod names derived from
    # them get cut at 63, which Kubernetes handles itself.
    return f"kdial-worker-{campaign}"[:253]


def labels(campaign: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "kdial-worker",
        "app.kubernetes.io/instance": campaign[:63],
        "app.kubernetes.io/part-of": "kdial",
        "kdial.io/campaign": campaign[:63],
    }


def secret_refs(settings: OperatorSettings) -> list[tuple[str, str]]:
    """The Secrets (name, key) worker pods read through secretKeyRef: a pod cannot start
    without them, and can only read those of its own namespace."""
    refs = [(settings.esl_password_secret, "password")]
    if settings.redis_url_secret:
        refs.append((settings.redis_url_secret, "url"))
    return refs


def worker_deployment(
    namespace: str,
    campaign: str,
    uid: str,
    replicas: int,
    settings: OperatorSettings,
    *,
    trunk_pools: Sequence[str],
) -> Deployment:
    """The Deployment manifest; owned by the Campaign, so deleting the Campaign removes it.
    Its pods mount the gateways the operator compiled from each of `trunk_pools`."""
    selector = labels(campaign)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _owned(namespace, campaign, uid),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            # Surge, never take a worker down early: a worker going away drains its calls.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": selector,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(METRICS_PORT),
                    },
                },
                "spec": _pod_spec(namespace, campaign, settings, trunk_pools),
            },
        },
    }


def worker_disruption_budget(namespace: str, campaign: str, uid: str) -> PodDisruptionBudget:
    """The workers' PodDisruptionBudget, owned by the Campaign: a node drain or a scale-down
    evicts one worker at a time, each draining its calls, never the whole campaign at once. Not
    `minAvailable`, which would stop a drain for good where a campaign runs one worker."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _owned(namespace, campaign, uid),
        "spec": {"selector": {"matchLabels": labels(campaign)}, "maxUnavailable": 1},
    }


def _owned(namespace: str, campaign: str, uid: str) -> ObjectMeta:
    return {
        "name": deployment_name(campaign),
        "namespace": namespace,
        "labels": labels(campaign) | MANAGED_BY,
        "ownerReferences": [
            {
                "apiVersion": API_VERSION,
                "kind": CAMPAIGN.kind,
                "name": campaign,
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }


def _pod_spec(
    namespace: str, campaign: str, settings: OperatorSettings, trunk_pools: Sequence[str]
) -> PodSpec:
    spec: PodSpec = {
        # Workers never talk to the Kubernetes API: no token to steal.
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": settings.worker_grace_seconds,
        # The Pod Security "restricted" profile, which each container completes.
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_dialer(namespace, campaign, settings), _freeswitch(settings)],
        "volumes": [
            *(Volume(name=name, emptyDir={}) for name in SWITCH_WRITABLE),
            # The switch reads every pool's gateways here; the dialer sees their generations
            # change and tells the switch to rescan. Not optional: a pod without them cannot
            # dial. One volume, so the kubelet updates every pool's files at once.
            Volume(
                name=contract.VOLUME,
                projected={
                    "sources": [_gateways_source(pool) for pool in dict.fromkeys(trunk_pools)]
                },
            ),
        ],
    }
    if settings.worker_service_account:
        spec["serviceAccountName"] = settings.worker_service_account
    if settings.worker_host_network:
        # On the host network the pod still resolves cluster names (the Redis Service).
        spec |= {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}
    if settings.worker_node_selector:
        spec["nodeSelector"] = settings.worker_node_selector
    if settings.worker_tolerations:
        spec["tolerations"] = settings.worker_tolerations
    return spec


def _gateways_source(pool: str) -> VolumeProjection:
    items: list[KeyToPath] = [
        {"key": contract.XML_KEY, "path": contract.xml_file(pool)},
        {"key": contract.GENERATION_KEY, "path": contract.generation_file(pool)},
    ]
    return {"secret": {"name": contract.secret_name(pool), "items": items}}


def _dialer(namespace: str, campaign: str, settings: OperatorSettings) -> Container:
    redis_url: EnvVar = (
        {
            "name": "KDIAL_REDIS_URL",
            "valueFrom": {"secretKeyRef": {"name": settings.redis_url_secret, "key": "url"}},
        }
        if settings.redis_url_secret
        else {"name": "KDIAL_REDIS_URL", "value": settings.redis_url}
    )
    return {
        "name": "dialer",
        "image": settings.worker_image,
        "args": ["worker", "--campaign", f"{namespace}/{campaign}"],
        "env": [
            redis_url,
            {"name": "KDIAL_ESL_HOST", "value": "127.0.0.1"},
            {"name": "KDIAL_ESL_PORT", "value": str(settings.esl_port)},
            {
                "name": "KDIAL_ESL_PASSWORD",
                "valueFrom": {
                    "secretKeyRef": {"name": settings.esl_password_secret, "key": "password"}
                },
            },
            {"name": "KDIAL_METRICS_PORT", "value": str(METRICS_PORT)},
            {"name": contract.DIR_ENV, "value": contract.DIALER_DIR},
            {
                "name": "KDIAL_DRAIN_SECONDS",
                "value": str(max(settings.worker_grace_seconds - 10, 1)),
            },
        ],
        # The protocol is part of a port's key in a server-side apply: named, not defaulted.
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "metrics"}, "periodSeconds": 5},
        "resources": settings.dialer_resources,
        "volumeMounts": [
            {"name": contract.VOLUME, "mountPath": contract.DIALER_DIR, "readOnly": True}
        ],
        # The kdial image's user, named here too so that an image built otherwise still runs
        # as it. It writes nothing at run time: no volume for the read-only root.
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": KDIAL_UID,
            "runAsGroup": KDIAL_UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def _freeswitch(settings: OperatorSettings) -> Container:
    return {
        "name": "freeswitch",
        "image": settings.freeswitch_image,
        "env": [
            {
                "name": "ESL_PASSWORD",
                "valueFrom": {
                    "secretKeyRef": {"name": settings.esl_password_secret, "key": "password"}
                },
            },
            {"name": "ESL_PORT", "value": str(settings.esl_port)},
            {"name": "SIP_PORT", "value": str(settings.sip_port)},
            {"name": "RTP_PORT_START", "value": str(settings.rtp_port_start)},
            {"name": "RTP_PORT_END", "value": str(settings.rtp_port_end)},
            {"name": "SESSIONS_PER_SECOND", "value": str(settings.sessions_per_second)},
        ],
        # RTP ranges are not listed: a port per entry would be thousands of entries, and
        # containerPorts are informational (hostNetwork exposes them all anyway).
        "ports": [
            {"name": "sip", "containerPort": settings.sip_port, "protocol": "UDP"},
            {"name": "sip-tcp", "containerPort": settings.sip_port, "protocol": "TCP"},
        ],
        "resources": settings.freeswitch_resources,
        # The switch outlives the dialer's drain: calls in flight end as the dialer decides, not
        # SYSTEM_SHUTDOWN when the kubelet stops both containers at once.
        "lifecycle": {
            "preStop": {
                "exec": {
                    "command": [
                        "kdial-freeswitch-drain",
                        str(max(settings.worker_grace_seconds - SWITCH_STOP_SECONDS, 1)),
                        str(METRICS_PORT),
                    ]
                }
            }
        },
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            *(VolumeMount(name=name, mountPath=path) for name, path in SWITCH_WRITABLE.items()),
            {"name": contract.VOLUME, "mountPath": contract.SWITCH_DIR, "readOnly": True},
        ],
    }
