"""Building blocks of the Graph emulator's identity platform: token records, AADSTS errors, PKCE.

Public API: :class:`AuthCode`, :class:`AccessToken`, :class:`RefreshToken`, :class:`TokenRequestRecord`,
:class:`OAuthError`, :data:`TOKEN_ERROR_PRESETS`, :func:`preset_error`, :func:`pkce_matches`,
:func:`make_jwt`.

Errors have the body of the real service (``error``, ``error_description`` starting with
``AADSTSnnnn: ...`` and ending with trace and correlation ids and a timestamp, ``error_codes``,
``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri``); the AADSTS numbers and texts follow
Microsoft's reference list of error codes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .graph_common import new_guid

__all__ = [
    "TOKEN_ERROR_PRESETS",
    "AccessToken",
    "AuthCode",
    "OAuthError",
    "RefreshToken",
    "TokenRequestRecord",
    "make_jwt",
    "pkce_matches",
    "preset_error",
]

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
MULTI_TENANT_KEYS = frozenset({"common", "organizations"})


# --------------------------------------------------------------------------- records


@dataclass
class AuthCode:
    code: str
    client_id: str
    tenant_id: str
    user_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    challenge: str | None
    method: str
    nonce: str | None
    issued_at: datetime
    redeemed: bool = False


@dataclass
class AccessToken:
    """An issued access token. ``user_id`` is None for app-only tokens (client credentials)."""

    token: str
    tenant_id: str
    client_id: str
    user_id: str | None
    scopes: frozenset[str]
    roles: frozenset[str]
    expires_at: datetime

    @property
    def app_only(self) -> bool:
        return self.user_id is None

    def has_scope(self, name: str) -> bool:
        return name.lower() in {s.lower() for s in self.scopes}

    def has_role(self, name: str) -> bool:
        return name.lower() in {r.lower() for r in self.roles}


@dataclass
class RefreshToken:
    token: str
    tenant_id: str
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    issued_at: datetime
    last_used: datetime
    revoked: bool = False
    superseded: bool = False


@dataclass(frozen=True)
class TokenRequestRecord:
    at: datetime
    tenant: str
    grant_type: str
    status: int


# --------------------------------------------------------------------------- errors


class OAuthError(Exception):
    """A token/authorize error: ``error`` (OAuth code), ``code`` (the AADSTS number) and its message."""

    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.status = status
        self.error = error
        self.code = code
        self.message = message

    def description(self, now: datetime, trace_id: str, correlation_id: str) -> str:
        return (
            f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}"
            f"\r\nTimestamp: {now.strftime('%Y-%m-%d %H:%M:%SZ')}"
        )

    def body(self, now: datetime, correlation_id: str, error_base: str) -> dict[str, Any]:
        trace_id = new_guid()
        correlation_id = correlation_id or new_guid()
        return {
            "error": self.error,
            "error_description": self.description(now, trace_id, correlation_id),
            "error_codes": [self.code],
            "timestamp": now.strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"{error_base}error?code={self.code}",
        }


#: Token errors that can be injected with :meth:`Identity.inject_error`: name -> (status, error, AADSTS, message).
TOKEN_ERROR_PRESETS: dict[str, tuple[int, str, int, str]] = {
    "expired": (
        400,
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity. "
        "Send a new interactive authorization request for this user and resource.",
    ),
    "inactive": (
        400,
        "invalid_grant",
        700082,
        "The refresh token has expired due to inactivity. The token was issued on {issued} "
        "and was inactive for 90.00:00:00.",
    ),
    "revoked": (
        400,
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
        "The user might have changed or reset their password.",
    ),
    "interaction_required": (
        400,
        "interaction_required",
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a new location, "
        "you must use multi-factor authentication to access '{resource}'.",
    ),
    "conditional_access": (
        400,
        "invalid_grant",
        53003,
        "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
    ),
    "consent_required": (
        400,
        "invalid_grant",
        65001,
        "The user or administrator has not consented to use the application with ID '{client_id}'. "
        "Send an interactive authorization request for this user and resource.",
    ),
    "invalid_secret": (
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
        "not the client secret ID, for a secret added to app '{client_id}'.",
    ),
    "secret_expired": (
        401,
        "invalid_client",
        7000222,
        "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new "
        "keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added "
        "security: https://aka.ms/certCreds.",
    ),
    "temporarily_unavailable": (
        503,
        "temporarily_unavailable",
        90033,
        "A transient error has occurred. Please try again.",
    ),
}


def preset_error(name: str, **values: str) -> OAuthError:
    status, error, code, message = TOKEN_ERROR_PRESETS[name]
    for key, value in values.items():
        message = message.replace("{" + key + "}", value)
    return OAuthError(status, error, code, message)


def missing_param(param: str) -> OAuthError:
    return OAuthError(
        400, "invalid_request", 900144, f"The request body must contain the following parameter: '{param}'."
    )


def malformed_grant() -> OAuthError:
    return OAuthError(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")


# --------------------------------------------------------------------------- tokens


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped token. Its signature is random: like a real Graph token it is opaque to clients."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "graph-emulator"}
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(secrets.token_bytes(64))])


def pkce_matches(verifier: str, challenge: str, method: str) -> bool:
    if method == "S256":
        return b64(hashlib.sha256(verifier.encode()).digest()) == challenge
    return verifier == challenge


def is_loopback(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost", "::1"}


def same_but_port(uri: str, registered: str) -> bool:
    """Loopback redirect URIs match whatever their port (the identity platform ignores it)."""
    if not (is_loopback(uri) and is_loopback(registered)):
        return False
    a, b = urlsplit(uri), urlsplit(registered)
    return (a.hostname, a.path or "/", a.query) == (b.hostname, b.path or "/", b.query)
