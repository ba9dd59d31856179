"""Server-side apply as the emulated API merges it: list keys, item order, field ownership."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kdial_local import server_side_apply as ssa


def deployment(*containers: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    pod = {"spec": {"containers": list(containers)}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": replicas, "template": pod},
    }


def containers(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body["spec"]["template"]["spec"]["containers"])


def apply(
    live: dict[str, Any] | None, config: dict[str, Any], owners: ssa.Owners, manager: str = "op"
) -> tuple[dict[str, Any], ssa.Owners]:
    return ssa.apply(live, config, manager, owners, ssa.DEPLOYMENT, force=True)


def test_ports_are_keyed_by_number_and_protocol_with_tcp_by_default() -> None:
    udp = {"name": "sip", "containerPort": 5060, "protocol": "UDP"}
    tcp = {"name": "sip-tcp", "containerPort": 5060}  # TCP: the schema's default
    first, owners = apply(None, deployment({"name": "fs", "ports": [udp, tcp]}), {})
    renamed = tcp | {"name": "sip-stream"}
    merged, _ = apply(first, deployment({"name": "fs", "ports": [udp, renamed]}), owners)
    assert containers(merged)[0]["ports"] == [udp, renamed]


def test_items_only_another_writer_added_stay_where_they_were() -> None:
    a, b, c = ({"name": n, "image": f"{n}:1"} for n in "abc")
    applied, owners = apply(None, deployment(a, c), {})
    live = deployment(a, b, c)
    owners = ssa.update(applied, live, "kubectl", owners, ssa.DEPLOYMENT)
    merged, _ = apply(live, deployment(a | {"image": "a:2"}, c), owners)
    assert [(x["name"], x["image"]) for x in containers(merged)] == [
        ("a", "a:2"),
        ("b", "b:1"),
        ("c", "c:1"),
    ]


def test_an_apply_drops_what_it_no_longer_names_unless_someone_else_owns_it() -> None:
    live, owners = apply(None, deployment({"name": "a", "args": ["x"]}, {"name": "b"}), {})
    labelled = live | {"metadata": live["metadata"] | {"labels": {"team": "x"}}}
    owners = ssa.update(live, labelled, "kubectl", owners, ssa.DEPLOYMENT)

    merged, owners = apply(labelled, deployment({"name": "a"}), owners)

    assert containers(merged) == [{"name": "a"}]  # b and a's args were ours alone
    assert merged["metadata"]["labels"] == {"team": "x"}
    assert ssa.describe(next(iter(owners["kubectl"]))) == ".metadata.labels.team"


def test_a_changed_field_of_another_writer_conflicts_unless_forced() -> None:
    live, owners = apply(None, deployment({"name": "a"}, replicas=2), {})
    scaled = live | {"spec": live["spec"] | {"replicas": 5}}
    owners = ssa.update(live, scaled, "kubectl-scale", owners, ssa.DEPLOYMENT)
    with pytest.raises(ssa.Conflict, match=r'"kubectl-scale": \.spec\.replicas'):
        ssa.apply(scaled, deployment({"name": "a"}), "op", owners, ssa.DEPLOYMENT, force=False)
    _, owners = apply(scaled, deployment({"name": "a"}, replicas=2), owners)
    assert "kubectl-scale" not in owners


def test_what_it_cannot_merge_faithfully_is_refused() -> None:
    with_aliases = deployment({"name": "a"})
    with_aliases["spec"]["template"]["spec"]["hostAliases"] = [{"ip": "10.0.0.1"}]
    with pytest.raises(ssa.NotEmulated, match=r"\.spec\.template\.spec\.hostAliases"):
        apply(None, with_aliases, {})
    with pytest.raises(ssa.Invalid, match="duplicate"):
        apply(None, deployment({"name": "a"}, {"name": "a"}), {})


def test_volumes_and_mounts_are_keyed_as_the_api_server_keys_them() -> None:
    """Volumes by name, mounts by mount path, a preStop command replaced whole: a volume another
    writer added survives the operator's next apply, and a changed mount is merged in place."""
    hook = {"preStop": {"exec": {"command": ["wait", "115"]}}}
    mount = {"name": "db", "mountPath": "/db"}
    switch = {"name": "fs", "volumeMounts": [mount], "lifecycle": hook}
    config = deployment(switch)
    config["spec"]["template"]["spec"]["volumes"] = [{"name": "db", "emptyDir": {}}]
    applied, owners = apply(None, config, {})
    live = copy.deepcopy(applied)
    live["spec"]["template"]["spec"]["volumes"].append({"name": "debug", "emptyDir": {}})
    owners = ssa.update(applied, live, "kubectl", owners, ssa.DEPLOYMENT)
    changed = copy.deepcopy(config)
    changed["spec"]["template"]["spec"]["containers"][0] |= {
        "volumeMounts": [mount | {"readOnly": True}],
        "lifecycle": {"preStop": {"exec": {"command": ["wait", "55"]}}},
    }
    merged, _ = apply(live, changed, owners)

    assert [v["name"] for v in merged["spec"]["template"]["spec"]["volumes"]] == ["db", "debug"]
    (fs,) = containers(merged)
    assert fs["volumeMounts"] == [mount | {"readOnly": True}]
    assert fs["lifecycle"]["preStop"]["exec"]["command"] == ["wait", "55"]


def test_a_projected_volumes_sources_and_their_items_are_replaced_whole() -> None:
    """As the API server's schema lists them (listType=atomic): a pool dropped from the
    campaign is gone from the sources, not merged back in."""

    def projected(*pools: str) -> dict[str, Any]:
        config = deployment({"name": "dialer"})
        sources = [
            {"secret": {"name": f"gw-{p}", "items": [{"key": "x", "path": f"{p}.xml"}]}}
            for p in pools
        ]
        volume = {"name": "gateways", "projected": {"sources": sources}}
        config["spec"]["template"]["spec"]["volumes"] = [volume]
        return config

    applied, owners = apply(None, projected("lines", "backup"), {})
    merged, _ = apply(applied, projected("backup"), owners)
    (volume,) = merged["spec"]["template"]["spec"]["volumes"]
    assert (
        volume["projected"]["sources"]
        == projected("backup")["spec"]["template"]["spec"]["volumes"][0]["projected"]["sources"]
    )
