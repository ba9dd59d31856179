"""ContactList reactions: import the source, store the contacts, report what was refused."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from kdial.api.conditions import Cond, merge
from kdial.api.contactlist import ContactListSpec, ContactListStatus
from kdial.api.kinds import CONTACT_LIST, GROUP, VERSION
from kdial.api.meta import explain
from kdial.state.keys import ListKeys
from kdial_operator import contact_import, dataplane
from kdial_operator.indexes import key_of


@kopf.on.resume(GROUP, VERSION, CONTACT_LIST.plural)
@kopf.on.create(GROUP, VERSION, CONTACT_LIST.plural)
@kopf.on.update(GROUP, VERSION, CONTACT_LIST.plural)
async def contactlist_changed(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    generation = body.meta.get("generation")
    old = list(body.status.get("conditions", []))
    now = datetime.now(UTC)

    def conclude(cond: Cond, **status: Any) -> None:
        status["observedGeneration"] = generation
        status["conditions"] = merge(old, [cond], generation, now)
        patch.status.update(ContactListStatus.normalized(dict(body.status) | status))

    try:
        spec = ContactListSpec.model_validate(dict(body.spec))
    except ValidationError as error:
        conclude(Cond("Ready", False, "InvalidSpec", explain(error)))
        kopf.warn(body, reason="InvalidSpec", message=explain(error))
        return
    text = await _source_text(spec, key_of(body)[0], memo)
    if isinstance(text, Cond):
        conclude(text)
        raise kopf.TemporaryError(text.message, delay=memo.settings.retry_seconds)
    keys = ListKeys(*key_of(body))
    secret = await dataplane.id_key(memo.redis, keys)
    result = contact_import.import_rows(contact_import.rows(text, spec), spec, secret)
    digest = hashlib.sha256((spec.model_dump_json() + text).encode()).hexdigest()
    changed = await dataplane.store_list(memo.redis, keys, result.contacts, digest)
    rejected = sum(result.rejected.values())
    message = (
        f"{len(result.contacts)} contacts imported, {rejected} rejected, "
        f"{result.duplicates} duplicates, of {result.read} rows"
    )
    conclude(
        Cond("Ready", True, "Imported", message),
        counts={
            "read": result.read,
            "imported": len(result.contacts),
            "rejected": rejected,
            "duplicates": result.duplicates,
        },
        rejectedByReason=dict(result.rejected),
        firstRejected=result.first_rejected,
        lastImportTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    if changed:
        kopf.info(body, reason="Imported", message=message)


async def _source_text(spec: ContactListSpec, namespace: str, memo: kopf.Memo) -> str | Cond:
    """The source's text, or the condition that says why it cannot be read yet."""
    source = spec.source.config_map
    if source is None:
        return Cond(
            "Ready",
            False,
            "SourceNotSupported",
            "spec.source.url: URL sources are not supported by this operator version yet; "
            "use spec.source.configMap",
        )
    text: str | None = await memo.kube.config_map_value(namespace, source.name, source.key)
    if text is None:
        return Cond(
            "Ready",
            False,
            "SourceNotFound",
            f"spec.source.configMap: ConfigMap {source.name!r} with key {source.key!r} "
            f"not found in namespace {namespace!r}; retrying",
        )
    return text
