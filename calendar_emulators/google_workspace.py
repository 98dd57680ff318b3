"""A Google Workspace domain for the Calendar emulator: service accounts with domain-wide delegation,
admins, resource calendars and the Admin SDK Directory listing of them.

Public API: :class:`Workspace`, :class:`ServiceAccount`, :class:`Resource`, :class:`GrantRefused`,
:data:`JWT_BEARER`, :data:`SCOPE_RESOURCES`, :data:`SCOPE_RESOURCES_READONLY`.

The JWT-bearer grant (``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``, RFC 7523, as Google's
token endpoint takes it from a service account): the ``assertion`` is an RS256 JWT whose signature is
checked against the service account's public key; ``iss`` must be a service account of the emulator,
``aud`` Google's token endpoint (:data:`AUDIENCES`, or the emulator's own token URL), ``iat``/``exp``
a span of at most an hour around now, ``scope``
non-empty; ``sub`` (the user to act as) must be a user of the domain, and every requested scope must be
delegated to the service account's client id (the Admin console's "Domain-wide delegation" table).
Each failure answers with the body Google sends for it (:class:`GrantRefused`).

``GET /admin/directory/v1/customer/my_customer/resources/calendars`` lists the domain's resource
calendars (``maxResults`` 1..500, default 100, ``pageToken``), for a token with the
``admin.directory.resource.calendar[.readonly]`` scope acting as a domain admin; otherwise 403.
Resource calendars (``..._<n>@resource.calendar.google.com``) belong to the domain: every admin
subject may write them (they are in each admin's calendar list with role ``writer``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa

from calendar_emulators.google_errors import ApiError

__all__ = [
    "JWT_BEARER",
    "SCOPE_RESOURCES",
    "SCOPE_RESOURCES_READONLY",
    "GrantRefused",
    "Resource",
    "ServiceAccount",
    "Workspace",
]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE_RESOURCES = "https://www.googleapis.com/auth/admin.directory.resource.calendar"
SCOPE_RESOURCES_READONLY = SCOPE_RESOURCES + ".readonly"
#: the longest ``exp - iat`` Google accepts, and the clock skew it tolerates (seconds)
MAX_LIFETIME = 3600
#: the audiences Google's token endpoint accepts (google-auth signs the first); the emulator also takes its own URL
AUDIENCES = (
    "https://oauth2.googleapis.com/token",
    "https://www.googleapis.com/oauth2/v4/token",
    "https://accounts.google.com/o/oauth2/token",
)
SKEW = 300


class GrantRefused(Exception):
    """A refused JWT-bearer grant: the OAuth error, its description and the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


@dataclass
class ServiceAccount:
    """A service account: its e-mail (the JWT ``iss``), numeric client id and current public key."""

    email: str
    client_id: str
    key_id: str
    public_key: rsa.RSAPublicKey


@dataclass
class Resource:
    """A resource calendar of the domain (``resourceEmail`` is its calendar id)."""

    resource_id: str
    name: str
    email: str
    capacity: int | None = None
    building: str = ""
    floor: str = ""

    def as_directory(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "kind": "admin#directory#resources#calendars#CalendarResource",
            "etag": f'"{self.resource_id}"',
            "resourceId": self.resource_id,
            "resourceName": self.name,
            "generatedResourceName": f"{self.building}-{self.floor}-{self.name}".strip("-"),
            "resourceType": "Conference room",
            "resourceEmail": self.email,
            "resourceCategory": "CONFERENCE_ROOM",
        }
        if self.capacity is not None:
            item["capacity"] = self.capacity
        if self.building:
            item["buildingId"] = self.building
        if self.floor:
            item["floorName"] = self.floor
        return item


