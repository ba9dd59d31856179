"""TrunkPool and CallerIdPool reactions: validate, compile for the workers, report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from kdial.api.calleridpool import CallerIdPoolSpec, CallerIdPoolStatus
from kdial.api.conditions import Cond, merge
from kdial.api.kinds import CALLER_ID_POOL, GROUP, TRUNK_POOL, VERSION
from kdial.api.meta import StatusModel, explain
from kdial.api.trunkpool import TrunkPoolSpec, TrunkPoolStatus, TrunkState
from kdial.state.keys import PoolKeys
from kdial_operator import dataplane, routing
from kdial_operator.indexes import key_of


def _conclude(
    body: kopf.Body, patch: kopf.Patch, model: type[StatusModel], cond: Cond, **status: Any
) -> None:
    generation = body.meta.get("generation")
    old = list(body.status.get("conditions", []))
    status["observedGeneration"] = generation
    status["conditions"] = merge(old, [cond], generation, datetime.now(UTC))
    patch.status.update(model.normalized(dict(body.status) | status))


@kopf.on.resume(GROUP, VERSION, TRUNK_POOL.plural)
@kopf.on.create(GROUP, VERSION, TRUNK_POOL.plural)
@kopf.on.update(GROUP, VERSION, TRUNK_POOL.plural)
async def trunkpool_changed(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    try:
        spec = TrunkPoolSpec.model_validate(dict(body.spec))
    except ValidationError as error:
        _conclude(body, patch, TrunkPoolStatus, Cond("Ready", False, "InvalidSpec", explain(error)))
        kopf.warn(body, reason="InvalidSpec", message=explain(error))
        return
    previous = {t["name"]: t for t in body.status.get("trunks", [])}
    table = routing.routing_table(
        spec, {n: t.get("state", "") for n, t in previous.items() if t.get("state")}
    )
    keys = PoolKeys("tp", *key_of(body))
    generation = await dataplane.write_config(memo.redis, keys.config, table)
    trunks = [
        previous.get(t["name"], {})
        | {"name": t["name"], "state": t["state"], "weight": t["weight"]}
        for t in table["trunks"]
    ]
    healthy = sum(t["state"] != TrunkState.EJECTED for t in table["trunks"])
    _conclude(
        body,
        patch,
        TrunkPoolStatus,
        Cond("Ready", True, "Routable", f"{healthy} of {len(trunks)} trunks take calls"),
        trunks=trunks,
        healthy=f"{healthy}/{len(trunks)}",
        routingGeneration=generation,
    )


@kopf.on.resume(GROUP, VERSION, CALLER_ID_POOL.plural)
@kopf.on.create(GROUP, VERSION, CALLER_ID_POOL.plural)
@kopf.on.update(GROUP, VERSION, CALLER_ID_POOL.plural)
async def calleridpool_changed(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    try:
        spec = CallerIdPoolSpec.model_validate(dict(body.spec))
    except ValidationError as error:
        _conclude(
            body, patch, CallerIdPoolStatus, Cond("Ready", False, "InvalidSpec", explain(error))
        )
        kopf.warn(body, reason="InvalidSpec", message=explain(error))
        return
    extra: list[str] = []
    if spec.numbers_from:
        ref = spec.numbers_from
        text = await memo.kube.config_map_value(key_of(body)[0], ref.name, ref.key)
        if text is None:
            message = (
                f"spec.numbersFrom: ConfigMap {ref.name!r} with key {ref.key!r} not found in "
                f"namespace {key_of(body)[0]!r}; retrying"
            )
            _conclude(
                body, patch, CallerIdPoolStatus, Cond("Ready", False, "SourceNotFound", message)
            )
            raise kopf.TemporaryError(message, delay=memo.settings.retry_seconds)
        if isinstance(text, bytes):  # binaryData: numbers are ASCII, anything else is refused
            text = text.decode("utf-8", "replace")
        extra = text.splitlines()
    config, problems = routing.caller_ids(spec, extra)
    if problems:
        message = "spec.numbersFrom / spec.defaultNumber: " + "; ".join(problems[:5])
        _conclude(body, patch, CallerIdPoolStatus, Cond("Ready", False, "InvalidNumbers", message))
        kopf.warn(body, reason="InvalidNumbers", message=message)
        return
    keys = PoolKeys("cidp", *key_of(body))
    await dataplane.write_config(memo.redis, keys.config, config)
    total = len(config["numbers"])
    _conclude(
        body,
        patch,
        CallerIdPoolStatus,
        Cond("Ready", True, "NumbersAvailable", f"{total} numbers to present"),
        total=total,
        active=total,
    )
