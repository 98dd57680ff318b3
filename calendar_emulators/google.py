"""A local Google Calendar v3 + Google OAuth 2.0 emulator (a WSGI app), for tests, benchmarks and the demo.

Public API: :class:`GoogleCalendarEmulator` (and :func:`build_app`). Serve it with
``EmulatorServer(GoogleCalendarEmulator(...)).start()``; point the OAuth URLs and the API base at it:

- ``GET  /o/oauth2/v2/auth``, ``POST /token``, ``POST /revoke`` (see :mod:`.google_oauth`);
- ``GET  /calendar/v3/users/me/calendarList`` and ``/users/me/calendarList/{calendarId}`` (see
  :mod:`.google_directory`);
- ``GET|POST /calendar/v3/calendars/{calendarId}/events`` (list, insert; see :mod:`.google_listing`);
- ``GET|PATCH|PUT|DELETE /calendar/v3/calendars/{calendarId}/events/{eventId}`` (see :mod:`.google_store`);
- ``POST /calendar/v3/calendars/{calendarId}/events/watch`` and ``POST /calendar/v3/channels/stop``
  (see :mod:`.google_push`).

Every API call needs ``Authorization: Bearer <access token>`` (401 ``authError`` otherwise); reads
need a calendar read scope, writes ``calendar.events`` or ``calendar`` (403 ``insufficientPermissions``)
and a writer or owner role on the calendar (403 ``requiredAccessLevel``). ``fields=`` selects parts of
a response; ``Accept-Encoding: gzip`` plus a User-Agent containing ``gzip`` gzips it.

The control surface (Python methods below, and HTTP under ``/_emulator/``, see :mod:`.google_control`)
registers clients and users, acts as a person editing calendars (changes reach sync and push like any
other), invalidates sync tokens, revokes or expires tokens, loses the response of the next insert, and
inspects events and channels. Injected faults (:class:`~.core.Fault`) answer with Google's own bodies.

Known gaps against the real service: no batch endpoint, no ``events.instances``/``import``/``move``/
``quickAdd``, no ACL or settings resources; recurrence supports DAILY/WEEKLY/MONTHLY/YEARLY with
INTERVAL, COUNT, UNTIL, plain BYDAY, EXDATE and RDATE.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import date
from datetime import datetime
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map
from werkzeug.routing import Rule
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from calendar_emulators.core import Clock
from calendar_emulators.core import EmulatorApp
from calendar_emulators.core import Fault
from calendar_emulators.core import json_response
from calendar_emulators.google_control import control_routes
from calendar_emulators.google_directory import ROLE_RANK
from calendar_emulators.google_directory import Directory
from calendar_emulators.google_errors import ApiError
from calendar_emulators.google_errors import error_page
from calendar_emulators.google_errors import fault_body_response
from calendar_emulators.google_fields import Selection
from calendar_emulators.google_fields import apply_fields
from calendar_emulators.google_fields import parse_fields
from calendar_emulators.google_listing import EventLister
from calendar_emulators.google_oauth import SCOPE_PREFIX
from calendar_emulators.google_oauth import OAuthClient
from calendar_emulators.google_oauth import OAuthServer
from calendar_emulators.google_oauth import TokenInfo
from calendar_emulators.google_push import ChannelRegistry
from calendar_emulators.google_store import CONFERENCE_MODES
from calendar_emulators.google_store import Calendar
from calendar_emulators.google_store import CalendarStore
from calendar_emulators.google_workspace import Resource
from calendar_emulators.google_workspace import Workspace

__all__ = ["GoogleCalendarEmulator", "build_app"]


def _scopes(*names: str) -> frozenset[str]:
    return frozenset(SCOPE_PREFIX + n for n in names)


#: scopes accepted per kind of call, from the discovery document
READ_SCOPES = _scopes(
    "calendar", "calendar.app.created", "calendar.events", "calendar.events.freebusy", "calendar.events.owned",
    "calendar.events.owned.readonly", "calendar.events.public.readonly", "calendar.events.readonly",
    "calendar.readonly",
)  # fmt: skip
WRITE_SCOPES = _scopes("calendar", "calendar.app.created", "calendar.events", "calendar.events.owned")
LIST_SCOPES = _scopes("calendar", "calendar.calendarlist", "calendar.calendarlist.readonly", "calendar.readonly")
_OAUTH_PATHS = {"/token", "/revoke"}
_API = "/calendar/v3"
DEMO_USER = "demo@example.com"
DEMO_ROOM = "room-a@group.calendar.google.com"

_ROUTES = Map(
    [
        Rule("/o/oauth2/v2/auth", endpoint="authorize", methods=["GET"]),
        Rule("/token", endpoint="token", methods=["POST"]),
        Rule("/revoke", endpoint="revoke", methods=["GET", "POST"]),
        Rule(f"{_API}/users/me/calendarList", endpoint="calendar_list", methods=["GET"]),
        Rule(f"{_API}/users/me/calendarList/<calendar_id>", endpoint="calendar_list_get", methods=["GET"]),
        Rule(f"{_API}/calendars/<calendar_id>/events", endpoint="events_list", methods=["GET"]),
        Rule(f"{_API}/calendars/<calendar_id>/events", endpoint="events_insert", methods=["POST"]),
        Rule(f"{_API}/calendars/<calendar_id>/events/watch", endpoint="events_watch", methods=["POST"]),
        Rule(f"{_API}/calendars/<calendar_id>/events/<event_id>", endpoint="events_get", methods=["GET"]),
        Rule(f"{_API}/calendars/<calendar_id>/events/<event_id>", endpoint="events_patch", methods=["PATCH"]),
        Rule(f"{_API}/calendars/<calendar_id>/events/<event_id>", endpoint="events_update", methods=["PUT"]),
        Rule(f"{_API}/calendars/<calendar_id>/events/<event_id>", endpoint="events_delete", methods=["DELETE"]),
        Rule(f"{_API}/channels/stop", endpoint="channels_stop", methods=["POST"]),
        Rule("/admin/directory/v1/customer/<customer>/resources/calendars", endpoint="resources_list", methods=["GET"]),
    ],
    merge_slashes=False,
    strict_slashes=False,
)


def _event_time(value: datetime | date | Mapping[str, Any], time_zone: str | None) -> dict[str, Any]:
    """An ``EventDateTime`` from a Python date or datetime (naive datetimes need ``time_zone``) or a dict."""
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, datetime):
        return {"date": value.isoformat(), **({"timeZone": time_zone} if time_zone else {})}
    if value.tzinfo is None and not time_zone:
        raise ValueError("a naive datetime needs time_zone")
    return {"dateTime": value.isoformat(), **({"timeZone": time_zone} if time_zone else {})}


class GoogleCalendarEmulator(EmulatorApp):
    """Google Calendar v3 and Google OAuth 2.0 in one WSGI app. See the module docstring.

    Options: ``allow_http_push`` (accept ``http://`` webhook addresses), ``allow_loopback_redirects``
    (accept any ``http://127.0.0.1``/``localhost`` redirect URI, as for Google's installed-app clients),
    ``access_token_ttl`` (3599 s), ``code_ttl`` (600 s), ``refresh_token_ttl`` (None = no expiry; set
    604800 for a "Testing" consent screen), ``max_refresh_tokens`` (100 per user and client),
    ``default_channel_ttl``/``max_channel_ttl`` (604800 s), ``sync_before_response``,
    ``conference_mode`` (``success``, ``pending``, ``failure``), ``lenient_reminders``, ``page_cap``,
    ``empty_pages``, ``sync_token_ttl``, ``recurrence_horizon_days`` (730), ``push_retry_horizon``
    (seconds the push sender retries failed deliveries; 0 = no retries).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        seed: int = 0,
        allow_http_push: bool = False,
        allow_loopback_redirects: bool = False,
        access_token_ttl: float = 3599,
        code_ttl: float = 600,
        refresh_token_ttl: float | None = None,
        max_refresh_tokens: int = 100,
        default_channel_ttl: float = 604800,
        max_channel_ttl: float = 604800,
        sync_before_response: bool = False,
        conference_mode: str = "success",
        lenient_reminders: bool = False,
        page_cap: int | None = None,
        empty_pages: int = 0,
        sync_token_ttl: float | None = None,
        recurrence_horizon_days: int = 730,
        push_retry_horizon: float = 0.0,
    ) -> None:
        super().__init__(clock=clock, seed=seed)
        if conference_mode not in CONFERENCE_MODES:
            raise ValueError(f"conference_mode must be one of {CONFERENCE_MODES}")
        self.lock = threading.RLock()
        self.deliverer.retry_horizon = push_retry_horizon
        self.oauth = OAuthServer(
            self.clock,
            self.lock,
            access_token_ttl=access_token_ttl,
            code_ttl=code_ttl,
            refresh_token_ttl=refresh_token_ttl,
            max_refresh_tokens=max_refresh_tokens,
            allow_loopback_redirects=allow_loopback_redirects,
        )
        self.store = CalendarStore(
            self.clock,
            seed=seed,
            conference_mode=conference_mode,
            lenient_reminders=lenient_reminders,
            recurrence_horizon_days=recurrence_horizon_days,
        )
        self.lister = EventLister(self.store, page_cap=page_cap, empty_pages=empty_pages, sync_token_ttl=sync_token_ttl)
        self.push = ChannelRegistry(
            self.clock,
            self.deliverer,
            allow_http_push=allow_http_push,
            default_ttl=default_channel_ttl,
            max_ttl=max_channel_ttl,
            sync_before_response=sync_before_response,
            seed=seed,
        )
        self.directory = Directory(self.store)
        self.workspace = Workspace()
        self.oauth.assertion_verifier = self._verify_assertion
        self._lost_inserts: list[tuple[str | None, int]] = []
        self._local = threading.local()

    # ======================================================================= WSGI plumbing
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self._local.path = environ.get("PATH_INFO", "")
        return super().__call__(environ, start_response)

    def fault_response(self, fault: Fault) -> Response:
        path = getattr(self._local, "path", "")
        if path.startswith("/o/oauth2/"):
            return error_page("server_error", "Something went wrong. Please try again.", fault.status)
        return fault_body_response(fault.status, fault.reason, oauth=path in _OAUTH_PATHS)

    def handle(self, request: Request) -> Response:
        try:
            endpoint, values = _ROUTES.bind_to_environ(request.environ).match()
        except HTTPException:
            return ApiError(404, "notFound", location="").response()
        if endpoint in {"authorize", "token", "revoke"}:
            handler: Callable[[Request], Response] = getattr(self.oauth, endpoint)
            return handler(request)
        try:
            selection = parse_fields(request.args["fields"]) if "fields" in request.args else None
            with self.lock:
                try:
                    result = getattr(self, "_" + endpoint)(request, **values)
                finally:
                    self._flush_changes()
            response = self._render(result, selection)
        except ApiError as error:
            response = error.response()
        if endpoint == "events_watch" and response.status_code == 200 and self.push.sync_before_response:
            self.deliverer.wait_idle(timeout=self.deliverer.timeout + 1)
        return _maybe_gzip(request, response)

    @staticmethod
    def _render(result: Any, selection: Selection | None) -> Response:
        if isinstance(result, Response):
            return result
        return json_response(apply_fields(result, selection))

    def _flush_changes(self) -> None:
        for calendar_id in self.store.drain_changes():
            self.push.notify(calendar_id)

    # ======================================================================= auth helpers
    def _auth(self, request: Request, scopes: frozenset[str]) -> TokenInfo:
        info = self.oauth.authenticate(request)
        if not info.scopes & scopes:
            raise ApiError(403, "insufficientPermissions", location="")
        return info

    def _calendar(self, info: TokenInfo, calendar_id: str) -> tuple[Calendar, str]:
        resolved = info.user if calendar_id == "primary" else calendar_id
        role = self.directory.role(info.user, resolved)
        calendar = self.store.calendars.get(resolved)
        if role is None or calendar is None:
            raise ApiError(404, "notFound", location="")
        return calendar, role

    def _writable_calendar(self, request: Request, calendar_id: str) -> tuple[Calendar, TokenInfo]:
        info = self._auth(request, WRITE_SCOPES)
        calendar, role = self._calendar(info, calendar_id)
        if ROLE_RANK[role] < ROLE_RANK["writer"]:
            raise ApiError(403, "requiredAccessLevel", location="")
        return calendar, info

    @staticmethod
    def _json_body(request: Request) -> dict[str, Any]:
        raw = request.get_data()
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise ApiError(400, "parseError", location="") from None
        if not isinstance(data, dict):
            raise ApiError(400, "parseError", location="")
        return data

    @staticmethod
    def _conference_version(request: Request) -> int:
        raw = request.args.get("conferenceDataVersion", "0")
        if raw not in {"0", "1"}:
            raise ApiError(400, "invalid", location="conferenceDataVersion")
        return int(raw)

    # ======================================================================= calendarList
    def _calendar_list(self, request: Request) -> dict[str, Any]:
        info = self._auth(request, LIST_SCOPES)
        return self.directory.list_calendars(info.user, request.args)

    def _calendar_list_get(self, request: Request, calendar_id: str) -> dict[str, Any]:
        info = self._auth(request, LIST_SCOPES)
        calendar, _ = self._calendar(info, calendar_id)
        return self.directory.entry(info.user, calendar.id)

    # ======================================================================= events
    def _events_list(self, request: Request, calendar_id: str) -> dict[str, Any]:
        info = self._auth(request, READ_SCOPES)
        calendar, role = self._calendar(info, calendar_id)
        return self.lister.list_events(calendar, request.args, role)

    def _events_get(self, request: Request, calendar_id: str, event_id: str) -> dict[str, Any] | Response:
        info = self._auth(request, READ_SCOPES)
        calendar, _ = self._calendar(info, calendar_id)
        body = self.store.get(calendar, event_id)
        if request.headers.get("If-None-Match") == body.get("etag"):
            return Response(status=304)
        return body

    def _events_insert(self, request: Request, calendar_id: str) -> dict[str, Any] | Response:
        calendar, info = self._writable_calendar(request, calendar_id)
        body = self.store.insert(
            calendar, self._json_body(request), actor=info.user, conference_version=self._conference_version(request)
        )
        for i, (target, status) in enumerate(self._lost_inserts):
            if target in (None, calendar.id):
                del self._lost_inserts[i]
                return self.fault_response(Fault(status=status))
        return body

    def _events_patch(self, request: Request, calendar_id: str, event_id: str) -> dict[str, Any]:
        calendar, _ = self._writable_calendar(request, calendar_id)
        return self.store.patch(
            calendar,
            event_id,
            self._json_body(request),
            conference_version=self._conference_version(request),
            if_match=request.headers.get("If-Match"),
        )

    def _events_update(self, request: Request, calendar_id: str, event_id: str) -> dict[str, Any]:
        calendar, _ = self._writable_calendar(request, calendar_id)
        return self.store.update(
            calendar,
            event_id,
            self._json_body(request),
            conference_version=self._conference_version(request),
            if_match=request.headers.get("If-Match"),
        )

    def _events_delete(self, request: Request, calendar_id: str, event_id: str) -> Response:
        calendar, _ = self._writable_calendar(request, calendar_id)
        self.store.delete(calendar, event_id, if_match=request.headers.get("If-Match"))
        return Response(status=204)

    def _events_watch(self, request: Request, calendar_id: str) -> dict[str, Any]:
        info = self._auth(request, READ_SCOPES)
        calendar, _ = self._calendar(info, calendar_id)
        return self.push.watch(
            calendar.id, self._json_body(request), user=info.user, client_id=info.client_id, base_url=request.url_root
        )

    def _resources_list(self, request: Request, customer: str) -> dict[str, Any]:
        info = self.oauth.authenticate(request)
        if customer != "my_customer":
            raise ApiError(400, "badRequest", "Bad Request", location="")
        return self.workspace.list_resources(info.user, info.scopes, request.args)

    def _verify_assertion(self, assertion: str, audience: str, now: datetime) -> tuple[str, str, frozenset[str]]:
        with self.lock:
            account, user, scopes = self.workspace.verify_assertion(assertion, audience, now, self.oauth.users)
            return account.client_id, user, scopes

    # ======================================================================= the Workspace domain
    def set_workspace(self, domain: str, admins: Iterable[str] = ()) -> None:
        """Name the domain and its admins (added as users; each may write every resource calendar)."""
        with self.lock:
            self.workspace.domain = domain
            for admin in admins:
                if admin not in self.oauth.users:
                    self.add_user(admin)
                self.workspace.admins.add(admin)
                for resource in self.workspace.resources:
                    self.directory.share(resource.email, admin, "writer")

    def add_service_account(self, email: str, token_uri: str) -> dict[str, Any]:
        """A service account; returns its JSON key (``token_uri`` is written into it, as Google does)."""
        with self.lock:
            return self.workspace.new_service_account(email, token_uri)

    def delegate(self, email: str, scopes: Iterable[str]) -> None:
        """Grant the service account domain-wide delegation for exactly ``scopes``."""
        with self.lock:
            self.workspace.delegate(email, set(scopes))

    def add_resource(
        self, name: str, *, capacity: int | None = None, building: str = "", floor: str = "", time_zone: str = "UTC"
    ) -> Resource:
        """A resource calendar of the domain, writable by every admin."""
        with self.lock:
            number = len(self.workspace.resources) + 1
            slug = self.workspace.domain.split(".")[0]
            email = f"c_{slug}{number:05d}@resource.calendar.google.com"
            resource = Resource(f"{number:08d}", name, email, capacity, building, floor)
            self.workspace.resources.append(resource)
            self.store.add_calendar(email, summary=name, time_zone=time_zone)
            for admin in self.workspace.admins:
                self.directory.share(email, admin, "writer")
            return resource

    def _channels_stop(self, request: Request) -> Response:
        info = self.oauth.authenticate(request)
        if not any(s.startswith(SCOPE_PREFIX + "calendar") for s in info.scopes):
            raise ApiError(403, "insufficientPermissions", location="")
        self.push.stop(self._json_body(request), user=info.user, client_id=info.client_id)
        return Response(status=204)

    # ======================================================================= control: accounts
    def control(self, request: Request, action: str) -> Response | None:
        return control_routes(self, request, action)

    def add_client(self, client_id: str, client_secret: str, redirect_uris: Iterable[str] = ()) -> OAuthClient:
        """Register an OAuth client with its exact redirect URIs."""
        return self.oauth.add_client(client_id, client_secret, redirect_uris)

    def add_calendar(
        self,
        calendar_id: str,
        *,
        summary: str | None = None,
        time_zone: str = "UTC",
        default_reminders: list[dict[str, Any]] | None = None,
    ) -> None:
        """Create a calendar nobody has in their list yet (see :meth:`share_calendar`)."""
        with self.lock:
            self.store.add_calendar(
                calendar_id, summary=summary, time_zone=time_zone, default_reminders=default_reminders
            )

    def add_user(self, email: str, *, calendars: Mapping[str, str] | None = None, time_zone: str = "UTC") -> None:
        """Register a Google account with a primary calendar (id = email) and other calendars by role.

        ``calendars`` maps calendar id to access role (``owner``, ``writer``, ``reader``,
        ``freeBusyReader``); unknown calendars are created.
        """
        with self.lock:
            self.oauth.add_user(email)
            self.store.add_calendar(email, time_zone=time_zone, default_reminders=[{"method": "popup", "minutes": 10}])
            self.directory.share(email, email, "owner")
            for calendar_id, role in (calendars or {}).items():
                self.share_calendar(calendar_id, email, role)

    def share_calendar(self, calendar_id: str, email: str, role: str) -> None:
        """Put ``calendar_id`` in ``email``'s calendar list with ``role``."""
        with self.lock:
            self.store.add_calendar(calendar_id)
            self.directory.share(calendar_id, email, role)

    def set_consent(self, *, user: str | None = None, scopes: Iterable[str] | None = None, deny: bool = False) -> None:
        """How the consent step answers: the default account, a subset of scopes to grant, or a refusal."""
        self.oauth.set_consent(user=user, scopes=scopes, deny=deny)

    def issue_tokens(
        self, email: str, client_id: str, scopes: Iterable[str], *, offline: bool = True
    ) -> dict[str, Any]:
        """Skip the browser: return a token response as ``/token`` would after consent."""
        return self.oauth.issue(email, client_id, scopes, offline=offline)

    def revoke_user_tokens(self, email: str) -> int:
        """The user removes the app's access: every token of ``email`` dies (refresh -> invalid_grant)."""
        return self.oauth.revoke_user(email)

    def expire_access_tokens(self, email: str | None = None) -> int:
        """Access tokens (of ``email``, or all) expire now, before their TTL."""
        return self.oauth.expire_access_tokens(email)

    # ======================================================================= control: a person edits
    def create_event(
        self,
        calendar_id: str,
        body: Mapping[str, Any] | None = None,
        *,
        summary: str | None = None,
        start: datetime | date | Mapping[str, Any] | None = None,
        end: datetime | date | Mapping[str, Any] | None = None,
        time_zone: str | None = None,
        recurrence: Sequence[str] | None = None,
        actor: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create an event as a person would in the Calendar UI (a full body, or the keyword shortcuts)."""
        data = dict(body or {})
        data.update(fields)
        if summary is not None:
            data["summary"] = summary
        if start is not None:
            data["start"] = _event_time(start, time_zone)
        if end is not None:
            data["end"] = _event_time(end, time_zone)
        if recurrence:
            data["recurrence"] = [
                r if r.upper().startswith(("RRULE", "EXDATE", "RDATE")) else f"RRULE:{r}" for r in recurrence
            ]
        with self.lock:
            try:
                calendar = self._known_calendar(calendar_id)
                return self.store.insert(calendar, data, actor=actor or calendar.id, conference_version=1)
            finally:
                self._flush_changes()

    def create_recurring_event(
        self,
        calendar_id: str,
        *,
        summary: str,
        start: datetime | date,
        end: datetime | date,
        rrule: str,
        time_zone: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create a series, e.g. ``rrule="FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6"`` with ``time_zone="Europe/Amsterdam"``."""
        zone_name = time_zone or ("UTC" if isinstance(start, datetime) else None)
        return self.create_event(
            calendar_id, summary=summary, start=start, end=end, time_zone=zone_name, recurrence=[rrule], **fields
        )

    def update_event(self, calendar_id: str, event_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change an event (or one instance of a series) with PATCH semantics, as a person would."""
        with self.lock:
            try:
                calendar = self._known_calendar(calendar_id)
                return self.store.patch(calendar, event_id, changes, conference_version=1)
            finally:
                self._flush_changes()

    def move_event(
        self,
        calendar_id: str,
        event_id: str,
        start: datetime | date,
        end: datetime | date,
        time_zone: str | None = None,
    ) -> dict[str, Any]:
        """Move an event (or one instance) to a new time."""
        other = "date" if isinstance(start, datetime) else "dateTime"
        changes = {
            "start": {**_event_time(start, time_zone), other: None},
            "end": {**_event_time(end, time_zone), other: None},
        }
        return self.update_event(calendar_id, event_id, changes)

    def cancel_event(self, calendar_id: str, event_id: str) -> dict[str, Any]:
        """Cancel an event, a whole series or one instance (status ``cancelled``)."""
        return self.update_event(calendar_id, event_id, {"status": "cancelled"})

    def delete_event(self, calendar_id: str, event_id: str) -> None:
        """Delete as ``events.delete`` does (the event becomes a tombstone)."""
        with self.lock:
            try:
                self.store.delete(self._known_calendar(calendar_id), event_id)
            finally:
                self._flush_changes()

    def _known_calendar(self, calendar_id: str) -> Calendar:
        calendar = self.store.calendars.get(calendar_id)
        if calendar is None:
            raise KeyError(f"unknown calendar {calendar_id!r}")
        return calendar

    # ======================================================================= control: faults, state
    def invalidate_sync_tokens(self, calendar_id: str | None = None) -> None:
        """The next incremental list (of ``calendar_id``, or any) answers 410 ``fullSyncRequired``."""
        with self.lock:
            self.lister.invalidate(calendar_id)

    def lose_next_insert(self, *, status: int = 503, calendar_id: str | None = None) -> None:
        """The next ``events.insert`` stores the event but answers ``status`` (the response was lost)."""
        with self.lock:
            self._lost_inserts.append((calendar_id, status))

    def set_conference_mode(self, mode: str) -> None:
        """How Meet create requests end: ``success``, ``pending`` (success on the next read) or ``failure``."""
        if mode not in CONFERENCE_MODES:
            raise ValueError(f"mode must be one of {CONFERENCE_MODES}")
        with self.lock:
            self.store.conference_mode = mode

    def set_paging(self, *, page_cap: int | None = None, empty_pages: int = 0) -> None:
        """Make list pages shorter than asked (``page_cap``) or start with ``empty_pages`` empty pages."""
        with self.lock:
            self.lister.page_cap = page_cap
            self.lister.empty_pages = empty_pages

    def expire_channel(self, channel_id: str) -> bool:
        """Expire a push channel now; it gets no more notifications."""
        with self.lock:
            return self.push.expire(channel_id)

    def events(self, calendar_id: str, *, include_cancelled: bool = True) -> list[dict[str, Any]]:
        """The stored events of a calendar (series masters, exceptions, tombstones), oldest first."""
        with self.lock:
            stored = sorted(self._known_calendar(calendar_id).events.values(), key=lambda s: (s.order, s.seq))
            return [
                json.loads(json.dumps(s.body))
                for s in stored
                if include_cancelled or s.body.get("status") != "cancelled"
            ]

    def event(self, calendar_id: str, event_id: str) -> dict[str, Any] | None:
        """One stored event or instance as ``events.get`` returns it, or None."""
        with self.lock:
            try:
                return self.store.get(self._known_calendar(calendar_id), event_id)
            except ApiError:
                return None
            finally:
                self._flush_changes()

    def channels(self, calendar_id: str | None = None) -> list[dict[str, Any]]:
        """The push channels (of one calendar, or all) with their state."""
        with self.lock:
            return self.push.describe(calendar_id)

    def seed_demo(self, redirect_uris: Iterable[str] = ()) -> None:
        """Register ``demo-client``/``demo-secret`` and ``demo@example.com`` with a room calendar.

        With ``allow_loopback_redirects=True`` any ``http://127.0.0.1:<port>/...`` redirect URI works;
        otherwise pass the demo host's callback in ``redirect_uris``.
        """
        self.add_client("demo-client", "demo-secret", redirect_uris)
        self.add_calendar(DEMO_ROOM, summary="Room A", time_zone="Europe/Amsterdam")
        self.add_user(DEMO_USER, calendars={DEMO_ROOM: "owner"}, time_zone="Europe/Amsterdam")


def build_app(**options: Any) -> GoogleCalendarEmulator:
    """Return an emulator with :meth:`GoogleCalendarEmulator.seed_demo` applied (for the CLI and demo)."""
    redirect_uris = options.pop("redirect_uris", ())
    app = GoogleCalendarEmulator(**options)
    app.seed_demo(redirect_uris)
    return app


def _maybe_gzip(request: Request, response: Response) -> Response:
    """Gzip the body when the client sends ``Accept-Encoding: gzip`` and a User-Agent containing ``gzip``."""
    if "gzip" not in request.headers.get("Accept-Encoding", "") or "gzip" not in request.headers.get("User-Agent", ""):
        return response
    body = response.get_data()
    if not body:
        return response
    response.set_data(gzip.compress(body))
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Origin, X-Origin, Referer"
    return response
