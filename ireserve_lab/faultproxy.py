"""A small fault-injecting HTTP proxy for a real server (Radicale): drops, 503s, slow answers, outages.

Public API: :class:`FaultProxy`, :class:`Faults`.

It listens on a free loopback port and forwards every request to one upstream (also on loopback),
counting requests per method. Faults are drawn from a seeded RNG, so a failing run repeats exactly,
and are bounded (``max_faults``) so a test always converges. ``down`` makes every request fail (the
connection is closed without an answer), as a server that went away mid-sync; ``no_sync_collection``
answers ``sync-collection`` REPORTs with 501, as servers without RFC 6578 do.

A :class:`~calendar_emulators.core.FaultPlan` (``plan``) adds the emulators' fault vocabulary in front
of the real server, one-shot or at seeded rates, matched by method and path: ``status`` (answer that
status, with ``Retry-After`` when given, without forwarding), ``reset`` (close the connection without
forwarding), ``timeout`` (hold the request ``delay`` seconds, then forward it: a client that gave up
meanwhile sees no answer although its request landed) and ``lost`` (forward at once, then answer
``status`` instead of the server's answer: the write happened, its answer was lost). Every exchange is
logged (``log``, the emulators' :class:`~calendar_emulators.core.RequestLog`, stamped by ``clock``).
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import requests

from calendar_emulators.core import Fault
from calendar_emulators.core import FaultPlan
from calendar_emulators.core import LoggedRequest
from calendar_emulators.core import RequestLog

__all__ = ["FaultProxy", "Faults"]

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "server", "date"}


@dataclass
class Faults:
    """Probabilities per request (0..1) and the bound on how many faults are injected in total."""

    drop: float = 0.0
    unavailable: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 0.3
    max_faults: int = 50
    seed: int = 0


class FaultProxy:
    """A threaded proxy in front of ``upstream`` (see the module docstring)."""

    def __init__(
        self, upstream: str, faults: Faults | None = None, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults = faults or Faults()
        self.rng = random.Random(self.faults.seed)
        self.injected: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.down = False
        self.no_sync_collection = False
        self.plan = FaultPlan()
        self.log = RequestLog()
        self.clock = clock or (lambda: datetime.now(UTC))
        #: the least a "timeout" fault holds its request (longer than the client's timeout, so it gives up)
        self.hold_at_least = 0.0
        #: requests being handled (a held "timeout" request lands after its client gave up)
        self.in_flight = 0
        self._session = threading.local()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        # a short poll: stop() waits up to one poll interval for the loop to notice (0.5 s by default)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fault-proxy", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self.rng = random.Random(faults.seed)

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.injected.clear()
        self.log.clear()

    def lose_next_answer(self, method: str, status: int = 503, path: str | None = None) -> None:
        """The next ``method`` request (whose path matches ``path``) reaches the server; its answer is
        replaced by ``status``."""
        self.plan.add(Fault(kind="lost", status=status, method=method, path=path))

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being handled (held ones have landed)."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self.in_flight

    def count(self, method: str | None = None) -> int:
        with self._lock:
            return sum(self.requests.values()) if method is None else self.requests[method]

    def _decide(self) -> str:
        with self._lock:
            if self.down:
                self.injected["down"] += 1
                return "drop"
            f = self.faults
            if sum(self.injected[k] for k in ("drop", "unavailable", "slow")) >= f.max_faults:
                return ""
            roll = self.rng.random()
            for kind, p in (("drop", f.drop), ("unavailable", f.unavailable), ("slow", f.slow)):
                if roll < p:
                    self.injected[kind] += 1
                    return kind
                roll -= p
            return ""

    def _upstream_session(self) -> requests.Session:
        """One keep-alive session per proxy thread (a new connection per request costs Radicale a thread)."""
        session = getattr(self._session, "value", None)
        if session is None:
            session = self._session.value = requests.Session()
        return session

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def _forward(self) -> None:
                with proxy._lock:
                    proxy.in_flight += 1
                started, begun = proxy.clock(), time.monotonic()
                self._status, self._fault = 0, ""
                try:
                    self._handle()
                finally:
                    with proxy._lock:
                        proxy.in_flight -= 1
                    path = self.path.split("?", 1)[0]
                    proxy.log.add(
                        LoggedRequest(
                            self.command, path, {}, self._status, started, time.monotonic() - begun, 0, self._fault
                        )
                    )

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    proxy.requests[self.command] += 1
                planned = proxy.plan.pick(self.command, self.path.split("?", 1)[0])
                if planned is not None and planned.kind != "lost":
                    self._fault = planned.kind if planned.kind != "status" else f"status {planned.status}"
                    if planned.kind == "status":
                        retry = {"Retry-After": f"{planned.retry_after:g}"} if planned.retry_after is not None else {}
                        self._answer(planned.status, retry, b"injected fault")
                        return
                    if planned.kind == "reset":
                        self._drop()
                        return
                    # "timeout": the request lands after the client gave up
                    time.sleep(max(planned.delay, proxy.hold_at_least))
                fault = proxy._decide()
                if fault == "drop":
                    self._fault = "drop"
                    self._drop()
                    return
                if fault == "unavailable":
                    self._answer(503, {"Retry-After": "1"}, b"busy")
                    return
                if fault == "slow":
                    time.sleep(proxy.faults.slow_seconds)
                if proxy.no_sync_collection and self.command == "REPORT" and b"sync-collection" in body:
                    self._answer(501, {}, b"sync-collection is not supported here")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP and k.lower() != "host"}
                upstream = proxy._upstream_session().request(
                    self.command,
                    proxy.upstream + self.path,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    timeout=60,
                )
                if planned is not None and planned.kind == "lost":  # the server did it, the client hears otherwise
                    self._fault = "lost"
                    self._answer(planned.status, {}, b"the answer was lost")
                    return
                out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
                self._answer(upstream.status_code, out, upstream.content)

            def _drop(self) -> None:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self._status = status
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (a held request): its answer goes nowhere
                    self.close_connection = True

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_OPTIONS = do_MKCALENDAR = _forward
            do_POST = do_PROPPATCH = do_HEAD = _forward

        return Handler

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
