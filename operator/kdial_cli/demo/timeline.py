"""What happened during a demo run, and when: the demo's observations folded into a timeline.

The demo polls the API (the way `kubectl get -w` would) and hands each observation here: trunk
states from the TrunkPool's status, Kubernetes Events, the worker Deployment's replicas, and
lines from the local kubelet. The live view shows the latest entries; the report reads the
trunk transitions (when carrier-c was ejected) and the scaling steps. Pure: times are seconds
since the demo started, given by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kdial.privacy import mask_text

EJECTED = "Ejected"
EJECT_EVENT = "TrunkEjected"


@dataclass(frozen=True)
class Entry:
    """One line of the timeline."""

    at: float
    source: str
    text: str


@dataclass(frozen=True)
class Transition:
    """A trunk changed state."""

    at: float
    trunk: str
    old: str | None
    new: str
    reason: str


@dataclass
class Timeline:
    """Folds observations into entries, trunk transitions, ejections and scaling steps."""

    started: float
    """When the demo started (seconds since the epoch), to place API timestamps."""
    entries: list[Entry] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    ejections: dict[str, list[float]] = field(default_factory=dict)
    """Trunk -> when it was ejected (from its status, or from a TrunkEjected Event)."""
    scaling: list[tuple[float, int, int]] = field(default_factory=list)
    """(when, replicas before, replicas after) of the worker Deployment."""
    _states: dict[str, str] = field(default_factory=dict)
    _events: set[str] = field(default_factory=set)
    _replicas: int | None = None

    def note(self, at: float, source: str, text: str) -> None:
        self.entries.append(Entry(at, source, mask_text(text)))

    def trunks(self, at: float, status: Mapping[str, Any]) -> None:
        """The TrunkPool's `status.trunks` as observed at `at`."""
        for trunk in status.get("trunks") or []:
            name, state = trunk.get("name"), trunk.get("state")
            if not name or not state or self._states.get(name) == state:
                continue
            old = self._states.get(name)
            self._states[name] = state
            when = self._api_time(trunk.get("lastTransitionTime"), at)
            reason = str(trunk.get("reason") or "")
            self.transitions.append(Transition(when, name, old, state, reason))
            if old is not None:
                because = f": {reason}" if reason else ""
                self.note(when, "TrunkPool", f"{name} {old} → {state}{because}")
            if state == EJECTED:
                self._ejected(name, when)

    def events(self, at: float, events: Iterable[Mapping[str, Any]], trunks: Sequence[str]) -> None:
        """Kubernetes Events of the demo's namespace; each is noted once."""
        fresh = [e for e in events if _event_id(e) not in self._events]
        for event in sorted(fresh, key=lambda e: _event_time(e) or ""):
            self._events.add(_event_id(event))
            if self._before_start(_event_time(event)):
                continue  # a cluster keeps Events for an hour: those of an earlier run
            when = self._api_time(_event_time(event), at)
            involved = event.get("involvedObject") or {}
            source = f"{involved.get('kind', '?')}/{involved.get('name', '?')}"
            message = str(event.get("message") or "")
            self.note(when, source, f"{event.get('reason', '')}: {message}")
            if event.get("reason") == EJECT_EVENT:
                for trunk in _named(message, trunks):
                    self._ejected(trunk, when)

    def replicas(self, at: float, replicas: int | None) -> None:
        """The worker Deployment's `spec.replicas` (None: there is no Deployment)."""
        now, before = replicas or 0, self._replicas or 0
        if now != before:
            self.scaling.append((at, before, now))
        self._replicas = replicas

    def recent(self, count: int) -> list[Entry]:
        return sorted(self.entries, key=lambda e: e.at)[-count:]

    def _ejected(self, trunk: str, at: float) -> None:
        # The status and the Event tell of the same ejection: keep one if they agree within 5s.
        times = self.ejections.setdefault(trunk, [])
        if all(abs(t - at) > 5 for t in times):
            times.append(at)
            times.sort()

    def _before_start(self, stamp: str | None) -> bool:
        when = _parse(stamp)
        # API timestamps have whole seconds, and a cluster's clock may be a little off ours.
        return when is not None and when < self.started - 5

    def _api_time(self, stamp: Any, fallback: float) -> float:
        """An API timestamp as seconds since the demo started; `fallback` if there is none."""
        when = _parse(stamp)
        if when is None:
            return fallback
        # API timestamps have whole seconds; never place an observation after it was made.
        return min(max(when - self.started, 0.0), fallback)


def _parse(stamp: Any) -> float | None:
    """An API timestamp (RFC 3339) as seconds since the epoch; None if there is none."""
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _event_id(event: Mapping[str, Any]) -> str:
    meta = event.get("metadata") or {}
    return str(meta.get("uid") or meta.get("name") or id(event))


def _event_time(event: Mapping[str, Any]) -> str | None:
    for key in ("eventTime", "lastTimestamp", "firstTimestamp"):
        if event.get(key):
            return str(event[key])
    created = (event.get("metadata") or {}).get("creationTimestamp")
    return str(created) if created else None


def _named(message: str, trunks: Sequence[str]) -> list[str]:
    """The trunks a message names, as whole words."""
    return [t for t in trunks if re.search(rf"(?<![\w-]){re.escape(t)}(?![\w-])", message)]
