"""The closure rule's deadline (结案规则): when a contact is finished whatever attempts remain
(pure). The worker holds it when a contact comes due; the agent API holds it when an agent
asks for a call-back."""

from __future__ import annotations

from kdial.api.campaign import Retry
from kdial.state.history import ContactHistory

__all__ = ["deadline_ms"]

_DAY_MS = 86_400_000


def deadline_ms(history: ContactHistory, retry: Retry, now_ms: int) -> int | None:
    """When the closure rule's `withinDays` finishes the contact (ms since the epoch), counted
    from its first attempt (`now_ms` if it has none yet); None without `withinDays`."""
    within = retry.closure.within_days
    if within is None:
        return None
    first = history.get("first")
    return (now_ms if first is None else int(first)) + within * _DAY_MS
