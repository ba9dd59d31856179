"""Secret volumes on one machine, projected as a kubelet projects them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kdial_local.volumes import Unsupported, files, mapped_env, plan, write_atomically

SECRET = {"name": "gateways", "secret": {"secretName": "kdial-gateways-lines"}}
DB = {"name": "fs-db", "emptyDir": {}}


def pod_spec(**extra: Any) -> dict[str, Any]:
    return {
        "containers": [
            {
                "name": "dialer",
                "volumeMounts": [{"name": "gateways", "mountPath": "/etc/kdial/gateways"}],
            },
            {
                "name": "freeswitch",
                "volumeMounts": [
                    {"name": "fs-db", "mountPath": "/usr/local/freeswitch/db"},
                    {
                        "name": "gateways",
                        "mountPath": "/usr/local/freeswitch/conf/sip_profiles/external",
                    },
                ],
            },
        ],
        "volumes": [SECRET, {"name": "fs-db", "emptyDir": {}}],
    } | extra


def test_the_dialer_reads_its_folder_and_the_simulator_one_per_pod(tmp_path: Path) -> None:
    projections, mounts = plan("pod-1", pod_spec(), tmp_path / "volumes", tmp_path / "conf")
    assert [p.folder for p in projections] == [
        tmp_path / "volumes" / "pod-1" / "gateways",
        tmp_path / "conf" / "sip_profiles" / "external" / "pod-1",
    ]
    assert {s.secret for p in projections for s in p.sources} == {"kdial-gateways-lines"}
    env = {"KDIAL_GATEWAYS_DIR": "/etc/kdial/gateways", "OTHER": "/etc/kdial/gatewaysX"}
    assert mapped_env(env, mounts) == {
        "KDIAL_GATEWAYS_DIR": str(tmp_path / "volumes" / "pod-1" / "gateways"),
        "OTHER": "/etc/kdial/gatewaysX",
    }


def test_what_cannot_be_given_to_a_local_process_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Unsupported, match="started without --conf"):
        plan("p", pod_spec(), tmp_path, None)
    config_map = {"name": "gateways", "configMap": {"name": "x"}}
    with pytest.raises(Unsupported, match="configMap volumes are not supported"):
        plan("p", pod_spec(volumes=[config_map]), tmp_path, tmp_path)
    outside = pod_spec()
    outside["containers"][1]["volumeMounts"][1]["mountPath"] = "/etc/freeswitch"
    with pytest.raises(Unsupported, match="reads only its configuration directory"):
        plan("p", outside, tmp_path, tmp_path)


def test_files_are_swapped_whole_through_the_data_link(tmp_path: Path) -> None:
    folder = tmp_path / "vol"
    assert write_atomically(folder, {"gateways.xml": b"<include/>", "generation": b"g1"})
    first = (folder / "..data").resolve()
    assert (folder / "generation").read_bytes() == b"g1"
    assert (folder / "generation").is_symlink()
    assert not write_atomically(folder, {"gateways.xml": b"<include/>", "generation": b"g1"})
    assert write_atomically(folder, {"gateways.xml": b"<include></include>", "generation": b"g2"})
    assert (folder / "generation").read_bytes() == b"g2"
    assert not first.exists()  # the old generation's folder is gone
    assert write_atomically(folder, {"generation": b"g3"})
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("..")) == ["generation"]


def test_items_pick_keys_and_a_missing_one_fails_the_mount(tmp_path: Path) -> None:
    volume = dict(SECRET)
    volume["secret"] = {"secretName": "s", "items": [{"key": "gateways.xml", "path": "gw.xml"}]}
    spec = pod_spec(volumes=[volume, {"name": "fs-db", "emptyDir": {}}])
    projection = plan("p", spec, tmp_path, tmp_path)[0][0]
    assert files(projection, {"s": {"gateways.xml": b"x", "generation": b"g"}}) == {"gw.xml": b"x"}
    with pytest.raises(Unsupported, match=r"no key 'gateways\.xml'"):
        files(projection, {"s": {"generation": b"g"}})


def projected(*sources: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's volumes with `gateways` a projected volume of `sources`."""
    return [{"name": "gateways", "projected": {"sources": list(sources)}}, DB]


def pool(name: str, optional: bool = False) -> dict[str, Any]:
    items = [{"key": "gateways.xml", "path": f"{name}.xml"}]
    return {"secret": {"name": f"kdial-gateways-{name}", "items": items, "optional": optional}}


def test_a_projected_volume_shows_every_secrets_items_in_one_folder(tmp_path: Path) -> None:
    volume = projected(pool("lines"), pool("backup"), pool("spare", optional=True))
    spec = pod_spec(volumes=volume)
    projections, _ = plan("p", spec, tmp_path / "volumes", tmp_path / "conf")
    assert len(projections) == 2  # the dialer's and the switch's: one folder each
    secrets = {
        "kdial-gateways-lines": {"gateways.xml": b"<a/>"},
        "kdial-gateways-backup": {"gateways.xml": b"<b/>", "generation": b"g"},
    }
    assert files(projections[0], secrets) == {"lines.xml": b"<a/>", "backup.xml": b"<b/>"}
    with pytest.raises(Unsupported, match="secret 'kdial-gateways-backup' not found"):
        files(projections[0], {"kdial-gateways-lines": {"gateways.xml": b"<a/>"}})


def test_projected_sources_other_than_secrets_or_clashing_paths_are_refused(
    tmp_path: Path,
) -> None:
    config_map = {"configMap": {"name": "x"}}
    spec = pod_spec(volumes=projected(pool("lines"), config_map))
    with pytest.raises(Unsupported, match="projected configMap sources are not supported"):
        plan("p", spec, tmp_path, tmp_path)
    twice = projected(pool("lines"), pool("lines") | {"secret": {"name": "other", "items": [
        {"key": "gateways.xml", "path": "lines.xml"}]}})  # fmt: skip
    projection = plan("p", pod_spec(volumes=twice), tmp_path, tmp_path)[0][0]
    data = {"gateways.xml": b"x"}
    with pytest.raises(Unsupported, match=r"two sources write 'lines\.xml'"):
        files(projection, {"kdial-gateways-lines": data, "other": data})
