"""The Microsoft identity platform (v2.0 endpoints) for the provider, over plain ``requests`` (no MSAL).

Public API: :func:`authorization_url`, :func:`exchange_code`, :func:`refresher`,
:func:`client_credentials`, :func:`scopes`, :func:`app_scope`, :func:`token_error`,
:data:`FAILURE_KEY`.

- Delegated: authorization code + PKCE S256 at ``{login}/{tenant}/oauth2/v2.0/authorize`` and
  ``/token``. Scopes ``offline_access User.Read Calendars.ReadWrite``; with a national-cloud (any
  non-global) Graph root the Graph scopes are written in full (``{graph}/Calendars.ReadWrite``), since
  short names resolve to the global Graph. ``offline_access`` is what brings a refresh token; a
  grant without one is refused (:class:`ConfigError`). The account label is ``GET /me``'s
  ``userPrincipalName``, fetched once, best effort.
- Every refresh returns a NEW refresh token (Microsoft rotates them); :func:`refresher` returns it in
  the :class:`TokenSet` and :class:`~ireserve_calendar_plugin.auth.tokens.AccessTokens` stores it by
  compare-and-set. The old one stays stored (and valid) until the new one is written.
- Application: :func:`client_credentials` asks for ``{graph}/.default`` at the tenant (never
  ``common``); no refresh token. A refused client (wrong or expired secret, app not in the tenant)
  is remembered for :data:`FAILURE_MEMO` under :data:`FAILURE_KEY`, keyed by a hash of the
  credentials, so 200 rooms do not each ask the token endpoint to refuse them again; saving new
  credentials clears it. The first token marks the integration connected (``application @ tenant``)
  for the admin form.
- Errors (:func:`token_error`): ``invalid_grant`` / ``interaction_required`` / ``consent_required``
  -> :class:`AuthExpiredError` (reconnect; never retried); ``invalid_client`` /
  ``unauthorized_client`` -> :class:`ConfigError` on the code exchange, :class:`PermanentError`
  otherwise; ``temporarily_unavailable``, 429 and 5xx -> :class:`TransientError`, retried here a
  few times (never before ``Retry-After``). Messages carry the OAuth error and the AADSTS number,
  never a token, a secret or the description (with its trace and correlation ids).
- Microsoft has no endpoint to revoke one refresh token, so the provider's ``revoke_token`` does
  nothing; a replaced token simply ages out.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from collections.abc import Mapping
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

import requests

from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.auth.tokens import TokenSet
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.http import RetryPolicy
from ireserve_calendar_plugin.providers.http import parse_retry_after
from ireserve_calendar_plugin.providers.http import refuse_redirect
from ireserve_calendar_plugin.providers.outlook import mapping
from ireserve_calendar_plugin.providers.outlook.client import PROVIDER
from ireserve_calendar_plugin.providers.outlook.client import OutlookClient
from ireserve_calendar_plugin.providers.outlook.client import api_paths
from ireserve_calendar_plugin.providers.outlook.client import raise_for_status
from ireserve_calendar_plugin.providers.outlook.settings import DEFAULT_URLS
from ireserve_calendar_plugin.providers.outlook.settings import is_valid_tenant

__all__ = [
    "FAILURE_KEY",
    "app_scope",
    "authorization_url",
    "client_credentials",
    "exchange_code",
    "refresher",
    "scopes",
    "token_error",
]

log = logging.getLogger("ireserve_calendar_plugin.outlook")

GRAPH_SCOPES = ("User.Read", "Calendars.ReadWrite")
OFFLINE = "offline_access"
#: timeout of token-endpoint calls (seconds)
TOKEN_TIMEOUT = 20.0
#: token-endpoint attempts on transient failures, and the longest ``Retry-After`` waited for here
TOKEN_ATTEMPTS = 3
TOKEN_MAX_WAIT = 30.0
#: how long a refused client-credentials request is remembered (seconds)
FAILURE_MEMO = timedelta(minutes=5)
FAILURE_KEY = "app_token_failure"
LOST_GRANT = frozenset({"invalid_grant", "interaction_required", "consent_required"})
CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})

Sleep = Callable[[float], None]


# --------------------------------------------------------------------------- URLs and scopes


def _url(settings: Mapping[str, Any], name: str) -> str:
    return str(settings.get(name) or DEFAULT_URLS[name]).rstrip("/")


def scopes(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The delegated scopes: short names for the global Graph, full resource names elsewhere."""
    graph = _url(settings, "graph_base_url")
    if graph == DEFAULT_URLS["graph_base_url"]:
        return (OFFLINE, *GRAPH_SCOPES)
    return (OFFLINE, *(f"{graph}/{name}" for name in GRAPH_SCOPES))


def app_scope(settings: Mapping[str, Any]) -> str:
    """The client-credentials scope: that cloud's Graph root plus ``/.default``."""
    return f"{_url(settings, 'graph_base_url')}/.default"


