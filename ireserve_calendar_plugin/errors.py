"""The plugin's own error tree, mapped to HTTP answers only at the edge (``web``).

Public API: :class:`CalendarPluginError` and its subclasses below, and :func:`http_status_for`.

Retryability is in the type (as in ``requests``): :class:`RetryableError` subclasses are safe to retry
later (the job queue does so with backoff); everything else is permanent until a person acts.
Messages never contain secrets: they name integrations, calendars and config keys, never values.
"""

from __future__ import annotations

__all__ = [
    "AuthExpiredError",
    "CalendarPluginError",
    "ConfigError",
    "ConfigDecryptError",
    "DiscoveryNotPermittedError",
    "NotConfiguredError",
    "PermanentError",
    "PreconditionFailedError",
    "ProviderError",
    "RateLimitedError",
    "RedirectRefusedError",
    "RetryableError",
    "StaleStateError",
    "SyncTokenInvalidError",
    "TransientError",
    "UnsafeUrlError",
    "WriteDeniedError",
    "http_status_for",
]


class CalendarPluginError(Exception):
    """Root of every error this plugin raises on purpose."""


class ConfigError(CalendarPluginError, ValueError):
    """The admin's configuration is invalid or incomplete. ``problems`` maps field -> message."""

    def __init__(self, message: str, problems: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.problems = dict(problems or {})


class NotConfiguredError(ConfigError):
    """The integration lacks something it needs (credentials, a connected account, a calendar)."""


class ConfigDecryptError(CalendarPluginError):
    """A stored value could not be decrypted or authenticated: tampered, swapped, or its key is gone.

    Names the integration and the config key; never the value.
    """

    def __init__(self, integration_id: str, key: str, reason: str) -> None:
        super().__init__(f"cannot decrypt config value {key!r} of integration {integration_id!r}: {reason}")
        self.integration_id = integration_id
        self.key = key
        self.reason = reason


class StaleStateError(CalendarPluginError):
    """A compare-and-set write lost against another writer; re-read and decide again."""


class UnsafeUrlError(CalendarPluginError, ValueError):
    """A URL (a paging link, a tenant or mailbox name in a path) would leave the configured hosts."""


class ProviderError(CalendarPluginError):
    """A calendar provider answered with an error, or could not be reached.

    ``provider`` names it (``google``, ``outlook``); ``status`` is the HTTP status (0 when no answer);
    ``reason`` the provider's error code (``rateLimitExceeded``, ``ErrorItemNotFound`` ...);
    ``request_id`` the provider's request id when it sent one; ``retry_after`` seconds when known.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int = 0,
        reason: str = "",
        request_id: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.reason = reason
        self.request_id = request_id
        self.retry_after = retry_after


class RetryableError(ProviderError):
    """Safe to retry later: nothing was changed, or the change is idempotent."""


class TransientError(RetryableError):
    """5xx, timeouts, connection resets: retry with exponential backoff and jitter."""


class RateLimitedError(RetryableError):
    """429 or a rate-limit 403: retry no earlier than ``retry_after`` seconds."""


class PermanentError(ProviderError):
    """A 4xx that retrying will not fix (bad request, forbidden, not found where it matters)."""


class RedirectRefusedError(PermanentError):
    """A request carrying a credential (token request, API call, revocation) was answered with a
    redirect. It is never followed: the credential goes only to the endpoint the admin approved."""


class AuthExpiredError(PermanentError):
    """The grant is gone (``invalid_grant``, revoked consent): an admin must reconnect.

    Queued work is kept; it resumes after reconnecting.
    """


class WriteDeniedError(PermanentError):
    """The provider lets this integration read a calendar but not write it (Graph 403
    ``ErrorAccessDenied`` on a write: only ``Calendars.Read``, or a policy keeps the app out of the room;
    Google 403 on a resource calendar the subject may not write). Never retried; shown per calendar.

    ``calendar`` is the label of the calendar concerned; the message says what to grant, in words.
    """

    def __init__(
        self, message: str, *, calendar: str = "", provider: str = "", status: int = 403, reason: str = ""
    ) -> None:
        super().__init__(message, provider=provider, status=status, reason=reason)
        self.calendar = calendar


class DiscoveryNotPermittedError(PermanentError):
    """The provider refused to list the tenant's rooms: the app lacks the permission named in the message
    (``Place.Read.All``, ``admin.directory.resource.calendar.readonly``). Rooms are then mapped by hand."""


class SyncTokenInvalidError(ProviderError):
    """The sync token or delta link is no longer valid (410, ``syncStateNotFound``): full resync."""


class PreconditionFailedError(ProviderError):
    """The remote item changed since we read it (412 on ``If-Match``): re-read and re-plan."""


def http_status_for(error: Exception) -> int:
    """Map an error to the HTTP status a route answers with. Unknown errors are 500."""
    if isinstance(error, ConfigError | UnsafeUrlError):
        return 400
    if isinstance(error, StaleStateError):
        return 409
    if isinstance(error, RetryableError):
        return 503
    if isinstance(error, ProviderError):
        return 502
    return 500
