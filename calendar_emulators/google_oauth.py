"""Google's OAuth 2.0 web-server flow, for the Calendar emulator.

Public API: :class:`OAuthServer` (``authorize``, ``token``, ``revoke`` answer the three endpoints;
``authenticate`` checks an API call's bearer token), :class:`OAuthClient`, :class:`TokenInfo`,
:data:`SCOPE_READONLY`, :data:`SCOPE_EVENTS`, :data:`SCOPE_CALENDAR`.

Behaviour follows the protocol doc section 2: there is no consent screen; ``/o/oauth2/v2/auth``
redirects straight back with ``code``, the granted ``scope`` and the unchanged ``state``. An unknown
client or an unregistered redirect URI gets a 400 page, never a redirect. Codes are single use and
live ``code_ttl`` seconds; PKCE (``plain``/``S256``) is verified at ``/token``. A refresh token comes
only with ``access_type=offline``, on the first authorization of a user for a client or with
``prompt=consent``; refresh tokens are not rotated; issuing the 101st refresh token of a user for a
client invalidates the oldest. Revoking any token of a grant revokes the refresh token and all
access tokens issued from it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from calendar_emulators.core import Clock
from calendar_emulators.core import json_response
from calendar_emulators.google_errors import ApiError
from calendar_emulators.google_errors import error_page
from calendar_emulators.google_errors import oauth_error_response
from calendar_emulators.google_workspace import JWT_BEARER
from calendar_emulators.google_workspace import GrantRefused

__all__ = [
    "SCOPE_CALENDAR",
    "SCOPE_EVENTS",
    "SCOPE_READONLY",
    "OAuthClient",
    "OAuthServer",
    "TokenInfo",
]

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
SCOPE_READONLY = SCOPE_PREFIX + "calendar.readonly"
SCOPE_EVENTS = SCOPE_PREFIX + "calendar.events"
SCOPE_CALENDAR = SCOPE_PREFIX + "calendar"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache"}


@dataclass
class OAuthClient:
    """A registered OAuth client (a Cloud console "web application")."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenInfo:
    """Who an access token speaks for."""

    user: str
    client_id: str
    scopes: frozenset[str]


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    user: str
    scopes: frozenset[str]
    with_refresh: bool
    challenge: str | None
    method: str
    expires: datetime
    used: bool = False


@dataclass
class _Refresh:
    client_id: str
    user: str
    scopes: frozenset[str]
    issued: datetime
    expires: datetime | None
    revoked: bool = False


@dataclass
class _Access:
    client_id: str
    user: str
    scopes: frozenset[str]
    expires: datetime
    family: str  # the refresh token it came from, or its own value for online access
    revoked: bool = False


@dataclass
class _Consent:
    """How the (absent) consent screen answers: who signs in, which scopes they tick, or a refusal."""

    user: str | None = None
    scopes: frozenset[str] | None = None
    deny: bool = False


@dataclass
class _Grant:
    scopes: set[str] = field(default_factory=set)
    has_refresh: bool = False


def _new_token(prefix: str, size: int = 48) -> str:
    return prefix + secrets.token_urlsafe(size)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


