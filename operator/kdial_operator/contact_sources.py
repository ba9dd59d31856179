"""Where a contact list's bytes come from: a ConfigMap value, or an HTTP(S) URL streamed.

Both give an iterator of byte chunks that the (synchronous) import pulls from. An HTTP body is
downloaded by aiohttp on an event loop in a helper thread and handed over through a small
bounded queue, so at most `_QUEUE_CHUNKS` chunks are ever in memory and a slow import slows
the download down (TCP back-pressure) instead of buffering the file.

Every hop of a URL (the URL, then each redirect) is vetted by `source_policy` on the address
actually connected to, before a byte is sent there. Everything that can go wrong with the URL (an
address the policy refuses, unreachable, a status that is not 200, a redirect loop, an HTML page,
a connection cut before the body's end, a body larger than the operator's download cap) becomes a
`contact_reader.SourceError` whose message names the URL without its query or credentials, and
repeats nothing the server sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import ipaddress
import queue
import re
import socket
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
from aiohttp import hdrs
from aiohttp.abc import AbstractResolver
from yarl import URL

from kdial_operator import source_policy
from kdial_operator.contact_reader import SourceError
from kdial_operator.source_policy import Refusal, SourcePolicy

if TYPE_CHECKING:  # aiohttp 3.9 has no such name; its resolvers return the same dicts
    from aiohttp.abc import ResolveResult

CHUNK = 1 << 16
#: Redirects followed before a URL is declared a loop.
MAX_REDIRECTS = 5
#: Seconds without a byte from the server before the download is abandoned.
READ_TIMEOUT_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 15.0
_QUEUE_CHUNKS = 16
# Statuses worth retrying as they are: the server is busy, down, or the file not there yet.
_TRANSIENT_STATUSES = frozenset({404, 408, 425, 429, 500, 502, 503, 504})
_MARKUP_TYPES = ("text/html", "application/xhtml+xml")
_PHRASES = {status.value: status.phrase for status in http.HTTPStatus}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# What aiohttp takes for an IP address without resolving it: all digits and dots, or a colon.
_NUMERIC_HOST = re.compile(r"[\d.]+|.*:.*")

_Item = bytes | BaseException | None
_Put = Callable[[_Item], None]


def text_chunks(text: str) -> Iterator[bytes]:
    """A ConfigMap `data` value (already text) as UTF-8 chunks."""
    for start in range(0, len(text), CHUNK):
        yield text[start : start + CHUNK].encode()


def value_chunks(value: str | bytes) -> Iterator[bytes]:
    """A ConfigMap value as chunks: `data` (text, UTF-8 by now) or `binaryData` (bytes as the
    file had them, in the list's own encoding)."""
    if isinstance(value, str):
        yield from text_chunks(value)
        return
    for start in range(0, len(value), CHUNK):
        yield value[start : start + CHUNK]


def size_text(size: int) -> str:
    """A byte count as people read it: 2 GiB, 512 KiB, 100 bytes."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.4g} {unit}"
    return f"{size} bytes"


def safe_url(url: str) -> str:
    """The URL as it may appear in status and logs: no credentials, query or fragment (tokens
    live there); the field's name when it is not a URL at all."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "spec.source.url"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def url_chunks(
    url: str,
    authorization: str | None = None,
    max_bytes: int | None = None,
    policy: SourcePolicy | None = None,
) -> Iterator[bytes]:
    """The body of `url`, streamed. `authorization` is sent as the Authorization header (never
    on a redirect to another origin). A body longer than `max_bytes` (as served, i.e. after any
    Content-Encoding is undone, so a small gzip bomb is caught too) fails the import with reason
    `SourceTooLarge`. An address `policy` refuses, at the URL or at any redirect, fails it with
    reason `SourceNotAllowed` before anything is sent there."""
    chunks: queue.Queue[_Item] = queue.Queue(maxsize=_QUEUE_CHUNKS)
    stop = threading.Event()
    thread = threading.Thread(
        target=_download,
        args=(url, chunks, stop),
        kwargs={
            "authorization": authorization,
            "max_bytes": max_bytes,
            "policy": policy or SourcePolicy(),
        },
        name="list-download",
        daemon=True,
    )
    thread.start()
    try:
        while True:
            item = chunks.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # The download sees this within 0.1 s (its `put` polls it) and ends; it is a daemon
        # thread, so nothing waits for a server that has stopped answering.
        stop.set()


