"""Setting conditions the way Kubernetes expects: a map keyed by type, transition times kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kdial.api.meta import Condition


@dataclass(frozen=True)
class Cond:
    """A condition as a reconciler decides it, before timestamps."""

    type: str
    status: bool | None  # None is Unknown
    reason: str
    message: str = ""

    @property
    def status_text(self) -> str:
        return {True: "True", False: "False", None: "Unknown"}[self.status]


def merge(
    old: list[dict[str, Any]], new: list[Cond], generation: int | None, now: datetime
) -> list[dict[str, Any]]:
    """The conditions list after `new` are set: `lastTransitionTime` moves only when a
    condition's status changes; conditions not in `new` are kept as they were."""
    by_type = {c["type"]: c for c in old}
    for cond in new:
        previous = by_type.get(cond.type) or {}
        changed = previous.get("status") != cond.status_text
        by_type[cond.type] = {
            "type": cond.type,
            "status": cond.status_text,
            "reason": cond.reason,
            "message": cond.message,
            "observedGeneration": generation,
            "lastTransitionTime": previous.get("lastTransitionTime", _stamp(now))
            if not changed
            else _stamp(now),
        }
    return list(by_type.values())


def merged(
    old: list[dict[str, Any]], new: list[Cond], generation: int | None, now: datetime
) -> list[Condition]:
    """`merge`, as the API's `Condition` models a status is built from."""
    return [Condition.model_validate(c) for c in merge(old, new, generation, now)]


def find(conditions: list[dict[str, Any]], type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def _stamp(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")
