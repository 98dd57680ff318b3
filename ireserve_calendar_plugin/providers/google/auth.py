"""Google OAuth 2.0 for the provider: consent URL, code exchange, refresh (google-auth) and revocation.

Public API: :func:`authorization_url`, :func:`exchange_code`, :func:`refresher`, :func:`revoke`,
:data:`SCOPES`, :data:`SCOPE_EVENTS`, :data:`SCOPE_READONLY`.

- The consent URL asks for ``calendar.readonly`` + ``calendar.events`` with ``access_type=offline``,
  ``prompt=consent`` (so a refresh token always comes back) and a PKCE S256 challenge.
- :func:`exchange_code` posts the code (form-encoded) and checks the *granted* scopes: without
  ``calendar.events`` (the admin unticked it on a granular consent screen) the connection could not
  write, so it revokes the fresh grant and raises :class:`ConfigError` ("read-only connection").
  The account label is the primary calendar's id (the e-mail address), fetched once, best effort.
- Refresh goes through ``google.oauth2.credentials.Credentials.refresh``; ``invalid_grant`` becomes
  :class:`AuthExpiredError` (the caller marks "needs reconnect" and stops), a rejected client
  (``invalid_client``/``unauthorized_client``) :class:`PermanentError`, anything else
  :class:`TransientError`. google-auth itself retries 5xx/429 of the token endpoint a few times.
- Token-endpoint calls are not paced and never put a token in a message or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import google.auth.exceptions
import google.auth.transport.requests
import google.oauth2.credentials
import requests

from ireserve_calendar_plugin.auth.tokens import TokenSet
from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers.google.client import PROVIDER
from ireserve_calendar_plugin.providers.google.client import GoogleClient
from ireserve_calendar_plugin.providers.google.client import api_paths
from ireserve_calendar_plugin.providers.google.client import raise_for_status
from ireserve_calendar_plugin.providers.google.settings import DEFAULT_URLS
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.http import Pacer
from ireserve_calendar_plugin.providers.http import RetryPolicy
from ireserve_calendar_plugin.providers.http import refuse_redirect

__all__ = [
    "SCOPES",
    "SCOPE_EVENTS",
    "SCOPE_READONLY",
    "authorization_url",
    "exchange_code",
    "refresher",
    "revoke",
]

log = logging.getLogger("ireserve_calendar_plugin.google")

SCOPE_READONLY = "https://www.googleapis.com/auth/calendar.readonly"
SCOPE_EVENTS = "https://www.googleapis.com/auth/calendar.events"
SCOPE_CALENDAR = "https://www.googleapis.com/auth/calendar"
SCOPES = (SCOPE_READONLY, SCOPE_EVENTS)
#: timeout of token-endpoint calls (seconds)
TOKEN_TIMEOUT = 20.0
_CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})


def _url(settings: Mapping[str, Any], name: str) -> str:
    return str(settings.get(name) or DEFAULT_URLS[name])


def authorization_url(settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str) -> str:
    """The consent URL to send the admin to."""
    params = {
        "client_id": settings["client_id"],
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(SCOPES),
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    return f"{_url(settings, 'auth_url')}?{urlencode(params)}"


def _can_write(scopes: tuple[str, ...]) -> bool:
    return SCOPE_EVENTS in scopes or SCOPE_CALENDAR in scopes


def _token_error(response: requests.Response) -> tuple[str, str]:
    try:
        data = response.json()
    except ValueError:
        return "", ""
    if not isinstance(data, Mapping):
        return "", ""
    error, description = data.get("error"), data.get("error_description")
    return (error if isinstance(error, str) else ""), (description if isinstance(description, str) else "")


def exchange_code(
    settings: Mapping[str, Any],
    session: requests.Session,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    now: datetime,
    pacer: Pacer | None = None,
) -> TokenSet:
    """Trade an authorization code for tokens (see the module docstring for the scope check). ``pacer``:
    the integration's request pacer, which the account-label call then counts against."""
    form = {
        "code": code,
        "client_id": settings["client_id"],
        "client_secret": settings["client_secret"],
        "redirect_uri": redirect_uri,
        "grant_type": "authorization_code",
        "code_verifier": code_verifier,
    }
    try:
        response = session.post(_url(settings, "token_url"), data=form, timeout=TOKEN_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise TransientError("google: the token endpoint did not answer", provider=PROVIDER) from exc
    refuse_redirect(PROVIDER, response.status_code, "token request")
    if response.status_code != 200:
        error, description = _token_error(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(
                f"google: token endpoint HTTP {response.status_code}",
                provider=PROVIDER,
                status=response.status_code,
                reason=error,
            )
        if error in _CLIENT_ERRORS:
            raise ConfigError(
                "Google rejected the client id or client secret.",
                {"client_secret": "Google rejected the client id or client secret."},
            )
        raise PermanentError(
            f"google: the authorization code was refused ({error or response.status_code}"
            + (f": {description[:200]}" if description else "")
            + ")",
            provider=PROVIDER,
            status=response.status_code,
            reason=error,
        )
    try:
        data = response.json()
        access_token = str(data["access_token"])
        expires_in = float(data.get("expires_in") or 3599)
    except (ValueError, KeyError, TypeError) as exc:
        raise TransientError("google: the token endpoint sent no usable token", provider=PROVIDER) from exc
    refresh_token = data.get("refresh_token")
    granted = data.get("scope")
    scopes = tuple(sorted(granted.split())) if isinstance(granted, str) and granted else SCOPES
    tokens = TokenSet(
        access_token,
        now + timedelta(seconds=expires_in),
        refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        scopes,
    )
    if not _can_write(scopes):
        revoke(settings, session, refresh_token if isinstance(refresh_token, str) else access_token)
        raise ConfigError(
            "Read-only connection: the Google account did not allow managing events. Connect again and "
            "allow both requested permissions.",
            {"connection": "The calendar.events permission was not granted."},
        )
    if tokens.refresh_token is None:
        revoke(settings, session, access_token)
        raise ConfigError(
            "Google returned no refresh token; the partial grant was revoked. Connect again.",
            {"connection": "No refresh token was granted."},
        )
    return TokenSet(
        tokens.access_token,
        tokens.expires_at,
        tokens.refresh_token,
        tokens.scopes,
        account_label(settings, session, access_token, pacer=pacer),
    )


def account_label(
    settings: Mapping[str, Any], session: requests.Session, access_token: str, *, pacer: Pacer | None = None
) -> str:
    """The connected account's e-mail (its primary calendar id), or "" when it cannot be read cheaply.

    A Calendar API call like any other: with ``pacer`` it takes a slot of the integration's budget."""
    base = _url(settings, "api_base_url")
    api = ApiClient(
        provider=PROVIDER,
        allowed_bases=[base],
        allowed_paths=api_paths,
        token=lambda: access_token,
        invalidate_token=lambda _token: None,
        raise_for_status=raise_for_status,
        retry=RetryPolicy(attempts=1),
        timeout=TOKEN_TIMEOUT,
        session=session,
        pacer=pacer,
    )
    try:
        return GoogleClient(api, base).primary_calendar_id()
    except CalendarPluginError as exc:
        log.info("google: could not read the connected account (%s)", type(exc).__name__)
        return ""


class _Transport(google.auth.transport.requests.Request):
    """google-auth's requests transport on a session we own: bounded timeout, never a redirect (the
    refresh carries the client secret and the refresh token: a 3xx is a :class:`RedirectRefusedError`,
    not a second request), and it does not close the (possibly shared) session when it is
    garbage-collected."""

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        kwargs["allow_redirects"] = False
        send: Callable[..., Any] = super().__call__  # google-auth's transport is untyped
        response = send(
            url,
            method=method,
            body=body,
            headers=headers,
            timeout=min(timeout or TOKEN_TIMEOUT, TOKEN_TIMEOUT),
            **kwargs,
        )
        refuse_redirect(PROVIDER, int(response.status), "token refresh")
        return response

    def __del__(self) -> None:
        pass


def refresher(
    settings: Mapping[str, Any], session: requests.Session, *, now: Callable[[], datetime]
) -> Callable[[TokenSet | None], TokenSet]:
    """The ``refresh`` function for :class:`~ireserve_calendar_plugin.auth.tokens.AccessTokens`."""
    transport = _Transport(session=session)

    def refresh(current: TokenSet | None) -> TokenSet:
        if current is None or not current.refresh_token:
            raise AuthExpiredError(
                "google: no refresh token is stored; connect the account again",
                provider=PROVIDER,
                reason="no_refresh_token",
            )
        credentials = google.oauth2.credentials.Credentials(
            token=None,
            refresh_token=current.refresh_token,
            token_uri=_url(settings, "token_url"),
            client_id=settings["client_id"],
            client_secret=settings["client_secret"],
        )
        try:
            credentials.refresh(transport)
        except google.auth.exceptions.RefreshError as exc:
            raise _refresh_error(exc) from exc
        except google.auth.exceptions.TransportError as exc:
            raise TransientError(
                f"google: the token endpoint did not answer ({type(exc).__name__})", provider=PROVIDER
            ) from exc
        if not credentials.token:
            raise TransientError("google: the token endpoint sent no access token", provider=PROVIDER)
        if credentials.expiry is not None:
            left = credentials.expiry.replace(tzinfo=UTC) - datetime.now(UTC)
        else:
            left = timedelta(seconds=3599)
        return TokenSet(
            str(credentials.token),
            now() + left,
            credentials.refresh_token or current.refresh_token,
            current.scopes,
            current.account,
        )

    return refresh


def _refresh_error(exc: google.auth.exceptions.RefreshError) -> CalendarPluginError:
    """Map google-auth's RefreshError (whose args may echo the token response, never a token)."""
    data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], Mapping) else {}
    raw_error, raw_description = data.get("error"), data.get("error_description")
    error = raw_error if isinstance(raw_error, str) else ""
    description = raw_description if isinstance(raw_description, str) else ""
    detail = f"{error}: {description[:200]}" if description else error
    if error == "invalid_grant":
        return AuthExpiredError(
            f"google: the grant is gone ({detail}); an admin must reconnect",
            provider=PROVIDER,
            status=400,
            reason=error,
        )
    if error in _CLIENT_ERRORS:
        return PermanentError(
            f"google: the token endpoint rejected the client ({error})", provider=PROVIDER, reason=error
        )
    return TransientError(f"google: token refresh failed ({detail or 'no detail'})", provider=PROVIDER, reason=error)


def revoke(settings: Mapping[str, Any], session: requests.Session, token: str) -> bool:
    """Revoke ``token`` (refresh or access) at Google, best effort. Returns whether Google confirmed."""
    try:
        response = session.post(
            _url(settings, "revoke_url"), data={"token": token}, timeout=TOKEN_TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as exc:
        log.info("google: token revocation did not answer (%s)", type(exc).__name__)
        return False
    if 300 <= response.status_code < 400:
        log.warning(
            "google: token revocation was answered with a redirect (HTTP %s); not followed", response.status_code
        )
        return False
    if response.status_code != 200:
        log.info("google: token revocation answered HTTP %s", response.status_code)
        return False
    return True