def _download(
    url: str,
    chunks: queue.Queue[_Item],
    stop: threading.Event,
    *,
    authorization: str | None,
    max_bytes: int | None,
    policy: SourcePolicy,
) -> None:
    def put(item: _Item) -> None:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    try:
        asyncio.run(
            _stream(url, put, stop, authorization=authorization, max_bytes=max_bytes, policy=policy)
        )
    except Exception as error:  # a SourceError, or a bug: either way the importer reports it
        put(error)
    else:
        put(None)


async def _stream(
    url: str,
    put: _Put,
    stop: threading.Event,
    *,
    authorization: str | None,
    max_bytes: int | None,
    policy: SourcePolicy,
) -> None:
    shown = safe_url(url)
    received = 0
    try:
        async with contextlib.AsyncExitStack() as stack:
            response = await _follow(url, authorization, policy, stack)
            _check(response, shown)
            if max_bytes is not None and (response.content_length or 0) > max_bytes:
                # Declared too large: refused before a byte of the body is read.
                raise _too_large(shown, max_bytes)
            async for chunk in response.content.iter_chunked(CHUNK):
                if stop.is_set():
                    return
                received += len(chunk)
                if max_bytes is not None and received > max_bytes:
                    # No (or a false) Content-Length: the count is what holds.
                    raise _too_large(shown, max_bytes)
                # put blocks (in this helper thread) while the importer catches up.
                await asyncio.to_thread(put, chunk)
    except _Refused as refused:
        raise _not_allowed(shown, refused) from None
    except aiohttp.ClientPayloadError:
        raise SourceError(
            "Truncated",
            f"the connection to {shown} closed before the whole file arrived",
            transient=True,
        ) from None
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise SourceError(
            "Unreachable", f"{shown} cannot be read: {type(error).__name__}", transient=True
        ) from None


async def _follow(
    first: str, authorization: str | None, policy: SourcePolicy, stack: contextlib.AsyncExitStack
) -> aiohttp.ClientResponse:
    """The response that is not a redirect, each hop vetted before it is connected to.

    Redirects are followed here rather than by aiohttp so that every hop gets a session whose
    resolver vets it for its own scheme (plain http is allowed on fewer networks than https),
    and an IP-literal hop (which aiohttp connects to without resolving) is vetted too."""
    shown = safe_url(first)
    url = _parsed(first, shown)
    origin = url.origin()
    for hop in range(MAX_REDIRECTS + 1):
        session = await stack.enter_async_context(_session(url, policy, hop))
        if url.origin() != origin:
            # As aiohttp does: the credentials are the first origin's, never sent elsewhere.
            authorization = None
        headers = {"Authorization": authorization} if authorization else {}
        response = await stack.enter_async_context(
            session.get(url, headers=headers, allow_redirects=False)
        )
        location = response.headers.get(hdrs.LOCATION)
        if response.status not in _REDIRECT_STATUSES or location is None:
            return response
        response.release()
        url = _parsed(location, shown, response.url)
    raise SourceError(
        "TooManyRedirects",
        f"{shown} redirected more than {MAX_REDIRECTS} times (a redirect loop?)",
    )


def _parsed(text: str, shown: str, base: URL | None = None) -> URL:
    """The URL itself, or where a redirect (relative to `base`) points, if it is an http(s)
    URL with a host."""
    try:
        url = URL(text) if base is None else base.join(URL(text))
        if url.scheme in ("http", "https") and url.host:
            return url
    except ValueError:
        pass
    if base is None:
        error = SourceError("InvalidUrl", f"{shown} is not a valid http(s) URL with a host")
    else:
        # Where it pointed is the server's to say: not repeated.
        error = SourceError(
            "SourceNotAllowed", f"{shown} redirected to something not an http(s) URL with a host"
        )
    raise error


