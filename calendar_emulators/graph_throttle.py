"""Outlook's per (app, mailbox) throttling: concurrent requests and a request budget per window.

Public API: :class:`Throttle`, :class:`Ticket`.

A request is admitted or refused when it arrives (before the emulator's simulated latency), so with
``latency`` set, a fifth request sent while four are still in flight to the same mailbox is refused
with 429 ``ApplicationThrottled`` "Application is over its MailboxConcurrency limit.", as Exchange
does. Admitted requests also count against ``request_budget`` per ``budget_window`` seconds; past it
the answer is 429 ``TooManyRequests`` with a ``Retry-After`` of the seconds until the oldest request
leaves the window.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from .graph_common import GraphError
from .graph_common import GraphSettings

__all__ = ["Throttle", "Ticket"]


@dataclass
class Ticket:
    """The verdict on one request: ``error`` is the 429 to answer, or None when admitted."""

    key: tuple[str, str]
    error: GraphError | None


class Throttle:
    def __init__(self, now: Callable[[], datetime], settings: GraphSettings) -> None:
        self.now = now
        self.settings = settings
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, str], int] = {}
        self._recent: dict[tuple[str, str], deque[datetime]] = {}
        self.rejected = 0

    def enter(self, key: tuple[str, str]) -> Ticket:
        now = self.now()
        window = timedelta(seconds=self.settings.budget_window)
        with self._lock:
            if self._in_flight.get(key, 0) >= self.settings.concurrency_limit:
                self.rejected += 1
                return Ticket(key, self._concurrency_error())
            recent = self._recent.setdefault(key, deque())
            while recent and recent[0] <= now - window:
                recent.popleft()
            if len(recent) >= self.settings.request_budget:
                self.rejected += 1
                wait = max(1, math.ceil((recent[0] + window - now).total_seconds()))
                return Ticket(key, self._budget_error(wait))
            recent.append(now)
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            return Ticket(key, None)

    def leave(self, ticket: Ticket) -> None:
        if ticket.error is not None:
            return
        with self._lock:
            self._in_flight[ticket.key] -= 1

    def in_flight(self, key: tuple[str, str]) -> int:
        with self._lock:
            return self._in_flight.get(key, 0)

    def _concurrency_error(self) -> GraphError:
        return GraphError(
            429,
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
            headers={"Retry-After": str(self.settings.concurrency_retry_after)},
        )

    def _budget_error(self, wait: int) -> GraphError:
        return GraphError(
            429,
            "TooManyRequests",
            "Too many requests.",
            headers={"Retry-After": str(wait)},
        )
