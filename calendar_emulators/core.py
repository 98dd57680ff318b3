"""What both emulators share: a clock, a request log, fault injection, latency, push delivery, serving.

Public API: :class:`Clock`, :class:`LoggedRequest`, :class:`RequestLog`, :class:`Fault`, :class:`FaultPlan`,
:class:`PushFaults`, :class:`Deliverer`, :class:`EmulatorApp`, :class:`EmulatorServer`, :class:`ConnectionReset`.

An emulator is a WSGI app (a subclass of :class:`EmulatorApp`) that stands in for a real service. It
is product code: the offline demo, the benchmarks and every end-to-end test run on it. It imports
nothing of the plugin.

Every request passes through :meth:`EmulatorApp.__call__`, which (1) applies simulated latency,
(2) asks the :class:`FaultPlan` whether to fail the request instead of answering it, (3) dispatches to
the emulator's own handler and (4) records the exchange in the :class:`RequestLog` so tests and
benchmarks can count calls. Control endpoints under ``/_emulator/`` are neither faulted nor logged.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

__all__ = [
    "Clock",
    "ConnectionReset",
    "Deliverer",
    "EmulatorApp",
    "EmulatorServer",
    "Fault",
    "FaultPlan",
    "LoggedRequest",
    "PushFaults",
    "RequestLog",
]

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_emulator"


# --------------------------------------------------------------------------- clock


class Clock:
    """The emulator's notion of now: the process clock (so freezegun works) plus a manual offset.

    ``advance`` moves the emulator's time forward without touching the process clock, for expiring
    tokens, channels and subscriptions in demos and long-running tests.
    """

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + offset

    def advance(self, seconds: float) -> None:
        """Move this clock forward by ``seconds``."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        """Drop any manual offset."""
        with self._lock:
            self._offset = timedelta(0)


# --------------------------------------------------------------------------- request log


@dataclass(frozen=True)
class LoggedRequest:
    """One exchange as the emulator saw it. ``bytes_out`` is the size of the body sent back."""

    method: str
    path: str
    query: Mapping[str, tuple[str, ...]]
    status: int
    started: datetime
    duration: float
    bytes_out: int
    fault: str = ""


class RequestLog:
    """A thread-safe record of every non-control request an emulator answered."""

    def __init__(self) -> None:
        self._items: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def add(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def entries(self) -> list[LoggedRequest]:
        """Return a copy of all entries, oldest first."""
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def count(self, method: str | None = None, path: str | None = None, status: int | None = None) -> int:
        """Count entries, optionally by method, by a regular expression searched in the path, and by status."""
        pattern = re.compile(path) if path else None
        return sum(
            1
            for e in self.entries()
            if (method is None or e.method == method)
            and (pattern is None or pattern.search(e.path))
            and (status is None or e.status == status)
        )

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                "method": e.method,
                "path": e.path,
                "query": {k: list(v) for k, v in e.query.items()},
                "status": e.status,
                "started": e.started.isoformat(),
                "duration": e.duration,
                "bytes_out": e.bytes_out,
                "fault": e.fault,
            }
            for e in self.entries()
        ]


# --------------------------------------------------------------------------- faults


class ConnectionReset(Exception):
    """Raised by the fault layer to make the server drop the connection without any response."""


@dataclass
class Fault:
    """One kind of failure to inject.

    ``kind`` is ``"status"`` (answer ``status`` with the emulator's own error body for it and an
    optional ``Retry-After``), ``"timeout"`` (sleep ``delay`` seconds, then answer normally, so a
    client with a shorter timeout gives up) or ``"reset"`` (drop the connection).
    ``method`` and ``path`` (a regular expression searched in the path) restrict where it applies.
    ``times`` is how many requests it still fails (None = unlimited, for rate faults).
    ``reason`` lets an emulator pick a specific error body (for example Google's ``rateLimitExceeded``).
    """

    kind: str = "status"
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    method: str | None = None
    path: str | None = None
    times: int | None = 1
    reason: str = ""

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method:
            return False
        return not (self.path and not re.search(self.path, path))


class FaultPlan:
    """Decides, per request, whether to fail it: one-shot faults first, then seeded random rates.

    One-shot faults (:meth:`add`) fire on the next matching requests, ``times`` times. Rate faults
    (:meth:`set_rate`) fire with a probability drawn from a seeded generator, so a run is repeatable.
    """

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._once: list[Fault] = []
        self._rates: list[tuple[float, Fault]] = []
        self._random = random.Random(seed)
        self.injected = 0

    def add(self, fault: Fault) -> None:
        """Queue a fault for the next matching request(s)."""
        with self._lock:
            self._once.append(fault)

    def set_rate(self, probability: float, fault: Fault) -> None:
        """Fail matching requests at random with ``probability`` (0..1)."""
        fault.times = None
        with self._lock:
            self._rates.append((probability, fault))

    def seed(self, seed: int) -> None:
        with self._lock:
            self._random.seed(seed)

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._once.clear()
            self._rates.clear()

    def pick(self, method: str, path: str) -> Fault | None:
        """Return the fault to apply to this request, or None."""
        with self._lock:
            for fault in self._once:
                if fault.matches(method, path):
                    assert fault.times is not None
                    fault.times -= 1
                    if fault.times <= 0:
                        self._once.remove(fault)
                    self.injected += 1
                    return fault
            for probability, fault in self._rates:
                if fault.matches(method, path) and self._random.random() < probability:
                    self.injected += 1
                    return fault
        return None


# --------------------------------------------------------------------------- push delivery


@dataclass
class PushFaults:
    """How an emulator mistreats the notifications it sends: drop, duplicate, reorder, delay.

    Probabilities are drawn from a seeded generator. ``duplicate_copies`` is how many extra copies a
    duplicated notification gets. ``hold`` holds every notification back until :meth:`Deliverer.release`.
    """

    drop: float = 0.0
    duplicate: float = 0.0
    duplicate_copies: int = 1
    reorder: float = 0.0
    delay: float = 0.0
    hold: bool = False
    seed: int = 0


@dataclass(order=True)
class _Push:
    due: float
    seq: int
    url: str = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)


class Deliverer:
    """Sends notifications (webhook POSTs) from a background thread, like the real push services.

    ``send`` queues one POST. Delivery honours :class:`PushFaults`; a non-2xx answer or a timeout is
    retried with exponential backoff until ``retry_horizon`` seconds after the first try (the real
    services retry for hours; tests shorten it). ``delivered`` lists ``(url, status)`` of every try.
    """

    def __init__(self, *, timeout: float = 3.0, retry_horizon: float = 0.0, retry_base: float = 0.5) -> None:
        self.timeout = timeout
        self.retry_horizon = retry_horizon
        self.retry_base = retry_base
        self.faults = PushFaults()
        self._random = random.Random(0)
        self._queue: queue.PriorityQueue[_Push] = queue.PriorityQueue()
        self._held: list[_Push] = []
        self._seq = 0
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self.delivered: list[tuple[str, int]] = []
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="emulator-push", daemon=True)
        self._thread.start()

    def configure(self, faults: PushFaults) -> None:
        """Replace the push faults (and reseed their generator)."""
        with self._lock:
            self.faults = faults
            self._random.seed(faults.seed)

    def send(self, url: str, headers: Mapping[str, str], body: bytes = b"") -> None:
        """Queue one notification, applying drop / duplicate / reorder / delay / hold."""
        with self._lock:
            f = self.faults
            if f.drop and self._random.random() < f.drop:
                self.dropped += 1
                return
            copies = 1 + (f.duplicate_copies if f.duplicate and self._random.random() < f.duplicate else 0)
            delay = f.delay
            if f.reorder and self._random.random() < f.reorder:
                delay += self._random.uniform(0.05, 0.3)
            items = []
            for _ in range(copies):
                self._seq += 1
                items.append(_Push(time.monotonic() + delay, self._seq, url, dict(headers), body))
            if f.hold:
                self._held.extend(items)
                return
        with self._idle:
            self._in_flight += len(items)
        for item in items:
            self._queue.put(item)

    def release(self, shuffle: bool = False) -> int:
        """Send every held notification (optionally in a random order); return how many."""
        with self._lock:
            held, self._held = self._held, []
            if shuffle:
                self._random.shuffle(held)
        with self._idle:
            self._in_flight += len(held)
        now = time.monotonic()
        for i, item in enumerate(held):
            item.due = now + i * 1e-6
            self._queue.put(item)
        return len(held)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or in flight (held items do not count)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self) -> None:
        self._stop.set()
        self._queue.put(_Push(0, -1, "", {}, b""))
        self._thread.join(timeout=5)
        self._session.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if self._stop.is_set():
                return
            wait = item.due - time.monotonic()
            if wait > 0:
                self._queue.put(item)
                time.sleep(min(wait, 0.05))
                continue
            status = self._post(item)
            if status is None or not 200 <= status < 300:
                backoff = self.retry_base * (2 ** (item.attempt - 1))
                if self.retry_horizon and backoff * 2 <= self.retry_horizon:
                    item.attempt += 1
                    item.due = time.monotonic() + backoff
                    self._queue.put(item)
                    continue
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _post(self, item: _Push) -> int | None:
        try:
            resp = self._session.post(item.url, headers=item.headers, data=item.body, timeout=self.timeout)
        except requests.RequestException as exc:
            log.debug("push to %s failed: %s", item.url, type(exc).__name__)
            self.delivered.append((item.url, 0))
            return None
        self.delivered.append((item.url, resp.status_code))
        return resp.status_code


# --------------------------------------------------------------------------- the app base


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """Return a JSON response the way Google and Graph send them (UTF-8, no HTML escaping)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return Response(body, status=status, headers=dict(headers or {}), content_type="application/json; charset=UTF-8")


class EmulatorApp:
    """Base WSGI app of an emulator: latency, faults, request log and the ``/_emulator`` control API.

    Subclasses implement :meth:`handle` (the service itself), :meth:`fault_response` (the service's own
    error body for an injected status) and may extend :meth:`control` for their own control routes.
    The generic control routes are:

    - ``GET /_emulator/requests`` (the log), ``DELETE /_emulator/requests`` (clear it);
    - ``POST /_emulator/faults`` with a :class:`Fault` as JSON (``"rate"`` adds a probability),
      ``DELETE /_emulator/faults``;
    - ``POST /_emulator/latency`` ``{"seconds": 0.05}``;
    - ``POST /_emulator/clock/advance`` ``{"seconds": 3600}``;
    - ``POST /_emulator/push`` with :class:`PushFaults` fields, ``POST /_emulator/push/release``.
    """

    def __init__(self, *, clock: Clock | None = None, seed: int = 0) -> None:
        self.clock = clock or Clock()
        self.requests = RequestLog()
        self.faults = FaultPlan(seed)
        self.latency = 0.0
        self.deliverer = Deliverer()
        self.in_flight = 0
        self.max_in_flight = 0
        self._flight_lock = threading.Lock()

    # -- to implement -------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def fault_response(self, fault: Fault) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def control(self, request: Request, action: str) -> Response | None:
        """Handle an emulator-specific control action (the path after ``/_emulator/``)."""
        return None

    # -- plumbing -----------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith(CONTROL_PREFIX + "/"):
            response = self._control(request)
            return response(environ, start_response)
        started_wall = self.clock.now()
        started = time.monotonic()
        with self._flight_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        fault_name = ""
        try:
            if self.latency:
                time.sleep(self.latency)
            fault = self.faults.pick(request.method, request.path)
            if fault is not None:
                fault_name = fault.kind if fault.kind != "status" else str(fault.status)
                if fault.kind == "reset":
                    self._log(request, 0, started_wall, started, 0, "reset")
                    _reset_connection(environ)
                    raise ConnectionReset
                if fault.kind == "timeout":
                    time.sleep(fault.delay)
                    response = self.handle(request)
                else:
                    response = self.fault_response(fault)
                    if fault.retry_after is not None:
                        response.headers["Retry-After"] = str(int(fault.retry_after))
            else:
                response = self.handle(request)
        finally:
            with self._flight_lock:
                self.in_flight -= 1
        body = response.get_data()
        self._log(request, response.status_code, started_wall, started, len(body), fault_name)
        return response(environ, start_response)

    def _log(
        self, request: Request, status: int, started_wall: datetime, started: float, size: int, fault: str
    ) -> None:
        query = {k: tuple(request.args.getlist(k)) for k in request.args}
        self.requests.add(
            LoggedRequest(
                request.method, request.path, query, status, started_wall, time.monotonic() - started, size, fault
            )
        )

    def _control(self, request: Request) -> Response:
        action = request.path[len(CONTROL_PREFIX) + 1 :]
        data = request.get_json(silent=True) or {}
        if action == "requests":
            if request.method == "DELETE":
                self.requests.clear()
                return json_response({})
            return json_response(self.requests.as_json())
        if action == "faults":
            if request.method == "DELETE":
                self.faults.clear()
                return json_response({})
            rate = data.pop("rate", None)
            fault = Fault(**data)
            if rate is None:
                self.faults.add(fault)
            else:
                self.faults.set_rate(float(rate), fault)
            return json_response({"ok": True})
        if action == "latency":
            self.latency = float(data.get("seconds", 0))
            return json_response({"latency": self.latency})
        if action == "clock/advance":
            self.clock.advance(float(data.get("seconds", 0)))
            return json_response({"now": self.clock.now().isoformat()})
        if action == "push":
            self.deliverer.configure(PushFaults(**data))
            return json_response({"ok": True})
        if action == "push/release":
            return json_response({"released": self.deliverer.release(bool(data.get("shuffle")))})
        response = self.control(request, action)
        if response is None:
            return json_response({"error": f"unknown control action {action!r}"}, status=404)
        return response

    def close(self) -> None:
        """Stop background delivery."""
        self.deliverer.close()


# --------------------------------------------------------------------------- serving


def _reset_connection(environ: Mapping[str, Any]) -> None:
    """Abort the client's TCP connection with a RST (SO_LINGER 0), as a flaky network would."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Handler(WSGIRequestHandler):
    """Werkzeug's handler without per-request logging and without tracebacks for injected resets."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        pass


class EmulatorServer:
    """Serves a WSGI app on 127.0.0.1 in a background thread. ``port=0`` picks a free port.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``url`` is ``http://127.0.0.1:PORT``.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], port: int = 0, host: str = "127.0.0.1") -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=_Handler)
        self._server.daemon_threads = True
        plain_log = self._server.log

        def quiet_log(type: str, message: str, *args: Any) -> None:
            # an injected reset is not an error of the emulator
            if "ConnectionReset" not in message:
                plain_log(type, message, *args)

        self._server.log = quiet_log  # type: ignore[method-assign]
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> EmulatorServer:
        # a short poll: stop() waits up to one poll interval for the loop to notice (0.5 s by default)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (for the CLI)."""
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