def _session(url: URL, policy: SourcePolicy, hop: int) -> aiohttp.ClientSession:
    """A session that connects to `url` only if the policy allows its address."""
    assert url.host is not None
    plain_http = url.scheme == "http"
    try:
        literal = ipaddress.ip_address(url.host)
    except ValueError:
        if _NUMERIC_HOST.fullmatch(url.host):
            # 2130706433 or 127.1 is 127.0.0.1 to the socket: refused, not guessed at.
            raise _Refused(hop, url.host, Refusal("an IP address not in canonical form")) from None
    else:
        refusal = source_policy.verdict(literal, policy, plain_http=plain_http)
        if refusal is not None:
            raise _Refused(hop, url.host, refusal)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=CONNECT_TIMEOUT_SECONDS, sock_read=READ_TIMEOUT_SECONDS
    )
    resolver = _VettingResolver(policy, plain_http, hop)
    # trust_env stays off: a proxy from the environment would connect to the vetted name
    # on our behalf, to whatever address it resolves.
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=resolver), timeout=timeout, trust_env=False
    )


class _VettingResolver(AbstractResolver):
    """The system's resolver (getaddrinfo, as aiohttp's default), handing the connector only
    addresses the policy allows.

    A name with any refused address is refused whole, and the connector connects to the
    addresses vetted here, so a DNS answer that changes between the check and the connection
    (DNS rebinding) changes nothing."""

    def __init__(self, policy: SourcePolicy, plain_http: bool, hop: int) -> None:
        # Threaded, not aiodns: its close() is a no-op, and the connector does not close a
        # resolver it was given.
        self._inner = aiohttp.ThreadedResolver()
        self._policy, self._plain_http, self._hop = policy, plain_http, hop

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        resolved = await self._inner.resolve(host, port, family)
        for result in resolved:
            refusal = source_policy.verdict(
                result["host"], self._policy, plain_http=self._plain_http
            )
            if refusal is not None:
                raise _Refused(self._hop, host, refusal)
        return resolved

    async def close(self) -> None:
        await self._inner.close()


class _Refused(Exception):
    """A hop the policy refuses: which one (0 is the URL itself), its host, and why."""

    def __init__(self, hop: int, host: str, refusal: Refusal) -> None:
        super().__init__(host)
        self.hop, self.host, self.refusal = hop, host, refusal


def _not_allowed(shown: str, refused: _Refused) -> SourceError:
    # The host of a redirect is the only part of the source's answer a message repeats: it
    # is what the person must allow-list or avoid.
    where = (
        f"{refused.host!r}" if refused.hop == 0 else f"the host it redirects to, {refused.host!r},"
    )
    return SourceError(
        "SourceNotAllowed",
        f"{shown} was not fetched: {where} is {refused.refusal}. The operator fetches lists "
        "only over https from public addresses; a cluster admin may allow an internal network "
        "(and plain http from it) with the chart value operator.contactSources.allowedNetworks "
        "(KDIAL_SOURCE_ALLOWED_NETWORKS)",
    )


def _too_large(shown: str, max_bytes: int) -> SourceError:
    return SourceError(
        "SourceTooLarge",
        f"{shown} is larger than {size_text(max_bytes)}, the operator's download limit "
        f"(KDIAL_MAX_DOWNLOAD_BYTES={max_bytes}): split the list, or raise the limit",
    )


def _check(response: aiohttp.ClientResponse, shown: str) -> None:
    if response.status != 200:
        # The standard phrase, not the server's: a reason phrase is the server's to fill.
        phrase = _PHRASES.get(response.status, "")
        raise SourceError(
            "HttpError",
            f"{shown} answered HTTP {response.status} {phrase}".rstrip(),
            transient=response.status in _TRANSIENT_STATUSES,
        )
    if response.content_type in _MARKUP_TYPES:
        raise SourceError(
            "NotAList",
            f"{shown} served {response.content_type}, not CSV or NDJSON (a login or error "
            "page instead of the file?)",
        )
