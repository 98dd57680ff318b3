"""The Microsoft identity platform (v2.0 endpoints) of the Graph emulator: /authorize and /token.

Public API: :class:`Identity`, :class:`AccessToken`, :class:`RefreshToken`, :class:`OAuthError`,
:data:`TOKEN_ERROR_PRESETS`.

``/{tenant}/oauth2/v2.0/authorize`` shows no screen: the signed-in user (``login_hint``, else the
``signin_user`` knob, else the tenant's first user) consents at once, and the browser is redirected
back with ``code`` and the unchanged ``state``, or with ``error=access_denied`` when the
``deny_authorize`` knob is on. An unknown client or an unregistered ``redirect_uri`` gets a 400 page,
never a redirect. PKCE (``S256`` or ``plain``) is checked when the code is redeemed.

``/{tenant}/oauth2/v2.0/token`` serves ``authorization_code`` (single use, ``auth_code_ttl``,
``redirect_uri`` must match), ``refresh_token`` (always a new refresh token; the old one keeps working
unless ``strict_refresh_rotation``) and ``client_credentials`` (``<graph root>/.default`` only, no
refresh token). Errors carry the body of the real service: ``error``, ``error_description`` starting
with an ``AADSTSnnnn`` code, ``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri``.
"""

from __future__ import annotations

import hashlib
import html
import json
import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlencode

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .graph_common import GraphSettings
from .graph_common import new_guid
from .graph_directory import OIDC_SCOPES
from .graph_directory import App
from .graph_directory import Directory
from .graph_directory import Tenant
from .graph_directory import User
from .graph_oauth import GRAPH_APP_ID
from .graph_oauth import MULTI_TENANT_KEYS
from .graph_oauth import TOKEN_ERROR_PRESETS
from .graph_oauth import AccessToken
from .graph_oauth import AuthCode
from .graph_oauth import OAuthError
from .graph_oauth import RefreshToken
from .graph_oauth import TokenRequestRecord
from .graph_oauth import b64
from .graph_oauth import is_loopback
from .graph_oauth import make_jwt
from .graph_oauth import malformed_grant
from .graph_oauth import missing_param
from .graph_oauth import pkce_matches
from .graph_oauth import preset_error
from .graph_oauth import same_but_port

__all__ = ["TOKEN_ERROR_PRESETS", "AccessToken", "Identity", "OAuthError", "RefreshToken"]

# --------------------------------------------------------------------------- the service


