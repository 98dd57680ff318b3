"""Provider limits that hold across every worker process: requests in flight per scope, and a shared pause.

Public API: :class:`SharedSlots`, :class:`SharedPause`, :data:`SLOT_MARGIN`.

Graph allows 4 concurrent requests per mailbox and Google a per-user quota; a limit kept in one worker's
memory is exceeded as soon as a host runs several workers (RQ, Celery, several machines). Both limits
here live in the integration's host storage, changed by compare-and-set (``SecureConfig.update``):

- :class:`SharedSlots` caps the requests in flight for one scope (a mailbox, a user). A slot is a
  ``[token, expires_at]`` pair in the scope's document; taking one drops expired pairs first, so the
  slots of a worker killed mid-request come back after ``ttl`` (longer than the request timeout, so a
  live request never loses its slot). Waiting polls the document with a growing interval.
- :class:`SharedPause` is a scope's "not before": after a 429/503 with ``Retry-After`` one worker
  records the time, and every worker's next request in that scope waits for it (or, when the wait is
  longer than a job should sleep, fails fast with :class:`~ireserve_calendar_plugin.errors.RateLimitedError`
  so the job queue retries it later). Google's scope is the integration (one user, one quota); Graph
  throttles per app and mailbox, so its scope is the mailbox: one throttled room does not stop 499 others.

Each slot costs two compare-and-set writes per request; each pause check one read.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from datetime import timedelta
from typing import Any

from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import RateLimitedError

__all__ = ["SLOT_MARGIN", "SharedPause", "SharedSlots"]

#: a slot outlives the request timeout by this much before another worker may reclaim it
SLOT_MARGIN = timedelta(seconds=15)
_POLL_FIRST = 0.02
_POLL_MAX = 0.5


class SharedSlots:
    """At most ``limit`` requests in flight for one scope, across every worker sharing the host storage.

    :param store: the integration's storage (compare-and-set documents).
    :param scope: what the limit is per (e.g. a mailbox's address); one document per scope.
    :param limit: slots in the scope.
    :param ttl: how long a slot stays taken when its holder never gives it back (a killed worker).
    """

    def __init__(
        self,
        store: SecureConfig,
        scope: str,
        limit: int,
        *,
        ttl: timedelta,
        now: Callable[[], datetime],
        sleep: Callable[[float], None],
    ) -> None:
        if limit < 1:
            raise ValueError("a slot limit must be at least 1")
        self._store = store
        self.key = f"slots:{scope}"
        self.limit = limit
        self.ttl = ttl
        self._now = now
        self._sleep = sleep
        self.waited = 0.0

    def try_take(self) -> str | None:
        """Take a slot if one is free; returns its token, or None."""
        token = secrets.token_hex(8)
        outcome: dict[str, bool] = {}
        now = self._now()

        def change(data: Any) -> Any:
            live = [[t, at] for t, at in (data or []) if datetime.fromisoformat(at) > now]
            outcome["got"] = len(live) < self.limit
            return [*live, [token, (now + self.ttl).isoformat()]] if outcome["got"] else live

        self._store.update(self.key, change, default=[])
        return token if outcome["got"] else None

    def take(self) -> str:
        """Block until a slot is free, take it, return its token."""
        poll = _POLL_FIRST
        while (token := self.try_take()) is None:
            self.waited += poll
            self._sleep(poll)
            poll = min(_POLL_MAX, poll * 2)
        return token

    def give_back(self, token: str) -> None:
        """Free the slot ``token`` (a no-op when it has expired and was reclaimed meanwhile)."""
        self._store.update(self.key, lambda data: [pair for pair in (data or []) if pair[0] != token], default=[])

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold one slot for the duration of the block."""
        token = self.take()
        try:
            yield
        finally:
            self.give_back(token)


class SharedPause:
    """A scope's shared "not before": a provider's ``Retry-After`` honoured by every worker.

    :param store: the integration's storage.
    :param scope: what the pause is per (``integration``, a mailbox); one document per scope.
    :param max_wait: the longest a request waits in place; a longer pause raises
        :class:`RateLimitedError` (with the remaining seconds as ``retry_after``) for the job queue.
    """

    def __init__(
        self,
        store: SecureConfig,
        provider: str,
        *,
        scope: str = "integration",
        max_wait: float,
        now: Callable[[], datetime],
        sleep: Callable[[float], None],
    ) -> None:
        self._store = store
        self._provider = provider
        self.key = f"not_before:{scope}"
        self.max_wait = max_wait
        self._now = now
        self._sleep = sleep
        self.waited = 0.0

    def until(self) -> datetime | None:
        """The time before which no request may be sent, if one is recorded."""
        data = self._store.load(self.key).data
        return datetime.fromisoformat(data) if isinstance(data, str) else None

    def wait(self) -> None:
        """Return once a request may be sent (sleeping through a short pause, refusing a long one)."""
        until = self.until()
        if until is None:
            return
        remaining = (until - self._now()).total_seconds()
        if remaining <= 0:
            return
        if remaining > self.max_wait:
            raise RateLimitedError(
                f"{self._provider}: the provider asked every worker to wait {remaining:.0f} s",
                provider=self._provider, status=429, reason="shared Retry-After", retry_after=remaining,
            )
        self.waited += remaining
        self._sleep(remaining)

    def hold(self, seconds: float) -> None:
        """Record that no request may be sent for ``seconds`` from now (never shortening a longer pause)."""
        until = self._now() + timedelta(seconds=seconds)

        def change(data: Any) -> Any:
            if isinstance(data, str) and datetime.fromisoformat(data) >= until:
                return data
            return until.isoformat()

        self._store.update(self.key, change)
