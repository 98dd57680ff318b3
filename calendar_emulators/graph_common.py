"""Shared pieces of the Graph emulator: settings, the Graph error, ids, time and time-zone handling.

Public API: :class:`GraphSettings`, :class:`GraphError`, :func:`graph_error_body`, :func:`graph_json`,
:func:`new_guid`, :func:`new_item_id`, :func:`weak_etag`, :func:`format_utc`, :func:`format_local`,
:func:`parse_iso`, :func:`resolve_zone`, :func:`parse_prefer`, :data:`WINDOWS_ZONES`.

Graph writes ``dateTimeTimeZone`` values without an offset (``2024-05-01T09:00:00.0000000``) plus a
Windows or IANA zone name, and timestamps such as ``lastModifiedDateTime`` in UTC with seven
fractional digits (``2024-05-01T09:00:00.1234567Z``); the helpers here produce exactly those shapes.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields
from datetime import UTC
from datetime import datetime
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from werkzeug.wrappers import Response

__all__ = [
    "WINDOWS_ZONES",
    "GraphError",
    "GraphSettings",
    "format_local",
    "format_utc",
    "graph_error_body",
    "graph_json",
    "new_guid",
    "new_item_id",
    "parse_iso",
    "parse_prefer",
    "resolve_zone",
    "weak_etag",
]

GRAPH_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)


@dataclass
class GraphSettings:
    """Every knob of the Graph emulator. All can be passed to ``GraphEmulator(...)`` as keywords,
    changed on ``app.settings`` or over HTTP with ``POST /_emulator/settings``."""

    #: Root of the Graph API; the ``.default`` scope of client credentials must use it.
    graph_root: str = "https://graph.microsoft.com"
    #: Lifetime of access tokens in seconds (the ``expires_in`` value).
    access_token_ttl: int = 3599
    #: Lifetime of authorization codes in seconds.
    auth_code_ttl: int = 600
    #: A refresh token unused for this many seconds fails with AADSTS700082 (90 days).
    refresh_token_inactivity: int = 90 * 24 * 3600
    #: When True a refresh token stops working once it has been exchanged (not Microsoft's default).
    strict_refresh_rotation: bool = False
    #: Accept any http loopback redirect URI (127.0.0.1 / localhost / [::1], any port) for every app.
    allow_loopback_redirects: bool = False
    #: UPN that "signs in" at /authorize when no ``login_hint`` is given (default: first user of the tenant).
    signin_user: str | None = None
    #: The signed-in user declines consent: /authorize redirects back with ``error=access_denied``.
    deny_authorize: bool = False
    #: Accept ``http://`` notification URLs (Graph requires https).
    allow_http_notifications: bool = False
    #: Maximum subscription lifetime in minutes (10080 today; older tenants answered 4230).
    max_subscription_minutes: int = 10080
    #: How long the validation handshake may take, in seconds.
    validation_timeout: float = 10.0
    #: Notifications raised within this many seconds for one URL go out in one POST.
    notification_batch_window: float = 0.05
    #: How long failed notification POSTs are retried, in seconds (Graph: 4 hours).
    notification_retry_horizon: float = 30.0
    #: Teams meetings: ``onlineMeeting`` is null in the response to the create call.
    join_url_null_on_create: bool = False
    #: Page size of calendarView/delta when no ``Prefer: odata.maxpagesize`` is sent.
    delta_page_size: int = 10
    #: Largest page size honoured from ``Prefer: odata.maxpagesize``.
    delta_max_page_size: int = 1000
    #: A dead delta token answers 410 with a ``Location`` header instead of ``syncStateNotFound``.
    delta_gone_with_location: bool = False
    #: Every delta round starts with this many empty pages that carry a nextLink.
    delta_empty_pages: int = 0
    #: The first N items of every delta round are sent again at its end (duplicates in one round).
    delta_duplicate_items: int = 0
    #: An incremental round also replays the changes of the previous round.
    delta_replay_previous: bool = False
    #: Changes younger than this many seconds are not yet visible to delta (processing delay).
    delta_visibility_delay: float = 0.0
    #: How many delta sync states are kept; older ones are evicted (then 410 syncStateNotFound).
    delta_state_capacity: int = 20000
    #: Delta tokens older than this many seconds are dead (None: no fixed lifetime, like Outlook).
    delta_token_max_age: float | None = None
    #: Concurrent requests allowed per (app, mailbox) before 429 MailboxConcurrency.
    concurrency_limit: int = 4
    #: Retry-After (seconds) sent with a MailboxConcurrency 429.
    concurrency_retry_after: int = 1
    #: Requests allowed per (app, mailbox) in ``budget_window`` seconds.
    request_budget: int = 10000
    #: Window of the request budget in seconds.
    budget_window: int = 600

    def update(self, values: Mapping[str, Any]) -> None:
        """Set known knobs from a mapping; unknown names raise ``KeyError``."""
        known = {f.name for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise KeyError(name)
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class GraphError(Exception):
    """An error answered in Graph's shape: ``{"error": {"code", "message", "innerError"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def graph_error_body(code: str, message: str, now: datetime, client_request_id: str = "") -> dict[str, Any]:
    """Return Graph's error body with a fresh ``request-id``."""
    request_id = new_guid()
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": now.strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": request_id,
                "client-request-id": client_request_id or request_id,
            },
        }
    }


