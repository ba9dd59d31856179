"""What a Deployment's pods should be, decided the way Kubernetes decides it (pure).

The kubelet (kdial_local.kubelet) runs a Deployment's pods as local processes. These functions
make its decisions without touching a process or the API: which pods to start and which to
stop to reach `spec.replicas`, the Deployment status that reports them, and the environment of
a container with its Secret references resolved.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Characters of the random suffix of pod names, as the ReplicaSet controller picks them.
_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class PodView:
    """What the decisions need to know about one running pod."""

    name: str
    template_hash: str
    ready: bool
    started: float
    """When the pod started (seconds, any monotonic clock)."""


@dataclass(frozen=True)
class Plan:
    """How to bring a Deployment's pods to its spec: how many to start, which to stop."""

    start: int
    stop: tuple[str, ...]


def template_hash(template: Mapping[str, Any]) -> str:
    """A stable hash of a pod template: pods of an older template are replaced."""
    text = json.dumps(template, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def pod_name(deployment: str, hash_: str, rng: random.Random) -> str:
    """`<deployment>-<template hash>-<5 random>`, like the pods of a ReplicaSet."""
    suffix = "".join(rng.choice(_SUFFIX) for _ in range(5))
    return f"{deployment}-{hash_}-{suffix}"


def plan(replicas: int, current_hash: str, pods: Sequence[PodView]) -> Plan:
    """Pods to start and stop so that `replicas` pods of the current template run.

    A rolling update with maxUnavailable 0 (what kdial's worker Deployments ask for): pods of
    an older template go only once as many current pods are ready as the spec wants, so the
    campaign never has fewer dialers than it asked for. On scale-down the pods stopped first
    are, as the ReplicaSet controller orders them, the not-ready ones, then the youngest.
    """
    current = [p for p in pods if p.template_hash == current_hash]
    outdated = [p for p in pods if p.template_hash != current_hash]
    start = max(replicas - len(current), 0)
    surplus = sorted(current, key=_deletion_order)[: max(len(current) - replicas, 0)]
    ready_current = sum(p.ready for p in current) - sum(p.ready for p in surplus)
    stop = list(surplus)
    if ready_current >= replicas:
        stop += outdated
    return Plan(start, tuple(p.name for p in stop))


def _deletion_order(pod: PodView) -> tuple[bool, float]:
    # Not ready first, then the most recently started.
    return (pod.ready, -pod.started)


def deployment_status(
    generation: int | None, replicas: int, current_hash: str, pods: Sequence[PodView]
) -> dict[str, Any]:
    """`status` of the Deployment for these (non-terminating) pods."""
    updated = [p for p in pods if p.template_hash == current_hash]
    ready = sum(p.ready for p in pods)
    status: dict[str, Any] = {
        "replicas": len(pods),
        "updatedReplicas": len(updated),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "unavailableReplicas": max(replicas - ready, 0),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    return status


class UnresolvedEnv(LookupError):
    """A container's variable refers to something that is not there (a missing Secret key)."""


SecretLookup = Callable[[str, str], str | None]
"""(Secret name, key) -> the decoded value, or None when the Secret or the key is missing."""


def container_env(container: Mapping[str, Any], secret: SecretLookup) -> dict[str, str]:
    """The container's `env` as a process environment: plain values, and Secret references
    resolved (a pod whose Secret is missing does not start, as on a cluster)."""
    env: dict[str, str] = {}
    for var in container.get("env") or []:
        name = var["name"]
        if "value" in var:
            # $(VAR) references are left as they are: kdial's Deployments use none.
            env[name] = str(var["value"])
            continue
        ref = (var.get("valueFrom") or {}).get("secretKeyRef")
        if ref is None:
            raise UnresolvedEnv(f"env {name}: only value and secretKeyRef are supported")
        value = secret(ref["name"], ref["key"])
        if value is None:
            if ref.get("optional"):
                continue
            raise UnresolvedEnv(f"env {name}: Secret {ref['name']!r} has no key {ref['key']!r}")
        env[name] = value
    return env
