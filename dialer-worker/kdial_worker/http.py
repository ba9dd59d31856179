"""/metrics, /healthz and /readyz on one port (a gevent WSGI server).

Liveness never depends on Redis or the switch: a Redis outage must not restart every worker.
It only asks whether the dial loop still turns. Readiness asks for both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from gevent.pywsgi import WSGIServer
from prometheus_client import make_wsgi_app

#: The dial loop ticks at least every second; a minute without a tick is a hung worker.
STALL_SECONDS = 60.0

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def app(
    ready: Callable[[], bool], ticked_at: Callable[[], float]
) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app()

    def route(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            alive = time.monotonic() - ticked_at() < STALL_SECONDS
            return _plain(start_response, alive, "dial loop running", "dial loop stalled")
        if path == "/readyz":
            return _plain(start_response, ready(), "ready", "not ready: switch or Redis down")
        if path == "/metrics":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return route


def _plain(start_response: StartResponse, ok: bool, yes: str, no: str) -> Iterable[bytes]:
    start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
    return [(yes if ok else no).encode() + b"\n"]


def serve(port: int, handler: Callable[..., Iterable[bytes]]) -> WSGIServer:
    server = WSGIServer(("0.0.0.0", port), handler, log=None)  # noqa: S104 (a pod's probe port)
    server.start()
    return server
