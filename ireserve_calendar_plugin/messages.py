"""Our errors in an admin's words: what happened, and what to do next. Pure: no I/O, no state.

Public API: :class:`ProblemKind`, :class:`AdminMessage`, :func:`classify`, :func:`message_for`, :func:`booking_notice`,
:func:`describe`, :func:`provider_title`.

Every error class the plugin meets maps to one :class:`ProblemKind` (:func:`classify`), and every kind
to one sentence of what happened and one of what to do (:func:`message_for`). The technical detail
(HTTP status, provider error code, request id) stays in the log; these sentences name the provider,
the calendar or room by its display name and, when a retry is scheduled, its time in the object's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from hookspecs.forms import HealthState
from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import ConfigDecryptError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import NotConfiguredError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import ProviderError
from ireserve_calendar_plugin.errors import RateLimitedError
from ireserve_calendar_plugin.errors import RetryableError
from ireserve_calendar_plugin.errors import SyncTokenInvalidError
from ireserve_calendar_plugin.errors import UnsafeUrlError

__all__ = ["AdminMessage", "ProblemKind", "booking_notice", "classify", "describe", "message_for", "provider_title"]


class ProblemKind(StrEnum):
    """The kinds of trouble an admin can act on (stored by value beside a calendar's health)."""

    REVOKED_GRANT = "revoked_grant"
    REFUSED_PASSWORD = "refused_password"
    MISSING_PERMISSION = "missing_permission"
    CALENDAR_NOT_FOUND = "calendar_not_found"
    ROOM_NOT_FOUND = "room_not_found"
    THROTTLED = "throttled"
    PROVIDER_DOWN = "provider_down"
    BAD_SETTINGS = "bad_settings"
    NOT_CONFIGURED = "not_configured"
    DECRYPT_FAILURE = "decrypt_failure"
    DELEGATION_MISSING = "delegation_missing"
    SUBJECT_UNKNOWN = "subject_unknown"
    KEY_REFUSED = "key_refused"
    UNKNOWN = "unknown"

    @property
    def retries_by_itself(self) -> bool:
        """True when the plugin retries and the problem may pass without anyone acting."""
        return self in (ProblemKind.THROTTLED, ProblemKind.PROVIDER_DOWN, ProblemKind.UNKNOWN)


@dataclass(frozen=True)
class AdminMessage:
    """One problem in words: ``what`` happened, ``next_step`` to take, and the health ``state`` it means."""

    kind: ProblemKind
    what: str
    next_step: str
    state: HealthState

    def __str__(self) -> str:
        return f"{self.what} {self.next_step}".strip()


_PERMISSION_REASONS = frozenset(
    {
        "forbidden",
        "insufficientpermissions",
        "insufficient_scope",
        "accessdenied",
        "erroraccessdenied",
        "authorization_requestdenied",
        "requiredaccessnotgranted",
        "forbiddenfornonorganizer",
    }
)
_MAILBOX_REASONS = frozenset(
    {
        "errorinvaliduser",
        "mailboxnotenabledforrestapi",
        "errornonexistentmailbox",
        "resourcenotfound",
        "errorinvalidmailbox",
    }
)
_CLIENT_REASONS = frozenset({"invalid_client", "unauthorized_client", "invalid_request", "invalid_scope"})
#: reasons the Google service-account grant gives its refusals (providers/google/service_account.py)
_SERVICE_ACCOUNT_REASONS = {
    "delegation_not_granted": ProblemKind.DELEGATION_MISSING,
    "subject_not_in_domain": ProblemKind.SUBJECT_UNKNOWN,
    "key_refused": ProblemKind.KEY_REFUSED,
}

_PROVIDER_TITLES = {"google": "Google Calendar", "outlook": "Microsoft 365", "caldav": "the CalDAV server"}


def provider_title(provider: str) -> str:
    """The provider's name as admins know it (``google`` -> "Google Calendar")."""
    return _PROVIDER_TITLES.get(provider, provider or "the calendar provider")


def classify(error: BaseException, *, room: bool = False) -> ProblemKind:
    """Which kind of problem ``error`` is. ``room``: the calendar is a room mailbox (Outlook application mode)."""
    if isinstance(error, AuthExpiredError):
        # "password": the service refused a username and password (no sign-in to renew: type a new one)
        return ProblemKind.REFUSED_PASSWORD if error.reason == "password" else ProblemKind.REVOKED_GRANT
    if isinstance(error, ConfigDecryptError):
        return ProblemKind.DECRYPT_FAILURE
    if isinstance(error, NotConfiguredError):
        return ProblemKind.NOT_CONFIGURED
    if isinstance(error, ConfigError | UnsafeUrlError):
        return ProblemKind.BAD_SETTINGS
    if isinstance(error, RateLimitedError):
        return ProblemKind.THROTTLED
    if isinstance(error, RetryableError):
        return ProblemKind.PROVIDER_DOWN
    if isinstance(error, SyncTokenInvalidError):
        return ProblemKind.UNKNOWN  # a full resync follows by itself
    if isinstance(error, ProviderError):
        reason = (error.reason or "").lower()
        if reason in _SERVICE_ACCOUNT_REASONS:
            return _SERVICE_ACCOUNT_REASONS[reason]
        if reason in _CLIENT_REASONS:
            return ProblemKind.BAD_SETTINGS
        if reason in _PERMISSION_REASONS or error.status in (401, 403):
            return ProblemKind.MISSING_PERMISSION
        if error.status in (404, 410) or reason in _MAILBOX_REASONS or reason == "notfound":
            return ProblemKind.ROOM_NOT_FOUND if room else ProblemKind.CALENDAR_NOT_FOUND
        if isinstance(error, PermanentError) and error.status == 400:
            return ProblemKind.BAD_SETTINGS
    return ProblemKind.UNKNOWN


def _at(moment: datetime | None, timezone: str) -> str:
    """``10:45`` today, else ``Dec 4 10:45``, in ``timezone``."""
    if moment is None:
        return ""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return f"{moment.astimezone(zone):%H:%M}"


def message_for(
    kind: ProblemKind,
    *,
    provider: str,
    calendar: str = "",
    retry_at: datetime | None = None,
    timezone: str = "UTC",
) -> AdminMessage:
    """The sentences for one problem. ``calendar`` is the display name of the calendar or room concerned
    (empty for the integration as a whole); ``retry_at`` when the plugin tries again (shown in ``timezone``)."""
    name = provider_title(provider)
    where = f"the calendar {calendar}" if calendar else f"the {name} calendars"
    room = f"the room mailbox {calendar}" if calendar else "a room mailbox"
    again = f" It tries again at {_at(retry_at, timezone)}." if retry_at else " It tries again shortly."
    table: dict[ProblemKind, tuple[str, str, HealthState]] = {
        ProblemKind.REVOKED_GRANT: (
            f"The connection to {name} was revoked or has expired; nothing is synced until it is renewed.",
            "Click Reconnect account and sign in again; queued changes are kept and written afterwards.",
            HealthState.NOT_CONNECTED,
        ),
        ProblemKind.REFUSED_PASSWORD: (
            f"{name[:1].upper()}{name[1:]} refused the username or app password; nothing is synced until "
            "they are corrected.",
            "Enter the username and a valid app password on the settings page and save; queued changes are "
            "kept and written afterwards.",
            HealthState.NOT_CONNECTED,
        ),
        ProblemKind.MISSING_PERMISSION: (
            f"{name} refused access to {where}: the connected account or app lacks a permission.",
            "Share the calendar with the connected account (with permission to make changes), or grant the "
            "missing permission to the app, then reconnect.",
            HealthState.ERROR,
        ),
        ProblemKind.CALENDAR_NOT_FOUND: (
            f"{name} does not know {where}: it was deleted, or is not shared with the connected account.",
            "Check the calendar in the mapping below, or share it with the connected account.",
            HealthState.ERROR,
        ),
        ProblemKind.ROOM_NOT_FOUND: (
            f"Microsoft 365 does not know {room}.",
            "Check the room's address (UPN) in the rooms list, and that the app's access policy includes it.",
            HealthState.ERROR,
        ),
        ProblemKind.THROTTLED: (
            f"{name} asked us to slow down (too many requests).{again}",
            "Nothing to do unless it persists; then lower the requests per minute under Advanced.",
            HealthState.WARNING,
        ),
        ProblemKind.PROVIDER_DOWN: (
            f"{name} did not answer or answered with a server error.{again}",
            "Nothing to do unless it persists; then check the provider's status page and this host's network.",
            HealthState.WARNING,
        ),
        ProblemKind.BAD_SETTINGS: (
            f"{name} rejected the integration's settings (client id, secret, tenant or an address).",
            "Check the connection settings against the app registration, save, and reconnect.",
            HealthState.ERROR,
        ),
        ProblemKind.NOT_CONFIGURED: (
            "This integration is not set up yet.",
            "Fill in the connection settings and the mapping, then save.",
            HealthState.NOT_CONFIGURED,
        ),
        ProblemKind.DECRYPT_FAILURE: (
            "Stored credentials of this integration can no longer be decrypted (the key they were sealed with "
            "is gone, or they were altered).",
            "Enter the client secret again, save, and reconnect the account.",
            HealthState.ERROR,
        ),
        ProblemKind.DELEGATION_MISSING: (
            "The service account has no domain-wide delegation for the scopes it needs (unauthorized_client).",
            "In the Google Admin console (Security > API controls > Domain-wide delegation) authorise the service "
            "account's client id for https://www.googleapis.com/auth/calendar.events and "
            "https://www.googleapis.com/auth/calendar.readonly (plus "
            "https://www.googleapis.com/auth/admin.directory.resource.calendar.readonly to discover rooms).",
            HealthState.ERROR,
        ),
        ProblemKind.SUBJECT_UNKNOWN: (
            "The user the service account acts as (the subject) is not a user of the Workspace domain.",
            "Enter a Workspace admin's address under 'Act as (subject)' and save.",
            HealthState.ERROR,
        ),
        ProblemKind.KEY_REFUSED: (
            "Google does not accept the service account key: it was deleted or replaced, or the service account "
            "is gone.",
            "Create a new JSON key for the service account and paste it into the form.",
            HealthState.ERROR,
        ),
        ProblemKind.UNKNOWN: (
            f"Syncing with {where} failed unexpectedly.{again}",
            "If it persists, look at the host's log for the technical detail.",
            HealthState.WARNING,
        ),
    }
    what, step, state = table[kind]
    return AdminMessage(kind, what, step, state)


def describe(
    error: BaseException,
    *,
    provider: str,
    calendar: str = "",
    room: bool = False,
    retry_at: datetime | None = None,
    timezone: str = "UTC",
) -> AdminMessage:
    """:func:`classify` then :func:`message_for`, in one call."""
    return message_for(
        classify(error, room=room), provider=provider, calendar=calendar, retry_at=retry_at, timezone=timezone
    )


_NOTICE_REASONS = {
    ProblemKind.REVOKED_GRANT: "the connection to {name} was revoked or has expired (an admin must reconnect it)",
    ProblemKind.MISSING_PERMISSION: "{name} refused the write (no permission on the calendar)",
    ProblemKind.CALENDAR_NOT_FOUND: "{name} does not know the calendar",
    ProblemKind.ROOM_NOT_FOUND: "Microsoft 365 does not know the room mailbox",
    ProblemKind.THROTTLED: "{name} asked us to slow down",
    ProblemKind.PROVIDER_DOWN: "{name} did not answer",
    ProblemKind.BAD_SETTINGS: "{name} rejected the integration's settings",
    ProblemKind.NOT_CONFIGURED: "the integration is not set up",
    ProblemKind.DECRYPT_FAILURE: "the integration's stored credentials cannot be read",
    ProblemKind.DELEGATION_MISSING: "the service account has no domain-wide delegation for the calendar",
    ProblemKind.SUBJECT_UNKNOWN: "the service account's subject is not a user of the domain",
    ProblemKind.KEY_REFUSED: "Google does not accept the service account key",
    ProblemKind.UNKNOWN: "the write failed unexpectedly",
}


def booking_notice(kind: ProblemKind, *, provider: str, retry_at: datetime | None, timezone: str = "UTC") -> str:
    """The sentence shown on a booking whose write failed: ``Not in Google Calendar yet: Google Calendar
    did not answer; retrying at 10:45.`` (``retry_at`` None: not retried until an admin acts)."""
    name = provider_title(provider)
    reason = _NOTICE_REASONS[kind].format(name=name)
    when = f"retrying at {_at(retry_at, timezone)}" if retry_at else "not retried until this is fixed"
    return f"Not in {name} yet: {reason}; {when}."
