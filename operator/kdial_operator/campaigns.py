"""Campaign reactions. One daemon per campaign reconciles it (`daemon_loop`); spec changes
only wake it up, so a campaign never has two reconciliations running at once."""

from __future__ import annotations

from typing import Any

import kopf

from kdial.api.kinds import CAMPAIGN, GROUP, VERSION
from kdial.state.keys import CampaignKeys
from kdial_operator import daemon_loop, dataplane, workload
from kdial_operator.campaign_reconcile import Recall, Referents, reconcile
from kdial_operator.indexes import key_of


@kopf.daemon(GROUP, VERSION, CAMPAIGN.plural, cancellation_timeout=5.0)
async def campaign_daemon(
    *,
    stopped: kopf.DaemonStopped,
    body: kopf.Body,
    memo: kopf.Memo,
    logger: kopf.Logger,
    **kwargs: Any,
) -> None:
    # kopf passes each index as a keyword named after its function (see indexes.py).
    refs = Referents(kwargs["contactlists"], kwargs["trunkpools"], kwargs["calleridpools"])
    interval = memo.settings.status_interval_seconds
    recall = Recall()
    await daemon_loop.run(
        stopped, memo, logger, interval, lambda: reconcile(body, memo, refs, recall)
    )


@kopf.on.update(GROUP, VERSION, CAMPAIGN.plural)
async def campaign_changed(memo: kopf.Memo, **_: Any) -> None:
    daemon_loop.wake(memo)


@kopf.on.delete(GROUP, VERSION, CAMPAIGN.plural)
async def campaign_deleted(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    """Removes the workers now (not only at garbage collection) and the campaign's Redis state."""
    namespace, name = key_of(body)
    await memo.kube.delete_deployment(namespace, workload.deployment_name(name))
    removed = await dataplane.delete_keys(memo.redis, CampaignKeys(namespace, name).pattern)
    logger.info("removed the campaign's workers and %d Redis keys", removed)
