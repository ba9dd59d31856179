"""A list server for contact imports: aiohttp in a thread on loopback, routes added by tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web

from kdial_local.processes import free_port

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ListServer:
    """An aiohttp server in a thread; tests add routes (path -> handler) before using them."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port()
        self.routes: dict[str, Handler] = {}
        self.requests: list[web.Request] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def text(self, path: str, body: str | bytes, content_type: str = "text/csv") -> str:
        data = body.encode() if isinstance(body, str) else body

        async def handler(_: web.Request) -> web.StreamResponse:
            return web.Response(body=data, content_type=content_type)

        self.routes[path] = handler
        return self.url(path)

    def start(self) -> ListServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def dispatch(request: web.Request) -> web.StreamResponse:
            self.requests.append(request)
            handler = self.routes.get(request.path)
            if handler is None:
                raise web.HTTPNotFound()
            return await handler(request)

        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", dispatch)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, self.host, self.port).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())


def csv_of(numbers: list[str], header: str = "phone,name") -> str:
    return header + "\n" + "".join(f"{n},N{n[-4:]}\n" for n in numbers)


#: What an internal endpoint might answer: it must never be fetched, or never be repeated.
INTERNAL_ANSWER = "internal-admin-token=8f2e1c0d\n"
