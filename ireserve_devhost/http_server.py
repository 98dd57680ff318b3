"""The reference host's HTTP server: waitress with bounded threads, a connection limit and client deadlines.

Public API: :class:`ServerLimits`, :class:`BoundedServer`.

Waitress reads requests in one event loop and hands only complete requests to a fixed pool of
``threads`` worker threads, so idle or slow clients cost a socket, never a thread. On top of
waitress's idle timeout (``channel_timeout``: a connection with no bytes for that long is closed) the
server closes a connection whose request has been arriving for longer than ``request_timeout``: a
client that sends a byte at a time keeps a connection "active" forever under the idle timeout alone
(slowloris), but not past this deadline. At most ``connection_limit`` connections are open; beyond
it new connections wait in the listen backlog until some close.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

__all__ = ["BoundedServer", "ServerLimits"]


@dataclass(frozen=True)
class ServerLimits:
    """How much the HTTP server gives any client.

    :param threads: request-handling threads (a fixed pool).
    :param connection_limit: open connections at most; more wait in the backlog.
    :param channel_timeout: seconds a connection may stay without sending or receiving a byte.
    :param request_timeout: seconds a request may take to arrive completely (headers and body).
    :param max_body: the largest request body read at all (larger gets 413 before the application runs;
        waitress buffers a body before the application sees it, so this bounds memory and disk).
    """

    threads: int = 8
    connection_limit: int = 1000
    channel_timeout: int = 30
    request_timeout: int = 30
    max_body: int = 16 << 20

    def __post_init__(self) -> None:
        for name in ("threads", "connection_limit", "channel_timeout", "request_timeout", "max_body"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")

    @property
    def cleanup_interval(self) -> int:
        """How often (seconds) the deadlines are checked: often enough to close within ~1 s of them."""
        return max(1, min(self.channel_timeout, self.request_timeout) // 4)


_CUT_SHORT = b"Bad Request: the request ended early\n"
_CUT_SHORT_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
    b"Connection: close\r\n\r\n%s" % (len(_CUT_SHORT), _CUT_SHORT)
)


class _DeadlineChannel(HTTPChannel):
    """A waitress channel that remembers when the request now arriving began to arrive, and answers a
    request the client ended early (a body cut short, then end of stream) with 400 instead of silence."""

    request_began: float | None = None

    def handle_read(self) -> None:
        if self.request is None or self.requests:
            super().handle_read()
            return
        try:
            data = self.socket.recv(self.adj.recv_bytes)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.handle_close()
            return
        if data:
            self.last_activity = time.time()
            self.received(data)
            return
        self.request = None
        self.write_soon(_CUT_SHORT_ANSWER)
        self.close_when_flushed = True

    def received(self, data: bytes) -> bool:
        result = bool(super().received(data))
        if self.request is None:
            self.request_began = None  # nothing partial left: the next request starts its own clock
        elif self.request_began is None:
            self.request_began = time.monotonic()
        return result


class BoundedServer(TcpWSGIServer):  # type: ignore[misc]  # waitress has no type hints
    """A waitress TCP server enforcing :class:`ServerLimits`: :meth:`start` it, then :meth:`shutdown`."""

    channel_class = _DeadlineChannel

    def __init__(self, app: Callable[..., Iterable[bytes]], bind: str, port: int, limits: ServerLimits) -> None:
        self.limits = limits
        super().__init__(
            app,
            host=bind,
            port=port,
            threads=limits.threads,
            connection_limit=limits.connection_limit,
            channel_timeout=limits.channel_timeout,
            max_request_body_size=limits.max_body,
            cleanup_interval=limits.cleanup_interval,
            asyncore_use_poll=True,  # select() cannot watch descriptors above 1023
            asyncore_loop_timeout=1,
            ident="ireserve-devhost",
            expose_tracebacks=False,
        )
        self._stopped = threading.Event()
        self._serving = False

    @property
    def port(self) -> int:
        return int(self.effective_port)

    def maintenance(self, now: float) -> None:
        """Waitress's idle timeout, plus the request deadline for partly received requests."""
        super().maintenance(now)
        cutoff = time.monotonic() - self.limits.request_timeout
        for channel in list(self.active_channels.values()):
            began = getattr(channel, "request_began", None)
            if began is not None and began < cutoff and not channel.requests:
                channel.will_close = True

    def start(self, name: str = "host-http") -> threading.Thread:
        """Run the event loop in a daemon thread until :meth:`shutdown`; return the thread."""
        self._serving = True
        thread = threading.Thread(target=self._serve, name=name, daemon=True)
        thread.start()
        return thread

    def _serve(self) -> None:
        try:
            self.run()
        finally:
            self._stopped.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Close the listening socket and every connection, stop the loop and the thread pool."""

        def close_all() -> None:
            for channel in list(self._map.values()):
                if channel is not self and channel is not self.trigger:
                    channel.close()
            self.close()  # the listening socket and the trigger: the map is empty, the loop ends

        if getattr(self, "_serving", False):
            try:
                self.trigger.pull_trigger(close_all)
            except OSError:  # already closed
                pass
            self._stopped.wait(timeout)
        else:
            close_all()
        self.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
