"""The Microsoft Graph v1.0 calls the provider makes, over the shared :class:`ApiClient`.

Public API: :class:`OutlookClient`, :func:`raise_for_status`, :func:`error_code`, :func:`mailbox_path`,
:func:`resource_of`, :data:`PROVIDER`, :data:`MAX_PAGE_SIZE`, :data:`PREFER`.

:func:`raise_for_status` is the one place where Graph's answers become the plugin's error types
(protocol doc section 9), keyed on the HTTP status, then ``error.code``, and for the one status whose
meaning depends on the call, on the call (:meth:`OutlookClient.delta`), as Google's client keys its 410s:

==========================================  ====================================================
401 (after the client's one refresh)        :class:`PermanentError` status 401
403 ``ErrorAccessDenied`` ...               :class:`PermanentError` status 403
404 ``ErrorItemNotFound`` / ``ResourceNot   :class:`PermanentError` status 404 (callers treat it
Found`` / ``ErrorInvalidUser`` ...          as "gone" where that is the meaning)
409 / 412 ``ErrorIrresolvableConflict``    :class:`PreconditionFailedError`
410 on an event or subscription             :class:`PermanentError` status 410 ("gone", like 404)
the delta call only: 410 (``syncState       :class:`SyncTokenInvalidError` (:func:`sync_state_lost`)
NotFound`` / ``resyncRequired``, or the
tenant-move form with a ``Location``), or
a 4xx with code ``SyncStateInvalid`` ...
429 ``ApplicationThrottled`` /              :class:`RateLimitedError` (``Retry-After`` honoured)
``TooManyRequests``
408, 5xx (``ServiceNotAvailable`` ...)      :class:`TransientError` (503/504 ``Retry-After`` too)
400 and other 4xx                           :class:`PermanentError`
==========================================  ====================================================

A lost grant never reaches it: :class:`~ireserve_calendar_plugin.auth.tokens.AccessTokens` raises
:class:`AuthExpiredError` from the refresh itself. Messages name the status, the code and Graph's
short message, never a token.

URLs: every path is built from the configured Graph root plus ``/v1.0``; a mailbox is ``me`` or
``users/{upn}`` where the UPN is checked again (:func:`is_valid_upn`) right before it goes into the
path, and quoted. Paging and delta links are followed verbatim, but only through
:meth:`ApiClient.request`, which refuses any URL outside the configured root, judges the path after
percent-decoding (no ``..``, ``%2e%2e``, ``//`` or encoded separators) and lets a link reach only a
mailbox's ``calendarView/delta`` (:func:`delta_paths`); every other request must be one of the paths
the provider uses (:func:`api_paths`).

Every event read asks for ``Prefer: odata.maxpagesize=1000, outlook.timezone="UTC",
outlook.body-content-type="text"``. Microsoft documents no maximum for ``odata.maxpagesize`` on
calendarView delta (only that it is a preference: pages may be smaller or, for expanded series,
larger, and a page may be empty); 1000 is calendarView's ``$top`` ceiling and what the emulator
honours (``delta_max_page_size``), so a listing of N events takes about ceil(N/1000) calls.
"""

from __future__ import annotations

import re
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
from ireserve_calendar_plugin.errors import UnsafeUrlError
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.http import error_from
from ireserve_calendar_plugin.providers.outlook import mapping
from ireserve_calendar_plugin.providers.outlook.settings import is_valid_upn
from ireserve_calendar_plugin.sync.model import Window

__all__ = [
    "MAX_PAGE_SIZE",
    "PREFER",
    "PROVIDER",
    "OutlookClient",
    "api_paths",
    "delta_paths",
    "error_code",
    "mailbox_path",
    "raise_for_status",
    "resource_of",
    "sync_state_lost",
]

PROVIDER = "outlook"
#: ``Prefer: odata.maxpagesize`` of calendarView delta (see the module docstring)
MAX_PAGE_SIZE = 1000
#: the ``Prefer`` header of every event read: big pages, times in UTC, bodies as plain text
PREFER = f'odata.maxpagesize={MAX_PAGE_SIZE}, outlook.timezone="UTC", outlook.body-content-type="text"'
#: the ``Prefer`` header of event writes (their answers are read like any event)
WRITE_PREFER = 'outlook.timezone="UTC", outlook.body-content-type="text"'
SYNC_STATE_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
ME = "me"