class OAuthServer:
    """The state and endpoints of Google's OAuth 2.0 server for one emulator.

    ``lock`` is shared with the emulator so a user's tokens and calendars change together.
    """

    def __init__(
        self,
        clock: Clock,
        lock: threading.RLock,
        *,
        access_token_ttl: float = 3599,
        code_ttl: float = 600,
        refresh_token_ttl: float | None = None,
        max_refresh_tokens: int = 100,
        allow_loopback_redirects: bool = False,
    ) -> None:
        self.clock = clock
        self.lock = lock
        self.access_token_ttl = access_token_ttl
        self.code_ttl = code_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.max_refresh_tokens = max_refresh_tokens
        self.allow_loopback_redirects = allow_loopback_redirects
        self.clients: dict[str, OAuthClient] = {}
        self.users: list[str] = []
        self.consent = _Consent()
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._access: dict[str, _Access] = {}
        self._grants: dict[tuple[str, str], _Grant] = {}
        #: checks a JWT-bearer assertion: (assertion, audience, now) -> (client id, user, scopes), or
        #: raises :class:`GrantRefused`; None = the grant is not offered
        self.assertion_verifier: Callable[[str, str, datetime], tuple[str, str, frozenset[str]]] | None = None

    # -- control ----------------------------------------------------------------------------
    def add_client(self, client_id: str, client_secret: str, redirect_uris: Iterable[str] = ()) -> OAuthClient:
        with self.lock:
            client = OAuthClient(client_id, client_secret, tuple(redirect_uris))
            self.clients[client_id] = client
            return client

    def add_user(self, email: str) -> None:
        with self.lock:
            if email not in self.users:
                self.users.append(email)

    def set_consent(self, *, user: str | None = None, scopes: Iterable[str] | None = None, deny: bool = False) -> None:
        """Choose who "signs in" by default, which scopes they grant (None = all asked), or a refusal."""
        with self.lock:
            self.consent = _Consent(user, frozenset(scopes) if scopes is not None else None, deny)

    def issue(self, user: str, client_id: str, scopes: Iterable[str], *, offline: bool = True) -> dict[str, Any]:
        """Issue tokens as if ``user`` had just completed the flow (for tests and demos)."""
        with self.lock:
            return self._issue(user, client_id, frozenset(scopes), offline)

    def revoke_user(self, email: str) -> int:
        """Revoke every token of ``email`` (the user removed the app's access); return how many."""
        with self.lock:
            count = 0
            for table in (self._refresh, self._access):
                for item in table.values():
                    if item.user == email and not item.revoked:
                        item.revoked = True
                        count += 1
            for key in [k for k in self._grants if k[0] == email]:
                del self._grants[key]
            return count

    def expire_access_tokens(self, email: str | None = None) -> int:
        """Make live access tokens (of ``email``, or all) expire now; return how many."""
        with self.lock:
            past = self.clock.now() - timedelta(seconds=1)
            count = 0
            for item in self._access.values():
                if (email is None or item.user == email) and item.expires > past:
                    item.expires = past
                    count += 1
            return count

    # -- API authentication -----------------------------------------------------------------
    def authenticate(self, request: Request) -> TokenInfo:
        """Return whose token an API request carries; raise 401 ``authError`` if missing or dead."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else ""
        token = token or request.args.get("access_token", "") or request.args.get("oauth_token", "")
        with self.lock:
            item = self._access.get(token)
            if item is None or item.revoked or item.expires <= self.clock.now():
                raise ApiError(401, "authError")
            return TokenInfo(item.user, item.client_id, item.scopes)

    # -- /o/oauth2/v2/auth ------------------------------------------------------------------
    def authorize(self, request: Request) -> Response:
        args = request.args
        with self.lock:
            client = self.clients.get(args.get("client_id", ""))
            if client is None:
                return error_page("invalid_client", "The OAuth client was not found.", 400, shown_code=401)
            redirect_uri = args.get("redirect_uri", "")
            if not self._redirect_allowed(client, redirect_uri):
                return error_page(
                    "redirect_uri_mismatch",
                    f"You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. "
                    f"redirect_uri={redirect_uri}",
                )
            problem = self._authorize_problem(args)
            if problem:
                return error_page("invalid_request", problem)
            return self._consent(client, redirect_uri, args)

    def _redirect_allowed(self, client: OAuthClient, uri: str) -> bool:
        if uri and uri in client.redirect_uris:
            return True
        parts = urlsplit(uri)
        return self.allow_loopback_redirects and parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS

    @staticmethod
    def _authorize_problem(args: Mapping[str, str]) -> str:
        if args.get("response_type") != "code":
            return f"Invalid response_type: {args.get('response_type', '')}"
        if not args.get("scope", "").split():
            return "Missing required parameter: scope"
        if args.get("access_type", "online") not in {"online", "offline"}:
            return f"Invalid access_type: {args.get('access_type')}"
        challenge = args.get("code_challenge")
        method = args.get("code_challenge_method", "plain" if challenge else "")
        if method and (not challenge or method not in {"plain", "S256"}):
            return "Invalid code_challenge_method" if challenge else "Missing code_challenge"
        if challenge and not 43 <= len(challenge) <= 128:
            return "Invalid code_challenge"
        return ""

    def _consent(self, client: OAuthClient, redirect_uri: str, args: Mapping[str, str]) -> Response:
        back = {"state": args["state"]} if "state" in args else {}
        user = args.get("login_hint") or self.consent.user or (self.users[0] if self.users else "")
        asked = frozenset(args["scope"].split())
        granted = asked if self.consent.scopes is None else asked & self.consent.scopes
        prompt = set(args.get("prompt", "").split())
        grant = self._grants.get((user, client.client_id))
        if user not in self.users or self.consent.deny or not granted:
            return _redirect(redirect_uri, {**back, "error": "access_denied"})
        if "none" in prompt and (grant is None or not asked <= grant.scopes):
            return _redirect(redirect_uri, {**back, "error": "interaction_required"})
        if args.get("include_granted_scopes") == "true" and grant is not None:
            granted = granted | grant.scopes
        offline = args.get("access_type") == "offline"
        first = grant is None or not grant.has_refresh
        code = "4/0A" + secrets.token_urlsafe(45)
        self._codes[code] = _Code(
            client.client_id,
            redirect_uri,
            user,
            frozenset(granted),
            offline and (first or "consent" in prompt),
            args.get("code_challenge"),
            args.get("code_challenge_method", "plain"),
            self.clock.now() + timedelta(seconds=self.code_ttl),
        )
        self._grants.setdefault((user, client.client_id), _Grant()).scopes.update(granted)
        return _redirect(redirect_uri, {**back, "code": code, "scope": " ".join(sorted(granted))})

    # -- /token -----------------------------------------------------------------------------
    def token(self, request: Request) -> Response:
        form: Mapping[str, str] = request.form
        if request.is_json:
            form = {k: str(v) for k, v in (request.get_json(silent=True) or {}).items()}
        with self.lock:
            if form.get("grant_type") == JWT_BEARER and self.assertion_verifier is not None:
                return self._jwt_bearer(request, form)
            client_or_error = self._client_auth(request, form)
            if isinstance(client_or_error, Response):
                return client_or_error
            grant_type = form.get("grant_type", "")
            if grant_type == "authorization_code":
                return self._exchange_code(client_or_error, form)
            if grant_type == "refresh_token":
                return self._refresh_grant(client_or_error, form)
            return oauth_error_response("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _jwt_bearer(self, request: Request, form: Mapping[str, str]) -> Response:
        """A service account's JWT-bearer grant (see :mod:`.google_workspace`); no client secret."""
        assertion = form.get("assertion", "")
        if not assertion:
            return oauth_error_response("invalid_request", "Missing required parameter: assertion")
        assert self.assertion_verifier is not None
        try:
            client_id, user, scopes = self.assertion_verifier(assertion, request.base_url, self.clock.now())
        except GrantRefused as refused:
            return oauth_error_response(refused.error, refused.description, refused.status)
        body = self._access_token(user, client_id, scopes, _new_token("", 16))
        body.pop("scope", None)  # Google's answer to a JWT-bearer grant names no scope
        return json_response(body, 200, _NO_STORE)

    def _client_auth(self, request: Request, form: Mapping[str, str]) -> OAuthClient | Response:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        if request.authorization and request.authorization.type == "basic":
            client_id = request.authorization.username or client_id
            secret = request.authorization.password or secret
        if not client_id:
            return oauth_error_response("invalid_request", "Could not determine client ID from request.")
        client = self.clients.get(client_id)
        if client is None:
            return oauth_error_response("invalid_client", "The OAuth client was not found.", 401)
        if not secret:
            return oauth_error_response("invalid_request", "client_secret is missing.")
        if not secrets.compare_digest(secret, client.client_secret):
            return oauth_error_response("invalid_client", "Unauthorized", 401)
        return client

    def _exchange_code(self, client: OAuthClient, form: Mapping[str, str]) -> Response:
        if not form.get("code"):
            return oauth_error_response("invalid_request", "Missing required parameter: code")
        code = self._codes.get(form["code"])
        if code is None:
            return oauth_error_response("invalid_grant", "Malformed auth code.")
        if code.used or code.expires <= self.clock.now() or code.client_id != client.client_id:
            return oauth_error_response("invalid_grant", "Bad Request")
        if form.get("redirect_uri", "") != code.redirect_uri:
            return oauth_error_response("redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier")
        if code.challenge is None and verifier:
            return oauth_error_response("invalid_request", "code_verifier or verifier is not needed.")
        if code.challenge is not None:
            if not verifier:
                return oauth_error_response("invalid_grant", "Missing code verifier.")
            expected = _s256(verifier) if code.method == "S256" else verifier
            if not secrets.compare_digest(expected, code.challenge):
                return oauth_error_response("invalid_grant", "Invalid code verifier.")
        code.used = True
        return json_response(self._issue(code.user, client.client_id, code.scopes, code.with_refresh), 200, _NO_STORE)

    def _refresh_grant(self, client: OAuthClient, form: Mapping[str, str]) -> Response:
        value = form.get("refresh_token", "")
        if not value:
            return oauth_error_response("invalid_request", "Missing required parameter: refresh_token")
        item = self._refresh.get(value)
        now = self.clock.now()
        if item is None or item.revoked or (item.expires is not None and item.expires <= now):
            return oauth_error_response("invalid_grant", "Token has been expired or revoked.")
        if item.client_id != client.client_id:
            return oauth_error_response("unauthorized_client", "Unauthorized")
        scopes = item.scopes
        if form.get("scope"):
            asked = frozenset(form["scope"].split())
            if not asked <= item.scopes:
                return oauth_error_response("invalid_scope", "Some requested scopes were invalid.")
            scopes = asked
        body = self._access_token(item.user, client.client_id, scopes, value)
        if item.expires is not None:
            body["refresh_token_expires_in"] = int((item.expires - now).total_seconds())
        return json_response(body, 200, _NO_STORE)

    def _issue(self, user: str, client_id: str, scopes: frozenset[str], with_refresh: bool) -> dict[str, Any]:
        now = self.clock.now()
        family = _new_token("", 16)
        refresh_body: dict[str, Any] = {}
        if with_refresh:
            family = _new_token("1//0g", 60)
            expires = now + timedelta(seconds=self.refresh_token_ttl) if self.refresh_token_ttl else None
            self._refresh[family] = _Refresh(client_id, user, scopes, now, expires)
            self._grants.setdefault((user, client_id), _Grant()).has_refresh = True
            self._grants[(user, client_id)].scopes.update(scopes)
            self._enforce_refresh_limit(user, client_id)
            refresh_body["refresh_token"] = family
            if expires is not None:
                refresh_body["refresh_token_expires_in"] = int(self.refresh_token_ttl or 0)
        return {**self._access_token(user, client_id, scopes, family), **refresh_body}

    def _access_token(self, user: str, client_id: str, scopes: frozenset[str], family: str) -> dict[str, Any]:
        value = _new_token("ya29.a0", 90)
        expires = self.clock.now() + timedelta(seconds=self.access_token_ttl)
        self._access[value] = _Access(client_id, user, scopes, expires, family)
        return {
            "access_token": value,
            "expires_in": int(self.access_token_ttl),
            "scope": " ".join(sorted(scopes)),
            "token_type": "Bearer",
        }

    def _enforce_refresh_limit(self, user: str, client_id: str) -> None:
        live = [
            (item.issued, value)
            for value, item in self._refresh.items()
            if item.user == user and item.client_id == client_id and not item.revoked
        ]
        live.sort()
        for _, value in live[: max(0, len(live) - self.max_refresh_tokens)]:
            self._revoke_family(value)

    # -- /revoke ----------------------------------------------------------------------------
    def revoke(self, request: Request) -> Response:
        value = request.args.get("token") or request.form.get("token") or ""
        if not value:
            return oauth_error_response("invalid_request", "Bad Request")
        with self.lock:
            family = self._family_of(value)
            if family is None:
                return oauth_error_response("invalid_token", "Token expired or revoked")
            self._revoke_family(family)
        return json_response({}, 200)

    def _family_of(self, value: str) -> str | None:
        now = self.clock.now()
        refresh = self._refresh.get(value)
        if refresh is not None and not refresh.revoked:
            return value
        access = self._access.get(value)
        if access is not None and not access.revoked and access.expires > now:
            return access.family
        return None

    def _revoke_family(self, family: str) -> None:
        refresh = self._refresh.get(family)
        owner: tuple[str, str] | None = None
        if refresh is not None:
            refresh.revoked = True
            owner = (refresh.user, refresh.client_id)
        for item in self._access.values():
            if item.family == family:
                item.revoked = True
                owner = owner or (item.user, item.client_id)
        if owner and not any((r.user, r.client_id) == owner and not r.revoked for r in self._refresh.values()):
            self._grants.pop(owner, None)


def _redirect(uri: str, params: Mapping[str, str]) -> Response:
    return Response(status=302, headers={"Location": _with_query(uri, params)})
