"""Campaign and ContactList status as Prometheus metrics, from every watch event.

The alerts (campaign stalled, abandon rate over its cap, import failed) read these; they follow
what the API server holds, whichever reconciler wrote it.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from kdial.api.kinds import CAMPAIGN, CONTACT_LIST, GROUP, VERSION
from kdial_operator import metrics

#: The default of spec.pacing.maxAbandonPercent, for specs that leave it out.
DEFAULT_MAX_ABANDON_PERCENT = 3


class QuietSuccesses(logging.Filter):
    """Keeps kopf's "Handler '...' succeeded." of these handlers out of the log at INFO: they
    run on every watch event, a status write every few seconds for each object. kopf logs their
    failures as errors all the same, and with debug logging on their successes show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return (
            record.levelno != logging.INFO
            or record.getMessage() not in _SUCCESSES
            or logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        )


@kopf.on.event(GROUP, VERSION, CAMPAIGN.plural)
def campaign_metrics(type: str | None, body: kopf.Body, **_: Any) -> None:
    key = f"{body.meta.namespace}/{body.meta.name}"
    if type == "DELETED":
        metrics.forget(
            key,
            metrics.CAMPAIGN_CONDITION,
            metrics.CAMPAIGN_MAX_ABANDON,
            metrics.CAMPAIGN_CONTACTS,
            metrics.CAMPAIGN_WAITING,
        )
        return
    metrics.conditions(metrics.CAMPAIGN_CONDITION, key, body.status.get("conditions", []))
    metrics.campaign_contacts(key, body.status)
    cap = body.spec.get("pacing", {}).get("maxAbandonPercent", DEFAULT_MAX_ABANDON_PERCENT)
    metrics.CAMPAIGN_MAX_ABANDON.labels(key).set(float(cap) / 100)


@kopf.on.event(GROUP, VERSION, CONTACT_LIST.plural)
def contactlist_metrics(type: str | None, body: kopf.Body, **_: Any) -> None:
    key = f"{body.meta.namespace}/{body.meta.name}"
    if type == "DELETED":
        metrics.forget(key, metrics.CONTACTLIST_CONDITION)
        return
    metrics.conditions(metrics.CONTACTLIST_CONDITION, key, body.status.get("conditions", []))


_SUCCESSES = {f"Handler {h!r} succeeded." for h in ("campaign_metrics", "contactlist_metrics")}
