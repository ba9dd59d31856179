"""Pod volumes on one machine: Secret volumes, and projected volumes of Secrets, written into
folders as a kubelet does.

A kubelet writes a Secret volume with its atomic writer: the keys' files live in a hidden
`..<timestamp>` folder, `..data` links to it, and each key is a link `key -> ..data/key`, so a
reader sees the old files or the new ones, never half of each. It refreshes them a while after
the Secret changes (its sync period), not at once. Both are done here.

Pods here are processes, so a container's view of its mounts is made by path: an environment
value naming a mounted path (e.g. `KDIAL_GATEWAYS_DIR=/etc/kdial/gateways`) names the projected
folder instead. The FreeSWITCH container is the shared simulator: what it mounts under its
configuration directory is projected into the simulator's `--conf` folder, one subfolder per
pod. Anything else mounted where a process would read it (a ConfigMap, a projected source other
than a Secret) is refused, so a Deployment that needs it fails here as it would fail to do what
it means on a cluster.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

#: The FreeSWITCH image's configuration directory, which the simulator's `--conf` stands for.
SWITCH_CONF = PurePosixPath("/usr/local/freeswitch/conf")
DIALER = "dialer"
SWITCH = "freeswitch"

#: A Secret's data (key -> bytes), or None when it does not exist.
SecretData = Callable[[str], Mapping[str, bytes] | None]


class Unsupported(ValueError):
    """A volume this kubelet cannot give a local process faithfully."""


@dataclass(frozen=True)
class Source:
    """One Secret a volume shows."""

    secret: str
    items: tuple[tuple[str, str], ...] | None
    """(key, path) pairs when the source lists `items`; None: every key as its own file."""
    optional: bool


@dataclass(frozen=True)
class Projection:
    """One volume (a Secret, or a projected volume of Secrets) written into a folder for one
    container."""

    volume: str
    sources: tuple[Source, ...]
    folder: Path


def plan(
    pod: str, spec: Mapping[str, Any], volumes_root: Path, switch_conf: Path | None
) -> tuple[list[Projection], dict[str, str]]:
    """What to project for a pod, and the dialer's mount paths mapped to local folders.

    The dialer's Secret volumes go under `volumes_root/<pod>/<volume>`; the switch's, mounted
    under its configuration directory, under `switch_conf/<path below conf>/<pod>`."""
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    projections: list[Projection] = []
    mounts: dict[str, str] = {}
    for container in spec.get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(mount["name"])
            if volume is None:
                raise Unsupported(f"volumeMount {mount['name']!r}: no such volume")
            if "emptyDir" in volume:
                continue  # scratch space; no local process reads one another wrote
            if "secret" not in volume and "projected" not in volume:
                kind = next((k for k in volume if k != "name"), "?")
                raise Unsupported(f"volume {volume['name']!r}: {kind} volumes are not supported")
            if mount.get("subPath"):
                raise Unsupported(f"volumeMount {mount['name']!r}: subPath is not supported")
            folder = _folder(pod, container.get("name"), mount, volumes_root, switch_conf)
            projections.append(_projection(volume, folder))
            if container.get("name") == DIALER:
                mounts[mount["mountPath"]] = str(folder)
    return projections, mounts


def _folder(
    pod: str,
    container: str | None,
    mount: Mapping[str, Any],
    volumes_root: Path,
    switch_conf: Path | None,
) -> Path:
    path = PurePosixPath(mount["mountPath"])
    if container == DIALER:
        return volumes_root / pod / str(mount["name"])
    if container == SWITCH:
        if switch_conf is None or not path.is_relative_to(SWITCH_CONF):
            raise Unsupported(
                f"the {SWITCH} container mounts {path}: the shared simulator reads only its "
                f"configuration directory {SWITCH_CONF}"
                + ("" if switch_conf else ", and it was started without --conf")
            )
        return switch_conf / path.relative_to(SWITCH_CONF) / pod
    raise Unsupported(f"container {container!r}: only {DIALER} and {SWITCH} run here")


def _projection(volume: Mapping[str, Any], folder: Path) -> Projection:
    sources: tuple[Source, ...]
    if "secret" in volume:
        source = volume["secret"]
        sources = (_source(source["secretName"], source),)
    else:
        sources = tuple(_projected(volume["name"], s) for s in volume["projected"]["sources"])
    return Projection(volume=volume["name"], sources=sources, folder=folder)


def _projected(volume: str, source: Mapping[str, Any]) -> Source:
    if set(source) != {"secret"}:
        kind = next(iter(source), "?")
        raise Unsupported(f"volume {volume!r}: projected {kind} sources are not supported")
    return _source(source["secret"]["name"], source["secret"])


def _source(secret: str, source: Mapping[str, Any]) -> Source:
    items = source.get("items")
    return Source(
        secret=secret,
        items=None if items is None else tuple((i["key"], i["path"]) for i in items),
        optional=bool(source.get("optional")),
    )


def mapped_env(env: Mapping[str, str], mounts: Mapping[str, str]) -> dict[str, str]:
    """The environment with every value naming a mounted path (or a path below one) pointing
    at the local folder instead."""
    out = dict(env)
    for name, value in env.items():
        for mount_path, folder in mounts.items():
            if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
                out[name] = folder + value[len(mount_path) :]
    return out


def files(projection: Projection, secrets: Mapping[str, Mapping[str, bytes]]) -> dict[str, bytes]:
    """The files a volume holds, from the data of its Secrets (by name; an optional one may be
    absent): every key of a source, or its listed items. A missing listed key is an error, as a
    kubelet fails the mount, and so are two sources writing one path."""
    out: dict[str, bytes] = {}
    for source in projection.sources:
        data = secrets.get(source.secret)
        if data is None:
            if source.optional:
                continue
            raise Unsupported(f"volume {projection.volume!r}: secret {source.secret!r} not found")
        listed = source.items if source.items is not None else [(k, k) for k in data]
        for key, path in listed:
            if key not in data:
                raise Unsupported(
                    f"volume {projection.volume!r}: Secret {source.secret!r} has no key {key!r}"
                )
            if path in out:
                raise Unsupported(f"volume {projection.volume!r}: two sources write {path!r}")
            out[path] = data[key]
    return out


def write_atomically(folder: Path, contents: Mapping[str, bytes]) -> bool:
    """Writes the files as a kubelet's atomic writer does; False when nothing changed."""
    current = folder / "..data"
    if current.is_dir() and _read(current) == dict(contents):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
    stamp.mkdir()
    for path, content in contents.items():
        target = stamp / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    link = folder / "..data_tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(stamp.name)
    link.replace(current)
    for path in {p.split("/", 1)[0] for p in contents}:
        visible = folder / path
        if not visible.is_symlink():
            visible.symlink_to(Path("..data") / path)
    for old in folder.iterdir():
        if old.name.startswith("..") and old.name not in ("..data", stamp.name):
            shutil.rmtree(old, ignore_errors=True)
        elif not old.name.startswith("..") and old.name not in {
            p.split("/", 1)[0] for p in contents
        }:
            old.unlink()
    return True


def _read(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def remove(folders: list[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
