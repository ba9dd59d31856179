"""The local kubelet's decisions: pods to start and stop, Deployment status, container env."""

from __future__ import annotations

import random

import pytest

from kdial_local.pods import (
    PodView,
    UnresolvedEnv,
    container_env,
    deployment_status,
    plan,
    pod_name,
    template_hash,
)


def pod(name: str, hash_: str = "new", ready: bool = True, started: float = 0) -> PodView:
    return PodView(name, hash_, ready, started)


def test_scale_up_starts_the_missing_pods() -> None:
    assert plan(3, "new", [pod("a")]).start == 2
    assert plan(3, "new", [pod("a")]).stop == ()


def test_scale_down_stops_not_ready_pods_first_then_the_youngest() -> None:
    pods = [
        pod("old-ready", started=1),
        pod("young-ready", started=5),
        pod("unready", ready=False, started=0),
        pod("mid-ready", started=3),
    ]
    assert plan(2, "new", pods).stop == ("unready", "young-ready")
    assert plan(0, "new", pods).start == 0
    assert set(plan(0, "new", pods).stop) == {p.name for p in pods}


def test_a_new_template_replaces_old_pods_only_once_new_ones_are_ready() -> None:
    old = [pod("old-1", "old"), pod("old-2", "old")]
    starting = plan(2, "new", old)
    assert (starting.start, starting.stop) == (2, ())
    not_yet = plan(2, "new", [*old, pod("new-1"), pod("new-2", ready=False)])
    assert not_yet.stop == ()
    done = plan(2, "new", [*old, pod("new-1"), pod("new-2")])
    assert set(done.stop) == {"old-1", "old-2"}


def test_status_counts_ready_and_updated_pods() -> None:
    status = deployment_status(4, 3, "new", [pod("a"), pod("b", ready=False), pod("c", "old")])
    assert status == {
        "replicas": 3,
        "updatedReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "unavailableReplicas": 1,
        "observedGeneration": 4,
    }


def test_pod_names_follow_the_replicaset_pattern() -> None:
    template = {"spec": {"containers": [{"name": "dialer"}]}}
    hash_ = template_hash(template)
    assert hash_ == template_hash({"spec": {"containers": [{"name": "dialer"}]}})
    assert hash_ != template_hash({"spec": {"containers": [{"name": "other"}]}})
    name = pod_name("kdial-worker-x", hash_, random.Random(1))
    assert name.startswith(f"kdial-worker-x-{hash_}-")
    assert len(name.rsplit("-", 1)[1]) == 5


def test_env_resolves_values_and_secret_references() -> None:
    secrets = {("kdial-esl", "password"): "ClueCon"}
    container = {
        "env": [
            {"name": "KDIAL_ESL_PORT", "value": "8021"},
            {
                "name": "KDIAL_ESL_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "kdial-esl", "key": "password"}},
            },
            {
                "name": "OPTIONAL",
                "valueFrom": {"secretKeyRef": {"name": "nope", "key": "x", "optional": True}},
            },
        ]
    }
    env = container_env(container, lambda name, key: secrets.get((name, key)))
    assert env == {"KDIAL_ESL_PORT": "8021", "KDIAL_ESL_PASSWORD": "ClueCon"}


def test_a_missing_secret_keeps_the_pod_from_starting() -> None:
    container = {
        "env": [
            {"name": "X", "valueFrom": {"secretKeyRef": {"name": "kdial-esl", "key": "password"}}}
        ]
    }
    with pytest.raises(UnresolvedEnv, match="kdial-esl"):
        container_env(container, lambda name, key: None)
