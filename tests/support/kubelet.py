"""The local kubelet (kdial_local.kubelet) running in a thread for a test, stopped after it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from kdial_local.kubelet import Kubelet
from tests.support.operator import Api


@contextmanager
def kubelet_running(
    api: Api,
    pods: Path,
    env: Mapping[str, str],
    *,
    switch_conf: Path,
    command: Callable[[list[str]], list[str]] | None = None,
    volume_sync_seconds: float = 1.0,
    stop_timeout: float | None = 5,
) -> Iterator[Kubelet]:
    """Runs the worker Deployments of `api`'s namespace as local processes (logs in `pods`);
    the FreeSWITCH containers' configuration mounts land in `switch_conf`. On the way out
    every pod gets SIGTERM, and SIGKILL after its grace period or `stop_timeout`."""
    pods.mkdir(parents=True, exist_ok=True)
    kubelet = Kubelet(
        api.api,
        api.namespace,
        pods,
        env,
        notify=lambda _: None,
        command=command,
        switch_conf=switch_conf,
        volume_sync_seconds=volume_sync_seconds,
    )
    stopped = threading.Event()
    thread = threading.Thread(target=kubelet.run, args=(stopped, 0.2), daemon=True)
    thread.start()
    try:
        yield kubelet
    finally:
        stopped.set()
        thread.join(timeout=10)
        kubelet.shutdown(timeout=stop_timeout)
