"""Provider limits that hold across every worker process: a shared pause after ``Retry-After``.

Public API: :class:`SharedPause`.

A limit kept in one worker's memory is exceeded as soon as a host runs several workers (RQ, Celery,
several machines); what must hold across them lives in the integration's host storage, changed by
compare-and-set (``SecureConfig.update``). Two limits already did: the request pace (``Pacer``, Google's
per-user quota) and requests in flight per calendar (the calendar's lease: every round and every outbound
write of a calendar holds it, so a Graph mailbox sees one request of ours at a time, whatever the number of
workers, well under Graph's 4). This module adds the third:

- :class:`SharedPause` is a scope's "not before": after a 429/503 with ``Retry-After`` one worker
  records the time, and every worker's next request in that scope waits for it (or, when the wait is
  longer than a job should sleep, fails fast with :class:`~ireserve_calendar_plugin.errors.RateLimitedError`
  so the job queue retries it later). Google's scope is the integration (one user, one quota); Graph
  throttles per app and mailbox, so its scope is the mailbox: one throttled room does not stop 499 others.

A pause check costs one read of host storage per request; a pause, one compare-and-set write.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from typing import Any

from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import RateLimitedError

__all__ = ["SharedPause"]


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
                provider=self._provider,
                status=429,
                reason="shared Retry-After",
                retry_after=remaining,
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
