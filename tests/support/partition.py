"""A TCP relay between one process and Redis that a test can cut, as a network partition puts
Redis out of one worker's reach while the others still reach it."""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit

_CHUNK = 65536


class Partition:
    """Relays 127.0.0.1:`port` to the Redis at `redis_url`. While cut nothing passes: the
    connections open at the cut are dropped, and new ones are accepted and never answered,
    so a client waits for its timeout as it would for a host it cannot reach."""

    def __init__(self, redis_url: str) -> None:
        target = urlsplit(redis_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 6379)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._cut = False
        self._relayed: list[socket.socket] = []
        self._unanswered: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            dropped, self._relayed = self._relayed, []
        for sock in dropped:
            _close(sock)

    def mend(self) -> None:
        with self._lock:
            self._cut = False
            unanswered, self._unanswered = self._unanswered, []
        for sock in unanswered:
            _close(sock)

    def close(self) -> None:
        self.cut()
        self.mend()
        _close(self._listener)

    def __enter__(self) -> Partition:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._cut:
                    self._unanswered.append(client)
                    continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._relayed += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(_CHUNK):
            sink.sendall(data)
    _close(source)
    _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
