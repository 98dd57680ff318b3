"""The HTTP layer both providers share: one session, timeouts, retries, pacing, host pinning.

Public API: :class:`ApiClient`, :class:`RetryPolicy`, :class:`Pacer`, :func:`parse_retry_after`.

A provider gives :class:`ApiClient` a token source and its own ``raise_for_status`` (the one place
where that service's answers become our error types). The client then:

- sends every request with a timeout, through one ``requests.Session`` (connection reuse, gzip);
- refuses any URL outside the configured base URLs (:class:`~ireserve_calendar_plugin.errors.UnsafeUrlError`),
  so a paging link pointing elsewhere never receives our token: the path is judged segment by segment
  after percent-decoding (``..``/``.`` segments, ``%2e%2e``, empty segments (``//``), encoded ``/`` or
  ``\\`` that would make one, user info and backslashes are refused), and with ``allowed_paths`` it must
  also be one of the API paths the provider uses;
- never follows a redirect (:func:`refuse_redirect`): every request carries a credential, and a 3xx
  answer is a :class:`~ireserve_calendar_plugin.errors.RedirectRefusedError`;
- on a 401 invalidates the access token and retries once with a fresh one;
- retries :class:`~ireserve_calendar_plugin.errors.RetryableError` answers (429, 5xx, rate-limit 403s,
  timeouts, resets) with exponential backoff and full jitter, never before a ``Retry-After``, up to a
  bounded number of attempts, then raises the error for the job queue to retry later;
- paces requests under the integration's budget (:class:`Pacer`) and caps requests in flight (per client,
  or across clients that share one ``gate`` semaphore);
- with ``pause`` (:class:`~ireserve_calendar_plugin.providers.limits.SharedPause`), honours a provider's
  ``Retry-After`` in every worker process, not only the one that received it.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlsplit

import requests

from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import ProviderError
from ireserve_calendar_plugin.errors import RateLimitedError
from ireserve_calendar_plugin.errors import RedirectRefusedError
from ireserve_calendar_plugin.errors import RetryableError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.errors import UnsafeUrlError
from ireserve_calendar_plugin.providers.limits import SharedPause

__all__ = [
    "PACE_SPEND_WITHIN",
    "PACE_WINDOW",
    "ApiClient",
    "Pacer",
    "PathRule",
    "RetryPolicy",
    "normalized_segments",
    "parse_retry_after",
    "refuse_redirect",
]

log = logging.getLogger("ireserve_calendar_plugin.http")

USER_AGENT = "ireserve-calendar-plugin/0.1 (gzip)"


def refuse_redirect(provider: str, status: int, what: str = "request") -> None:
    """Raise :class:`RedirectRefusedError` for a 3xx answer to a request that carried a credential.

    Every such request is sent with ``allow_redirects=False``; this turns the redirect into a provider
    error the admin sees in the log (the ``Location`` is not named: it may carry anything)."""
    if 300 <= status < 400:
        raise RedirectRefusedError(
            f"{provider}: the {what} was answered with a redirect (HTTP {status}); requests carrying "
            "credentials never follow redirects. Check the endpoint URLs in the integration's settings.",
            provider=provider,
            status=status,
            reason="redirect",
        )


_MAX_DECODE = 4

#: A provider's rule for the decoded path segments after its base URL (the API paths it uses).
PathRule = Callable[[Sequence[str]], bool]


def normalized_segments(path: str) -> list[str] | None:
    """The decoded segments of a URL path, or None when the path could reach somewhere its text does not
    say: a ``.`` or ``..`` segment (also percent-encoded, double-encoded, or hidden in a segment as
    ``%2f``/``%5c``-separated parts), an empty segment (``//``), a backslash, or a control character.
    A trailing slash is allowed. A segment keeps an encoded ``/`` as data (Graph event ids carry them)."""
    if "\\" in path or not path.startswith("/"):
        return None
    raw = path[1:].split("/")
    if raw and raw[-1] == "":
        raw = raw[:-1]
    segments = []
    for part in raw:
        decoded = part
        for _ in range(_MAX_DECODE):  # %252e%252e is %2e%2e is ..
            again = unquote(decoded)
            if again == decoded:
                break
            decoded = again
        else:
            return None
        if not decoded or any(ord(c) < 0x20 or c == "\x7f" for c in decoded):
            return None
        if any(piece in (".", "..") for piece in re.split(r"[/\\]", decoded)):
            return None
        segments.append(decoded)
    return segments


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter. ``attempts`` counts the first try."""

    attempts: int = 5
    base: float = 1.0
    cap: float = 32.0
    max_wait: float = 60.0  # a Retry-After longer than this is left to the job queue

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


#: The rolling window a provider counts requests in.
PACE_WINDOW = timedelta(seconds=60)
#: A reserved slot must be spent this soon after its reservation (else it is given up), and a reservation
#: keeps its slots taken for :data:`PACE_WINDOW` plus this long: a request sent late in its reservation's
#: life (or arriving a little after it was sent) has then left the provider's rolling minute, which
#: counts it from its arrival, before its slot is handed out again.
PACE_SPEND_WITHIN = timedelta(seconds=2)


class Pacer:
    """Keeps an integration under ``per_minute`` requests in any rolling minute, across workers.

    Workers reserve slots in host storage (``pace`` document, compare-and-set) and spend them locally:
    one slot first, then batches doubling up to ``batch`` while the pacer keeps sending (back to one
    when slots went unspent), so a job that makes one call holds one slot. Slots are spent within
    :data:`PACE_SPEND_WITHIN` of their reservation, and a reservation counts for a minute plus that
    margin whether spent or not, so the budget is never exceeded, only sometimes underused.
    """

    def __init__(
        self,
        store: SecureConfig | None,
        per_minute: int,
        *,
        now: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
        batch: int = 10,
        key: str = "pace",
    ) -> None:
        self._store = store
        self.per_minute = per_minute
        self._now = now
        self._sleep = sleep
        self._max_batch = max(1, min(batch, per_minute))
        self._batch = 1  # grows while this pacer keeps sending: one-call jobs reserve one slot
        self._key = key
        self._local = 0
        self._local_until = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()
        self.waited = 0.0

    def take(self) -> None:
        """Block until one request may be sent."""
        with self._lock:
            while True:
                now = self._now()
                if self._local > 0 and now < self._local_until:
                    self._local -= 1
                    return
                if self._local > 0:  # slots expired unspent: this caller is slow, reserve one at a time
                    self._local, self._batch = 0, 1
                wait = self._reserve(now)
                if wait <= 0:
                    continue
                self.waited += wait
                self._sleep(wait)

    def _reserve(self, now: datetime) -> float:
        """Reserve a batch; returns 0 on success, else seconds until a slot frees up."""
        if self._store is None:
            self._local, self._local_until = self._batch, now + PACE_SPEND_WITHIN
            return 0.0
        horizon = now - PACE_WINDOW - PACE_SPEND_WITHIN
        outcome: dict[str, float] = {}

        def change(data: Any) -> Any:
            live = [(t, n) for t, n in (data or []) if datetime.fromisoformat(t) > horizon]
            used = sum(n for _, n in live)
            free = self.per_minute - used
            if free <= 0:
                oldest = min(datetime.fromisoformat(t) for t, _ in live)
                outcome["wait"] = max(0.05, (oldest - horizon).total_seconds())
                outcome["got"] = 0
                return live
            got = min(self._batch, free)
            outcome["got"] = got
            outcome["wait"] = 0.0
            return [*live, (now.isoformat(), got)]

        self._store.update(self._key, change, default=[])
        if outcome["got"]:
            self._local, self._local_until = int(outcome["got"]), now + PACE_SPEND_WITHIN
            self._batch = min(self._max_batch, self._batch * 2)
            return 0.0
        return outcome["wait"]


class ApiClient:
    """One provider connection's HTTP client (see the module docstring)."""

    def __init__(
        self,
        *,
        provider: str,
        allowed_bases: list[str],
        token: Callable[[], str],
        invalidate_token: Callable[[str], None],
        raise_for_status: Callable[[requests.Response], None],
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        pacer: Pacer | None = None,
        max_in_flight: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        seed: int | None = None,
        gate: threading.Semaphore | Callable[[str], threading.Semaphore | None] | None = None,
        allowed_paths: PathRule | None = None,
        pause: Callable[[str], SharedPause | None] | None = None,
    ) -> None:
        self.provider = provider
        self._bases = [self._origin_and_segments(b) for b in allowed_bases]
        self._allowed_paths = allowed_paths
        self._token = token
        self._invalidate = invalidate_token
        self._raise_for_status = raise_for_status
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.pacer = pacer
        # ``gate``: a semaphore shared with other clients (e.g. every client of one integration in this
        # process), or a function giving the shared semaphore of a URL's scope (e.g. one per mailbox), so
        # the cap holds across jobs; else ``max_in_flight`` caps this client alone
        own = threading.BoundedSemaphore(max_in_flight) if max_in_flight else None
        self._gate = gate if gate is not None else own
        # ``pause``: the shared Retry-After of the scope a URL belongs to (every worker honours it)
        self._pause = pause
        self._sleep = sleep
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"})
        self._rng = random.Random(seed)
        self.calls = 0
        self.slept = 0.0

    @staticmethod
    def _origin_and_segments(url: str) -> tuple[tuple[str, str, int | None], list[str]]:
        parts = urlsplit(url)
        segments = normalized_segments(parts.path or "/")
        if segments is None:
            raise UnsafeUrlError("a configured base URL has an unsafe path")
        return (parts.scheme, (parts.hostname or "").lower(), parts.port), segments

    def check_url(self, url: str, paths: PathRule | None = None) -> None:
        """Raise :class:`UnsafeUrlError` unless ``url`` lies under a configured base URL and its path (decoded
        segments after the base) passes ``paths`` (else the client's ``allowed_paths``, when given)."""
        try:
            parts = urlsplit(url)
            origin = (parts.scheme, (parts.hostname or "").lower(), parts.port)
        except ValueError:
            raise UnsafeUrlError("malformed URL") from None
        if (
            parts.username is not None
            or parts.password is not None
            or any(c == "\\" or c.isspace() or ord(c) < 0x20 for c in url)
        ):
            raise UnsafeUrlError(f"refusing a {self.provider} URL with user info, a backslash or a control character")
        segments = normalized_segments(parts.path or "/")
        if segments is None:
            raise UnsafeUrlError(
                f"refusing a {self.provider} URL whose path has dot segments, empty segments or encoded separators"
            )
        rule = paths or self._allowed_paths
        for base_origin, base_segments in self._bases:
            if origin == base_origin and segments[: len(base_segments)] == base_segments:
                if rule is None or rule(segments[len(base_segments) :]):
                    return
                break
        raise UnsafeUrlError(
            f"refusing to send a {self.provider} request to a URL outside the configured hosts and API paths"
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        paths: PathRule | None = None,
        data: bytes | None = None,
    ) -> requests.Response:
        """Send one logical request (with retries). Returns a 2xx response or raises our error type.

        ``data``: a raw body (WebDAV XML, iCalendar) for services that do not speak JSON.

        ``paths``: a stricter path rule for this URL (e.g. a paging link may only be a delta path)."""
        self.check_url(url, paths)
        refreshed = False
        attempt = 0
        pause = self._pause(url) if self._pause is not None else None
        waited_out_pause = False  # this client just slept through the pause it recorded itself
        while True:
            attempt += 1
            if pause is not None and not waited_out_pause:
                pause.wait()
            waited_out_pause = False
            token = self._token() if auth else ""
            response = self._send(method, url, params, json, headers, token, attempt, data)
            if response is not None and response.status_code == 401 and auth and not refreshed:
                self._invalidate(token)
                refreshed = True
                attempt -= 1
                continue
            try:
                if response is None:
                    raise TransientError(
                        f"{self.provider}: no answer (timeout or connection reset)", provider=self.provider
                    )
                refuse_redirect(self.provider, response.status_code, f"{method} request")
                self._raise_for_status(response)
                return response
            except RetryableError as exc:
                if exc.retry_after is not None and pause is not None:
                    pause.hold(exc.retry_after)  # every worker waits, not only this one
                if attempt >= self.retry.attempts:
                    raise
                wait = self.retry.delay(attempt, self._rng)
                if exc.retry_after is not None:
                    if exc.retry_after > self.retry.max_wait:
                        raise
                    wait = max(wait, exc.retry_after)
                    waited_out_pause = pause is not None
                log.info("%s %s: %s; retry %d in %.2fs", self.provider, method, type(exc).__name__, attempt, wait)
                self.slept += wait
                self._sleep(wait)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        token: str,
        attempt: int,
        data: bytes | None = None,
    ) -> requests.Response | None:
        merged = dict(headers or {})
        if token:
            merged["Authorization"] = f"Bearer {token}"
        if self.pacer is not None:
            self.pacer.take()
        gate = self._gate(url) if callable(self._gate) else self._gate
        if gate is not None:
            gate.acquire()
        try:
            self.calls += 1
            return self.session.request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=merged,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            log.info("%s %s: %s (attempt %d)", self.provider, method, type(exc).__name__, attempt)
            return None
        finally:
            if gate is not None:
                gate.release()

    def close(self) -> None:
        self.session.close()


def error_from(
    provider: str,
    response: requests.Response,
    message: str,
    reason: str,
    *,
    retryable: type[ProviderError] | None = None,
    request_id: str = "",
) -> ProviderError:
    """Helper for providers' ``raise_for_status``: build an error with status and Retry-After filled in."""
    cls = retryable or ProviderError
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if cls is ProviderError and response.status_code == 429:
        cls = RateLimitedError
    return cls(
        message,
        provider=provider,
        status=response.status_code,
        reason=reason,
        request_id=request_id,
        retry_after=retry_after,
    )
