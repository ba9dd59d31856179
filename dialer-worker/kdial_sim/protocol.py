"""Event Socket framing, byte for byte as mod_event_socket writes and reads it.

Every message is a header block of `Name: value` lines ended by an empty line, LF only, then
`Content-Length` bytes of body (bytes, not characters). Events are a body of their own:
`text/event-plain` is a header block whose values are URL-encoded the way switch_url_encode
does it, with the event body after a `Content-Length` line; `text/event-json` is one JSON
object (unescaped UTF-8, `_body` for the body); `text/event-xml` has one element per header.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from xml.sax.saxutils import escape as xml_escape

LF = "\n"
#: What FreeSWITCH says when it closes a listener (send_disconnect).
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
SHUTDOWN = "The system is being shut down.\n"
#: FreeSWITCH refuses a command packet past 10 MiB.
MAX_PACKET = 10 * 1024 * 1024

_URL_UNSAFE = frozenset(b'\r\n #%&+:;<=>?@[\\]^`{|}"')
_HEX = b"0123456789ABCDEF"
_HEX_DIGITS = frozenset(bytes([c]) for c in _HEX)


def url_encode(value: str) -> str:
    """switch_url_encode: %XX for control, non-ASCII and unsafe bytes of the UTF-8 form.

    Like FreeSWITCH 1.10 it does not encode twice: a `%` already followed by two upper-case
    hex digits is kept as it is.
    """
    raw = value.encode("utf-8", "surrogateescape")
    out = bytearray()
    for i, byte in enumerate(raw):
        if byte == 0x25 and raw[i + 1 : i + 2] in _HEX_DIGITS and raw[i + 2 : i + 3] in _HEX_DIGITS:
            out.append(byte)
        elif byte < 0x20 or byte > 0x7E or byte in _URL_UNSAFE:
            out += b"%" + _HEX[byte >> 4 : (byte >> 4) + 1] + _HEX[byte & 15 : (byte & 15) + 1]
        else:
            out.append(byte)
    return out.decode("ascii")


@dataclass
class EslEvent:
    """One event: ordered headers (Event-Name first) and an optional body."""

    headers: list[tuple[str, str]]
    body: str | None = None
    _encoded: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.get("Event-Name") or ""

    def get(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def encode(self, fmt: str) -> bytes:
        """The full frame for a listener in `plain` or `json` format, computed once per format."""
        if fmt not in self._encoded:
            serialize = {"json": serialize_json, "xml": serialize_xml}.get(fmt, serialize_plain)
            text = serialize(self)
            payload = text.encode("utf-8", "surrogateescape")
            head = f"Content-Length: {len(payload)}\nContent-Type: text/event-{fmt}\n\n"
            self._encoded[fmt] = head.encode("ascii") + payload
        return self._encoded[fmt]


def serialize_plain(event: EslEvent) -> str:
    """switch_event_serialize with URL encoding; empty values are written `_undef_`."""
    lines = [f"{name}: {url_encode(value) or '_undef_'}\n" for name, value in event.headers]
    if event.body:
        size = len(event.body.encode("utf-8", "surrogateescape"))
        lines.append(f"Content-Length: {size}\n\n{event.body}")
    else:
        lines.append(LF)
    return "".join(lines)


def serialize_json(event: EslEvent) -> str:
    """switch_event_serialize_json: headers as strings, then Content-Length and _body."""
    obj: dict[str, str] = {}
    for name, value in event.headers:
        obj[name] = value
    if event.body is not None:
        obj["Content-Length"] = str(len(event.body.encode("utf-8", "surrogateescape")))
        obj["_body"] = event.body
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def serialize_xml(event: EslEvent) -> str:
    """switch_event_xmlize: one element per header, text URL-encoded; the body XML-escaped."""
    lines = ["<event>", "  <headers>"]
    lines += [f"    <{name}>{url_encode(value)}</{name}>" for name, value in event.headers]
    lines.append("  </headers>")
    if event.body:
        size = len(event.body.encode("utf-8", "surrogateescape"))
        lines.append(f"  <Content-Length>{size}</Content-Length>")
        lines.append(f"  <body>{xml_escape(event.body)}</body>")
    lines.append("</event>")
    return "\n".join(lines)


def frame(headers: list[tuple[str, str]], body: str = "") -> bytes:
    """A reply frame: headers, Content-Length when there is a body, blank line, body."""
    payload = body.encode("utf-8", "surrogateescape")
    if payload:
        headers = [*headers, ("Content-Length", str(len(payload)))]
    head = "".join(f"{name}: {value}\n" for name, value in headers) + LF
    return head.encode("utf-8", "surrogateescape") + payload


def auth_request() -> bytes:
    return frame([("Content-Type", "auth/request")])


def command_reply(text: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    return frame([("Content-Type", "command/reply"), ("Reply-Text", text), *(extra or [])])


def api_response(body: str) -> bytes:
    # mod_event_socket never sends an empty api/response body.
    body = body or "-ERR no reply\n"
    payload = body.encode("utf-8", "surrogateescape")
    head = f"Content-Type: api/response\nContent-Length: {len(payload)}\n\n"
    return head.encode("ascii") + payload


def disconnect_notice(message: str = GOODBYE) -> bytes:
    payload = message.encode("utf-8")
    head = f"Content-Type: text/disconnect-notice\nContent-Length: {len(payload)}\n\n"
    return head.encode("ascii") + payload


@dataclass(frozen=True)
class ClientMessage:
    """What a client sent: the command line, any header lines after it, and a body."""

    command: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


async def read_message(reader: asyncio.StreamReader) -> ClientMessage | None:
    """Read one client packet (None at EOF). CRLF is tolerated, as FreeSWITCH tolerates it."""
    lines: list[str] = []
    size = 0
    while True:
        raw = await reader.readline()
        if not raw:
            return None
        size += len(raw)
        if size > MAX_PACKET:
            raise ValueError("command packet larger than 10 MiB")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line:
            lines.append(line)
        elif lines:
            break
    return await _assemble(reader, lines)


async def _assemble(reader: asyncio.StreamReader, lines: list[str]) -> ClientMessage:
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.lstrip(" ")))
    message = ClientMessage(command=lines[0], headers=tuple(headers))
    length = message.header("Content-Length")
    if length and length.isdigit() and int(length) > 0:
        body = await reader.readexactly(min(int(length), MAX_PACKET))
        return ClientMessage(lines[0], tuple(headers), body.decode("utf-8", "replace"))
    return message
