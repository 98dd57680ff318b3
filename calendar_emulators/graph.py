"""Local emulator of Microsoft Graph v1.0 (calendar) and the Microsoft identity platform.

Public API: :class:`GraphEmulator` (a WSGI app; serve it with :class:`~.core.EmulatorServer`),
:class:`GraphSettings` (its knobs), :data:`DEMO_TENANT_ID`, :data:`TOKEN_ERROR_PRESETS`.

One app serves, at its root, the login host (``/{tenant}/oauth2/v2.0/authorize`` and ``/token``,
tenants by GUID or domain) and Graph (``/v1.0/me/...``, ``/v1.0/users/{id | upn}/...``,
``/v1.0/subscriptions``, ``/v1.0/$batch``): events CRUD with ``transactionId`` dedupe, calendarView
and its delta, subscriptions with the validation handshake and batched notifications, JSON batching
and Outlook's throttling.
Its behaviour follows ``/work/shared/protocols/microsoft-graph-calendar.md`` §10.

Control: the methods below (``add_tenant``, ``add_app``, ``add_room``, ``person_create_event``,
``invalidate_delta_tokens``, ``fire_lifecycle`` ...) and the same under ``/_emulator/...`` over HTTP
(see :mod:`.graph_control`), next to the generic routes of :class:`~.core.EmulatorApp` (faults,
latency, clock, push faults, request log). Typical use::

    app = GraphEmulator(allow_http_notifications=True, allow_loopback_redirects=True)
    app.seed_demo()
    EmulatorServer(app, port=8025).serve_forever()
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .core import CONTROL_PREFIX
from .core import Clock
from .core import EmulatorApp
from .core import Fault
from .graph_api import WWW_AUTHENTICATE
from .graph_api import GraphApi
from .graph_batch import run_batch
from .graph_common import GraphError
from .graph_common import GraphSettings
from .graph_common import graph_error_body
from .graph_common import graph_json
from .graph_common import new_guid
from .graph_control import DEMO_TENANT_ID
from .graph_control import ControlMixin
from .graph_control import handle_control
from .graph_delta import DeltaService
from .graph_directory import Directory
from .graph_events import EventStore
from .graph_identity import Identity
from .graph_oauth import TOKEN_ERROR_PRESETS
from .graph_oauth import OAuthError
from .graph_oauth import preset_error
from .graph_subscriptions import Notifier
from .graph_subscriptions import SubscriptionService
from .graph_throttle import Throttle
from .graph_throttle import Ticket

__all__ = ["DEMO_TENANT_ID", "TOKEN_ERROR_PRESETS", "GraphEmulator", "GraphSettings"]

#: Graph's error code and message per HTTP status, for injected faults (``Fault.reason`` overrides the code).
STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "The request is invalid."),
    401: ("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: ("ErrorIrresolvableConflict", "The change key passed in the request does not match the current change key."),
    410: ("syncStateNotFound", "The sync state is not found or has expired. Resync required."),
    412: ("ErrorIrresolvableConflict", "The change key passed in the request does not match the current change key."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("ErrorInternalServerError", "An internal server error occurred. The operation failed."),
    502: ("UnknownError", ""),
    503: ("ServiceNotAvailable", "The service is currently unavailable. Please try again later."),
    504: ("UnknownError", ""),
}


def status_error(status: int, reason: str = "") -> GraphError:
    """The GraphError the real service answers with for ``status`` (``reason`` picks another code)."""
    code, message = STATUS_ERRORS.get(status, ("UnknownError", ""))
    headers = {"WWW-Authenticate": WWW_AUTHENTICATE} if status == 401 else {}
    return GraphError(status, reason or code, message, headers)


class GraphEmulator(ControlMixin, EmulatorApp):
    """Microsoft Graph calendar + identity platform, in memory. Thread-safe; knobs in ``settings``."""

    def __init__(self, *, clock: Clock | None = None, seed: int = 0, **settings: Any) -> None:
        super().__init__(clock=clock, seed=seed)
        self.settings = GraphSettings()
        self.settings.update(settings)
        self.lock = threading.RLock()
        now = self.clock.now
        self.directory = Directory()
        self.identity = Identity(self.directory, now, self.settings, self.lock)
        self.notifier = Notifier(self.deliverer, lambda: self.settings.notification_batch_window)
        self.subscriptions = SubscriptionService(now, self.settings, self.lock, self.notifier, self._resolve_resource)
        self.store = EventStore(now, self.subscriptions.on_change)
        self.delta = DeltaService(self.store, now, self.settings, self.lock)
        self.throttle = Throttle(now, self.settings)
        self.api = GraphApi(
            directory=self.directory,
            identity=self.identity,
            store=self.store,
            delta=self.delta,
            subscriptions=self.subscriptions,
            settings=self.settings,
            lock=self.lock,
            now=now,
        )
        self._local = threading.local()
        self._batch_random = random.Random(seed)
        self._apply_settings()

    def configure(self, **knobs: Any) -> None:
        """Change knobs of :class:`GraphSettings` (unknown names raise ``KeyError``)."""
        self.settings.update(knobs)
        self._apply_settings()

    def _apply_settings(self) -> None:
        self.deliverer.retry_horizon = self.settings.notification_retry_horizon

    # -- WSGI -----------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX + "/"):
            return super().__call__(environ, start_response)
        self._local.path = path
        key = self._throttle_key(environ)
        ticket = self.throttle.enter(key) if key else None
        environ["graph.throttle"] = ticket
        try:
            return super().__call__(environ, start_response)
        finally:
            if ticket is not None:
                self.throttle.leave(ticket)

    def _throttle_key(self, environ: dict[str, Any]) -> tuple[str, str] | None:
        """(client id, mailbox id) of a mailbox request, decided on arrival; None for anything else."""
        segments = [s for s in environ.get("PATH_INFO", "").split("/") if s]
        if len(segments) < 3 or segments[0].lower() != "v1.0":
            return None
        header = environ.get("HTTP_AUTHORIZATION", "")
        token = self.identity.lookup(header.partition(" ")[2].strip()) if header else None
        if token is None:
            return None
        try:
            with self.lock:
                found = self.api.owner_of(token, segments[1:])
        except GraphError:
            return None
        if found is None or not found[1]:
            return None
        return token.client_id, found[0].id

    def handle(self, request: Request) -> Response:
        segments = [s for s in request.path.split("/") if s]
        lower = [s.lower() for s in segments]
        try:
            if len(lower) == 4 and lower[1:3] == ["oauth2", "v2.0"] and lower[3] in ("authorize", "token"):
                if lower[3] == "authorize":
                    return self.identity.authorize(request, segments[0])
                return self.identity.token(request, segments[0])
            if len(lower) == 4 and lower[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                return graph_json(self._openid_configuration(request, segments[0]))
            if lower == ["v1.0", "$batch"] and request.method == "POST":
                self.api.authenticate(request)
                return self._finish(run_batch(request, self._execute_inner, self._batch_random), request)
            if lower[:1] == ["v1.0"]:
                response = self.api.dispatch(request, segments[1:], lambda: self._check_throttle(request))
                return self._finish(response, request)
            raise GraphError(404, "UnknownError", "")
        except GraphError as exc:
            return self._finish(self._error_response(exc, request), request)

    def _execute_inner(self, environ: dict[str, Any]) -> Response:
        """Run one request of a ``$batch``: throttled on its own, without the outer latency and faults."""
        key = self._throttle_key(environ)
        ticket = self.throttle.enter(key) if key else None
        environ["graph.throttle"] = ticket
        try:
            return self.handle(Request(environ))
        finally:
            if ticket is not None:
                self.throttle.leave(ticket)

    def _check_throttle(self, request: Request) -> None:
        ticket: Ticket | None = request.environ.get("graph.throttle")
        if ticket is not None and ticket.error is not None:
            raise ticket.error

    def _error_response(self, exc: GraphError, request: Request) -> Response:
        body = graph_error_body(exc.code, exc.message, self.clock.now(), request.headers.get("client-request-id", ""))
        return graph_json(body, exc.status, headers=exc.headers)

    def _finish(self, response: Response, request: Request) -> Response:
        client_request_id = request.headers.get("client-request-id")
        response.headers.setdefault("request-id", new_guid())
        if client_request_id:
            response.headers["client-request-id"] = client_request_id
        response.headers.setdefault("OData-Version", "4.0")
        return response

    def _openid_configuration(self, request: Request, tenant_key: str) -> dict[str, Any]:
        tenant = self.directory.tenant(tenant_key)
        tid = tenant.id if tenant else "{tenantid}"
        base = f"{request.host_url}{tenant_key}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"https://login.microsoftonline.com/{tid}/v2.0",
            "code_challenge_methods_supported": ["plain", "S256"],
            "tenant_region_scope": "EU",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": self.settings.graph_root.split("://", 1)[-1],
        }

    def fault_response(self, fault: Fault) -> Response:
        path = getattr(self._local, "path", "").lower()
        if path.endswith("/oauth2/v2.0/token"):
            return self._token_fault(fault)
        if path.endswith("/oauth2/v2.0/authorize"):
            page = (
                f"<html><body><h1>HTTP {fault.status}</h1>"
                "<p>Sorry, but we're having trouble signing you in.</p></body></html>"
            )
            return Response(page, status=fault.status, content_type="text/html; charset=utf-8")
        exc = status_error(fault.status, fault.reason)
        body = graph_error_body(exc.code, exc.message, self.clock.now())
        return graph_json(body, exc.status, headers=exc.headers)

    def _token_fault(self, fault: Fault) -> Response:
        if fault.reason in TOKEN_ERROR_PRESETS:
            error = preset_error(fault.reason, client_id="", resource=self.settings.graph_root, issued="")
        elif fault.status == 400:
            error = preset_error("expired")
        elif fault.status == 401:
            error = preset_error("secret_expired", client_id="")
        else:
            error = preset_error("temporarily_unavailable")
        error = OAuthError(fault.status, error.error, error.code, error.message)
        body = error.body(self.clock.now(), "", "https://login.microsoftonline.com/")
        return graph_json(body, fault.status)

    def _resolve_resource(self, resource: str, token: Any) -> Any:
        return self.api.resolve_resource(resource, token)

    def status_error(self, status: int, reason: str = "") -> GraphError:
        return status_error(status, reason)

    def control(self, request: Request, action: str) -> Response | None:
        return handle_control(self, request, action)

    def close(self) -> None:
        self.notifier.close()
        super().close()
