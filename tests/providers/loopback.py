"""Tiny real HTTP servers on loopback for the security tests: one that records what reaches it, one
that answers every request with a redirect to another place."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request a :class:`Recorder` got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int, location: str) -> None:
        self.status = status
        self.location = location
        self.received: list[Received] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.received.append(Received(self.command, self.path, dict(self.headers.items()), body))
        self.send_response(self.server.status)
        if self.server.location:
            self.send_header("Location", self.server.location + self.path)
        payload = b'{"access_token": "stolen", "expires_in": 3600, "refresh_token": "stolen"}'
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


@contextmanager
def serving(status: int = 200, location: str = "") -> Iterator[_Server]:
    """A loopback server answering ``status`` (with ``Location: location + path`` when given)."""
    server = _Server(status, location)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def redirect_to_recorder(status: int = 307) -> Iterator[tuple[_Server, _Server]]:
    """``(redirector, recorder)``: every request to the redirector is answered ``status`` pointing at the
    recorder, which records whatever reaches it (and answers 200 with a token-shaped body)."""
    with serving() as recorder, serving(status, recorder.url) as redirector:
        yield redirector, recorder
