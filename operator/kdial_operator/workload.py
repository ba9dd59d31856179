"""The worker Deployment of a campaign: one dialer container beside one FreeSWITCH container."""

from __future__ import annotations

from typing import Any

from kdial.api.kinds import API_VERSION, CAMPAIGN
from kdial_operator.settings import OperatorSettings

METRICS_PORT = 9100
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


def worker_deployment(
    namespace: str, campaign: str, uid: str, replicas: int, settings: OperatorSettings
) -> dict[str, Any]:
    """The Deployment manifest; owned by the Campaign, so deleting the Campaign removes it."""
    selector = labels(campaign)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": deployment_name(campaign),
            "namespace": namespace,
            "labels": selector | MANAGED_BY,
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
        },
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
                "spec": _pod_spec(namespace, campaign, settings),
            },
        },
    }


def _pod_spec(namespace: str, campaign: str, settings: OperatorSettings) -> dict[str, Any]:
    spec: dict[str, Any] = {
        # Workers never talk to the Kubernetes API: no token to steal.
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": settings.worker_grace_seconds,
        "containers": [_dialer(namespace, campaign, settings), _freeswitch(settings)],
    }
    if settings.worker_service_account:
        spec["serviceAccountName"] = settings.worker_service_account
    return spec


def _dialer(namespace: str, campaign: str, settings: OperatorSettings) -> dict[str, Any]:
    redis_url: dict[str, Any] = (
        {"valueFrom": {"secretKeyRef": {"name": settings.redis_url_secret, "key": "url"}}}
        if settings.redis_url_secret
        else {"value": settings.redis_url}
    )
    return {
        "name": "dialer",
        "image": settings.worker_image,
        "args": ["worker", "--campaign", f"{namespace}/{campaign}"],
        "env": [
            {"name": "KDIAL_REDIS_URL", **redis_url},
            {"name": "KDIAL_ESL_HOST", "value": "127.0.0.1"},
            {"name": "KDIAL_ESL_PORT", "value": str(settings.esl_port)},
            {
                "name": "KDIAL_ESL_PASSWORD",
                "valueFrom": {
                    "secretKeyRef": {"name": settings.esl_password_secret, "key": "password"}
                },
            },
            {"name": "KDIAL_METRICS_PORT", "value": str(METRICS_PORT)},
            {
                "name": "KDIAL_DRAIN_SECONDS",
                "value": str(max(settings.worker_grace_seconds - 10, 1)),
            },
        ],
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "metrics"}, "periodSeconds": 5},
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def _freeswitch(settings: OperatorSettings) -> dict[str, Any]:
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
        ],
        "ports": [
            {"name": "sip", "containerPort": 5060, "protocol": "UDP"},
        ],
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
    }
