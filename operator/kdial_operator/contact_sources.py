"""Where a contact list's bytes come from: a ConfigMap value, or an HTTP(S) URL streamed.

Both give an iterator of byte chunks that the (synchronous) import pulls from. An HTTP body is
downloaded by aiohttp on an event loop in a helper thread and handed over through a small
bounded queue, so at most `_QUEUE_CHUNKS` chunks are ever in memory and a slow import slows
the download down (TCP back-pressure) instead of buffering the file.

Everything that can go wrong with the URL (unreachable, a status that is not 200, a redirect
loop, an HTML page, a connection cut before the body's end, a body larger than the operator's
download cap) becomes a `contact_reader.SourceError` whose message names the URL without its
query or credentials.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import aiohttp

from kdial_operator.contact_reader import SourceError

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
    live there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def url_chunks(
    url: str, authorization: str | None = None, max_bytes: int | None = None
) -> Iterator[bytes]:
    """The body of `url`, streamed. `authorization` is sent as the Authorization header (aiohttp
    drops it on a redirect to another origin). A body longer than `max_bytes` (as served, i.e.
    after any Content-Encoding is undone, so a small gzip bomb is caught too) fails the import
    with reason `SourceTooLarge`."""
    chunks: queue.Queue[_Item] = queue.Queue(maxsize=_QUEUE_CHUNKS)
    stop = threading.Event()
    thread = threading.Thread(
        target=_download,
        args=(url, authorization, max_bytes, chunks, stop),
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
    authorization: str | None,
    max_bytes: int | None,
    chunks: queue.Queue[_Item],
    stop: threading.Event,
) -> None:
    def put(item: _Item) -> None:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    try:
        asyncio.run(_stream(url, authorization, max_bytes, put, stop))
    except Exception as error:  # a SourceError, or a bug: either way the importer reports it
        put(error)
    else:
        put(None)


async def _stream(
    url: str, authorization: str | None, max_bytes: int | None, put: _Put, stop: threading.Event
) -> None:
    shown = safe_url(url)
    received = 0
    headers = {"Authorization": authorization} if authorization else {}
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=CONNECT_TIMEOUT_SECONDS, sock_read=READ_TIMEOUT_SECONDS
    )
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers, max_redirects=MAX_REDIRECTS) as response,
        ):
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
    except aiohttp.TooManyRedirects:
        raise SourceError(
            "TooManyRedirects",
            f"{shown} redirected more than {MAX_REDIRECTS} times (a redirect loop?)",
        ) from None
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


def _too_large(shown: str, max_bytes: int) -> SourceError:
    return SourceError(
        "SourceTooLarge",
        f"{shown} is larger than {size_text(max_bytes)}, the operator's download limit "
        f"(KDIAL_MAX_DOWNLOAD_BYTES={max_bytes}): split the list, or raise the limit",
    )


def _check(response: aiohttp.ClientResponse, shown: str) -> None:
    if response.status != 200:
        raise SourceError(
            "HttpError",
            f"{shown} answered HTTP {response.status} {response.reason or ''}".rstrip(),
            transient=response.status in _TRANSIENT_STATUSES,
        )
    if response.content_type in _MARKUP_TYPES:
        raise SourceError(
            "NotAList",
            f"{shown} served {response.content_type}, not CSV or NDJSON (a login or error "
            "page instead of the file?)",
        )