def error_code(response: requests.Response) -> tuple[str, str, str]:
    """``(code, message, request id)`` of a Graph error body (empty strings when it is not Graph's JSON)."""
    request_id = response.headers.get("request-id", "")
    try:
        data = response.json()
    except ValueError:
        return "", "", request_id
    error = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(error, str):  # the identity platform's shape
        return error, "", request_id
    if not isinstance(error, Mapping):
        return "", "", request_id
    code, message = error.get("code"), error.get("message")
    inner = error.get("innerError")
    if not request_id and isinstance(inner, Mapping) and isinstance(inner.get("request-id"), str):
        request_id = inner["request-id"]
    return (code if isinstance(code, str) else ""), (message if isinstance(message, str) else ""), request_id


def raise_for_status(response: requests.Response) -> None:
    """Return for a 2xx answer; raise the plugin's error type for anything else (see module docstring)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    code, graph_message, request_id = error_code(response)
    message = f"outlook: HTTP {status}" + (f" {code}" if code else "")
    if graph_message:
        message += f": {graph_message[:200]}"
    cls: type[ProviderError]
    if status == 429:
        cls = RateLimitedError
    elif status in (409, 412):
        cls = PreconditionFailedError
    elif status == 408 or status >= 500:
        cls = TransientError
    else:
        cls = PermanentError
    raise error_from(PROVIDER, response, message, code, retryable=cls, request_id=request_id[:64])


def sync_state_lost(error: PermanentError) -> bool:
    """Whether a delta call's error means its state token is dead (protocol doc 5.1): a 410 (Graph's
    ``syncStateNotFound`` / ``resyncRequired``, or the tenant-move 410 with a ``Location``), or a sync-state
    code under another 4xx. Only meaningful for the delta call; elsewhere a 410 means the item is gone."""
    return error.status == 410 or error.reason.lower() in SYNC_STATE_CODES


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _mailbox(segments: Sequence[str]) -> Sequence[str] | None:
    """What follows a mailbox prefix (``me``, ``users/{upn or user id}``), or None when there is none."""
    if segments[:1] == [ME]:
        return segments[1:]
    if len(segments) >= 2 and segments[0] == "users" and (is_valid_upn(segments[1]) or _GUID.match(segments[1])):
        return segments[2:]
    return None


def delta_paths(segments: Sequence[str]) -> bool:
    """Where a paging or delta link may point (decoded segments after ``/v1.0``): a mailbox's
    ``calendarView/delta``, nothing else."""
    return _mailbox(list(segments)) == ["calendarView", "delta"]


def api_paths(segments: Sequence[str]) -> bool:
    """Every Graph path the provider calls (decoded segments after ``/v1.0``): ``me``, a mailbox's events
    (one event) and calendarView delta, subscriptions (one subscription), and the places of room
    discovery (rooms, room lists, one room list's rooms). A new call needs its path added here."""
    segments = list(segments)
    if segments == [ME] or segments[:1] == ["subscriptions"] and len(segments) <= 2:
        return True
    if segments in (["places", "microsoft.graph.room"], ["places", "microsoft.graph.roomlist"]):
        return True
    if len(segments) == 4 and segments[0] == "places" and segments[2:] == ["microsoft.graph.roomlist", "rooms"]:
        return True
    rest = _mailbox(segments)
    if rest is None:
        return False
    return rest == ["calendarView", "delta"] or rest[:1] == ["events"] and len(rest) <= 2


def mailbox_path(mailbox: str) -> str:
    """``me`` or ``users/{upn}``; the UPN is validated again and quoted (:class:`UnsafeUrlError` if bad)."""
    if mailbox == ME:
        return ME
    if not is_valid_upn(mailbox):
        raise UnsafeUrlError("refusing a mailbox name that is not a plain user@domain address")
    return "users/" + quote(mailbox, safe="@")


def _segment(value: str) -> str:
    """One URL path segment (event ids may carry ``=``, ``+`` or ``/``)."""
    if not value or value in (".", ".."):
        raise UnsafeUrlError("refusing an empty or relative id in a URL path")
    return quote(value, safe="")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OutlookClient:
    """Thin typed wrappers over the Graph endpoints the provider uses (JSON in, JSON out)."""

    def __init__(self, api: ApiClient, base_url: str) -> None:
        self.api = api
        self.root = base_url.rstrip("/") + "/v1.0"

    def _events_url(self, mailbox: str, *tail: str) -> str:
        return "/".join([self.root, mailbox_path(mailbox), "events", *map(_segment, tail)])

    # -- reads ------------------------------------------------------------------------------
    def delta(self, mailbox: str, *, window: Window | None = None, link: str | None = None) -> dict[str, Any]:
        """One calendarView/delta page: ``link`` (a nextLink or a stored deltaLink) verbatim, else the
        initial request of ``window``. A dead state token raises :class:`SyncTokenInvalidError`."""
        headers = {"Prefer": PREFER}
        params: dict[str, str] | None = None
        if link:  # a paging or delta link is followed verbatim, but only to a delta path
            url = link
        elif window is None:
            raise ValueError("an initial delta request needs a window")
        else:
            url = f"{self.root}/{mailbox_path(mailbox)}/calendarView/delta"
            params = {"startDateTime": _utc(window.start), "endDateTime": _utc(window.end)}
        try:
            return _json(
                self.api.request("GET", url, params=params, headers=headers, paths=delta_paths if link else None)
            )
        except PermanentError as exc:
            if not sync_state_lost(exc):
                raise
            raise SyncTokenInvalidError(
                str(exc), provider=PROVIDER, status=exc.status, reason=exc.reason, request_id=exc.request_id
            ) from exc

    def get_event(self, mailbox: str, event_id: str) -> dict[str, Any]:
        """One event, with our booking-id extended property expanded."""
        params = {"$expand": f"singleValueExtendedProperties($filter=id eq '{mapping.BOOKING_ID_PROPERTY}')"}
        return _json(
            self.api.request(
                "GET", self._events_url(mailbox, event_id), params=params, headers={"Prefer": WRITE_PREFER}
            )
        )

    def me(self) -> dict[str, Any]:
        """The signed-in user (delegated tokens only)."""
        return _json(self.api.request("GET", f"{self.root}/{ME}"))

    # -- writes -----------------------------------------------------------------------------
    def create_event(self, mailbox: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return _json(
            self.api.request("POST", self._events_url(mailbox), json=dict(body), headers={"Prefer": WRITE_PREFER})
        )

    def patch_event(self, mailbox: str, event_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return _json(
            self.api.request(
                "PATCH", self._events_url(mailbox, event_id), json=dict(body), headers={"Prefer": WRITE_PREFER}
            )
        )

    def delete_event(self, mailbox: str, event_id: str) -> None:
        self.api.request("DELETE", self._events_url(mailbox, event_id))

    # -- subscriptions ----------------------------------------------------------------------
    def create_subscription(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return _json(self.api.request("POST", f"{self.root}/subscriptions", json=dict(body)))

    def renew_subscription(self, subscription_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        url = f"{self.root}/subscriptions/{_segment(subscription_id)}"
        return _json(self.api.request("PATCH", url, json=dict(body)))

    def delete_subscription(self, subscription_id: str) -> None:
        self.api.request("DELETE", f"{self.root}/subscriptions/{_segment(subscription_id)}")


def resource_of(mailbox: str) -> str:
    """The subscription ``resource`` of a mailbox's events (``me/events`` or ``users/{upn}/events``)."""
    return f"{mailbox_path(mailbox)}/events"


def _json(response: requests.Response) -> dict[str, Any]:
    """The JSON object of a 2xx answer (an empty dict for an empty body)."""
    if not response.content:
        return {}
    try:
        data = response.json()
    except ValueError as exc:
        raise TransientError(
            "outlook: the answer was not JSON", provider=PROVIDER, status=response.status_code
        ) from exc
    if not isinstance(data, dict):
        raise TransientError(
            "outlook: the answer was not a JSON object", provider=PROVIDER, status=response.status_code
        )
    return data
