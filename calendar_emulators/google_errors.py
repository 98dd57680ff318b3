"""Google's error bodies, for the Calendar v3 emulator.

Public API: :class:`ApiError` (raise it anywhere in a handler to answer with Google's JSON error),
:func:`oauth_error_response`, :func:`error_page` and :func:`fault_body_response`.

Two shapes exist. The Calendar API answers with the legacy JSON error
``{"error": {"errors": [{"domain", "reason", "message", ...}], "code", "message"}}``; the OAuth token
and revoke endpoints answer with ``{"error": "...", "error_description": "..."}``. The authorization
endpoint shows the user an HTML page and never redirects an unknown client or redirect URI.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from werkzeug.wrappers import Response

from calendar_emulators.core import json_response

__all__ = [
    "ApiError",
    "error_page",
    "fault_body_response",
    "oauth_error_response",
]

#: reason -> (domain, message) as the real service words them (protocol doc section 8).
REASONS: dict[str, tuple[str, str]] = {
    "badRequest": ("global", "Bad Request"),
    "parseError": ("global", "Parse Error"),
    "invalid": ("global", "Invalid Value"),
    "required": ("global", "Required"),
    "invalidParameter": ("global", "Invalid Value"),
    "authError": ("global", "Invalid Credentials"),
    "insufficientPermissions": ("global", "Request had insufficient authentication scopes."),
    "forbidden": ("global", "Forbidden"),
    "requiredAccessLevel": ("calendar", "You need to have writer access to this calendar."),
    "forbiddenForNonOrganizer": (
        "calendar",
        "Shared properties can only be changed by the organizer of the event.",
    ),
    "rateLimitExceeded": ("usageLimits", "Rate Limit Exceeded"),
    "userRateLimitExceeded": ("usageLimits", "User Rate Limit Exceeded"),
    "quotaExceeded": ("usageLimits", "Calendar usage limits exceeded."),
    "notFound": ("global", "Not Found"),
    "duplicate": ("global", "The requested identifier already exists."),
    "conflict": ("global", "Conflict"),
    "fullSyncRequired": ("calendar", "Sync token is no longer valid, a full sync is required."),
    "updatedMinTooLongAgo": ("calendar", "The requested minimum modification time lies too far in the past."),
    "deleted": ("global", "Resource has been deleted"),
    "conditionNotMet": ("global", "Precondition Failed"),
    "timeRangeEmpty": ("calendar", "The specified time range is empty."),
    "cannotUseDefaultRemindersAndSpecifyOverride": (
        "calendar",
        "Cannot specify both default reminders and overrides at the same time.",
    ),
    "eventRemindersCountExceedsLimit": ("calendar", "The maximum number of override reminders is 5."),
    "channelIdNotUnique": ("global", "Channel id not unique"),
    "push.webhookUrlNotHttps": ("global", "WebHook callback must be HTTPS"),
    "backendError": ("global", "Backend Error"),
}

#: where the real service points for some reasons: reason -> (location, locationType)
LOCATIONS: dict[str, tuple[str, str]] = {
    "authError": ("Authorization", "header"),
    "conditionNotMet": ("If-Match", "header"),
    "fullSyncRequired": ("syncToken", "parameter"),
    "updatedMinTooLongAgo": ("updatedMin", "parameter"),
    "timeRangeEmpty": ("timeMax", "parameter"),
}

#: the reason an injected fault gets when it names none
DEFAULT_REASON_BY_STATUS: dict[int, str] = {
    400: "badRequest",
    401: "authError",
    403: "forbidden",
    404: "notFound",
    409: "duplicate",
    410: "fullSyncRequired",
    412: "conditionNotMet",
    429: "rateLimitExceeded",
    500: "backendError",
    503: "backendError",
    504: "backendError",
}

#: what the token endpoint says for an injected fault: status -> (error, error_description)
OAUTH_FAULTS: dict[int, tuple[str, str]] = {
    400: ("invalid_grant", "Token has been expired or revoked."),
    401: ("invalid_client", "Unauthorized"),
    403: ("access_denied", "Forbidden"),
    429: ("rate_limit_exceeded", "Rate Limit Exceeded"),
}

AUTH_CHALLENGE = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'


class ApiError(Exception):
    """A Calendar API error; handlers raise it, the app turns it into Google's JSON error body."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str | None = None,
        *,
        location: str | None = None,
        location_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        domain, default_message = REASONS.get(reason, ("global", reason))
        super().__init__(message or default_message)
        self.status = status
        self.reason = reason
        self.domain = domain
        self.message = message or default_message
        default_location, default_type = LOCATIONS.get(reason, ("", "parameter"))
        self.location = default_location if location is None else location
        self.location_type = location_type or default_type
        self.headers = dict(headers or {})

    def body(self) -> dict[str, object]:
        item: dict[str, object] = {"domain": self.domain, "reason": self.reason, "message": self.message}
        if self.location:
            item["locationType"] = self.location_type
            item["location"] = self.location
        return {"error": {"errors": [item], "code": self.status, "message": self.message}}

    def response(self) -> Response:
        headers = dict(self.headers)
        if self.status == 401:
            headers.setdefault("WWW-Authenticate", AUTH_CHALLENGE)
        return json_response(self.body(), status=self.status, headers=headers)


def oauth_error_response(error: str, description: str, status: int = 400) -> Response:
    """Return the OAuth endpoints' ``{"error", "error_description"}`` body."""
    return json_response(
        {"error": error, "error_description": description},
        status=status,
        headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"},
    )


def error_page(error: str, detail: str, status: int = 400, shown_code: int | None = None) -> Response:
    """The page Google shows the user when an authorization request cannot go back to the app.

    ``shown_code`` is the number printed next to the error (Google prints "Error 401: invalid_client"
    on a page it serves with a 4xx status).
    """
    body = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Error {status} (OAuth 2.0)</title></head>"
        f"<body><h1>Access blocked: Authorization Error</h1><p>{html.escape(detail)}</p>"
        f"<p>Error {shown_code or status}: {html.escape(error)}</p></body></html>"
    )
    return Response(body, status=status, content_type="text/html; charset=utf-8")


_BAD_GATEWAY_PAGE = (
    "<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 502 (Server Error)!!1</title>"
    "<p><b>502.</b> <ins>That's an error.</ins><p>The server encountered a temporary error and could not "
    "complete your request.<p>Please try again in 30 seconds. <ins>That's all we know.</ins>"
)


def fault_body_response(status: int, reason: str, *, oauth: bool) -> Response:
    """The body the real service would send for an injected ``status`` (``reason`` may pick one).

    A 502 comes from Google's front end as an HTML page, not JSON, on every endpoint.
    """
    if status == 502:
        return Response(_BAD_GATEWAY_PAGE, status=502, content_type="text/html; charset=UTF-8")
    if oauth:
        error, description = OAUTH_FAULTS.get(status, ("internal_failure", "Backend Error"))
        return oauth_error_response(reason or error, description, status)
    reason = reason or DEFAULT_REASON_BY_STATUS.get(status, "backendError")
    message = "The service is currently unavailable." if status == 503 and reason == "backendError" else None
    return ApiError(status, reason, message).response()
