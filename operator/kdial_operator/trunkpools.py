"""TrunkPool reactions. One daemon per pool watches its lines (`trunkpool_reconcile`); spec
changes only wake it up, so a pool's health has one writer."""

from __future__ import annotations

from typing import Any

import kopf

from kdial.api.kinds import GROUP, TRUNK_POOL, VERSION
from kdial.state.keys import PoolKeys
from kdial_operator import daemon_loop, dataplane, metrics
from kdial_operator.indexes import key_of
from kdial_operator.trunkpool_reconcile import Watch, reconcile


@kopf.daemon(GROUP, VERSION, TRUNK_POOL.plural, cancellation_timeout=5.0)
async def trunkpool_daemon(
    *, stopped: kopf.DaemonStopped, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    watch = Watch()
    interval = memo.settings.health_interval_seconds
    await daemon_loop.run(stopped, memo, logger, interval, lambda: reconcile(body, memo, watch))


@kopf.on.update(GROUP, VERSION, TRUNK_POOL.plural, field="spec")
async def trunkpool_changed(memo: kopf.Memo, **_: Any) -> None:
    daemon_loop.wake(memo)


@kopf.on.delete(GROUP, VERSION, TRUNK_POOL.plural)
async def trunkpool_deleted(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Removes the routing table and counters: workers of campaigns still referring to the pool
    find no trunks and hold their contacts (NoRoute) rather than dial on a pool that is gone."""
    namespace, name = key_of(body)
    await dataplane.delete_keys(memo.redis, PoolKeys("tp", namespace, name).pattern)
    metrics.forget(f"{namespace}/{name}", metrics.TRUNK_STATE, metrics.TRUNK_WEIGHT)
