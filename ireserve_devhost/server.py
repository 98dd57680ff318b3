"""The reference host over HTTP, with its cron loop and job workers.

Public API: :class:`HostApp` (the WSGI app), :class:`HostServer` (serves it in background threads),
:func:`serve` (blocks until Ctrl-C), :data:`MAX_BODY`.

Requests under the host's prefix (``/ext`` by default) go to the plugins' ``on_http_route`` as a
:class:`hookspecs.types.HttpRequest`: the path relative to the prefix, the query as tuples of values,
lower-cased headers and the body (at most :data:`MAX_BODY` bytes, else 413). The first non-None
:class:`hookspecs.types.HttpResponse` is sent (or, when it carries a ``page``, that result page in the
admin's style with a link back); none gives 404, and a plugin exception gives a plain 500 whose body
never carries the exception text (it goes to the log). Other paths are the host's own
pages (:mod:`.admin`): the integrations, objects and bookings admin under ``/admin/`` (``/`` redirects
there).

:class:`HostServer` also runs ``on_cron_tick`` every ``cron_interval`` seconds (first at start) and
``workers`` job worker threads; tests pass ``cron_interval=None, workers=0`` and drive both by hand.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import IO
from typing import TYPE_CHECKING
from typing import Any

from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from hookspecs.types import HttpRequest
from hookspecs.types import HttpResponse
from ireserve_devhost.admin import ADMIN_ROOT
from ireserve_devhost.admin import AdminPages
from ireserve_devhost.door import DoorGuard
from ireserve_devhost.door import default_host_names
from ireserve_devhost.http_server import BoundedServer
from ireserve_devhost.http_server import ServerLimits
from ireserve_devhost.jobs import Worker

if TYPE_CHECKING:
    from ireserve_devhost.host import ReferenceHost

__all__ = ["MAX_BODY", "HostApp", "HostServer", "serve"]

log = logging.getLogger(__name__)


class _AccessLog:
    """Logs each request's method, path (never its query string: OAuth callbacks carry codes and signed
    links carry tokens there, and secrets must never reach a log) and status."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        def logged_start(status: str, headers: Any, exc_info: Any = None) -> Any:
            method, path = environ.get("REQUEST_METHOD", "-"), environ.get("PATH_INFO", "")
            log.info("%s %s %s", method, path, status.split(" ", 1)[0])
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, logged_start)


#: Seconds between a serving process's heartbeats in ``host_processes`` (:mod:`.health`).
HEARTBEAT_INTERVAL = 10.0

#: The largest request body handed to a plugin (1 MiB).
MAX_BODY = 1 << 20

# A too-large body up to this size is read and dropped, so the client gets its 413 instead of a reset.
_DRAIN_LIMIT = 16 << 20
_CHUNK = 64 << 10


