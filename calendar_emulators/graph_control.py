"""The control surface of the Graph emulator: a Python API (mixed into ``GraphEmulator``) and the same
actions over HTTP under ``/_emulator/...``.

Public API: :class:`ControlMixin`, :func:`handle_control`.

Python (``app`` is a ``GraphEmulator``)::

    tenant = app.add_tenant("fabrikam.onmicrosoft.com")
    app.add_app("client", tenant.id, secret="s3cret", redirect_uris=["https://host/cb"],
                application=["Calendars.Read"], allowed_mailboxes=["room-1@fabrikam.onmicrosoft.com"])
    app.add_rooms(tenant.id, 200)
    ev = app.person_create_event("room-001@fabrikam.onmicrosoft.com", "Board", "2024-05-01T09:00:00",
                                 "2024-05-01T10:00:00", "W. Europe Standard Time")
    app.person_move_event(..., ev["id"], ...); app.person_cancel_event(...); app.person_delete_event(...)

HTTP (JSON bodies; mailboxes by UPN or id):

=========================================================  ===============================================
``GET|POST /_emulator/settings``                           read / change knobs (:class:`GraphSettings`)
``POST /_emulator/tenants`` ``/apps`` ``/users``            register (``{"domain"}``, ``{"client_id", ...}``,
``POST /_emulator/rooms`` ``{"tenant", "count"}``           ``{"tenant", "upn", "kind"}``); add N rooms
``POST /_emulator/seed-demo``                              the demo tenant, app, user and rooms
``POST /_emulator/apps/{id}/roles`` ``{"roles"}``           grant exactly these application permissions
``POST /_emulator/apps/{id}/writable-mailboxes``           ``{"mailboxes"}`` (null = all): app-only write scope
``GET|POST /_emulator/mailboxes/{mbx}/events``             inspect / create as a person
``PATCH|DELETE /_emulator/mailboxes/{mbx}/events/{id}``    edit / delete as a person
``POST .../events/{id}/move`` ``.../events/{id}/cancel``   move (``start``, ``end``, ``timeZone``) / cancel
``POST /_emulator/delta/invalidate``                       ``{"mailbox"?}``: kill delta tokens
``POST /_emulator/tokens/revoke`` ``/tokens/expire``       ``{"user"?, "client_id"?}``
``POST /_emulator/tokens/inject-error``                    ``{"preset", "times"?, "grant_type"?}``
``GET /_emulator/token-requests?tenant=&grant_type=``      ``{"count": n}``
``POST /_emulator/events/fail-next-post``                  ``{"status"?, "times"?}``: store, then fail
``GET /_emulator/subscriptions``                           every live subscription
``POST /_emulator/subscriptions/{id}/lifecycle``           ``{"event": "missed" | ...}``
``POST /_emulator/notifications/flush``                    send batched notifications now
=========================================================  ===============================================
"""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .core import json_response
from .graph_common import GraphError
from .graph_common import GraphSettings
from .graph_common import format_local
from .graph_common import new_guid
from .graph_common import resolve_zone
from .graph_directory import DEFAULT_DELEGATED
from .graph_directory import App
from .graph_directory import Directory
from .graph_directory import Tenant
from .graph_directory import User
from .graph_events import EventStore
from .graph_events import Mailbox
from .graph_identity import Identity
from .graph_places import RoomList
from .graph_places import RoomPlace
from .graph_render import RenderOptions
from .graph_render import render_event
from .graph_subscriptions import SubscriptionService

if TYPE_CHECKING:
    from .core import Clock
    from .core import Deliverer
    from .graph_delta import DeltaService
    from .graph_subscriptions import Notifier

__all__ = ["ControlMixin", "handle_control"]

DEMO_TENANT_ID = "7d5c2a9e-4b1f-4c3a-9e8d-2f6b1a0c3e57"
_ALL_EXPANDED = RenderOptions(expand={"singleValueExtendedProperties": None, "extensions": None})

When = datetime | date | str


