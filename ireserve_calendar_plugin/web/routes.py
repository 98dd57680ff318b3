"""The plugin's HTTP routes (under the host's plugin prefix), for ``on_http_route``.

Public API: :func:`handle`, :data:`ROUTE_PREFIX`, :func:`connect_link`.

Routes:

- ``GET  /calendar/oauth/start/<integration>?t=<signed>``: an admin starts connecting an account
  (the link is signed and expiring, minted by the admin form only);
- ``GET  /calendar/oauth/callback?code=..&state=..``: the provider sends the admin back;
- ``POST /calendar/push/<provider>/<integration>[/lifecycle]``: push notifications (Google channel
  messages, Graph change and lifecycle notifications and their validation handshakes).

Push routes answer within milliseconds: they verify, queue one deduplicated job per calendar and
acknowledge. A forged, malformed or unknown notification is answered with a clean 4xx (or the
provider's expected 2xx where a 4xx would make it retry) and changes nothing.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import replace
from urllib.parse import urlencode

from hookspecs.types import HostApi
from hookspecs.types import HttpRequest
from hookspecs.types import HttpResponse
from hookspecs.types import ResultPage
from ireserve_calendar_plugin.auth.links import sign_link
from ireserve_calendar_plugin.auth.links import verify_link
from ireserve_calendar_plugin.auth.oauth import OAuthStates
from ireserve_calendar_plugin.auth.oauth import split_state
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.choices import queue_refresh
from ireserve_calendar_plugin.config.form import load_settings
from ireserve_calendar_plugin.disconnect import queue_revoke
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.messages import ProblemKind
from ireserve_calendar_plugin.messages import classify
from ireserve_calendar_plugin.messages import message_for
from ireserve_calendar_plugin.messages import provider_title
from ireserve_calendar_plugin.providers.base import NoticeKind
from ireserve_calendar_plugin.runtime import CLICK_TIMEOUT
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.runtime import click_context
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.services import enqueue
from ireserve_calendar_plugin.services import resume_after_reconnect
from ireserve_calendar_plugin.sync.channels import ChannelForce
from ireserve_calendar_plugin.sync.channels import route_notification
from ireserve_calendar_plugin.sync.engine import channel_job
from ireserve_calendar_plugin.sync.engine import sync_job

__all__ = ["ROUTE_PREFIX", "connect_link", "handle"]

log = logging.getLogger("ireserve_calendar_plugin.web")

ROUTE_PREFIX = "/calendar/"
CALLBACK_PATH = "/calendar/oauth/callback"
_ID = r"[A-Za-z0-9_.-]{1,128}"
_START = re.compile(rf"^/calendar/oauth/start/({_ID})$")
_PUSH = re.compile(rf"^/calendar/push/([a-z0-9_-]{{1,32}})/({_ID})(/lifecycle)?$")
_MAX_PUSH_BODY = 256 * 1024


def _text(status: int, body: str, content_type: str = "text/plain; charset=utf-8") -> HttpResponse:
    return HttpResponse(
        status,
        body.encode("utf-8"),
        {"Content-Type": content_type, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def _page(status: int, title: str, message: str, integration_id: str = "") -> HttpResponse:
    """A result page: the host shows ``page`` in its own style; ``body`` is for hosts that do not."""
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    page = ResultPage(title, message, ok=status < 400, integration_id=integration_id)
    return replace(_text(status, body, "text/html; charset=utf-8"), page=page)


def connect_link(host: HostApi, integration_id: str) -> str:
    """The signed "connect account" URL an admin form shows."""
    token = sign_link(host.keyring, "oauth-start", integration_id, host.now())
    return host.url_for(f"/calendar/oauth/start/{integration_id}") + "?" + urlencode({"t": token})


def handle(host: HostApi, request: HttpRequest) -> HttpResponse | None:
    """Answer a request under ``/calendar/``, or None when the path is not ours."""
    path = request.path
    if not path.startswith(ROUTE_PREFIX):
        return None
    if path == CALLBACK_PATH:
        return _method(request, "GET") or _callback(host, request)
    match = _START.match(path)
    if match:
        return _method(request, "GET") or _start(host, match.group(1), request)
    match = _PUSH.match(path)
    if match:
        return _method(request, "POST") or _push(host, match.group(1), match.group(2), request)
    return _text(404, "not found")


def _method(request: HttpRequest, allowed: str) -> HttpResponse | None:
    if request.method != allowed:
        return HttpResponse(405, b"method not allowed", {"Allow": allowed, "Content-Type": "text/plain"})
    return None


def _integration(host: HostApi, integration_id: str) -> IntegrationContext | None:
    integration = host.integrations.get(integration_id)
    if integration is None or not integration.enabled:
        return None
    return context_for(host, integration)


# --------------------------------------------------------------------------- OAuth


def _start(host: HostApi, integration_id: str, request: HttpRequest) -> HttpResponse:
    ctx = _integration(host, integration_id)
    if ctx is None:
        return _page(404, "Unknown integration", "This integration does not exist or is disabled.")
    if not verify_link(host.keyring, "oauth-start", integration_id, request.arg("t"), host.now()):
        return _page(
            403,
            "Link expired",
            "Open the integration's settings page again and use its connect button.",
            integration_id,
        )
    try:
        settings = load_settings(ctx.store, ctx.provider)
    except ConfigError:
        return _page(
            409, "Not configured", "Save the integration's settings before connecting an account.", integration_id
        )
    if not ctx.provider.uses_authorization_code(settings):
        return _page(
            409,
            "Nothing to connect",
            "This integration authenticates as an application; no sign-in needed.",
            integration_id,
        )
    pending = OAuthStates(ctx.store).begin(host.url_for(CALLBACK_PATH), host.now())
    url = ctx.provider.authorization_url(
        settings, redirect_uri=pending.redirect_uri, state=pending.state, code_challenge=pending.code_challenge
    )
    return HttpResponse(302, b"", {"Location": url, "Cache-Control": "no-store"})


def _callback(host: HostApi, request: HttpRequest) -> HttpResponse:
    if request.arg("admin_consent") or (request.arg("tenant") and not request.arg("code")):
        # back from Microsoft's admin-consent page (application mode): nothing to exchange
        if request.arg("admin_consent").lower() == "true":
            return _page(
                200,
                "Admin consent granted",
                "The tenant's admin granted the app's permissions. Go back "
                "to the integration's settings page; syncing starts with the next round.",
            )
        return _page(
            400,
            "Admin consent not granted",
            "The consent was not given. Sign in as an admin of the "
            "tenant and try again from the integration's settings page.",
        )
    parts = split_state(request.arg("state"))
    if parts is None:
        return _page(400, "Connection failed", "The sign-in response was not recognised. Start again from settings.")
    nonce, integration_id = parts
    ctx = _integration(host, integration_id)
    if ctx is None:
        return _page(400, "Connection failed", "The sign-in response was not recognised. Start again from settings.")
    pending = OAuthStates(ctx.store).consume(nonce, host.now())
    if pending is None:
        return _page(
            400, "Connection failed", "This sign-in link was already used or has expired. Start again.", integration_id
        )
    if request.arg("error"):
        return _page(
            400, "Connection cancelled", f"The provider answered: {request.arg('error')[:100]}.", integration_id
        )
    code = request.arg("code")
    if not code or len(code) > 4096:
        return _page(400, "Connection failed", "The provider sent no authorization code.", integration_id)
    try:
        settings = load_settings(ctx.store, ctx.provider)
        # the admin's browser waits on this page: a few seconds for all provider calls, no retries
        with click_context(ctx, settings) as bctx:
            tokens = ctx.provider.exchange_code(
                bctx, code=code, redirect_uri=pending.redirect_uri, code_verifier=pending.code_verifier
            )
            tokens = replace(tokens, issuer=bctx.issuer)  # only ever sent under these endpoint settings
    except CalendarPluginError as exc:
        log.info("integration %s: code exchange failed: %s: %s", integration_id, type(exc).__name__, exc)
        host.integrations.log(integration_id, "error", f"Connecting the account failed: {type(exc).__name__}")
        kind = classify(exc)
        if kind in (ProblemKind.PROVIDER_DOWN, ProblemKind.THROTTLED):
            return _page(
                504,
                "Connection failed",
                f"{provider_title(ctx.provider.name)} did not answer within "
                f"{CLICK_TIMEOUT:g} seconds; nothing was changed. Start again from settings in a minute.",
                integration_id,
            )
        said = message_for(kind, provider=ctx.provider.name)
        return _page(502, "Connection failed", f"{said.what} {said.next_step}", integration_id)
    store = TokenStore(ctx.store)
    previous, version = store.load()
    store.save(tokens, expected_version=None)
    if previous is not None and previous.refresh_token and previous.refresh_token != tokens.refresh_token:
        # a job: this page does not wait on the provider again
        queue_revoke(ctx, previous.refresh_token, previous.issuer)
    AuthStatus(ctx.store).mark_connected(tokens.account, host.now())
    account = f": {tokens.account}" if tokens.account else ""
    host.integrations.log(integration_id, "info", f"Account connected{account}.")
    queue_refresh(ctx)  # the account's calendars and label, for the form
    queued = resume_after_reconnect(ctx)
    return _page(
        200,
        "Account connected",
        f"The calendar account is connected; {queued} sync job(s) were queued. You can close this page.",
        integration_id,
    )


# --------------------------------------------------------------------------- push


def _push(host: HostApi, provider_name: str, integration_id: str, request: HttpRequest) -> HttpResponse:
    if len(request.body) > _MAX_PUSH_BODY:
        return _text(413, "too large")
    ctx = _integration(host, integration_id)
    if ctx is None or ctx.provider.name != provider_name:
        return _text(404, "unknown channel")
    parsed = ctx.provider.parse_push(request)
    if parsed.response is not None:
        return parsed.response
    if not parsed.notices:
        return _text(parsed.ack_status, "")
    accepted = 0
    for notice in parsed.notices:
        calendar_key = route_notification(ctx.store, notice.channel_id, notice.secret, notice.resource)
        if calendar_key is None:
            continue
        accepted += 1
        if notice.kind in (NoticeKind.CHANGED, NoticeKind.RESYNC):
            enqueue(host, sync_job(integration_id, calendar_key))
        elif notice.kind == NoticeKind.RENEW:
            enqueue(host, channel_job(integration_id, calendar_key, force=ChannelForce.RENEW))
        elif notice.kind == NoticeKind.RECREATE:
            enqueue(host, channel_job(integration_id, calendar_key, force=ChannelForce.RECREATE))
    if not accepted:
        return _text(403 if provider_name == "google" else parsed.ack_status, "")
    return _text(parsed.ack_status, "")