class HostApp:
    """The host's WSGI application: plugin routes under the prefix, the host's pages elsewhere."""

    def __init__(self, host: ReferenceHost, *, max_body: int = MAX_BODY) -> None:
        if host.prefix == ADMIN_ROOT.rstrip("/") or host.prefix.startswith(ADMIN_ROOT):
            raise ValueError(f"the plugin prefix {host.prefix!r} would hide the admin pages under {ADMIN_ROOT}")
        self.host = host
        self.max_body = max_body
        self.pages = AdminPages(host)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Answer one request."""
        prefix = self.host.prefix
        if request.path == prefix or request.path.startswith(prefix + "/"):
            return self._plugin_route(request, request.path[len(prefix) :] or "/")
        page = self.pages.dispatch(request)
        return page if page is not None else _plain(404, "Not Found")

    def _plugin_route(self, request: Request, path: str) -> Response:
        try:
            body = _read_body(request.stream, self.max_body)
        except (OSError, BadRequest):  # a body cut short, or broken chunked encoding: the client's fault
            return _plain(400, "Bad Request")
        if body is None:
            return _plain(413, "Request Entity Too Large")
        plugin_request = HttpRequest(
            method=request.method,
            path=path,
            query={name: tuple(values) for name, values in request.args.lists()},
            headers=_headers(request),
            body=body,
            remote_addr=request.remote_addr or "",
        )
        try:
            answer = self.host.hooks.http_route(plugin_request)
        except Exception as exc:
            log.exception("on_http_route raised for %s %s", request.method, path)
            self.host.health.failed("on_http_route", exc)
            return _plain(500, "Internal Server Error")
        if answer is None:
            return _plain(404, "Not Found")
        if not isinstance(answer, HttpResponse):
            log.error("on_http_route returned %r for %s %s, not an HttpResponse", answer, request.method, path)
            return _plain(500, "Internal Server Error")
        if answer.page is not None:  # a result page the plugin asks us to show in the admin's style
            return self.pages.result_page(answer.page, answer.status)
        headers = dict(answer.headers)
        if answer.body and not any(name.lower() == "content-type" for name in headers):
            log.warning("plugin response to %s %s has a body but no Content-Type", request.method, path)
            headers["Content-Type"] = "application/octet-stream"
        return Response(answer.body, status=answer.status, headers=list(headers.items()))


class HostServer:
    """Serves a host on ``bind:port`` (0 picks a free port) with cron and worker threads.

    Use as a context manager, or :meth:`start` / :meth:`stop`. ``url`` is ``http://bind:port``.
    HTTP is served by :class:`.http_server.BoundedServer` (waitress) behind :class:`.door.DoorGuard`.

    :param cron_interval: seconds between ``on_cron_tick`` calls; None runs no cron thread.
    :param workers: how many job worker threads to run; 0 runs none.
    :param update_public_url: set ``host.public_url`` to :attr:`url`, so ``host.url_for`` points
        at this server (right for tests and local runs; pass False behind a proxy).
    :param poll_interval: how long an idle worker sleeps before looking for due jobs again.
    :param limits: the HTTP server's threads, connection limit and client timeouts.
    :param allowed_hosts: host names answered beside loopback, the bind address and the public URL's host.
    """

    def __init__(
        self,
        host: ReferenceHost,
        port: int = 0,
        *,
        bind: str = "127.0.0.1",
        cron_interval: float | None = 30.0,
        workers: int = 1,
        update_public_url: bool = True,
        poll_interval: float = 0.5,
        limits: ServerLimits | None = None,
        allowed_hosts: Iterable[str] = (),
    ) -> None:
        self.host = host
        self.app = HostApp(host)
        self.cron_interval = cron_interval
        self.poll_interval = poll_interval
        self.workers = [Worker(host) for _ in range(workers)]
        self.limits = limits or ServerLimits()
        self.door = DoorGuard(
            _AccessLog(self.app),
            default_host_names(host.public_url, bind, allowed_hosts),
            public_url=lambda: host.public_url,
        )
        self._server = BoundedServer(self.door, bind, port, self.limits)
        self.port = self._server.port
        self.url = f"http://{f'[{bind}]' if ':' in bind else bind}:{self.port}"
        if update_public_url:
            host.public_url = self.url
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> HostServer:
        """Start serving, the cron loop and the workers, each in a daemon thread."""
        self._threads.append(self._server.start(f"host-http-{self.port}"))
        self._spawn(self._health_loop, "host-health")
        if self.cron_interval is not None:
            self._spawn(self._cron_loop, "host-cron")
        for number, worker in enumerate(self.workers, 1):
            self._spawn(lambda worker=worker: self._worker_loop(worker), f"host-worker-{number}")
        return self

    def stop(self) -> None:
        """Stop every thread and close the listening socket (the host itself stays open)."""
        self._stopping.set()
        self._server.shutdown()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def __enter__(self) -> HostServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _cron_loop(self) -> None:
        assert self.cron_interval is not None
        while not self._stopping.is_set():
            try:
                self.host.cron_tick()
            except Exception:  # the hook's own errors are logged by HostHooks; this is the host's
                log.exception("cron tick failed")
            self._stopping.wait(self.cron_interval)

    def _health_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.host.health.beat()
            except Exception:
                log.exception("health heartbeat failed")
            self._stopping.wait(HEARTBEAT_INTERVAL)

    def _worker_loop(self, worker: Worker) -> None:
        while not self._stopping.is_set():
            try:
                ran = worker.run_once()
            except Exception:
                log.exception("job worker %s failed", worker.owner)
                ran = False
            if not ran:
                self._stopping.wait(self.poll_interval)


def serve(
    host: ReferenceHost,
    port: int = 8080,
    cron_interval: float = 30.0,
    workers: int = 1,
    *,
    bind: str = "127.0.0.1",
    limits: ServerLimits | None = None,
    allowed_hosts: Iterable[str] = (),
) -> None:
    """Serve ``host`` with cron and workers until Ctrl-C. ``host.public_url`` is left as configured."""
    with HostServer(
        host,
        port,
        bind=bind,
        cron_interval=cron_interval,
        workers=workers,
        update_public_url=False,
        limits=limits,
        allowed_hosts=allowed_hosts,
    ) as server:
        log.info("reference host on %s, plugin routes at %s; Ctrl-C stops", server.url, host.url_for("/"))
        print(_start_banner(server.url, host), flush=True)  # for the person who started it, whatever the log level
        forever = threading.Event()
        try:
            while not forever.wait(1.0):  # a timed wait keeps Ctrl-C responsive
                pass
        except KeyboardInterrupt:
            log.info("stopping")


# ---------------------------------------------------------------------- helpers


def _start_banner(listening: str, host: ReferenceHost) -> str:
    lines = [
        f"Reference host listening on {listening}",
        f"  admin page:    {listening}{ADMIN_ROOT}",
        f"  plugin routes: {host.url_for('/')}",
    ]
    if host.public_url != listening:
        lines.append(f"  public URL:    {host.public_url} (OAuth redirects and push notifications use it)")
    lines.append("Ctrl-C stops.")
    return "\n".join(lines)


def _read_body(stream: IO[bytes], limit: int) -> bytes | None:
    """Read the whole body, or return None when it is longer than ``limit`` (draining a sane excess)."""
    chunks: list[bytes] = []
    total = 0
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        if total > limit:
            while total <= _DRAIN_LIMIT and (chunk := stream.read(_CHUNK)):
                total += len(chunk)
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _headers(request: Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")
