"""What the switch itself has up, looked at over its Event Socket ten times a second: the one
witness of a call the ledger no longer counts (a frozen or cut-off worker's). While the switch
is away (restarting, or dropping its Event Sockets) the watch looks again until it is back."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from types import TracebackType

from tests.support.esl_raw import EslClient, EslError

POLL_SECONDS = 0.1


class SwitchWatch:
    """Polls `show channels as json` until closed: `up` are the uuids of the channels the
    latest poll found, `doubled` the destinations any poll found in two channels at once."""

    def __init__(self, esl: tuple[str, int]) -> None:
        self._esl = esl
        self._client: EslClient | None = None
        self._stop = threading.Event()
        self.polls = 0
        self.up: frozenset[str] = frozenset()
        self.doubled: set[str] = set()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def check(self) -> None:
        """The watch looked throughout: it polled, and it still polls."""
        assert self.polls > 0 and self._thread.is_alive(), "the switch watch stopped looking"

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                rows = self._channels()
            except (OSError, EslError):
                self._reset()
                continue
            twice = Counter(row["dest"] for row in rows)
            self.doubled |= {dest for dest, n in twice.items() if n > 1}
            self.up = frozenset(row["uuid"] for row in rows)
            self.polls += 1

    def _channels(self) -> list[dict[str, str]]:
        if self._client is None:
            self._client = EslClient(*self._esl, timeout=2).connect()
        reply = json.loads(self._client.api("show channels as json"))
        return list(reply.get("rows", []))

    def _reset(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.close()
        self._client = None

    def __enter__(self) -> SwitchWatch:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._reset()