class Identity:
    """Authorization codes, access and refresh tokens, and the two endpoints that issue them."""

    def __init__(
        self, directory: Directory, now: Callable[[], datetime], settings: GraphSettings, lock: threading.RLock
    ) -> None:
        self.directory = directory
        self.now = now
        self.settings = settings
        self.lock = lock
        self.codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.requests: list[TokenRequestRecord] = []
        self._injected: list[tuple[str, str | None]] = []

    # -- knobs ----------------------------------------------------------------------------
    def inject_error(self, preset: str, times: int = 1, grant_type: str | None = None) -> None:
        """Fail the next ``times`` token requests (of ``grant_type``, or any) with a preset error."""
        if preset not in TOKEN_ERROR_PRESETS:
            raise KeyError(preset)
        with self.lock:
            self._injected.extend([(preset, grant_type)] * times)

    def revoke_refresh_tokens(self, user_id: str | None = None, client_id: str | None = None) -> int:
        """Revoke refresh tokens (as a password reset or an admin would); return how many."""
        with self.lock:
            hits = [
                rt
                for rt in self.refresh_tokens.values()
                if (user_id is None or rt.user_id == user_id) and (client_id is None or rt.client_id == client_id)
            ]
            for rt in hits:
                rt.revoked = True
            return len(hits)

    def expire_access_tokens(
        self, client_id: str | None = None, user_id: str | None = None, tenant_id: str | None = None
    ) -> int:
        """Make matching access tokens expired right now; return how many."""
        past = self.now() - timedelta(seconds=1)
        with self.lock:
            hits = [
                t
                for t in self.access_tokens.values()
                if (client_id is None or t.client_id == client_id)
                and (user_id is None or t.user_id == user_id)
                and (tenant_id is None or t.tenant_id == tenant_id)
                and t.expires_at > past
            ]
            for t in hits:
                t.expires_at = past
            return len(hits)

    def token_request_count(
        self, tenant: str | None = None, grant_type: str | None = None, since: datetime | None = None
    ) -> int:
        """Count requests to the token endpoint, by tenant (GUID or domain), grant type and time."""
        tenant_id = None
        if tenant is not None:
            found = self.directory.tenant(tenant)
            tenant_id = found.id if found else tenant.lower()
        with self.lock:
            return sum(
                1
                for r in self.requests
                if (tenant_id is None or r.tenant == tenant_id)
                and (grant_type is None or r.grant_type == grant_type)
                and (since is None or r.at >= since)
            )

    def lookup(self, token: str) -> AccessToken | None:
        with self.lock:
            return self.access_tokens.get(token)

    def issue_app_token(self, client_id: str, tenant_id: str) -> AccessToken:
        """Issue an app-only access token directly (for tools that skip the HTTP flow)."""
        with self.lock:
            app = self.directory.apps[client_id]
            return self._new_access_token(tenant_id, app, None, (), app.application)

    # -- /authorize -----------------------------------------------------------------------
    def authorize(self, request: Request, tenant_key: str) -> Response:
        args = request.args
        with self.lock:
            try:
                tenant = self._resolve_tenant(tenant_key, allow_multi=True)
                app = self._authorize_app(args.get("client_id", ""), tenant, tenant_key)
                redirect_uri = self._authorize_redirect(app, args.get("redirect_uri"))
            except OAuthError as exc:
                return self._error_page(exc, request)
            try:
                code = self._authorize_code(app, tenant, redirect_uri, args)
            except OAuthError as exc:
                return self._redirect_error(exc, redirect_uri, args, request)
        params = {"code": code.code, "state": args.get("state"), "session_state": new_guid()}
        return self._redirect(redirect_uri, params, args.get("response_mode", "query"))

    def _authorize_app(self, client_id: str, tenant: Tenant | None, tenant_key: str) -> App:
        if not client_id:
            raise missing_param("client_id")
        app = self.directory.apps.get(client_id)
        if app is None or (tenant is not None and not app.in_tenant(tenant.id)):
            raise self._app_not_found(client_id, tenant_key)
        return app

    def _authorize_redirect(self, app: App, redirect_uri: str | None) -> str:
        if not redirect_uri:
            if not app.redirect_uris:
                raise OAuthError(400, "invalid_request", 500113, "No reply address is registered for the application.")
            return app.redirect_uris[0]
        if not self._redirect_allowed(app, redirect_uri):
            raise OAuthError(
                400,
                "invalid_request",
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs "
                f"configured for the application '{app.client_id}'. Make sure the redirect URI sent in the request "
                "matches one added to your application in the Azure portal. Navigate to "
                "https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
            )
        return redirect_uri

    def _redirect_allowed(self, app: App, uri: str) -> bool:
        if uri in app.redirect_uris:
            return True
        if self.settings.allow_loopback_redirects and is_loopback(uri):
            return True
        return any(same_but_port(uri, registered) for registered in app.redirect_uris)

    def _authorize_code(self, app: App, tenant: Tenant | None, redirect_uri: str, args: Any) -> AuthCode:
        if args.get("response_type") != "code":
            raise OAuthError(
                400,
                "unsupported_response_type",
                700054,
                f"response_type '{args.get('response_type', '')}' is not enabled for the application.",
            )
        if not args.get("scope"):
            raise missing_param("scope")
        challenge, method = args.get("code_challenge"), args.get("code_challenge_method", "plain")
        if challenge is not None:
            if method not in ("S256", "plain"):
                raise OAuthError(400, "invalid_request", 50149, "Invalid Code_Challenge_method parameter.")
            if not 43 <= len(challenge) <= 128:
                raise OAuthError(400, "invalid_request", 501491, "Invalid size of Code_Challenge parameter.")
        user = self._signed_in_user(app, tenant, args.get("login_hint"))
        scopes = self._delegated_scopes(args["scope"], app, tenant or self.directory.tenants[user.tenant_id])
        if self.settings.deny_authorize:
            raise OAuthError(400, "access_denied", 65004, "User declined to consent to access the app.")
        code = AuthCode(
            code="0.A" + b64(secrets.token_bytes(96)),
            client_id=app.client_id,
            tenant_id=user.tenant_id,
            user_id=user.id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            challenge=challenge,
            method=method,
            nonce=args.get("nonce"),
            issued_at=self.now(),
        )
        self.codes[code.code] = code
        return code

    def _signed_in_user(self, app: App, tenant: Tenant | None, login_hint: str | None) -> User:
        tenant_id = tenant.id if tenant else None
        hint = login_hint or self.settings.signin_user
        user = self.directory.user(hint, tenant_id) if hint else self.directory.first_user(tenant_id)
        if user is None:
            where = tenant.domain if tenant else "common"
            raise OAuthError(
                400,
                "invalid_request",
                50034,
                f"The user account {hint or '(none)'} does not exist in the {where} directory. To sign into this "
                "application, the account must be added to the directory.",
            )
        if not app.in_tenant(user.tenant_id):
            raise OAuthError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{app.client_id}' was not found in the directory "
                f"'{self.directory.tenants[user.tenant_id].domain}'.",
            )
        return user

    def _delegated_scopes(self, raw: str, app: App, tenant: Tenant) -> tuple[str, ...]:
        """Resolve requested scopes to short names; all must be consented for the app."""
        root = self.settings.graph_root.rstrip("/") + "/"
        result: list[str] = []
        for scope in raw.split():
            if scope.lower() in OIDC_SCOPES:
                result.append(scope.lower())
                continue
            short = scope
            if "://" in scope or scope.startswith(GRAPH_APP_ID):
                if scope.lower().startswith(root.lower()):
                    short = scope[len(root) :]
                elif scope.startswith(GRAPH_APP_ID + "/"):
                    short = scope[len(GRAPH_APP_ID) + 1 :]
                else:
                    raise self._resource_not_found(scope.rsplit("/", 1)[0], tenant)
            if short == ".default":
                result.extend(s for s in app.delegated if s.lower() not in OIDC_SCOPES)
                continue
            if not app.has_delegated(short):
                raise OAuthError(
                    400,
                    "consent_required",
                    65001,
                    f"The user or administrator has not consented to use the application with ID '{app.client_id}' "
                    f"named '{app.display_name or app.client_id}'. Send an interactive authorization request for "
                    "this user and resource.",
                )
            result.append(short)
        return tuple(dict.fromkeys(result))

    def _redirect(self, redirect_uri: str, params: dict[str, Any], mode: str) -> Response:
        params = {k: v for k, v in params.items() if v is not None}
        if mode == "form_post":
            inputs = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(str(v))}"/>'
                for k, v in params.items()
            )
            page = (
                f'<html><body onload="document.forms[0].submit()"><form method="POST" '
                f'action="{html.escape(redirect_uri)}">{inputs}</form></body></html>'
            )
            return Response(page, status=200, content_type="text/html; charset=utf-8")
        sep = "#" if mode == "fragment" else ("&" if "?" in redirect_uri else "?")
        return Response(status=302, headers={"Location": redirect_uri + sep + urlencode(params)})

    def _redirect_error(self, exc: OAuthError, redirect_uri: str, args: Any, request: Request) -> Response:
        description = exc.description(self.now(), new_guid(), request.headers.get("client-request-id") or new_guid())
        params = {
            "error": exc.error,
            "error_description": description,
            "error_uri": f"{request.host_url}error?code={exc.code}",
            "state": args.get("state"),
        }
        return self._redirect(redirect_uri, params, args.get("response_mode", "query"))

    def _error_page(self, exc: OAuthError, request: Request) -> Response:
        text = html.escape(exc.description(self.now(), new_guid(), new_guid()))
        page = (
            "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>"
            f'<h1>Sorry, but we\'re having trouble signing you in.</h1><p id="error">{text}</p></body></html>'
        )
        return Response(page, status=400, content_type="text/html; charset=utf-8")

    # -- /token ---------------------------------------------------------------------------
    def token(self, request: Request, tenant_key: str) -> Response:
        form = request.form
        grant_type = form.get("grant_type", "")
        with self.lock:
            tenant = self.directory.tenant(tenant_key)
            try:
                if request.method != "POST":
                    raise OAuthError(
                        400,
                        "invalid_request",
                        900561,
                        f"The endpoint only accepts POST, OPTIONS requests. Received a {request.method} request.",
                    )
                body = self._token(request, tenant_key, grant_type)
                status = 200
            except OAuthError as exc:
                status = exc.status
                body = exc.body(self.now(), request.headers.get("client-request-id", ""), request.host_url)
            self.requests.append(
                TokenRequestRecord(self.now(), tenant.id if tenant else tenant_key.lower(), grant_type, status)
            )
        headers = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
        return Response(
            json.dumps(body), status=status, headers=headers, content_type="application/json; charset=utf-8"
        )

    def _token(self, request: Request, tenant_key: str, grant_type: str) -> dict[str, Any]:
        form = request.form
        tenant = self._resolve_tenant(tenant_key, allow_multi=grant_type != "client_credentials")
        if not grant_type:
            raise missing_param("grant_type")
        if grant_type not in ("authorization_code", "refresh_token", "client_credentials"):
            raise OAuthError(
                400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'."
            )
        app = self._authenticate_client(request, tenant, tenant_key)
        self._raise_injected(grant_type, app)
        if grant_type == "authorization_code":
            return self._grant_code(form, app, tenant)
        if grant_type == "refresh_token":
            return self._grant_refresh(form, app, tenant)
        assert tenant is not None
        return self._grant_client_credentials(form, app, tenant)

    def _resolve_tenant(self, key: str, allow_multi: bool) -> Tenant | None:
        if key.lower() in MULTI_TENANT_KEYS:
            if allow_multi:
                return None
            raise OAuthError(
                400,
                "invalid_request",
                50059,
                "No tenant-identifying information found in either the request or implied by any provided credentials.",
            )
        tenant = self.directory.tenant(key)
        if tenant is None:
            raise OAuthError(
                400,
                "invalid_request",
                90002,
                f"Tenant '{key}' not found. Check to make sure you have the correct tenant ID and are signing into "
                "the correct cloud. Check with your subscription administrator, this may happen if there are no "
                "active subscriptions for the tenant.",
            )
        return tenant

    def _app_not_found(self, client_id: str, tenant_key: str) -> OAuthError:
        return OAuthError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant_key}'. This can "
            "happen if the application has not been installed by the administrator of the tenant or consented to by "
            "any user in the tenant. You may have sent your authentication request to the wrong tenant.",
        )

    def _resource_not_found(self, resource: str, tenant: Tenant) -> OAuthError:
        return OAuthError(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named {tenant.name}. This can "
            "happen if the application has not been installed by the administrator of the tenant or consented to "
            "by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
        )

    def _authenticate_client(self, request: Request, tenant: Tenant | None, tenant_key: str) -> App:
        form = request.form
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if request.authorization and request.authorization.type == "basic":
            client_id = client_id or unquote(request.authorization.username or "")
            secret = secret or unquote(request.authorization.password or "")
        if not client_id:
            raise missing_param("client_id")
        app = self.directory.apps.get(client_id)
        if app is None or (tenant is not None and not app.in_tenant(tenant.id)):
            raise self._app_not_found(client_id, tenant_key)
        if app.public_client and not secret:
            return app
        if not secret:
            raise OAuthError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        if secret not in app.secrets:
            raise preset_error("invalid_secret", client_id=client_id)
        expiry = app.secrets[secret]
        if expiry is not None and expiry <= self.now():
            raise preset_error("secret_expired", client_id=client_id)
        return app

    def _raise_injected(self, grant_type: str, app: App) -> None:
        for i, (preset, only) in enumerate(self._injected):
            if only is None or only == grant_type:
                del self._injected[i]
                issued = (self.now() - timedelta(days=91)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
                raise preset_error(preset, client_id=app.client_id, resource=GRAPH_APP_ID, issued=issued)

    def _grant_code(self, form: Any, app: App, tenant: Tenant | None) -> dict[str, Any]:
        raw = form.get("code")
        if not raw:
            raise missing_param("code")
        code = self.codes.get(raw)
        if code is None:
            raise malformed_grant()
        if code.client_id != app.client_id:
            raise OAuthError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
        if tenant is not None and code.tenant_id != tenant.id:
            raise OAuthError(
                400,
                "invalid_grant",
                700005,
                "Provided Authorization Code is intended to use against other tenant, thus rejected.",
            )
        if code.redeemed:
            raise OAuthError(
                400,
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an "
                "existing refresh token.",
            )
        if self.now() - code.issued_at > timedelta(seconds=self.settings.auth_code_ttl):
            raise preset_error("expired")
        redirect_uri = form.get("redirect_uri")
        if not redirect_uri:
            raise missing_param("redirect_uri")
        if redirect_uri != code.redirect_uri:
            raise OAuthError(
                400,
                "invalid_grant",
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URI "
                f"'{code.redirect_uri}' used to obtain the authorization code.",
            )
        self._check_pkce(code, form.get("code_verifier"))
        code.redeemed = True
        return self._user_tokens(app, code.tenant_id, code.user_id, code.scopes, code.nonce)

    def _check_pkce(self, code: AuthCode, verifier: str | None) -> None:
        if code.challenge is None:
            return
        if not verifier:
            raise OAuthError(
                400,
                "invalid_grant",
                50148,
                "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
            )
        if not pkce_matches(verifier, code.challenge, code.method):
            raise OAuthError(
                400,
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            )

    def _grant_refresh(self, form: Any, app: App, tenant: Tenant | None) -> dict[str, Any]:
        raw = form.get("refresh_token")
        if not raw:
            raise missing_param("refresh_token")
        rt = self.refresh_tokens.get(raw)
        if rt is None:
            raise malformed_grant()
        if rt.client_id != app.client_id or (tenant is not None and rt.tenant_id != tenant.id):
            raise OAuthError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
        if rt.revoked:
            raise preset_error("revoked")
        now = self.now()
        if now - rt.last_used > timedelta(seconds=self.settings.refresh_token_inactivity):
            raise preset_error("inactive", issued=rt.issued_at.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"))
        if rt.superseded and self.settings.strict_refresh_rotation:
            raise preset_error("expired")
        scopes = rt.scopes
        if form.get("scope"):
            requested = self._delegated_scopes(form["scope"], app, self.directory.tenants[rt.tenant_id])
            extra = {s.lower() for s in requested} - {s.lower() for s in rt.scopes}
            if extra:
                raise preset_error("consent_required", client_id=app.client_id)
            scopes = requested if "offline_access" in requested else (*requested, "offline_access")
        rt.last_used = now
        rt.superseded = True
        return self._user_tokens(app, rt.tenant_id, rt.user_id, scopes, None)

    def _grant_client_credentials(self, form: Any, app: App, tenant: Tenant) -> dict[str, Any]:
        scope = form.get("scope")
        if not scope:
            raise missing_param("scope")
        root = self.settings.graph_root.rstrip("/")
        if scope.strip().lower() not in (f"{root}/.default".lower(), f"{GRAPH_APP_ID}/.default"):
            if scope.strip().endswith("/.default"):
                raise self._resource_not_found(scope.strip()[: -len("/.default")], tenant)
            raise OAuthError(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows must have a scope "
                "value with /.default suffixed to the resource identifier (application ID URI).",
            )
        token = self._new_access_token(tenant.id, app, None, (), app.application)
        ttl = self.settings.access_token_ttl
        return {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": token.token}

    # -- issuing --------------------------------------------------------------------------
    def _user_tokens(
        self, app: App, tenant_id: str, user_id: str, scopes: tuple[str, ...], nonce: str | None
    ) -> dict[str, Any]:
        graph_scopes = [s for s in scopes if s.lower() not in OIDC_SCOPES]
        oidc = [s for s in scopes if s in OIDC_SCOPES and s != "offline_access"]
        token = self._new_access_token(tenant_id, app, user_id, (*graph_scopes, *oidc), frozenset())
        ttl = self.settings.access_token_ttl
        root = self.settings.graph_root.rstrip("/")
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join([*oidc, *(f"{root}/{s}" for s in graph_scopes)]),
            "expires_in": ttl,
            "ext_expires_in": ttl,
            "access_token": token.token,
        }
        if "offline_access" in scopes:
            now = self.now()
            rt = RefreshToken(
                "1.A" + b64(secrets.token_bytes(160)), tenant_id, app.client_id, user_id, scopes, now, now
            )
            self.refresh_tokens[rt.token] = rt
            body["refresh_token"] = rt.token
        if "openid" in scopes:
            body["id_token"] = self._id_token(app, tenant_id, user_id, nonce)
        return body

    def _new_access_token(
        self,
        tenant_id: str,
        app: App,
        user_id: str | None,
        scopes: tuple[str, ...] | frozenset[str],
        roles: frozenset[str],
    ) -> AccessToken:
        now = self.now()
        expires = now + timedelta(seconds=self.settings.access_token_ttl)
        claims: dict[str, Any] = {
            "aud": self.settings.graph_root,
            "iss": f"https://sts.windows.net/{tenant_id}/",
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "appid": app.client_id,
            "tid": tenant_id,
            "uti": b64(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        if user_id is not None:
            user = self.directory.users[user_id]
            claims.update(oid=user.id, upn=user.upn, name=user.display_name, scp=" ".join(scopes))
        else:
            claims.update(oid=app.service_principal_id, roles=sorted(roles))
        token = AccessToken(
            make_jwt(claims), tenant_id, app.client_id, user_id, frozenset(scopes), frozenset(roles), expires
        )
        self._purge(now)
        self.access_tokens[token.token] = token
        return token

    def _id_token(self, app: App, tenant_id: str, user_id: str, nonce: str | None) -> str:
        user = self.directory.users[user_id]
        now = int(self.now().timestamp())
        claims = {
            "aud": app.client_id,
            "iss": f"https://login.microsoftonline.com/{tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": user.display_name,
            "oid": user.id,
            "preferred_username": user.upn,
            "sub": b64(hashlib.sha256(f"{user.id}{app.client_id}".encode()).digest()),
            "tid": tenant_id,
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        return make_jwt(claims)

    def _purge(self, now: datetime) -> None:
        if len(self.access_tokens) < 20000:
            return
        cutoff = now - timedelta(days=1)
        for key in [k for k, t in self.access_tokens.items() if t.expires_at < cutoff]:
            del self.access_tokens[key]
