"""The Event Socket listener: inbound connections, authentication, subscriptions, api/bgapi.

Each connection behaves like a mod_event_socket listener. Commands run one at a time; `api`
holds the connection's events back until its api/response is written (FreeSWITCH's listener
thread is busy meanwhile); `bgapi` answers at once and its BACKGROUND_JOB goes to everyone who
listens. Events queue per connection; past 100000 queued events they are lost, and a listener
that lost more than 500 is closed, as FreeSWITCH does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid as uuidlib
from collections.abc import Coroutine
from typing import Any

from kdial_sim import commands, events, protocol
from kdial_sim.api import Api
from kdial_sim.bus import EventBus
from kdial_sim.commands import Command, Reply
from kdial_sim.events import Stamper
from kdial_sim.protocol import EslEvent

log = logging.getLogger(__name__)

MAX_QUEUE = 100_000
MAX_LOST = 500
#: FreeSWITCH waits this long (real seconds) for the first command of a connection.
AUTH_TIMEOUT = 25.0

_EVENT_NAMES = frozenset(
    [
        "CUSTOM",
        "CLONE",
        "CHANNEL_CREATE",
        "CHANNEL_DESTROY",
        "CHANNEL_STATE",
        "CHANNEL_CALLSTATE",
        "CHANNEL_ANSWER",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_HOLD",
        "CHANNEL_UNHOLD",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_OUTGOING",
        "CHANNEL_PARK",
        "CHANNEL_UNPARK",
        "CHANNEL_APPLICATION",
        "CHANNEL_ORIGINATE",
        "CHANNEL_UUID",
        "API",
        "LOG",
        "INBOUND_CHAN",
        "OUTBOUND_CHAN",
        "STARTUP",
        "SHUTDOWN",
        "PUBLISH",
        "UNPUBLISH",
        "TALK",
        "NOTALK",
        "SESSION_CRASH",
        "MODULE_LOAD",
        "MODULE_UNLOAD",
        "DTMF",
        "MESSAGE",
        "PRESENCE_IN",
        "NOTIFY_IN",
        "PRESENCE_OUT",
        "PRESENCE_PROBE",
        "MESSAGE_WAITING",
        "MESSAGE_QUERY",
        "ROSTER",
        "CODEC",
        "BACKGROUND_JOB",
        "DETECTED_SPEECH",
        "DETECTED_TONE",
        "PRIVATE_COMMAND",
        "HEARTBEAT",
        "TRAP",
        "ADD_SCHEDULE",
        "DEL_SCHEDULE",
        "EXE_SCHEDULE",
        "RE_SCHEDULE",
        "RELOADXML",
        "NOTIFY",
        "PHONE_FEATURE",
        "PHONE_FEATURE_SUBSCRIBE",
        "SEND_MESSAGE",
        "RECV_MESSAGE",
        "REQUEST_PARAMS",
        "CHANNEL_DATA",
        "GENERAL",
        "COMMAND",
        "SESSION_HEARTBEAT",
        "CLIENT_DISCONNECTED",
        "SERVER_DISCONNECTED",
        "SEND_INFO",
        "RECV_INFO",
        "RECV_RTCP_MESSAGE",
        "SEND_RTCP_MESSAGE",
        "CALL_SECURE",
        "NAT",
        "RECORD_START",
        "RECORD_STOP",
        "PLAYBACK_START",
        "PLAYBACK_STOP",
        "CALL_UPDATE",
        "FAILURE",
        "SOCKET_DATA",
        "MEDIA_BUG_START",
        "MEDIA_BUG_STOP",
        "CONFERENCE_DATA_QUERY",
        "CONFERENCE_DATA",
        "CALL_SETUP_REQ",
        "CALL_SETUP_RESULT",
        "CALL_DETAIL",
        "DEVICE_STATE",
        "TEXT",
        "SHUTDOWN_REQUESTED",
        "ALL",
    ]
)


def event_name(word: str) -> str | None:
    """switch_name_event: case-insensitive, with or without the SWITCH_EVENT_ prefix."""
    name = word.upper().removeprefix("SWITCH_EVENT_")
    return name if name in _EVENT_NAMES else None


class Subscription:
    """What one listener asked for: format, event names, CUSTOM subclasses, filters."""

    def __init__(self) -> None:
        self.fmt = "plain"
        self.enabled = False
        self.names: set[str] = set()
        self.subclasses: set[str] = set()
        self.filters: list[tuple[str, str]] = []

    def subscribe(self, words: tuple[str, ...]) -> str:
        custom, keys = False, 0
        for index, word in enumerate(words):
            if index == 0 and word.lower() in ("plain", "json", "xml"):
                self.fmt = word.lower()
                continue
            if custom:
                self.subclasses.add(word)
                continue
            name = event_name(word)
            if name is not None:
                keys += 1
                self.names.add(name)
                custom = custom or name == "CUSTOM"
        if not keys:
            return "-ERR no keywords supplied"
        self.enabled = True
        return f"+OK event listener enabled {self.fmt}"

    def unsubscribe(self, words: tuple[str, ...]) -> str:
        names = [n for n in (event_name(w) for w in words) if n is not None]
        if not names:
            return "-ERR no keywords supplied"
        if "ALL" in names:
            self.names.clear()
        else:
            if "ALL" in self.names:
                # Like FreeSWITCH: nixing one event out of ALL means "all the others".
                self.names = set(_EVENT_NAMES) - {"ALL"}
            self.names.difference_update(names)
        self.subclasses.difference_update(words)
        return "+OK events nixed"

    def clear(self) -> str:
        if not self.enabled:
            return "-ERR not listening for events"
        self.enabled = False
        self.names.clear()
        self.subclasses.clear()
        return "+OK no longer listening for events"

    def wants(self, event: EslEvent) -> bool:
        if not self.enabled:
            return False
        name = event.name
        if "ALL" not in self.names:
            if name not in self.names:
                return False
            subclass = event.get("Event-Subclass")
            if name == "CUSTOM" and subclass and subclass not in self.subclasses:
                return False
        return self._passes_filters(event)

    def _passes_filters(self, event: EslEvent) -> bool:
        """With filters set, an event passes if any filter header matches (mod_event_socket)."""
        if not self.filters:
            return True
        for header, wanted in self.filters:
            value = event.get(header)
            if value is None:
                continue
            if wanted.startswith("/") and re.search(wanted.strip("/"), value):
                return True
            if value.lower() == wanted.lower():
                return True
        return False


class Connection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        server: EslServer,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._server = server
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_QUEUE)
        self._held: list[bytes] | None = None
        self._lost = 0
        self.authed = False
        self.subscription = Subscription()
        self.closed = False

    async def run(self) -> None:
        pump = asyncio.create_task(self._pump())
        self._send(protocol.auth_request())
        try:
            await self._serve()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            log.debug("connection ended: %s", exc)
        finally:
            self._server.bus.unsubscribe(self)
            self._stop_pump()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await pump
            self._close_transport()

    async def _serve(self) -> None:
        first = True
        while not self.closed:
            timeout = AUTH_TIMEOUT if first else None
            first = False
            try:
                message = await asyncio.wait_for(protocol.read_message(self._reader), timeout)
            except TimeoutError:
                return self._goodbye()
            if message is None:
                return None
            if not await self._handle(commands.parse_command(message, self.authed)):
                return self._goodbye()
        return None

    async def _handle(self, command: Command | Reply) -> bool:
        """Run one command; False when the connection must close."""
        match command:
            case commands.Exit():
                self._reply("+OK bye")
                return False
            case commands.Auth(password=password):
                return self._auth(password)
            case commands.Api(command=name, arg=arg):
                await self._api(name, arg)
            case commands.BgApi(command=name, arg=arg, job_uuid=job):
                self._bgapi(name, arg, job)
            case _:
                self._reply(self._listener_command(command))
        return True

    def _auth(self, password: str) -> bool:
        if password != self._server.password:
            self._reply("-ERR invalid")
            return False
        self.authed = True
        self._reply("+OK accepted")
        self._server.bus.subscribe(self)
        return True

    def _listener_command(self, command: Command | Reply) -> str:
        sub = self.subscription
        match command:
            case commands.Subscribe(words=words):
                return sub.subscribe(words)
            case commands.Unsubscribe(words=words):
                return sub.unsubscribe(words)
            case commands.NoEvents():
                return sub.clear()
            case commands.MyEvents(uuid=uuid, fmt=fmt):
                return self._myevents(uuid, fmt)
            case commands.Filter(action=action, header=header, value=value):
                return self._filter(action, header, value)
            case commands.SendMsg(uuid=uuid, headers=headers):
                return self._sendmsg(uuid, dict((k.lower(), v) for k, v in headers))
            case Reply(text=text):
                return text
        return commands.NOT_FOUND

    def _myevents(self, uuid: str, fmt: str | None) -> str:
        if uuid not in self._server.api.switch.calls:
            return "-ERR invalid uuid"
        sub = self.subscription
        sub.fmt = fmt if fmt in ("plain", "json", "xml") else sub.fmt
        sub.enabled = True
        sub.names.add("ALL")
        sub.filters = [("Unique-ID", uuid)]
        return "+OK Events Enabled"

    def _filter(self, action: str, header: str, value: str | None) -> str:
        sub = self.subscription
        if action == "delete":
            if header.lower() == "all":
                sub.filters.clear()
            else:
                sub.filters = [
                    (h, v) for h, v in sub.filters if h != header or (value and v != value)
                ]
            return f"+OK filter deleted. [{header}][{value or ''}]"
        sub.filters.append((header, value or ""))
        return f"+OK filter added. [{header}]=[{value}]"

    def _sendmsg(self, uuid: str | None, headers: dict[str, str]) -> str:
        switch = self._server.api.switch
        if not uuid or uuid not in switch.calls:
            return f"-ERR invalid session id [{uuid or ''}]"
        if headers.get("call-command", "").lower() == "hangup":
            switch.kill(uuid, headers.get("hangup-cause") or "NORMAL_CLEARING")
        return "+OK"

    async def _api(self, name: str, arg: str | None) -> None:
        self._held = []
        try:
            body = await self._server.run_api(name, arg)
        finally:
            held, self._held = self._held, None
        self._send(protocol.api_response(body))
        for data in held:
            self._send(data)

    def _bgapi(self, name: str, arg: str | None, job_uuid: str | None) -> None:
        job = job_uuid or str(uuidlib.uuid4())
        self._reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)])
        self._server.spawn(self._server.background_job(job, name, arg))

    def deliver(self, event: EslEvent) -> None:
        if self.closed or not self.subscription.wants(event):
            return
        data = event.encode(self.subscription.fmt)
        if self._held is None:
            self._send(data)
        elif len(self._held) < MAX_QUEUE:
            self._held.append(data)
        else:
            self._lose()

    def _reply(self, text: str, extra: list[tuple[str, str]] | None = None) -> None:
        self._send(protocol.command_reply(text, extra))

    def _goodbye(self) -> None:
        self._send(protocol.disconnect_notice())
        self.closed = True

    def _send(self, data: bytes) -> None:
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            self._lose()

    def _lose(self) -> None:
        self._lost += 1
        if self._lost > MAX_LOST and not self.closed:
            log.error("listener lost %d events, closing it", self._lost)
            self.abort()

    def _stop_pump(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    async def _pump(self) -> None:
        while (data := await self._queue.get()) is not None:
            self._writer.write(data)
            await self._writer.drain()
        if self.closed:
            # Our side said goodbye: closing makes the pending read see EOF and end the session.
            self._close_transport()

    def shutdown(self, message: str) -> None:
        """Tell the client goodbye (text/disconnect-notice) and close after the queue drains."""
        if not self.closed:
            self._send(protocol.disconnect_notice(message))
            self.closed = True
            self._stop_pump()

    def abort(self) -> None:
        """Cut the connection at once, like a network failure or a killed switch."""
        self.closed = True
        self._server.bus.unsubscribe(self)
        self._writer.transport.abort()

    def _close_transport(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()


class EslServer:
    def __init__(self, api: Api, bus: EventBus, stamper: Stamper, password: str) -> None:
        self.api = api
        self.bus = bus
        self.stamper = stamper
        self.password = password
        self.connections: set[Connection] = set()
        self._server: asyncio.Server | None = None
        self._address: tuple[str, int] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(
            self._accept, host, port, reuse_address=True, limit=protocol.MAX_PACKET
        )
        bound = self._server.sockets[0].getsockname()
        self._address = (str(bound[0]), int(bound[1]))
        return self._address

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = Connection(reader, writer, self)
        self.connections.add(connection)
        try:
            await connection.run()
        finally:
            self.connections.discard(connection)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run_api(self, name: str, arg: str | None) -> str:
        try:
            return await self.api.execute(name, arg)
        except Exception:
            log.exception("api %s failed", name)
            return f"-ERR {name} failed in the simulator\n"

    async def background_job(self, job: str, name: str, arg: str | None) -> None:
        body = await self.run_api(name, arg)
        self.bus.publish(events.background_job(self.stamper, job, name, arg, body))

    def drop_all(self, graceful: bool) -> None:
        for connection in list(self.connections):
            if graceful:
                connection.shutdown(protocol.GOODBYE)
            else:
                connection.abort()

    async def refuse_for(self, real_seconds: float) -> None:
        """Stop listening (and drop everyone) for a while, then listen again on the same port."""
        if self._server is None or self._address is None:
            return
        self._server.close()
        self.drop_all(graceful=False)
        await asyncio.sleep(real_seconds)
        await self.start(*self._address)

    async def reopen(self) -> None:
        """Listen again on the address `start` bound, after `close`."""
        if self._address is not None:
            await self.start(*self._address)

    async def close(self) -> None:
        for connection in list(self.connections):
            connection.shutdown(protocol.SHUTDOWN)
        if self._server is not None:
            self._server.close()
        await asyncio.sleep(0.05)
        for connection in list(self.connections):
            connection.abort()
