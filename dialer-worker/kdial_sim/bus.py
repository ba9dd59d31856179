"""The switch's event fan-out: every event goes to every listener, which keeps what it asked for."""

from __future__ import annotations

from typing import Protocol

from kdial_sim.protocol import EslEvent


class Listener(Protocol):
    def deliver(self, event: EslEvent) -> None: ...


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self.published = 0

    def subscribe(self, listener: Listener) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def publish(self, event: EslEvent) -> None:
        self.published += 1
        for listener in list(self._listeners):
            listener.deliver(event)
