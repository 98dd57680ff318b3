"""The Google Calendar v3 calls the provider makes, over the shared :class:`ApiClient`.

Public API: :class:`GoogleClient`, :func:`raise_for_status`, :func:`error_reason`, :data:`PROVIDER`.

:func:`raise_for_status` is the one place where Google's answers become the plugin's error types
(protocol doc section 8), keyed on the HTTP status and ``error.errors[0].reason``:

==========================================  ====================================================
401 (after the client's one refresh)        :class:`PermanentError` status 401
403 ``rateLimitExceeded`` /                 :class:`RateLimitedError` (``Retry-After`` honoured)
``userRateLimitExceeded`` / ``quotaExceeded``
429                                         :class:`RateLimitedError`
403 other reasons                           :class:`PermanentError`
404, 410 ``deleted``                        :class:`PermanentError` with the status
409                                         :class:`PermanentError` (reason ``duplicate``)
410 ``fullSyncRequired`` /                  :class:`SyncTokenInvalidError`
``updatedMinTooLongAgo``
412                                         :class:`PreconditionFailedError`
408, 5xx                                    :class:`TransientError`
other 4xx                                   :class:`PermanentError`
==========================================  ====================================================

A lost grant never reaches it: :class:`~ireserve_calendar_plugin.auth.tokens.AccessTokens` raises
:class:`AuthExpiredError` from the refresh itself. Messages name the status, the reason and Google's
short message, never a token.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import PreconditionFailedError
from ireserve_calendar_plugin.errors import ProviderError
from ireserve_calendar_plugin.errors import RateLimitedError
from ireserve_calendar_plugin.errors import SyncTokenInvalidError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers.google.mapping import LIST_FIELDS
from ireserve_calendar_plugin.providers.google.mapping import WRITE_FIELDS
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.http import error_from
from ireserve_calendar_plugin.sync.model import Window

__all__ = ["PROVIDER", "GoogleClient", "api_paths", "error_reason", "raise_for_status"]

PROVIDER = "google"
#: events.list page size: Google's maximum, so a listing of N events takes ceil(N/2500) calls
MAX_RESULTS = 2500
#: calendarList.list page size (its maximum)
CALENDAR_LIST_MAX = 250
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
SYNC_TOKEN_REASONS = frozenset({"fullSyncRequired", "updatedMinTooLongAgo"})


def error_reason(response: requests.Response) -> tuple[str, str]:
    """``(reason, message)`` of a Google error body (empty strings when it is not Google's JSON)."""
    try:
        data = response.json()
    except ValueError:
        return "", ""
    error = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(error, str):  # the OAuth endpoints' shape
        description = data.get("error_description")
        return error, description if isinstance(description, str) else ""
    if not isinstance(error, Mapping):
        return "", ""
    raw_message = error.get("message")
    message = raw_message if isinstance(raw_message, str) else ""
    items = error.get("errors")
    if isinstance(items, list) and items and isinstance(items[0], Mapping):
        reason = items[0].get("reason")
        return (reason if isinstance(reason, str) else ""), message
    status = error.get("status")
    return (status if isinstance(status, str) else ""), message


def raise_for_status(response: requests.Response) -> None:
    """Return for a 2xx answer; raise the plugin's error type for anything else (see module docstring)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    reason, google_message = error_reason(response)
    message = f"google: HTTP {status}" + (f" {reason}" if reason else "")
    if google_message:
        message += f": {google_message[:200]}"
    cls: type[ProviderError]
    if status == 429 or (status == 403 and reason in RATE_LIMIT_REASONS):
        cls = RateLimitedError
    elif status == 410 and reason in SYNC_TOKEN_REASONS:
        cls = SyncTokenInvalidError
    elif status == 412:
        cls = PreconditionFailedError
    elif status == 408 or status >= 500:
        cls = TransientError
    else:
        cls = PermanentError
        if status == 409 and not reason:
            reason = "duplicate"
    raise error_from(PROVIDER, response, message, reason, retryable=cls)


def api_paths(segments: Sequence[str]) -> bool:
    """The Calendar v3 paths the provider calls (decoded segments after the API base URL): events of a
    calendar (list, insert, one event, watch), the calendar list and its primary entry, channels.stop."""
    match list(segments):
        case ["calendars", _, "events"] | ["calendars", _, "events", _]:
            return True
        case ["users", "me", "calendarList"] | ["users", "me", "calendarList", "primary"]:
            return True
        case ["channels", "stop"]:
            return True
    return False


def _segment(value: str) -> str:
    """One URL path segment (calendar ids carry ``@`` and ``#``)."""
    return quote(value, safe="")


def _send_updates(notify: bool) -> str:
    return "all" if notify else "none"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class GoogleClient:
    """Thin typed wrappers over the Calendar v3 endpoints the provider uses (JSON in, JSON out)."""

    def __init__(self, api: ApiClient, base_url: str) -> None:
        self.api = api
        self.base_url = base_url.rstrip("/")

    def _events_url(self, calendar_id: str, *tail: str) -> str:
        return "/".join([self.base_url, "calendars", _segment(calendar_id), "events", *map(_segment, tail)])

    # -- reads ------------------------------------------------------------------------------
    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None = None,
        window: Window | None = None,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        """One page of events.list: incremental with ``sync_token``, else the full listing of ``window``.

        Both shapes send the same ``singleEvents``/``maxResults``/``showDeleted``/``fields`` (a sync
        token only works with the parameters of the listing that issued it); only the full listing
        sends ``timeMin``/``timeMax``. A 410 on an incremental call is :class:`SyncTokenInvalidError`.
        """
        params: dict[str, str] = {
            "singleEvents": "true",
            "maxResults": str(MAX_RESULTS),
            "showDeleted": "true",
            "fields": LIST_FIELDS,
        }
        if sync_token:
            params["syncToken"] = sync_token
        elif window is not None:
            params["timeMin"] = _rfc3339(window.start)
            params["timeMax"] = _rfc3339(window.end)
        if page_token:
            params["pageToken"] = page_token
        try:
            response = self.api.request("GET", self._events_url(calendar_id), params=params)
        except PermanentError as exc:
            if sync_token and exc.status == 410:
                raise SyncTokenInvalidError(
                    "google: the sync token is no longer valid", provider=PROVIDER, status=410, reason=exc.reason
                ) from exc
            raise
        return _json(response)

    def get_event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        response = self.api.request("GET", self._events_url(calendar_id, event_id), params={"fields": WRITE_FIELDS})
        return _json(response)

    def calendar_list(self) -> Iterator[dict[str, Any]]:
        """Every entry of the user's calendar list (for the admin form), following the pages."""
        page_token: str | None = None
        while True:
            params = {
                "maxResults": str(CALENDAR_LIST_MAX),
                "fields": "items(id,summary,summaryOverride,primary,accessRole,timeZone),nextPageToken",
            }
            if page_token:
                params["pageToken"] = page_token
            data = _json(self.api.request("GET", f"{self.base_url}/users/me/calendarList", params=params))
            yield from (item for item in data.get("items", []) if isinstance(item, dict))
            next_token = data.get("nextPageToken")
            if not next_token or next_token == page_token:
                return
            page_token = next_token

    def primary_calendar_id(self) -> str:
        """The id of the user's primary calendar (the account's e-mail address)."""
        url = f"{self.base_url}/users/me/calendarList/primary"
        return str(_json(self.api.request("GET", url, params={"fields": "id"})).get("id") or "")

    # -- writes -----------------------------------------------------------------------------
    def insert_event(
        self, calendar_id: str, body: Mapping[str, Any], *, conference: bool, notify: bool
    ) -> dict[str, Any]:
        """events.insert; ``conference`` asks Google to act on a Meet ``createRequest``; ``notify`` mails
        the attendees (``sendUpdates=all``, else ``none``)."""
        params = {"sendUpdates": _send_updates(notify), "fields": WRITE_FIELDS}
        if conference:
            params["conferenceDataVersion"] = "1"
        return _json(self.api.request("POST", self._events_url(calendar_id), params=params, json=dict(body)))

    def patch_event(self, calendar_id: str, event_id: str, body: Mapping[str, Any], *, notify: bool) -> dict[str, Any]:
        """events.patch without ``conferenceDataVersion`` (conference data is left alone)."""
        params = {"sendUpdates": _send_updates(notify), "fields": WRITE_FIELDS}
        url = self._events_url(calendar_id, event_id)
        return _json(self.api.request("PATCH", url, params=params, json=dict(body)))

    def delete_event(self, calendar_id: str, event_id: str, *, notify: bool = False) -> None:
        url = self._events_url(calendar_id, event_id)
        self.api.request("DELETE", url, params={"sendUpdates": _send_updates(notify)})

    # -- push -------------------------------------------------------------------------------
    def watch(self, calendar_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return _json(self.api.request("POST", self._events_url(calendar_id, "watch"), json=dict(body)))

    def stop_channel(self, body: Mapping[str, Any]) -> None:
        self.api.request("POST", f"{self.base_url}/channels/stop", json=dict(body))


def _json(response: requests.Response) -> dict[str, Any]:
    """The JSON object of a 2xx answer (an empty dict for an empty body)."""
    if not response.content:
        return {}
    try:
        data = response.json()
    except ValueError as exc:
        raise TransientError("google: the answer was not JSON", provider=PROVIDER, status=response.status_code) from exc
    if not isinstance(data, dict):
        raise TransientError("google: the answer was not a JSON object", provider=PROVIDER, status=response.status_code)
    return data