def _endpoint(settings: Mapping[str, Any], name: str, *, allow_multi: bool) -> str:
    tenant = str(settings.get("tenant") or "")
    if not is_valid_tenant(tenant, allow_multi=allow_multi):
        raise ConfigError("The tenant is not a tenant id or verified domain.", {"tenant": "Not a valid tenant."})
    return f"{_url(settings, 'login_base_url')}/{quote(tenant, safe='')}/oauth2/v2.0/{name}"


def authorization_url(settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str) -> str:
    """The consent URL to send the admin to (authorization code + PKCE S256)."""
    params = {
        "client_id": settings["client_id"],
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "response_mode": "query",
        "scope": " ".join(scopes(settings)),
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
    }
    return f"{_endpoint(settings, 'authorize', allow_multi=True)}?{urlencode(params)}"


# --------------------------------------------------------------------------- the token endpoint


def token_error(response: requests.Response, *, grant: str) -> CalendarPluginError:
    """Our error for a refused token request. ``grant``: ``code``, ``refresh`` or ``app``."""
    try:
        data = response.json()
    except ValueError:
        data = {}
    data = data if isinstance(data, Mapping) else {}
    raw_error = data.get("error")
    error = raw_error if isinstance(raw_error, str) else ""
    codes = data.get("error_codes")
    aadsts = f"AADSTS{int(codes[0])}" if isinstance(codes, list) and codes and isinstance(codes[0], int) else ""
    detail = ", ".join(part for part in (error, aadsts) if part) or f"HTTP {response.status_code}"
    status = response.status_code
    if status >= 500 or status == 429 or error == "temporarily_unavailable":
        return TransientError(
            f"outlook: the token endpoint is unavailable ({detail})",
            provider=PROVIDER,
            status=status,
            reason=error,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if error in CLIENT_ERRORS:
        if grant == "code":
            problem = "Microsoft rejected the client id or client secret (or the app is not in this tenant)."
            return ConfigError(f"{problem} ({detail})", {"client_secret": problem})
        return PermanentError(
            f"outlook: the token endpoint rejected the client ({detail}); check the client id, secret and tenant",
            provider=PROVIDER,
            status=status,
            reason=error,
        )
    if error in LOST_GRANT and grant == "refresh":
        return AuthExpiredError(
            f"outlook: the grant is gone ({detail}); an admin must reconnect",
            provider=PROVIDER,
            status=status,
            reason=error,
        )
    return PermanentError(
        f"outlook: the token request was refused ({detail})", provider=PROVIDER, status=status, reason=error
    )


def _post_token(
    url: str, session: requests.Session, form: Mapping[str, str], *, grant: str, sleep: Sleep
) -> dict[str, Any]:
    """POST a token request (form-encoded), retrying transient failures; the 200 answer's JSON."""
    error: CalendarPluginError | None = None
    for attempt in range(1, TOKEN_ATTEMPTS + 1):
        try:
            response = session.post(
                url,
                data=dict(form),
                timeout=TOKEN_TIMEOUT,
                allow_redirects=False,
                headers={"Accept": "application/json"},
            )
        except requests.RequestException as exc:
            error = TransientError(
                f"outlook: the token endpoint did not answer ({type(exc).__name__})", provider=PROVIDER
            )
        else:
            refuse_redirect(PROVIDER, response.status_code, "token request")
            if response.status_code == 200:
                return _token_json(response)
            error = token_error(response, grant=grant)
        if not isinstance(error, TransientError) or attempt == TOKEN_ATTEMPTS:
            break
        wait = error.retry_after if error.retry_after is not None else 0.5 * 2 ** (attempt - 1)
        if wait > TOKEN_MAX_WAIT:
            break
        log.info("outlook: token endpoint %s; retry %d in %.1fs", error.reason or "unavailable", attempt, wait)
        sleep(wait)
    assert error is not None
    raise error


def _token_json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str) or not data["access_token"]:
            raise ValueError("no access token")
        float(data.get("expires_in") or 3599)
    except (ValueError, TypeError) as exc:
        raise TransientError("outlook: the token endpoint sent no usable token", provider=PROVIDER) from exc
    return data


def _expiry(data: Mapping[str, Any], now: datetime) -> datetime:
    return now + timedelta(seconds=float(data.get("expires_in") or 3599))


def _granted(data: Mapping[str, Any], fallback: tuple[str, ...]) -> tuple[str, ...]:
    granted = data.get("scope")
    return tuple(sorted(granted.split())) if isinstance(granted, str) and granted.strip() else fallback


# --------------------------------------------------------------------------- delegated


