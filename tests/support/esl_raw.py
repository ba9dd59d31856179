"""A minimal Event Socket client written from the protocol, for tests (not greenswitch).

It reads frames itself (header block to the empty line, then exactly Content-Length bytes),
decodes `text/event-plain` values one by one (so an encoded newline stays inside its value)
and `text/event-json` objects, and keeps events that arrive while it waits for a reply.
"""

from __future__ import annotations

import json
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

#: FreeSWITCH's stock ESL password, which the simulator uses by default.
CLUECON = "ClueCon"


class EslError(Exception):
    pass


@dataclass
class Frame:
    """One message as sent: its outer headers and its body bytes."""

    headers: dict[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


@dataclass
class Event:
    """A decoded event: headers in wire order, and the event body if it has one."""

    headers: dict[str, str]
    body: str | None = None
    frame: Frame = field(default_factory=lambda: Frame({}), repr=False)

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    def __getitem__(self, key: str) -> str:
        return self.headers[key]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.headers.get(key, default)


def parse_plain(payload: bytes) -> Event:
    """A text/event-plain body: URL-encoded `Name: value` lines, then an optional body."""
    head, _, rest = payload.partition(b"\n\n")
    headers: dict[str, str] = {}
    for line in head.decode("ascii").split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep:
            raise EslError(f"bad event header line {line!r}")
        headers[name] = unquote(value, encoding="utf-8", errors="strict")
    length = headers.pop("Content-Length", None)
    if length is None:
        if rest:
            raise EslError("bytes after an event without Content-Length")
        return Event(headers)
    body = rest.decode("utf-8")
    if len(rest) != int(length):
        raise EslError(f"event body is {len(rest)} bytes, Content-Length says {length}")
    return Event(headers, body)


def parse_json(payload: bytes) -> Event:
    obj = json.loads(payload.decode("utf-8"))
    body = obj.pop("_body", None)
    if body is not None:
        length = obj.pop("Content-Length")
        if len(body.encode("utf-8")) != int(length):
            raise EslError("json _body length does not match its Content-Length")
    return Event({k: str(v) for k, v in obj.items()}, body)


class EslClient:
    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self.events: deque[Event] = deque()
        self.closed_by_server = False

    # connection -----------------------------------------------------------------------

    def connect(self, password: str | None = CLUECON) -> EslClient:
        self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        greeting = self.read_frame()
        if greeting.content_type != "auth/request":
            raise EslError(f"expected auth/request, got {greeting.headers}")
        if password is not None:
            reply = self.command(f"auth {password}")
            if reply.headers.get("Reply-Text") != "+OK accepted":
                raise EslError(f"auth refused: {reply.headers}")
        return self

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> EslClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # frames ---------------------------------------------------------------------------

    def _fill(self, deadline: float) -> None:
        assert self._sock is not None, "not connected"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from the ESL server in time")
        self._sock.settimeout(remaining)
        try:
            chunk = self._sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed_by_server = True
            raise EslError("connection closed by the server")
        self._buf += chunk

    def read_frame(self, timeout: float | None = None) -> Frame:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while (end := self._buf.find(b"\n\n")) < 0:
            self._fill(deadline)
        head = bytes(self._buf[:end]).decode("utf-8")
        headers = dict(line.split(": ", 1) for line in head.split("\n") if line)
        length = int(headers.get("Content-Length", "0"))
        while len(self._buf) < end + 2 + length:
            self._fill(deadline)
        body = bytes(self._buf[end + 2 : end + 2 + length])
        del self._buf[: end + 2 + length]
        return Frame(headers, body)

    def _next_frame(self, timeout: float | None) -> Frame:
        """The next frame, filing events away as they pass."""
        frame = self.read_frame(timeout)
        if frame.content_type == "text/event-plain":
            self.events.append(_with_frame(parse_plain(frame.body), frame))
        elif frame.content_type == "text/event-json":
            self.events.append(_with_frame(parse_json(frame.body), frame))
        return frame

    # commands -------------------------------------------------------------------------

    def command(self, text: str, timeout: float | None = None) -> Frame:
        """Send one command; return its command/reply or api/response."""
        assert self._sock is not None, "not connected"
        self._sock.sendall(text.encode("utf-8") + b"\n\n")
        return self.reply(timeout)

    def reply(self, timeout: float | None = None) -> Frame:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            frame = self._next_frame(max(0.001, deadline - time.monotonic()))
            if frame.content_type in ("command/reply", "api/response"):
                return frame
            if frame.content_type == "text/disconnect-notice":
                raise EslError(f"disconnected: {frame.body.decode()}")

    def pipeline(self, texts: list[str], timeout: float | None = None) -> list[Frame]:
        """Send several commands in one write; return their replies in order."""
        assert self._sock is not None, "not connected"
        self._sock.sendall(b"".join(t.encode("utf-8") + b"\n\n" for t in texts))
        return [self.reply(timeout) for _ in texts]

    def api(self, text: str, timeout: float | None = None) -> str:
        frame = self.command(f"api {text}", timeout)
        if frame.content_type != "api/response":
            raise EslError(f"expected api/response, got {frame.headers}")
        return frame.body.decode("utf-8")

    def bgapi(self, text: str) -> str:
        """Start a background job; returns its Job-UUID."""
        frame = self.command(f"bgapi {text}")
        reply = frame.headers.get("Reply-Text", "")
        if not reply.startswith("+OK Job-UUID: "):
            raise EslError(f"bgapi refused: {reply}")
        return frame.headers["Job-UUID"]

    def subscribe(self, fmt: str = "plain", names: str = "ALL") -> None:
        reply = self.command(f"event {fmt} {names}").headers.get("Reply-Text", "")
        if not reply.startswith("+OK"):
            raise EslError(reply)

    # events ---------------------------------------------------------------------------

    def wait_for(self, match: Callable[[Event], bool], timeout: float | None = None) -> Event:
        """The first event (kept or new) that matches; earlier ones stay queued."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        seen = 0
        while True:
            for index in range(seen, len(self.events)):
                if match(self.events[index]):
                    event = self.events[index]
                    del self.events[index]
                    return event
            seen = len(self.events)
            self._next_frame(max(0.001, deadline - time.monotonic()))

    def job_result(self, job_uuid: str, timeout: float | None = None) -> str:
        """The body of the BACKGROUND_JOB for `job_uuid`."""
        event = self.wait_for(
            lambda e: e.name == "BACKGROUND_JOB" and e.get("Job-UUID") == job_uuid, timeout
        )
        return event.body or ""

    def channel_event(self, name: str, uuid: str, timeout: float | None = None) -> Event:
        return self.wait_for(lambda e: e.name == name and e.get("Unique-ID") == uuid, timeout)

    def drain_until_closed(self, timeout: float) -> None:
        """Read (and keep) events until the server closes the connection: raises EslError then,
        TimeoutError if it stays open."""
        deadline = time.monotonic() + timeout
        while True:
            self._next_frame(max(0.001, deadline - time.monotonic()))

    def drain(self, seconds: float) -> list[Event]:
        """Collect every event that arrives within `seconds`."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._next_frame(left)
            except TimeoutError:
                break
        taken = list(self.events)
        self.events.clear()
        return taken


def _with_frame(event: Event, frame: Frame) -> Event:
    event.frame = frame
    return event
