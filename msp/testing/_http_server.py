"""A scriptable local HTTP server for tests: 127.0.0.1 only, started and stopped by the test.

Each request is recorded (method, path, headers, body, arrival time) and answered by, in order:
``handler(request)`` if set and it returns a :class:`Reply`; else the next scripted reply
(``script(...)``, first in first out); else ``default`` (a Reply, or a function of the request).
A reply can be delayed, and can reset the connection in the middle of the response.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_UNSET: Any = object()


@dataclass
class Reply:
    """How the server answers one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str = b""
    json: Any = _UNSET
    delay_s: float = 0.0
    """Sleep this long before answering (interrupted when the server stops)."""
    reset: bool = False
    """Send the status line, headers and part of the body, then reset the connection (RST)."""

    def payload(self) -> bytes:
        if self.json is not _UNSET:
            return json.dumps(self.json).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """``time.monotonic()`` when it arrived."""
    peer: tuple[str, int] = ("", 0)
    """The client's address: requests sharing a port came over one kept-alive connection."""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Request], Reply | None]


class ScriptedServer:
    """``with ScriptedServer() as server:`` ... ``server.url`` is ``http://127.0.0.1:PORT``."""

    def __init__(self, default: Reply | Callable[[Request], Reply] | None = None, port: int = 0) -> None:
        self.default: Reply | Callable[[Request], Reply] = default or Reply(200, json={})
        self.handler: Responder | None = None
        self.requests: list[Request] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port

    # --- control -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ScriptedServer:
        server = self

        class Handler(_Handler):
            owner = server

        httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        self._stopping.clear()
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (the port is kept, so :meth:`start` listens on it again)."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    down = stop
    up = start

    def __enter__(self) -> ScriptedServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()

    def wait_for(self, count: int, timeout_s: float = 10.0) -> bool:
        """Block until at least ``count`` requests arrived (or the timeout passed)."""
        give_up = time.monotonic() + timeout_s
        with self._arrived:
            while len(self.requests) < count:
                left = give_up - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
        return True

    def by_header(self, name: str) -> dict[str, list[Request]]:
        """Requests grouped by the value of a header (e.g. ``Idempotency-Key``)."""
        out: dict[str, list[Request]] = {}
        for req in list(self.requests):
            out.setdefault(req.header(name) or "", []).append(req)
        return out

    # --- inside the server thread ------------------------------------------------------------

    def _answer(self, request: Request) -> Reply:
        handler = self.handler
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
            scripted = self._script.popleft() if handler is None and self._script else None
        if scripted is not None:
            return scripted
        if handler is not None:
            reply = handler(request)
            if reply is not None:
                return reply
            with self._lock:
                if self._script:
                    return self._script.popleft()
        return self.default(request) if callable(self.default) else self.default


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: ScriptedServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return None

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, dict(self.headers.items()), body, time.monotonic(),
                          (str(self.client_address[0]), int(self.client_address[1])))
        reply = self.owner._answer(request)
        if reply.delay_s and self.owner._stopping.wait(reply.delay_s):
            self.close_connection = True
            return
        payload = reply.payload()
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.json is not _UNSET and not any(k.lower() == "content-type" for k in reply.headers):
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(max(len(payload), 64) if reply.reset else len(payload)))
            self.end_headers()
            if reply.reset:
                self.wfile.write(payload[: max(1, len(payload) // 2)] if payload else b"{")
                self.wfile.flush()
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            self.wfile.write(payload)
        except OSError:  # the client gave up (e.g. timed out) before we answered
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def free_port() -> int:
    """A port nothing listens on right now (for connection-refused cases)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(default: Reply | Callable[[Request], Reply] | None = None) -> Iterator[ScriptedServer]:
    """For a fixture: ``yield from serve()`` starts a server and stops it afterwards."""
    server = ScriptedServer(default).start()
    try:
        yield server
    finally:
        server.stop()
