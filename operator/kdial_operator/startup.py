"""The operator's one startup handler: every kopf setting, and the clients handlers share."""

from __future__ import annotations

import logging
import socket
from typing import Any

import kopf
import kubernetes
import prometheus_client
import redis.asyncio as aioredis

from kdial.api.kinds import GROUP
from kdial_operator import status_metrics
from kdial_operator.imports import Imports
from kdial_operator.kube import Kube
from kdial_operator.settings import OperatorSettings


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config = OperatorSettings()
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    # Our own annotation prefix: kopf's progress is ours to keep, and never lands in status,
    # which the CRD schema would prune anyway.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    # `From:` in `kubectl describe`: the Events are kdial's, posted by this pod.
    settings.posting.reporting_component = "kdial-operator"
    settings.posting.reporting_instance = socket.gethostname()
    logging.getLogger("kopf.objects").addFilter(status_metrics.QuietSuccesses())
    # Watches are re-established every 5 minutes so a silently dead connection (a proxy that
    # dropped it) costs at most that, not forever.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330

    memo.settings = config
    if config.metrics_port:
        prometheus_client.start_http_server(config.metrics_port)
    memo.redis = aioredis.Redis.from_url(config.redis_url, decode_responses=True)
    memo.kube = Kube(_api_client())
    memo.imports = Imports(config.max_concurrent_imports)


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    # Imports first: a cancelled one removes its staging keys through Redis.
    await memo.imports.cancel_all()
    await memo.redis.aclose()


def _api_client() -> kubernetes.client.ApiClient:
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    return kubernetes.client.ApiClient()
