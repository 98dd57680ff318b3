"""The ``/v1.0/...`` API of the Graph emulator: token checks, mailbox access, events, calendarView,
delta and subscriptions.

Public API: :class:`GraphApi`.

Every call needs ``Authorization: Bearer``; an expired token gives 401 ``InvalidAuthenticationToken``.
``me/...`` needs a delegated token (an app-only one gets 400 "/me request is only valid with delegated
authentication flow."); ``users/{id | upn}/...`` resolves within the token's tenant (404
``ErrorInvalidUser`` if unknown, 401 ``OrganizationFromTenantGuidNotFound`` if the mailbox belongs to
another tenant). App-only calls need the ``Calendars.Read`` / ``Calendars.ReadWrite`` role and pass
the app's application access policy (403 ``ErrorAccessDenied``); delegated calls reach only the
signed-in user's own mailbox.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .graph_common import GraphError
from .graph_common import GraphSettings
from .graph_common import graph_json
from .graph_delta import DeltaService
from .graph_delta import query_arg
from .graph_directory import Directory
from .graph_directory import User
from .graph_events import EventStore
from .graph_events import Instance
from .graph_events import Mailbox
from .graph_events import expand
from .graph_events import parse_occurrence_id
from .graph_identity import Identity
from .graph_oauth import AccessToken
from .graph_places import PLACE_PERMISSIONS
from .graph_render import RenderOptions
from .graph_render import parse_expand
from .graph_render import render_event
from .graph_subscriptions import SubscriptionService

__all__ = ["GraphApi", "WWW_AUTHENTICATE"]

WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)
READ_PERMISSIONS = ("Calendars.Read", "Calendars.ReadWrite", "Calendars.ReadBasic")
WRITE_PERMISSIONS = ("Calendars.ReadWrite",)
ACCESS_DENIED = "Access is denied. Check credentials and try again."
_EXT_FILTER = re.compile(
    r"^singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'((?:[^']|'')*)'\s+and\s+\1/value\s+eq\s+"
    r"'((?:[^']|'')*)'\s*\)$",
    re.IGNORECASE,
)


def _bad_segment(segment: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def _unauthorized(message: str, code: str = "InvalidAuthenticationToken") -> GraphError:
    return GraphError(401, code, message, headers={"WWW-Authenticate": WWW_AUTHENTICATE})


def _method_not_allowed() -> GraphError:
    return GraphError(405, "BadRequest", "The requested HTTP method is not supported by this resource.")


def read_json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(request.get_data() or b"{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise GraphError(
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid "
            "JSON format.",
        )
    return data


class GraphApi:
    """Dispatches ``/v1.0/...`` requests. Holds no state of its own."""

    def __init__(
        self,
        *,
        directory: Directory,
        identity: Identity,
        store: EventStore,
        delta: DeltaService,
        subscriptions: SubscriptionService,
        settings: GraphSettings,
        lock: threading.RLock,
        now: Callable[[], datetime],
    ) -> None:
        self.directory = directory
        self.identity = identity
        self.store = store
        self.delta = delta
        self.subscriptions = subscriptions
        self.settings = settings
        self.lock = lock
        self.now = now

    # -- authentication and access ----------------------------------------------------------
    def authenticate(self, request: Request) -> AccessToken:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if not header or scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("Access token is empty.")
        token = self.identity.lookup(value.strip())
        if token is None:
            if "." not in value:
                raise _unauthorized("IDX14100: JWT is not well formed, there are no dots (.).")
            raise _unauthorized("Access token validation failure. Invalid audience.")
        if token.expires_at <= self.now():
            raise _unauthorized("Lifetime validation failed, the token is expired.")
        if token.tenant_id not in self.directory.tenants:
            raise _unauthorized(
                f"The tenant for tenant guid '{token.tenant_id}' does not exist.", "OrganizationFromTenantGuidNotFound"
            )
        return token

    def me(self, token: AccessToken) -> User:
        if token.app_only:
            raise GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        return self.directory.users[token.user_id or ""]

    def user(self, token: AccessToken, key: str) -> User:
        user = self.directory.user(key, token.tenant_id)
        if user is not None:
            return user
        elsewhere = self.directory.user(key)
        if elsewhere is not None:
            raise _unauthorized(
                f"The tenant for tenant guid '{elsewhere.tenant_id}' does not exist.",
                "OrganizationFromTenantGuidNotFound",
            )
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")

    def mailbox_access(self, token: AccessToken, user: User, write: bool) -> Mailbox:
        """The mailbox of ``user`` if ``token`` may read (or write) it; else 401 / 403."""
        needed = WRITE_PERMISSIONS if write else READ_PERMISSIONS
        if token.app_only:
            if not token.roles:
                raise _unauthorized(
                    "The token contains no permissions, or permissions can not be understood.",
                    "NoPermissionsInAccessToken",
                )
            if not any(token.has_role(p) for p in needed):
                raise GraphError(403, "ErrorAccessDenied", ACCESS_DENIED)
            app = self.directory.apps.get(token.client_id)
            if app is not None and not app.may_access(user):
                raise GraphError(
                    403,
                    "ErrorAccessDenied",
                    "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.",
                )
            if write and app is not None and not app.may_write(user):
                raise GraphError(403, "ErrorAccessDenied", ACCESS_DENIED)
        elif user.id != token.user_id or not any(token.has_scope(p) for p in needed):
            raise GraphError(403, "ErrorAccessDenied", ACCESS_DENIED)
        return self.store.mailbox(user)

    def owner_of(self, token: AccessToken, segments: list[str]) -> tuple[User, list[str]] | None:
        """Split ``me/...`` or ``users/{id}/...`` into (user, rest); None for other paths."""
        head = segments[0].lower() if segments else ""
        if head == "me":
            return self.me(token), segments[1:]
        if head == "users" and len(segments) >= 2:
            return self.user(token, segments[1]), segments[2:]
        return None

    def resolve_resource(self, resource: str, token: AccessToken) -> Mailbox:
        """The mailbox a subscription ``resource`` such as ``users/{id}/events`` points at."""
        segments = [s for s in resource.strip().strip("/").split("/") if s]
        with self.lock:
            found = self.owner_of(token, segments)
            if found is None:
                raise GraphError(400, "InvalidRequest", f"The resource '{resource}' is not supported.")
            user, rest = found
            mbx = self.store.mailbox(user)
            rest = self._strip_calendar(mbx, rest)
            if [s.lower() for s in rest] != ["events"]:
                raise GraphError(400, "InvalidRequest", f"The resource '{resource}' is not supported.")
            return self.mailbox_access(token, user, write=False)

    # -- dispatch -------------------------------------------------------------------------
    def dispatch(self, request: Request, segments: list[str], check_throttle: Callable[[], None]) -> Response:
        token = self.authenticate(request)
        head = segments[0].lower() if segments else ""
        if head == "subscriptions":
            return self._subscriptions(request, token, segments[1:])
        if head == "places":
            return self._places(request, token, segments[1:])
        with self.lock:
            found = self.owner_of(token, segments)
        if found is None:
            raise _bad_segment(segments[0] if segments else "")
        user, rest = found
        if not rest:
            return self._profile(request, token, user)
        with self.lock:
            mbx = self.mailbox_access(token, user, write=request.method not in ("GET", "HEAD"))
        check_throttle()
        return self._mailbox(request, mbx, rest)

    def _strip_calendar(self, mbx: Mailbox, rest: list[str]) -> list[str]:
        lower = [s.lower() for s in rest]
        if lower[:1] == ["calendar"]:
            return rest[1:]
        if lower[:1] == ["calendars"] and len(rest) >= 2:
            if rest[1] != mbx.calendar_id:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            return rest[2:]
        return rest

    def _mailbox(self, request: Request, mbx: Mailbox, rest: list[str]) -> Response:
        original = rest
        rest = self._strip_calendar(mbx, rest)
        if not rest:
            if original[:1] and request.method == "GET":
                return graph_json(self._calendar(request, mbx))
            raise _method_not_allowed()
        lower = [s.lower() for s in rest]
        method = request.method
        options = RenderOptions.from_headers(request.headers.getlist("Prefer"))
        if lower == ["events"]:
            if method == "POST":
                return self._create(request, mbx, options)
            if method == "GET":
                return self._list_events(request, mbx, options)
        elif lower[0] == "events" and len(rest) == 2:
            if method == "GET":
                return self._get(request, mbx, rest[1], options)
            if method == "PATCH":
                return self._patch(request, mbx, rest[1], options)
            if method == "DELETE":
                with self.lock:
                    self.store.delete(mbx, rest[1], if_match=request.headers.get("If-Match"))
                return graph_json(None, 204)
        elif lower[0] == "events" and len(rest) == 3 and lower[2] in ("cancel", "instances"):
            if lower[2] == "cancel" and method == "POST":
                return self._cancel(mbx, rest[1])
            if lower[2] == "instances" and method == "GET":
                return self._instances(request, mbx, rest[1], options)
        elif lower == ["calendarview"]:
            if method == "GET":
                return self._calendar_view(request, mbx, options)
        elif lower in (["calendarview", "delta"], ["calendarview", "delta()"]):  # msgraph-sdk sends the OData call form
            if method == "GET":
                return self.delta.handle(request, mbx, _delta_options(request))
        else:
            raise _bad_segment(rest[-1])
        raise _method_not_allowed()

    # -- events ---------------------------------------------------------------------------
    def _context(self, request: Request, suffix: str) -> str:
        return f"{request.host_url}v1.0/$metadata#{suffix}"

    def _headers(self, options: RenderOptions) -> dict[str, str]:
        return {"Preference-Applied": ", ".join(options.applied)} if options.applied else {}

    def _render(self, inst: Instance, mbx: Mailbox, options: RenderOptions) -> dict[str, Any]:
        return render_event(inst, mbx.owner, options)

    def _create(self, request: Request, mbx: Mailbox, options: RenderOptions) -> Response:
        payload = read_json(request)
        with self.lock:
            rec, created = self.store.create(mbx, payload)
            data = self._render(self.store.instance(mbx, rec.id), mbx, options)
        if created and self.settings.join_url_null_on_create and data.get("isOnlineMeeting"):
            data["onlineMeeting"] = None
        body = {"@odata.context": self._context(request, f"users('{mbx.owner.upn}')/events/$entity"), **data}
        return graph_json(body, 201, headers=self._headers(options))

    def _get(self, request: Request, mbx: Mailbox, event_id: str, options: RenderOptions) -> Response:
        self._query_options(request, options)
        with self.lock:
            data = self._render(self.store.instance(mbx, event_id), mbx, options)
        body = {"@odata.context": self._context(request, f"users('{mbx.owner.upn}')/events/$entity"), **data}
        return graph_json(body, headers=self._headers(options))

    def _patch(self, request: Request, mbx: Mailbox, event_id: str, options: RenderOptions) -> Response:
        payload = read_json(request)
        with self.lock:
            inst = self.store.update(mbx, event_id, payload, if_match=request.headers.get("If-Match"))
            data = self._render(inst, mbx, options)
        body = {"@odata.context": self._context(request, f"users('{mbx.owner.upn}')/events/$entity"), **data}
        return graph_json(body, headers=self._headers(options))

    def _cancel(self, mbx: Mailbox, event_id: str) -> Response:
        with self.lock:
            inst = self.store.instance(mbx, event_id)
            if not inst.props.get("isOrganizer", True):
                raise GraphError(
                    400,
                    "ErrorInvalidRequest",
                    "Your request can't be completed. You need to be an organizer to cancel a meeting.",
                )
            self.store.delete(mbx, event_id)
        return graph_json(None, 202)

    def _query_options(self, request: Request, options: RenderOptions) -> None:
        options.expand = parse_expand(query_arg(request, "$expand"))
        select = query_arg(request, "$select")
        options.select = [s.strip() for s in select.split(",") if s.strip()] if select else None

    def _list_events(self, request: Request, mbx: Mailbox, options: RenderOptions) -> Response:
        self._query_options(request, options)
        raw_filter = query_arg(request, "$filter")
        with self.lock:
            records = sorted(mbx.live(), key=lambda r: (r.start, r.id))
            if raw_filter:
                records = [r for r in records if _filter_matches(raw_filter, r.ext_props)]
            instances = [self.store.instance(mbx, r.id) for r in records]
            return self._collection(request, instances, mbx, options, "events")

    def _calendar_view(self, request: Request, mbx: Mailbox, options: RenderOptions) -> Response:
        if query_arg(request, "$filter"):
            raise GraphError(400, "ErrorInvalidUrlQuery", "$filter on calendarView is not supported by the emulator.")
        self._query_options(request, options)
        start, end = self.delta.window(request)
        with self.lock:
            instances = self.store.calendar_view(mbx, start, end)
            return self._collection(request, instances, mbx, options, "calendarView")

    def _instances(self, request: Request, mbx: Mailbox, event_id: str, options: RenderOptions) -> Response:
        self._query_options(request, options)
        start, end = self.delta.window(request)
        with self.lock:
            if parse_occurrence_id(event_id) is not None:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            rec = self.store.record(mbx, event_id)
            return self._collection(request, expand(rec, start, end), mbx, options, "instances")

    def _collection(
        self, request: Request, instances: list[Instance], mbx: Mailbox, options: RenderOptions, name: str
    ) -> Response:
        top = _int_arg(request, "$top", 10, 1000)
        skip = _int_arg(request, "$skip", 0, 10**9)
        page = instances[skip : skip + top]
        body: dict[str, Any] = {
            "@odata.context": self._context(request, f"users('{mbx.owner.upn}')/{name}"),
            "value": [self._render(i, mbx, options) for i in page],
        }
        if skip + top < len(instances):
            params = {k: v for k, v in request.args.items() if k.lower() != "$skip"}
            params["$skip"] = str(skip + top)
            base = request.host_url.rstrip("/") + quote(request.path, safe="/@:$")
            body["@odata.nextLink"] = f"{base}?{urlencode(params, safe='$')}"
        return graph_json(body, headers=self._headers(options))

    def _calendar(self, request: Request, mbx: Mailbox) -> dict[str, Any]:
        owner = mbx.owner
        return {
            "@odata.context": self._context(request, f"users('{owner.upn}')/calendars/$entity"),
            "id": mbx.calendar_id,
            "name": "Calendar",
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": True,
            "changeKey": "fJKVL07sbkmIfHqjbDnRgQAAAAACNA==",
            "canShare": owner.kind == "user",
            "canViewPrivateItems": True,
            "canEdit": True,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": True,
            "isRemovable": False,
            "owner": {"name": owner.display_name, "address": owner.upn},
        }

    def _profile(self, request: Request, token: AccessToken, user: User) -> Response:
        if request.method != "GET":
            raise _method_not_allowed()
        allowed = (
            token.has_role("User.Read.All") or token.has_role("User.ReadBasic.All")
            if token.app_only
            else (user.id == token.user_id and token.has_scope("User.Read")) or token.has_scope("User.ReadBasic.All")
        )
        if not allowed:
            raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        body = {"@odata.context": self._context(request, "users/$entity"), **user.as_graph()}
        return graph_json(body)

    # -- places ---------------------------------------------------------------------------
    def _places(self, request: Request, token: AccessToken, rest: list[str]) -> Response:
        """Room lists and rooms (:mod:`.graph_places`), paged; ``Place.Read.All`` only."""
        if request.method != "GET":
            raise _method_not_allowed()
        allowed = any(token.has_role(p) if token.app_only else token.has_scope(p) for p in PLACE_PERMISSIONS)
        if not allowed:
            raise GraphError(403, "ErrorAccessDenied", ACCESS_DENIED)
        with self.lock:
            found = self.directory.places.listing(rest, token.tenant_id)
            if found is None:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            suffix, items = found
            page, next_link = self.directory.places.page(request, items)
        body: dict[str, Any] = {"@odata.context": self._context(request, suffix), "value": page}
        if next_link:
            body["@odata.nextLink"] = next_link
        return graph_json(body)

    # -- subscriptions --------------------------------------------------------------------
    def _subscriptions(self, request: Request, token: AccessToken, rest: list[str]) -> Response:
        method = request.method
        entity = self._context(request, "subscriptions/$entity")
        if not rest:
            if method == "POST":
                creator = token.user_id or self.directory.apps[token.client_id].service_principal_id
                sub = self.subscriptions.create(read_json(request), token, creator)
                return graph_json({"@odata.context": entity, **sub.as_graph()}, 201)
            if method == "GET":
                subs = self.subscriptions.list_for(token)
                context = self._context(request, "subscriptions")
                return graph_json({"@odata.context": context, "value": [s.as_graph() for s in subs]})
            raise _method_not_allowed()
        if len(rest) == 2 and rest[1].lower() == "reauthorize" and method == "POST":
            self.subscriptions.reauthorize(rest[0], token)
            return graph_json(None, 204)
        if len(rest) != 1:
            raise _bad_segment(rest[-1])
        if method == "GET":
            return graph_json({"@odata.context": entity, **self.subscriptions.get(rest[0], token).as_graph()})
        if method == "PATCH":
            sub = self.subscriptions.renew(rest[0], read_json(request), token)
            return graph_json({"@odata.context": entity, **sub.as_graph()})
        if method == "DELETE":
            self.subscriptions.delete(rest[0], token)
            return graph_json(None, 204)
        raise _method_not_allowed()


def _delta_options(request: Request) -> RenderOptions:
    return RenderOptions.from_headers(request.headers.getlist("Prefer"))


def _int_arg(request: Request, name: str, default: int, maximum: int) -> int:
    raw = query_arg(request, name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for query option '{name}'.")
    return max(0, min(int(raw), maximum)) if name == "$skip" else max(1, min(int(raw), maximum))


def _filter_matches(raw: str, ext_props: list[dict[str, Any]]) -> bool:
    """The one ``$filter`` the emulator knows: an extended property with a given id and value."""
    match = _EXT_FILTER.match(raw.strip())
    if not match:
        raise GraphError(400, "ErrorInvalidUrlQuery", f"The $filter '{raw}' is not supported by the emulator.")
    prop_id, value = match.group(2).replace("''", "'"), match.group(3).replace("''", "'")
    return any(p["id"].lower() == prop_id.lower() and str(p["value"]) == value for p in ext_props)