def graph_json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """Return a JSON response with Graph's content type (``None`` data gives an empty body)."""
    if data is None:
        return Response(b"", status=status, headers=dict(headers or {}))
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return Response(body, status=status, headers=dict(headers or {}), content_type=GRAPH_CONTENT_TYPE)


# --------------------------------------------------------------------------- ids


def new_guid() -> str:
    return str(uuid.uuid4())


def new_item_id(prefix: str = "AAMkAG") -> str:
    """An opaque, case-sensitive Outlook-style id (URL-safe base64, ``=`` padded)."""
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(42)).decode()


def weak_etag(change_key: str) -> str:
    return f'W/"{change_key}"'


# --------------------------------------------------------------------------- time


_FRACTION = re.compile(r"(\.\d+)")


def format_utc(moment: datetime) -> str:
    """``2024-05-01T09:00:00.1234560Z``: UTC with seven fractional digits, as Graph writes timestamps."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def format_local(moment: datetime) -> str:
    """``2024-05-01T09:00:00.0000000``: a wall-clock time without offset (``dateTimeTimeZone.dateTime``)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0"


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 date-time with up to seven fractional digits; naive results stay naive.

    Raises ``ValueError`` for anything else.
    """
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    match = _FRACTION.search(text)
    if match:
        digits = match.group(1)[1:7].ljust(6, "0")
        text = text[: match.start()] + "." + digits + text[match.end() :]
    if "T" not in text and " " not in text and len(text) == 10:
        text += "T00:00:00"
    return datetime.fromisoformat(text)


# Windows time-zone names Outlook uses, mapped to IANA (a common subset of CLDR's windowsZones).
WINDOWS_ZONES: dict[str, str] = {
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "Romance Standard Time": "Europe/Paris",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "GTB Standard Time": "Europe/Bucharest",
    "Russian Standard Time": "Europe/Moscow",
    "Turkey Standard Time": "Europe/Istanbul",
    "Israel Standard Time": "Asia/Jerusalem",
    "South Africa Standard Time": "Africa/Johannesburg",
    "Arabian Standard Time": "Asia/Dubai",
    "India Standard Time": "Asia/Kolkata",
    "Nepal Standard Time": "Asia/Kathmandu",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "W. Australia Standard Time": "Australia/Perth",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "E. Australia Standard Time": "Australia/Brisbane",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "Lord Howe Standard Time": "Australia/Lord_Howe",
    "New Zealand Standard Time": "Pacific/Auckland",
    "Chatham Islands Standard Time": "Pacific/Chatham",
    "Tonga Standard Time": "Pacific/Tongatapu",
    "Line Islands Standard Time": "Pacific/Kiritimati",
    "Dateline Standard Time": "Etc/GMT+12",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time": "America/Denver",
    "Central Standard Time": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "Atlantic Standard Time": "America/Halifax",
    "Newfoundland Standard Time": "America/St_Johns",
    "SA Pacific Standard Time": "America/Bogota",
    "E. South America Standard Time": "America/Sao_Paulo",
}
_WINDOWS_LOWER = {name.lower(): iana for name, iana in WINDOWS_ZONES.items()}


def resolve_zone(name: str) -> tzinfo:
    """Return the zone for a Windows or IANA name; 400 ``TimeZoneNotSupportedException`` otherwise."""
    iana = _WINDOWS_LOWER.get(name.strip().lower(), name.strip())
    if iana.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        raise GraphError(
            400,
            "TimeZoneNotSupportedException",
            f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'.",
        ) from None


def zone_or_none(name: str) -> tzinfo | None:
    """Like :func:`resolve_zone` but ``None`` for an unknown name."""
    try:
        return resolve_zone(name)
    except GraphError:
        return None


# --------------------------------------------------------------------------- Prefer


_PREFER_ITEM = re.compile(r'\s*([A-Za-z0-9_.\-]+)\s*(?:=\s*("([^"]*)"|[^,;\s]*))?')


def parse_prefer(values: list[str]) -> dict[str, str]:
    """Parse ``Prefer`` headers (repeated or comma-separated) into ``{name.lower(): value}``."""
    prefs: dict[str, str] = {}
    for header in values:
        pos = 0
        while pos < len(header):
            match = _PREFER_ITEM.match(header, pos)
            if not match or match.end() == pos:
                pos += 1
                continue
            name, raw, quoted = match.group(1), match.group(2), match.group(3)
            value = quoted if quoted is not None else (raw or "")
            prefs[name.lower()] = value
            pos = match.end()
            while pos < len(header) and header[pos] in ", ;":
                pos += 1
    return prefs