def _local(value: When, zone_name: str) -> str:
    """A ``dateTime`` string in ``zone_name`` from a datetime (aware ones are converted), date or string."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(resolve_zone(zone_name)).replace(tzinfo=None)
        return format_local(value)
    return format_local(datetime.combine(value, datetime.min.time()))


class ControlMixin:
    """Python control API of the Graph emulator (state set-up, acting as a person, knobs, inspection)."""

    lock: threading.RLock
    clock: Clock
    settings: GraphSettings
    directory: Directory
    identity: Identity
    store: EventStore
    delta: DeltaService
    subscriptions: SubscriptionService
    notifier: Notifier
    deliverer: Deliverer

    def status_error(self, status: int, reason: str = "") -> GraphError:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- directory ------------------------------------------------------------------------
    def add_tenant(self, domain: str, tenant_id: str | None = None, name: str = "") -> Tenant:
        with self.lock:
            return self.directory.add_tenant(domain, tenant_id, name)

    def add_app(
        self,
        client_id: str,
        tenant: str,
        *,
        secret: str | None = None,
        secret_expires: datetime | None = None,
        redirect_uris: list[str] | tuple[str, ...] = (),
        delegated: list[str] | tuple[str, ...] | frozenset[str] | None = None,
        application: list[str] | tuple[str, ...] | frozenset[str] = (),
        allowed_mailboxes: list[str] | tuple[str, ...] | None = None,
        public_client: bool = False,
        display_name: str = "",
        other_tenants: list[str] | tuple[str, ...] = (),
    ) -> App:
        """Register an app in ``tenant`` (GUID or domain) with its secret, redirect URIs and permissions."""
        with self.lock:
            home = self._tenant(tenant)
            app = App(
                client_id=client_id,
                tenant_id=home.id,
                secrets={secret: secret_expires} if secret else {},
                redirect_uris=list(redirect_uris),
                delegated=frozenset(delegated) if delegated is not None else DEFAULT_DELEGATED,
                application=frozenset(application),
                allowed_mailboxes=set(allowed_mailboxes) if allowed_mailboxes is not None else None,
                public_client=public_client,
                display_name=display_name or client_id,
                other_tenants={self._tenant(t).id for t in other_tenants},
            )
            return self.directory.add_app(app)

    def set_client_secret(self, client_id: str, secret: str, expires: datetime | None = None) -> None:
        """Add (or re-date) a client secret; an expired one fails with AADSTS7000222."""
        with self.lock:
            self.directory.apps[client_id].secrets[secret] = expires

    def set_allowed_mailboxes(self, client_id: str, mailboxes: list[str] | None) -> None:
        """Set the app's application access policy (None = every mailbox of the tenant)."""
        with self.lock:
            self.directory.apps[client_id].allowed_mailboxes = set(mailboxes) if mailboxes is not None else None

    def set_app_roles(self, client_id: str, roles: list[str] | tuple[str, ...]) -> None:
        """Grant exactly these application permissions (admin consent); tokens issued from now on carry them."""
        with self.lock:
            self.directory.apps[client_id].application = frozenset(roles)

    def add_place(
        self,
        room: str,
        *,
        capacity: int | None = None,
        building: str = "",
        floor: int | None = None,
        display_name: str | None = None,
    ) -> RoomPlace:
        """Give a room mailbox its place facts (it is then listed by ``/places/microsoft.graph.room``)."""
        with self.lock:
            user = self.directory.user(room)
            if user is None:
                raise KeyError(room)
            place = RoomPlace(
                id=new_guid(),
                email=user.upn,
                tenant_id=user.tenant_id,
                display_name=display_name or user.display_name,
                capacity=capacity,
                building=building,
                floor=floor,
            )
            return self.directory.places.add_room(place)

    def add_room_list(self, tenant: str, email: str, display_name: str, rooms: list[str]) -> RoomList:
        """A room list (its e-mail address, name and member rooms' addresses)."""
        with self.lock:
            home = self._tenant(tenant)
            return self.directory.places.add_list(RoomList(new_guid(), email, home.id, display_name, list(rooms)))

    def set_writable_mailboxes(self, client_id: str, mailboxes: list[str] | None) -> None:
        """Limit the app's writes to these mailboxes (None = wherever its roles allow)."""
        with self.lock:
            self.directory.apps[client_id].writable_mailboxes = set(mailboxes) if mailboxes is not None else None

    def add_user(
        self, tenant: str, upn: str, display_name: str | None = None, user_id: str | None = None, kind: str = "user"
    ) -> User:
        with self.lock:
            home = self._tenant(tenant)
            name = display_name or upn.split("@")[0].replace(".", " ").replace("-", " ").title()
            return self.directory.add_user(User(user_id or new_guid(), upn, home.id, name, kind))

    def add_room(self, tenant: str, upn: str, display_name: str | None = None, user_id: str | None = None) -> User:
        return self.add_user(tenant, upn, display_name, user_id, kind="room")

    def add_rooms(self, tenant: str, count: int, prefix: str = "room", start: int = 1) -> list[User]:
        """Add ``count`` room mailboxes ``{prefix}-001@{domain}`` ... (existing ones are returned as they are)."""
        with self.lock:
            home = self._tenant(tenant)
            rooms = []
            for n in range(start, start + count):
                upn = f"{prefix}-{n:03d}@{home.domain}"
                existing = self.directory.user(upn)
                rooms.append(existing or self.add_room(home.id, upn, f"{prefix.title()} {n:03d}"))
            return rooms

    def seed_demo(self) -> dict[str, Any]:
        """Tenant contoso.onmicrosoft.com, app demo-client / demo-secret, user alex@, rooms room-001..005."""
        with self.lock:
            tenant = self.add_tenant("contoso.onmicrosoft.com", DEMO_TENANT_ID, "Contoso")
            if "demo-client" not in self.directory.apps:
                self.add_app(
                    "demo-client",
                    tenant.id,
                    secret="demo-secret",
                    redirect_uris=["http://localhost/oauth/callback", "http://127.0.0.1/oauth/callback"],
                    application=["Calendars.Read"],
                    display_name="i-Reserve calendar sync (demo)",
                )
            if self.directory.user("alex@contoso.onmicrosoft.com") is None:
                self.add_user(tenant.id, "alex@contoso.onmicrosoft.com", "Alex Wilber")
            rooms = self.add_rooms(tenant.id, 5)
        return {
            "tenant_id": tenant.id,
            "domain": tenant.domain,
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "user": "alex@contoso.onmicrosoft.com",
            "rooms": [r.upn for r in rooms],
        }

    def user(self, key: str) -> User:
        """A user or room by UPN or id (``KeyError`` if unknown)."""
        with self.lock:
            found = self.directory.user(key)
        if found is None:
            raise KeyError(f"unknown user {key!r}")
        return found

    def tenant(self, key: str) -> Tenant:
        """A tenant by GUID or domain (``KeyError`` if unknown)."""
        with self.lock:
            return self._tenant(key)

    def _tenant(self, key: str) -> Tenant:
        tenant = self.directory.tenant(key)
        if tenant is None:
            raise KeyError(f"unknown tenant {key!r}")
        return tenant

    def _mailbox(self, key: str) -> Mailbox:
        user = self.directory.user(key)
        if user is None:
            raise KeyError(f"unknown mailbox {key!r}")
        return self.store.mailbox(user)

    # -- acting as a person in Outlook ----------------------------------------------------
    def person_create_event(
        self,
        mailbox: str,
        subject: str,
        start: When,
        end: When,
        time_zone: str = "UTC",
        *,
        all_day: bool = False,
        recurrence: dict[str, Any] | None = None,
        organizer: str | None = None,
        attendees: list[str] | None = None,
        location: str | None = None,
        body: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Create an event as someone using Outlook would; visible to delta, notifies subscribers."""
        payload: dict[str, Any] = {
            "subject": subject,
            "start": {"dateTime": _local(start, time_zone), "timeZone": time_zone},
            "end": {"dateTime": _local(end, time_zone), "timeZone": time_zone},
            "isAllDay": all_day,
            **extra,
        }
        if recurrence is not None:
            payload["recurrence"] = recurrence
        if location is not None:
            payload["location"] = {"displayName": location}
        if body is not None:
            payload["body"] = {"contentType": "text", "content": body}
        if attendees:
            payload["attendees"] = [{"emailAddress": {"address": a, "name": a}, "type": "required"} for a in attendees]
        if organizer:
            payload["organizer"] = {"emailAddress": {"address": organizer, "name": organizer}}
            payload["isOrganizer"] = False
            payload["responseStatus"] = {
                "response": "accepted",
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        with self.lock:
            mbx = self._mailbox(mailbox)
            rec, _ = self.store.create(mbx, payload, person=True)
            return render_event(self.store.instance(mbx, rec.id), mbx.owner, _ALL_EXPANDED)

    def person_update_event(self, mailbox: str, event_id: str, **fields: Any) -> dict[str, Any]:
        """Change any Graph properties of an event (or occurrence) as a person."""
        with self.lock:
            mbx = self._mailbox(mailbox)
            inst = self.store.update(mbx, event_id, fields, person=True)
            return render_event(inst, mbx.owner, _ALL_EXPANDED)

    def person_move_event(
        self, mailbox: str, event_id: str, start: When, end: When, time_zone: str = "UTC"
    ) -> dict[str, Any]:
        return self.person_update_event(
            mailbox,
            event_id,
            start={"dateTime": _local(start, time_zone), "timeZone": time_zone},
            end={"dateTime": _local(end, time_zone), "timeZone": time_zone},
        )

    def person_cancel_event(self, mailbox: str, event_id: str) -> dict[str, Any]:
        """Cancel as the organizer would, seen from this calendar: ``isCancelled`` and a "Canceled: " subject."""
        with self.lock:
            inst = self.store.instance(self._mailbox(mailbox), event_id)
            subject = inst.props.get("subject") or ""
        new_subject = subject if subject.startswith("Canceled: ") else f"Canceled: {subject}"
        return self.person_update_event(mailbox, event_id, isCancelled=True, subject=new_subject)

    def person_delete_event(self, mailbox: str, event_id: str) -> None:
        with self.lock:
            self.store.delete(self._mailbox(mailbox), event_id)

    def events(self, mailbox: str) -> list[dict[str, Any]]:
        """Every live event (single instances and series masters) of a mailbox, in UTC, with extended properties."""
        with self.lock:
            mbx = self._mailbox(mailbox)
            return [render_event(self.store.instance(mbx, r.id), mbx.owner, _ALL_EXPANDED) for r in mbx.live()]

    # -- knobs ----------------------------------------------------------------------------
    def invalidate_delta_tokens(self, mailbox: str | None = None) -> int:
        mailbox_id = self._mailbox(mailbox).id if mailbox else None
        return self.delta.invalidate(mailbox_id)

    def revoke_refresh_tokens(self, user: str | None = None, client_id: str | None = None) -> int:
        user_id = self._user_id(user)
        return self.identity.revoke_refresh_tokens(user_id, client_id)

    def expire_access_tokens(self, client_id: str | None = None, user: str | None = None) -> int:
        return self.identity.expire_access_tokens(client_id, self._user_id(user))

    def inject_token_error(self, preset: str, times: int = 1, grant_type: str | None = None) -> None:
        """Fail the next token request(s) with a preset of :data:`TOKEN_ERROR_PRESETS`."""
        self.identity.inject_error(preset, times, grant_type)

    def token_request_count(
        self, tenant: str | None = None, grant_type: str | None = None, since: datetime | None = None
    ) -> int:
        return self.identity.token_request_count(tenant, grant_type, since)

    def fail_next_event_post(self, status: int = 504, times: int = 1) -> None:
        """The next ``times`` event creations are stored, then answered with ``status`` (idempotency tests)."""
        with self.lock:
            self.store.fail_after_store.extend(self.status_error(status) for _ in range(times))

    def fire_lifecycle(self, subscription_id: str, event: str) -> None:
        """Send ``reauthorizationRequired``, ``subscriptionRemoved`` (also removes it) or ``missed``."""
        self.subscriptions.fire_lifecycle(subscription_id, event)

    def list_subscriptions(self) -> list[dict[str, Any]]:
        result = []
        for sub in self.subscriptions.all():
            result.append(
                {
                    **sub.as_graph(),
                    "mailboxId": sub.mailbox_id,
                    "tenantId": sub.tenant_id,
                    "needsReauthorization": sub.needs_reauthorization,
                }
            )
        return result

    def flush_notifications(self, wait: float = 5.0) -> bool:
        """Send batched notifications now and wait until delivered (held ones excepted)."""
        self.notifier.flush()
        return self.deliverer.wait_idle(wait)

    def _user_id(self, key: str | None) -> str | None:
        if key is None:
            return None
        user = self.directory.user(key)
        if user is None:
            raise KeyError(f"unknown user {key!r}")
        return user.id


# --------------------------------------------------------------------------- HTTP


def handle_control(app: Any, request: Request, action: str) -> Response | None:
    """Route ``/_emulator/{action}`` to the Python API; None for unknown actions."""
    data = request.get_json(silent=True) or {}
    parts = [p for p in action.split("/") if p]
    try:
        return _route(app, request, parts, data)
    except (KeyError, ValueError, TypeError) as exc:
        status = 404 if isinstance(exc, KeyError) else 400
        return json_response({"error": str(exc)}, status=status)
    except GraphError as exc:
        return json_response({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)


def _route(app: Any, request: Request, parts: list[str], data: dict[str, Any]) -> Response | None:
    method = request.method
    head = parts[0] if parts else ""
    if head == "settings":
        if method == "POST":
            app.configure(**data)
        return json_response(app.settings.as_dict())
    if head == "apps" and len(parts) == 3 and method == "POST":
        if parts[2] == "roles":
            app.set_app_roles(parts[1], list(data["roles"]))
        elif parts[2] == "writable-mailboxes":
            app.set_writable_mailboxes(parts[1], data.get("mailboxes"))
        else:
            return None
        return json_response({"ok": True})
    if head in ("tenants", "apps", "users", "rooms", "seed-demo") and method == "POST":
        return _register(app, head, data)
    if head == "mailboxes" and len(parts) >= 3 and parts[2] == "events":
        return _person(app, method, parts[1], parts[3:], data)
    if parts == ["delta", "invalidate"]:
        return json_response({"invalidated": app.invalidate_delta_tokens(data.get("mailbox"))})
    if parts == ["tokens", "revoke"]:
        return json_response({"revoked": app.revoke_refresh_tokens(data.get("user"), data.get("client_id"))})
    if parts == ["tokens", "expire"]:
        return json_response({"expired": app.expire_access_tokens(data.get("client_id"), data.get("user"))})
    if parts == ["tokens", "inject-error"]:
        app.inject_token_error(data["preset"], int(data.get("times", 1)), data.get("grant_type"))
        return json_response({"ok": True})
    if parts == ["token-requests"]:
        since = request.args.get("since_seconds")
        when = app.clock.now() - timedelta(seconds=float(since)) if since else None
        count = app.token_request_count(request.args.get("tenant"), request.args.get("grant_type"), when)
        return json_response({"count": count})
    if parts == ["events", "fail-next-post"]:
        app.fail_next_event_post(int(data.get("status", 504)), int(data.get("times", 1)))
        return json_response({"ok": True})
    if parts == ["subscriptions"]:
        return json_response(app.list_subscriptions())
    if head == "subscriptions" and len(parts) == 3 and parts[2] == "lifecycle":
        app.fire_lifecycle(parts[1], data["event"])
        return json_response({"ok": True})
    if parts == ["notifications", "flush"]:
        return json_response({"idle": app.flush_notifications()})
    return None


def _register(app: Any, head: str, data: dict[str, Any]) -> Response:
    if head == "tenants":
        tenant = app.add_tenant(data["domain"], data.get("id"), data.get("name", ""))
        return json_response({"id": tenant.id, "domains": tenant.domains}, status=201)
    if head == "apps":
        app_ = app.add_app(
            data["client_id"],
            data["tenant"],
            secret=data.get("secret"),
            redirect_uris=data.get("redirect_uris", ()),
            delegated=data.get("delegated"),
            application=data.get("application", ()),
            allowed_mailboxes=data.get("allowed_mailboxes"),
            public_client=bool(data.get("public_client", False)),
            display_name=data.get("display_name", ""),
            other_tenants=data.get("other_tenants", ()),
        )
        return json_response({"client_id": app_.client_id, "tenant_id": app_.tenant_id}, status=201)
    if head == "users":
        user = app.add_user(
            data["tenant"], data["upn"], data.get("displayName"), data.get("id"), data.get("kind", "user")
        )
        return json_response(user.as_graph(), status=201)
    if head == "rooms":
        rooms = app.add_rooms(data["tenant"], int(data["count"]), data.get("prefix", "room"), int(data.get("start", 1)))
        return json_response([r.as_graph() for r in rooms], status=201)
    return json_response(app.seed_demo(), status=201)


def _person(app: Any, method: str, mailbox: str, rest: list[str], data: dict[str, Any]) -> Response | None:
    if not rest:
        if method == "GET":
            return json_response(app.events(mailbox))
        if method == "POST":
            zone = data.pop("timeZone", "UTC")
            fields = {
                "all_day": data.pop("isAllDay", False),
                "recurrence": data.pop("recurrence", None),
                "organizer": data.pop("organizer", None),
                "attendees": data.pop("attendees", None),
                "location": data.pop("location", None),
                "body": data.pop("body", None),
            }
            event = app.person_create_event(
                mailbox, data.pop("subject", ""), data.pop("start"), data.pop("end"), zone, **fields, **data
            )
            return json_response(event, status=201)
        return None
    event_id = rest[0]
    if len(rest) == 1 and method == "PATCH":
        return json_response(app.person_update_event(mailbox, event_id, **data))
    if len(rest) == 1 and method == "DELETE":
        app.person_delete_event(mailbox, event_id)
        return Response(status=204)
    if rest[1:] == ["move"] and method == "POST":
        moved = app.person_move_event(mailbox, event_id, data["start"], data["end"], data.get("timeZone", "UTC"))
        return json_response(moved)
    if rest[1:] == ["cancel"] and method == "POST":
        return json_response(app.person_cancel_event(mailbox, event_id))
    return None
