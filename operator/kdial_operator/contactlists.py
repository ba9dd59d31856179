"""ContactList reactions: (re)start the list's import, and report it in status as it goes.

The handlers only decide. The import itself is an asyncio task per list (`imports.Imports`,
one for the whole operator, made at startup) that runs
the work in a child process (`contact_job`: why a process is explained there) and writes status
while it waits: `Importing` with the counts so far every `PROGRESS_SECONDS`, then `Ready`,
`Importing` and `Failed` with the outcome. Handlers therefore return at once, the event loop
never parses a row, and a change of `spec.source` or `spec.refresh` (any spec change) cancels
the import under way (its child stopped, its staging keys removed) and starts a new one. At
most `KDIAL_MAX_CONCURRENT_IMPORTS` children run at once, across all lists; the others wait,
`Importing` reason Queued.

A source that is missing or unreachable is retried with backoff; a source that is broken (HTML,
wrong encoding, unbalanced quotes...) is not, until the spec changes. A list that has been
imported once stays `Ready` (campaigns keep using the last good generation) when a later import
fails; `Failed` says why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from kdial.api.conditions import Cond, find, merge
from kdial.api.contactlist import ContactListSpec, ContactListStatus, Purpose
from kdial.api.kinds import CONTACT_LIST, GROUP, VERSION
from kdial.api.meta import explain
from kdial.plural import plural
from kdial.privacy import mask_text
from kdial.state.keys import ListKeys
from kdial_operator import contact_job, contact_pipeline, contact_sources, dataplane
from kdial_operator.indexes import Key, key_of
from kdial_operator.source_policy import SourcePolicy

log = logging.getLogger(__name__)

#: At most one progress write to status per this many seconds while an import runs.
PROGRESS_SECONDS = 2.0
#: Retries of a missing or unreachable source back off up to this.
MAX_RETRY_SECONDS = 300.0


@kopf.on.resume(GROUP, VERSION, CONTACT_LIST.plural)
@kopf.on.create(GROUP, VERSION, CONTACT_LIST.plural)
@kopf.on.update(GROUP, VERSION, CONTACT_LIST.plural)
async def contactlist_changed(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, reason: str, **_: Any
) -> None:
    key = key_of(body)
    imports = memo.imports
    await imports.cancel(key)
    generation = body.meta.get("generation")
    try:
        spec = ContactListSpec.model_validate(dict(body.spec))
    except ValidationError as error:
        cond = Cond("Ready", False, "InvalidSpec", explain(error))
        old = list(body.status.get("conditions", []))
        status = dict(body.status) | {
            "observedGeneration": generation,
            "conditions": merge(old, [cond], generation, _now()),
        }
        patch.status.update(ContactListStatus.normalized(status))
        kopf.warn(body, reason="InvalidSpec", message=explain(error))
        return
    if reason == "resume" and await _imported_already(body, spec, memo):
        return
    task = ListImport(body, spec, memo)
    imports.start(key, task.run())


@kopf.on.delete(GROUP, VERSION, CONTACT_LIST.plural)
async def contactlist_deleted(
    body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    """Stops the list's import, if one runs, and removes its contacts from Redis: they are
    personal data, and Redis evicts nothing. kopf's finalizer holds the list until this is
    done, so an operator that was down when it was deleted still removes them."""
    key = key_of(body)
    await memo.imports.cancel(key)
    removed = await dataplane.delete_keys(memo.redis, ListKeys(*key).pattern)
    logger.info("removed the list's %d Redis keys", removed)


async def _imported_already(body: kopf.Body, spec: ContactListSpec, memo: kopf.Memo) -> bool:
    """On an operator restart, a URL list whose current generation was imported is not fetched
    again (its owner changes `refresh` for that); ConfigMaps are cheap to compare and are."""
    if spec.source.url is None:
        return False
    conditions = list(body.status.get("conditions", []))
    failed = find(conditions, "Failed") or {}
    return (
        body.status.get("observedGeneration") == body.meta.get("generation")
        and (find(conditions, "Ready") or {}).get("status") == "True"
        and failed.get("status") != "True"
        and bool(await memo.redis.exists(ListKeys(*key_of(body)).digest))
    )


def _now() -> datetime:
    return datetime.now(UTC)


class ListImport:
    """One list's import, from reading its source to its final status."""

    def __init__(self, body: kopf.Body, spec: ContactListSpec, memo: kopf.Memo) -> None:
        self.body, self.spec, self.memo = body, spec, memo
        self.namespace, self.name = key_of(body)
        self.keys = ListKeys(self.namespace, self.name)
        self.generation: int | None = body.meta.get("generation")
        self.status: dict[str, Any] = dict(body.status)
        self._last_progress = 0.0
        self._started = _now()
        self._last_warning = ""

    async def run(self) -> None:
        delay = float(self.memo.settings.retry_seconds)
        while True:
            try:
                done = await self._attempt()
            except ApiException as error:
                if error.status == 404:
                    return  # the list is gone
                log.warning("contact list %s/%s: status write failed: %s", *self._key, error)
                done = False
            if done:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    @property
    def _key(self) -> Key:
        return self.namespace, self.name

    async def _attempt(self) -> bool:
        """One try; True when there is nothing left to retry."""
        job = await self._job()
        if isinstance(job, Cond):
            await self._failed(job.reason, job.message)
            return False
        value = job.text if job.text is not None else job.data
        if value is not None and await self._unchanged(value):
            return True
        slots = self.memo.imports.slots
        if slots.locked():
            await self._write(
                [Cond("Importing", True, "Queued", "waiting for another list's import to finish")]
            )
        async with slots:
            self._started = _now()
            await self._write(
                [Cond("Importing", True, "Importing", f"reading {self._source_name()}")],
                progress={"startTime": _stamp(self._started)},
            )
            result = await contact_job.run(job, self._progress)
        if not result.ok:
            await self._failed(result.reason, result.message)
            return not result.transient
        await self._succeeded(result)
        return True

    async def _job(self) -> contact_job.Job | Cond:
        """What the child needs, or the condition saying why the source cannot be read yet."""
        source, settings = self.spec.source, self.memo.settings
        base = contact_job.Job(
            self.namespace,
            self.name,
            self.spec,
            settings.redis_url,
            max_bytes=settings.max_download_bytes,
            policy=SourcePolicy(
                tuple(settings.source_allowed_networks), tuple(settings.cluster_networks)
            ),
        )
        if source.config_map is not None:
            ref = source.config_map
            value = await self.memo.kube.config_map_value(self.namespace, ref.name, ref.key)
            if value is None:
                return Cond(
                    "Ready",
                    False,
                    "SourceNotFound",
                    f"spec.source.configMap: ConfigMap {ref.name!r} with key {ref.key!r} "
                    f"not found in namespace {self.namespace!r}; retrying",
                )
            if isinstance(value, bytes):
                return dataclasses.replace(base, data=value)
            return dataclasses.replace(base, text=value)
        assert source.url is not None
        authorization = None
        secret = source.url.auth_secret_ref
        if secret is not None:
            authorization = await self.memo.kube.secret_value(
                self.namespace, secret.name, secret.key
            )
            if authorization is None:
                return Cond(
                    "Ready",
                    False,
                    "SecretNotFound",
                    f"spec.source.url.authSecretRef: Secret {secret.name!r} with key "
                    f"{secret.key!r} not found in namespace {self.namespace!r}; retrying",
                )
        return dataclasses.replace(base, url=source.url.url, authorization=authorization)

    def _source_name(self) -> str:
        source = self.spec.source
        if source.config_map is not None:
            return f"ConfigMap {source.config_map.name}/{source.config_map.key}"
        assert source.url is not None
        return contact_sources.safe_url(source.url.url)

    async def _unchanged(self, value: str | bytes) -> bool:
        """A ConfigMap whose content and reading rules were imported already: nothing to do
        but say so (no child process needed)."""
        if not self.status.get("lastImportTime"):
            return False
        digest = hashlib.sha256(contact_pipeline.spec_digest(self.spec).encode())
        for chunk in contact_sources.value_chunks(value):
            digest.update(chunk)
        if await self.memo.redis.get(self.keys.digest) != digest.hexdigest():
            return False
        counts = dict(self.status.get("counts", {}))
        message = _summary(counts) + " (source unchanged)"
        await self._write(
            [
                Cond("Ready", True, "Imported", message),
                Cond("Importing", False, "Imported", message),
                Cond("Failed", False, "Imported", message),
            ],
            observedGeneration=self.generation,
            progress=None,
        )
        return True

    async def _progress(self, counts: dict[str, int]) -> None:
        if time.monotonic() - self._last_progress < PROGRESS_SECONDS:
            return
        self._last_progress = time.monotonic()
        seconds = max((_now() - self._started).total_seconds(), 0.001)
        rate = counts.get("read", 0) / seconds
        message = f"{_summary(counts)} so far ({rate:.0f} rows/s)"
        await self._write(
            [Cond("Importing", True, "Importing", message)],
            progress=counts | {"startTime": _stamp(self._started)},
        )

    async def _succeeded(self, result: contact_job.Result) -> None:
        counts = dict(result.counts)
        if self.spec.purpose is Purpose.SUPPRESS:
            counts["suppressed"] = counts.get("imported", 0)
        changed = result.version > 0
        message = _summary(counts) + ("" if changed else " (source unchanged)")
        await self._write(
            [
                Cond("Ready", True, "Imported", message),
                Cond("Importing", False, "Imported", message),
                Cond("Failed", False, "Imported", message),
            ],
            observedGeneration=self.generation,
            counts=counts,
            rejectedByReason=result.rejected_by_reason,
            firstRejected=result.first_rejected,
            rowTags=result.row_tags,
            lastImportTime=_stamp(_now()),
            progress=None,
        )
        if changed:
            kopf.info(self.body, reason="Imported", message=mask_text(message))

    async def _failed(self, reason: str, message: str) -> None:
        message = mask_text(message)
        conditions: list[Cond] = [
            Cond("Failed", True, reason, message),
            Cond("Importing", False, reason, message),
        ]
        if await self.memo.redis.exists(self.keys.version):
            # Campaigns keep the last good generation: the list stays usable.
            previous = _summary(dict(self.status.get("counts", {})))
            conditions.append(
                Cond("Ready", True, "Imported", f"{previous}; the latest import failed: {message}")
            )
        else:
            conditions.append(Cond("Ready", False, reason, message))
        await self._write(conditions, observedGeneration=self.generation, progress=None)
        if message != self._last_warning:
            self._last_warning = message
            kopf.warn(self.body, reason=reason, message=message)

    async def _write(self, conditions: list[Cond], **fields: Any) -> None:
        old = list(self.status.get("conditions", []))
        old_reasons = dict(self.status.get("rejectedByReason") or {})
        self.status["conditions"] = merge(old, conditions, self.generation, _now())
        self.status.update(fields)
        doc = ContactListStatus.normalized(self.status)
        # A merge patch removes what it sets to null, and merges maps key by key: the
        # finished import's progress, counts and row tags the list no longer has, and the
        # reasons of the last import that this one did not see must be nulled explicitly.
        doc.setdefault("progress", None)
        doc.setdefault("rowTags", None)
        if "counts" in doc:
            doc["counts"].setdefault("suppressed", None)
            doc["counts"].setdefault("tagged", None)
        reasons = doc.setdefault("rejectedByReason", {})
        reasons.update(dict.fromkeys(old_reasons.keys() - reasons.keys()))
        await self.memo.kube.patch_status(CONTACT_LIST.plural, self.namespace, self.name, doc)


def _summary(counts: dict[str, Any]) -> str:
    return (
        f"{plural(counts.get('imported', 0), 'contact')} imported, "
        # "rows rejected", not "rejected": a unit word keeps a count readable (kdial.privacy).
        f"{plural(counts.get('rejected', 0), 'row')} rejected, "
        f"{plural(counts.get('duplicates', 0), 'duplicate')}, "
        f"of {plural(counts.get('read', 0), 'row')}"
    )


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
