"""The Event Socket connection to the switch beside this worker, kept alive.

greenswitch matches replies to commands first-in first-out and waits for a reply forever.
So every command here runs under a timeout, one at a time, and a command that times out
condemns the connection: replies after it could belong to the wrong command. A supervisor
greenlet reconnects with backoff and tells the dialer, which then reconciles its calls with
what the switch reports.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event
import gevent.lock
import greenswitch

from kdial_worker import metrics

log = logging.getLogger(__name__)

EVENTS = (
    "BACKGROUND_JOB",
    "CHANNEL_CREATE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_ANSWER",
    "CHANNEL_BRIDGE",
    "CHANNEL_HANGUP_COMPLETE",
)

Event = dict[str, str]


class EslDown(RuntimeError):
    """The switch cannot be reached now; the command was not (or not surely) executed."""


class EslSession:
    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        on_event: Callable[[Event], None],
        on_reconnect: Callable[[], None],
        timeout: float = 5.0,
    ) -> None:
        self.host, self.port, self.password, self.timeout = host, port, password, timeout
        self.on_event, self.on_reconnect = on_event, on_reconnect
        self._fs: Any = None
        self._lock = gevent.lock.Semaphore()
        self._running = False
        self._ever_connected = False
        self._supervisor: gevent.Greenlet | None = None

    @property
    def connected(self) -> bool:
        return bool(self._fs is not None and self._fs.connected)

    def start(self) -> None:
        self._running = True
        self._supervisor = gevent.spawn(self._supervise)

    def stop(self) -> None:
        self._running = False
        if self._supervisor is not None:
            self._supervisor.kill()
        self._drop()

    def wait_connected(self, timeout: float) -> bool:
        deadline = gevent.get_hub().loop.now() + timeout
        while not self.connected and gevent.get_hub().loop.now() < deadline:
            gevent.sleep(0.05)
        return self.connected

    def api(self, command: str) -> str:
        """Runs `api <command>` and returns its body."""
        return str(self._send(f"api {command}").data or "")

    def bgapi(self, command: str) -> str:
        """Runs `bgapi <command>`; returns the Job-UUID its BACKGROUND_JOB will carry."""
        reply = self._send(f"bgapi {command}")
        job = reply.headers.get("Job-UUID")
        if not job:
            raise EslDown(f"bgapi refused: {reply.headers.get('Reply-Text', '')}")
        return str(job)

    def _send(self, data: str) -> Any:
        """Sends one command and waits for its reply, pipelined with other greenlets' commands.

        The switch answers commands in order and greenswitch hands replies to waiters in the
        order they queued, so queueing and writing must happen together (under the lock), but
        waiting need not: twenty originates go out at once instead of one per round trip.
        """
        fs = self._fs
        if fs is None or not fs.connected:
            raise EslDown("not connected")
        reply = gevent.event.AsyncResult()
        try:
            with self._lock:
                fs._commands_sent.append(reply)
                fs.sock.sendall(f"{data}\n\n".encode())
            return reply.get(timeout=self.timeout)
        except (gevent.Timeout, OSError) as error:
            self._drop()
            raise EslDown(f"command failed: {type(error).__name__}") from None

    def _supervise(self) -> None:
        backoff = 0.2
        while self._running:
            if self.connected:
                backoff = 0.2
                gevent.sleep(0.2)
                continue
            metrics.ESL_UP.set(0)
            try:
                self._connect()
            except Exception as error:  # every failure to connect is retried the same way
                log.warning("ESL connect to %s:%s failed: %s", self.host, self.port, error)
                self._drop()
                gevent.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            metrics.ESL_UP.set(1)
            if self._ever_connected:
                metrics.ESL_RECONNECTS.inc()
                log.info("ESL reconnected to %s:%s", self.host, self.port)
                gevent.spawn(self.on_reconnect)
            self._ever_connected = True

    def _connect(self) -> None:
        fs = greenswitch.InboundESL(self.host, self.port, self.password, timeout=self.timeout)
        # greenswitch's own timeout covers the TCP connect only, not the wait for auth.
        with gevent.Timeout(self.timeout):
            fs.connect()
        for name in EVENTS:
            fs.register_handle(name, self._handle)
        self._fs = fs
        with gevent.Timeout(self.timeout):
            fs.send("event plain " + " ".join(EVENTS))

    def _handle(self, event: Any) -> None:
        headers: Event = dict(event.headers)
        if headers.get("Event-Name") == "BACKGROUND_JOB":
            # greenswitch leaves a plain event's body appended to its Content-Length header.
            headers["_body"] = headers.get("Content-Length", "").partition("\n\n")[2].strip()
        self.on_event(headers)

    def _drop(self) -> None:
        fs, self._fs = self._fs, None
        if fs is None:
            return
        fs._run = False
        fs.connected = False
        with contextlib.suppress(OSError):
            fs.sock.close()