def exchange_code(
    settings: Mapping[str, Any],
    session: requests.Session,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    now: datetime,
    sleep: Sleep = time.sleep,
) -> TokenSet:
    """Trade an authorization code for tokens (a grant without a refresh token is refused)."""
    wanted = scopes(settings)
    form = {
        "client_id": settings["client_id"],
        "client_secret": settings["client_secret"],
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
        "scope": " ".join(wanted),
    }
    data = _post_token(_endpoint(settings, "token", allow_multi=True), session, form, grant="code", sleep=sleep)
    refresh_token = data.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise ConfigError(
            "Microsoft returned no refresh token (offline_access was not granted). Connect again.",
            {"connection": "No refresh token was granted."},
        )
    access_token = str(data["access_token"])
    return TokenSet(
        access_token,
        _expiry(data, now),
        refresh_token,
        _granted(data, wanted),
        account_label(settings, session, access_token),
    )


def account_label(settings: Mapping[str, Any], session: requests.Session, access_token: str) -> str:
    """The connected account's UPN from ``GET /me``, or "" when it cannot be read cheaply."""
    base = _url(settings, "graph_base_url")
    api = ApiClient(
        provider=PROVIDER,
        allowed_bases=[base + "/v1.0"],
        allowed_paths=api_paths,
        token=lambda: access_token,
        invalidate_token=lambda _token: None,
        raise_for_status=raise_for_status,
        retry=RetryPolicy(attempts=1),
        timeout=TOKEN_TIMEOUT,
        session=session,
    )
    try:
        return mapping.account_of(OutlookClient(api, base).me())
    except CalendarPluginError as exc:
        log.info("outlook: could not read the connected account (%s)", type(exc).__name__)
        return ""


def refresher(
    settings: Mapping[str, Any], session: requests.Session, *, now: Callable[[], datetime], sleep: Sleep = time.sleep
) -> Callable[[TokenSet | None], TokenSet]:
    """The delegated ``refresh`` for :class:`AccessTokens`: returns the rotated refresh token to store."""

    def refresh(current: TokenSet | None) -> TokenSet:
        if current is None or not current.refresh_token:
            raise AuthExpiredError(
                "outlook: no refresh token is stored; connect the account again",
                provider=PROVIDER,
                reason="no_refresh_token",
            )
        wanted = scopes(settings)
        form = {
            "client_id": settings["client_id"],
            "client_secret": settings["client_secret"],
            "grant_type": "refresh_token",
            "refresh_token": current.refresh_token,
            "scope": " ".join(wanted),
        }
        data = _post_token(_endpoint(settings, "token", allow_multi=True), session, form, grant="refresh", sleep=sleep)
        rotated = data.get("refresh_token")
        return TokenSet(
            str(data["access_token"]),
            _expiry(data, now()),
            rotated if isinstance(rotated, str) and rotated else current.refresh_token,
            _granted(data, current.scopes),
            current.account,
        )

    return refresh


# --------------------------------------------------------------------------- application


def _fingerprint(settings: Mapping[str, Any]) -> str:
    raw = "\n".join(
        str(settings.get(k) or "") for k in ("login_base_url", "graph_base_url", "tenant", "client_id", "client_secret")
    )
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def client_credentials(
    settings: Mapping[str, Any],
    session: requests.Session,
    store: SecureConfig,
    *,
    now: Callable[[], datetime],
    sleep: Sleep = time.sleep,
) -> Callable[[TokenSet | None], TokenSet]:
    """The application-mode ``refresh`` for :class:`AccessTokens` (``needs_grant=False``): a new
    app-only token per call, no refresh token. A refused client is remembered (module docstring)."""
    fingerprint = _fingerprint(settings)

    def refresh(_current: TokenSet | None) -> TokenSet:
        memo = store.load(FAILURE_KEY)
        remembered = memo.data if memo.exists and isinstance(memo.data, dict) else {}
        if remembered.get("fingerprint") == fingerprint and datetime.fromisoformat(str(remembered["until"])) > now():
            raise PermanentError(
                str(remembered.get("message") or "outlook: the client was refused"),
                provider=PROVIDER,
                status=int(remembered.get("status") or 0),
                reason=str(remembered.get("reason") or ""),
            )
        form = {
            "client_id": settings["client_id"],
            "client_secret": settings["client_secret"],
            "grant_type": "client_credentials",
            "scope": app_scope(settings),
        }
        try:
            data = _post_token(_endpoint(settings, "token", allow_multi=False), session, form, grant="app", sleep=sleep)
        except PermanentError as exc:
            store.save(
                FAILURE_KEY,
                {
                    "fingerprint": fingerprint,
                    "until": (now() + FAILURE_MEMO).isoformat(),
                    "message": str(exc)[:300],
                    "status": exc.status,
                    "reason": exc.reason,
                },
                expected_version=None,
            )
            raise
        if memo.exists:
            store.delete(FAILURE_KEY)
        status = AuthStatus(store)
        if status.get().get("state") != "connected":  # the admin form's status line; written once
            status.mark_connected(f"application @ {settings.get('tenant')}", now())
        return TokenSet(str(data["access_token"]), _expiry(data, now()), None, (app_scope(settings),), "")

    return refresh
