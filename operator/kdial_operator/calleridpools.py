"""CallerIdPool reactions. One daemon per pool compiles its numbers and reviews quarantine
(`calleridpool_reconcile`); spec and annotation changes only wake it up."""

from __future__ import annotations

from typing import Any

import kopf

from kdial.api.kinds import CALLER_ID_POOL, GROUP, VERSION
from kdial.state.keys import PoolKeys
from kdial_operator import daemon_loop, dataplane
from kdial_operator.calleridpool_reconcile import Watch, reconcile
from kdial_operator.indexes import key_of


@kopf.daemon(GROUP, VERSION, CALLER_ID_POOL.plural, cancellation_timeout=5.0)
async def calleridpool_daemon(
    *, stopped: kopf.DaemonStopped, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    watch = Watch()
    interval = memo.settings.status_interval_seconds
    await daemon_loop.run(stopped, memo, logger, interval, lambda: reconcile(body, memo, watch))


@kopf.on.update(GROUP, VERSION, CALLER_ID_POOL.plural)
async def calleridpool_changed(memo: kopf.Memo, **_: Any) -> None:
    daemon_loop.wake(memo)


@kopf.on.delete(GROUP, VERSION, CALLER_ID_POOL.plural)
async def calleridpool_deleted(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    namespace, name = key_of(body)
    await dataplane.delete_keys(memo.redis, PoolKeys("cidp", namespace, name).pattern)