@dataclass
class Workspace:
    """The domain: its users' admin status, service accounts, delegations and resources."""

    domain: str = "example.com"
    admins: set[str] = field(default_factory=set)
    accounts: dict[str, ServiceAccount] = field(default_factory=dict)
    delegations: dict[str, set[str]] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)

    # -- service accounts -----------------------------------------------------------------------
    def new_service_account(self, email: str, token_uri: str) -> dict[str, Any]:
        """Create (or re-key) a service account; returns its JSON key file as a dict."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        number = str(100000000000000000000 + len(self.accounts) + 1)
        key_id = base64.b16encode(email.encode()[:20]).decode().lower()
        self.accounts[email.lower()] = ServiceAccount(email, number, key_id, key.public_key())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": "emulated-project",
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": number,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        }

    def delegate(self, email: str, scopes: list[str] | set[str]) -> None:
        """Authorise the service account's client id for ``scopes`` domain-wide (replaces the row)."""
        account = self.accounts[email.lower()]
        self.delegations[account.client_id] = set(scopes)

    # -- the grant ------------------------------------------------------------------------------
    def verify_assertion(
        self, assertion: str, audience: str, now: datetime, users: list[str]
    ) -> tuple[ServiceAccount, str, frozenset[str]]:
        """Check a JWT-bearer assertion; returns (service account, user acted as, scopes) or raises."""
        try:
            head_b64, claims_b64, signature_b64 = assertion.split(".")
            header = json.loads(_unb64(head_b64))
            claims = json.loads(_unb64(claims_b64))
            signature = _unb64(signature_b64)
        except (ValueError, UnicodeDecodeError):
            raise GrantRefused("invalid_grant", "Invalid JWT: the assertion is not a JWT.") from None
        if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
            raise GrantRefused("invalid_grant", "Invalid JWT Signature.")
        account = self.accounts.get(str(claims.get("iss") or "").lower())
        if account is None:
            raise GrantRefused("invalid_grant", "Invalid grant: account not found")
        try:
            account.public_key.verify(
                signature, f"{head_b64}.{claims_b64}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            raise GrantRefused("invalid_grant", "Invalid JWT Signature.") from None
        if claims.get("aud") not in (*AUDIENCES, audience):
            raise GrantRefused(
                "invalid_grant", f"Invalid JWT: Failed audience check. The expected audience is {AUDIENCES[0]}."
            )
        iat, exp, moment = claims.get("iat"), claims.get("exp"), now.timestamp()
        if (
            not isinstance(iat, int | float)
            or not isinstance(exp, int | float)
            or exp - iat > MAX_LIFETIME
            or exp <= moment - SKEW
            or iat > moment + SKEW
        ):
            raise GrantRefused(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in "
                "a reasonable timeframe. Check your iat and exp values in the JWT claim.",
            )
        scopes = frozenset(str(claims.get("scope") or "").split())
        if not scopes:
            raise GrantRefused("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        subject = str(claims.get("sub") or "")
        if not subject:
            return account, account.email, scopes
        if subject.lower() not in {u.lower() for u in users} or not subject.lower().endswith("@" + self.domain):
            raise GrantRefused("invalid_grant", "Invalid email or User ID")
        if not scopes <= self.delegations.get(account.client_id, set()):
            raise GrantRefused(
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this "
                "method, or client not authorized for any of the scopes requested.",
                401,
            )
        return account, subject, scopes

    # -- the Directory API ----------------------------------------------------------------------
    def list_resources(self, user: str, scopes: frozenset[str], args: Mapping[str, str]) -> dict[str, Any]:
        """``resources.calendars.list`` as ``user`` (see the module docstring)."""
        if not scopes & {SCOPE_RESOURCES, SCOPE_RESOURCES_READONLY}:
            raise ApiError(
                403, "insufficientPermissions", "Request had insufficient authentication scopes.", location=""
            )
        if user.lower() not in {a.lower() for a in self.admins}:
            raise ApiError(403, "forbidden", "Not Authorized to access this resource/api", location="")
        raw_size, raw_token = args.get("maxResults", "100"), args.get("pageToken") or "0"
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= 500 or not raw_token.isdigit():
            raise ApiError(400, "invalid", "Invalid Input", location="")
        size, start = int(raw_size), int(raw_token)
        page = self.resources[start : start + size]
        out: dict[str, Any] = {
            "kind": "admin#directory#resources#calendars#calendarResourcesList",
            "etag": '"resources"',
            "items": [r.as_directory() for r in page],
        }
        if start + size < len(self.resources):
            out["nextPageToken"] = str(start + size)
        return out


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
