"""HTTP control routes of the Calendar emulator, under ``/_emulator/`` (each calls the Python API).

Public API: :func:`control_routes`.

=============================================== =====================================================
``POST /_emulator/clients``                     ``{"client_id", "client_secret", "redirect_uris"}``
``POST /_emulator/users``                       ``{"email", "calendars": {id: role}, "time_zone"}``
``POST /_emulator/calendars``                   ``{"id", "summary", "time_zone"}``
``POST /_emulator/consent``                     ``{"user", "scopes", "deny"}``
``POST /_emulator/tokens``                      ``{"email", "client_id", "scopes", "offline"}`` -> tokens
``POST /_emulator/tokens/revoke``               ``{"email"}``
``POST /_emulator/tokens/expire``               ``{"email"}`` (optional)
``POST /_emulator/sync-tokens/invalidate``      ``{"calendar_id"}`` (optional)
``POST /_emulator/inserts/lose-next``           ``{"status": 503, "calendar_id"}``
``POST /_emulator/conference``                  ``{"mode": "success" | "pending" | "failure"}``
``POST /_emulator/paging``                      ``{"page_cap", "empty_pages"}``
``POST /_emulator/seed-demo``                   ``{"redirect_uris"}`` (optional)
``GET  /_emulator/channels``                    channels with their state
``POST /_emulator/channels/{id}/expire``
``GET  /_emulator/calendars/{id}/events``       stored events, tombstones included
``POST /_emulator/calendars/{id}/events``       a person creates an event (an Event body)
``GET|PATCH|DELETE /_emulator/calendars/{id}/events/{eventId}``  inspect / a person edits / deletes
``POST /_emulator/calendars/{id}/events/{eventId}/cancel``
=============================================== =====================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.routing import Rule
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from calendar_emulators.core import json_response
from calendar_emulators.google_errors import ApiError

if TYPE_CHECKING:
    from calendar_emulators.google import GoogleCalendarEmulator

__all__ = ["control_routes"]

_EVENT = "/calendars/<calendar_id>/events/<event_id>"
_CONTROL = Map(
    [
        Rule("/clients", endpoint="clients", methods=["POST"]),
        Rule("/users", endpoint="users", methods=["POST"]),
        Rule("/calendars", endpoint="calendars", methods=["POST"]),
        Rule("/consent", endpoint="consent", methods=["POST"]),
        Rule("/tokens", endpoint="tokens", methods=["POST"]),
        Rule("/tokens/revoke", endpoint="tokens_revoke", methods=["POST"]),
        Rule("/tokens/expire", endpoint="tokens_expire", methods=["POST"]),
        Rule("/sync-tokens/invalidate", endpoint="invalidate", methods=["POST"]),
        Rule("/inserts/lose-next", endpoint="lose_insert", methods=["POST"]),
        Rule("/conference", endpoint="conference", methods=["POST"]),
        Rule("/paging", endpoint="paging", methods=["POST"]),
        Rule("/seed-demo", endpoint="seed_demo", methods=["POST"]),
        Rule("/channels", endpoint="channels", methods=["GET"]),
        Rule("/channels/<channel_id>/expire", endpoint="channel_expire", methods=["POST"]),
        Rule("/calendars/<calendar_id>/events", endpoint="events", methods=["GET"]),
        Rule("/calendars/<calendar_id>/events", endpoint="create_event", methods=["POST"]),
        Rule(_EVENT, endpoint="event", methods=["GET"]),
        Rule(_EVENT, endpoint="update_event", methods=["PATCH"]),
        Rule(_EVENT, endpoint="delete_event", methods=["DELETE"]),
        Rule(_EVENT + "/cancel", endpoint="cancel_event", methods=["POST"]),
    ],
    merge_slashes=False,
)

_Handler = Callable[["GoogleCalendarEmulator", dict[str, Any], dict[str, str]], Any]


def _clients(app: GoogleCalendarEmulator, data: dict[str, Any], _: dict[str, str]) -> Any:
    app.add_client(data["client_id"], data["client_secret"], data.get("redirect_uris", ()))
    return {"ok": True}


def _users(app: GoogleCalendarEmulator, data: dict[str, Any], _: dict[str, str]) -> Any:
    app.add_user(data["email"], calendars=data.get("calendars"), time_zone=data.get("time_zone", "UTC"))
    return {"ok": True}


def _calendars(app: GoogleCalendarEmulator, data: dict[str, Any], _: dict[str, str]) -> Any:
    app.add_calendar(data["id"], summary=data.get("summary"), time_zone=data.get("time_zone", "UTC"))
    return {"ok": True}


def _consent(app: GoogleCalendarEmulator, data: dict[str, Any], _: dict[str, str]) -> Any:
    app.set_consent(user=data.get("user"), scopes=data.get("scopes"), deny=bool(data.get("deny")))
    return {"ok": True}


def _tokens(app: GoogleCalendarEmulator, data: dict[str, Any], _: dict[str, str]) -> Any:
    return app.issue_tokens(data["email"], data["client_id"], data["scopes"], offline=data.get("offline", True))


def _paging(app: GoogleCalendarEmulator, data: dict[str, Any], _: dict[str, str]) -> Any:
    app.set_paging(page_cap=data.get("page_cap"), empty_pages=int(data.get("empty_pages", 0)))
    return {"ok": True}


def _lose_insert(app: GoogleCalendarEmulator, data: dict[str, Any], _: dict[str, str]) -> Any:
    app.lose_next_insert(status=int(data.get("status", 503)), calendar_id=data.get("calendar_id"))
    return {"ok": True}


def _delete_event(app: GoogleCalendarEmulator, _: dict[str, Any], v: dict[str, str]) -> Any:
    app.delete_event(v["calendar_id"], v["event_id"])
    return {"ok": True}


def _invalidate(app: GoogleCalendarEmulator, data: dict[str, Any], _: dict[str, str]) -> Any:
    app.invalidate_sync_tokens(data.get("calendar_id"))
    return {"ok": True}


def _conference(app: GoogleCalendarEmulator, data: dict[str, Any], _: dict[str, str]) -> Any:
    app.set_conference_mode(data["mode"])
    return {"ok": True}


def _seed_demo(app: GoogleCalendarEmulator, data: dict[str, Any], _: dict[str, str]) -> Any:
    app.seed_demo(data.get("redirect_uris", ()))
    return {"ok": True}


def _event(app: GoogleCalendarEmulator, _: dict[str, Any], v: dict[str, str]) -> Any:
    found = app.event(v["calendar_id"], v["event_id"])
    if found is None:
        raise ApiError(404, "notFound", location="")
    return found


_HANDLERS: dict[str, _Handler] = {
    "clients": _clients,
    "users": _users,
    "calendars": _calendars,
    "consent": _consent,
    "tokens": _tokens,
    "tokens_revoke": lambda app, d, _: {"revoked": app.revoke_user_tokens(d["email"])},
    "tokens_expire": lambda app, d, _: {"expired": app.expire_access_tokens(d.get("email"))},
    "invalidate": _invalidate,
    "lose_insert": _lose_insert,
    "conference": _conference,
    "paging": _paging,
    "seed_demo": _seed_demo,
    "channels": lambda app, _, __: app.channels(),
    "channel_expire": lambda app, _, v: {"expired": app.expire_channel(v["channel_id"])},
    "events": lambda app, _, v: app.events(v["calendar_id"]),
    "create_event": lambda app, d, v: app.create_event(v["calendar_id"], d),
    "event": _event,
    "update_event": lambda app, d, v: app.update_event(v["calendar_id"], v["event_id"], d),
    "delete_event": _delete_event,
    "cancel_event": lambda app, _, v: app.cancel_event(v["calendar_id"], v["event_id"]),
}


def control_routes(app: GoogleCalendarEmulator, request: Request, action: str) -> Response | None:
    """Answer a Google-specific control action, or None if ``action`` is not one."""
    try:
        endpoint, values = _CONTROL.bind("emulator").match("/" + action, method=request.method)
    except HTTPException:
        return None
    data = request.get_json(silent=True) or {}
    try:
        return json_response(_HANDLERS[endpoint](app, data, dict(values)))
    except ApiError as error:
        return error.response()
    except (KeyError, ValueError, TypeError) as error:
        return json_response({"error": f"{type(error).__name__}: {error}"}, status=400)
