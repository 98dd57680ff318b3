"""The directory behind the Graph emulator: tenants, app registrations, users and room mailboxes.

Public API: :class:`Tenant`, :class:`App`, :class:`User`, :class:`Directory`.

A tenant is found by its GUID or any of its domains (case-insensitive). An app lives in one home
tenant and may be consented in others. A user or room is found by object id or user principal name
within its tenant. The directory is not thread-safe by itself; the emulator holds its lock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from .graph_common import new_guid
from .graph_places import Places

__all__ = ["App", "Directory", "Tenant", "User"]

#: Delegated scopes an interactive user may consent to by default.
DEFAULT_DELEGATED = frozenset({"openid", "profile", "email", "offline_access", "User.Read", "Calendars.ReadWrite"})
#: Names of the OpenID Connect scopes (not Graph permissions).
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})


@dataclass
class Tenant:
    id: str
    domains: list[str]
    name: str = ""

    @property
    def domain(self) -> str:
        return self.domains[0]


@dataclass
class App:
    """An app registration. ``secrets`` maps each client secret to its expiry (None = never).

    ``delegated`` are the delegated permissions users consent to, ``application`` the application
    permissions (roles) an admin granted. ``allowed_mailboxes`` models an Exchange application
    access policy: when set, app-only calls reach only those mailboxes (ids or UPNs).
    ``writable_mailboxes`` models a write scope (Exchange RBAC for Applications: ``Calendars.ReadWrite``
    scoped to some mailboxes while ``Calendars.Read`` reaches all): when set, app-only writes reach only
    those mailboxes and every other write is 403 ``ErrorAccessDenied``.
    """

    client_id: str
    tenant_id: str
    secrets: dict[str, datetime | None] = field(default_factory=dict)
    redirect_uris: list[str] = field(default_factory=list)
    delegated: frozenset[str] = DEFAULT_DELEGATED
    application: frozenset[str] = frozenset()
    allowed_mailboxes: set[str] | None = None
    writable_mailboxes: set[str] | None = None
    public_client: bool = False
    display_name: str = ""
    other_tenants: set[str] = field(default_factory=set)
    service_principal_id: str = field(default_factory=new_guid)

    def in_tenant(self, tenant_id: str) -> bool:
        return tenant_id == self.tenant_id or tenant_id in self.other_tenants

    def has_delegated(self, scope: str) -> bool:
        return scope.lower() in {s.lower() for s in self.delegated}

    def may_access(self, mailbox: User) -> bool:
        """False when an application access policy keeps this app out of ``mailbox``."""
        if self.allowed_mailboxes is None:
            return True
        allowed = {m.lower() for m in self.allowed_mailboxes}
        return mailbox.id.lower() in allowed or mailbox.upn.lower() in allowed

    def may_write(self, mailbox: User) -> bool:
        """False when a write scope keeps this app's writes out of ``mailbox``."""
        if self.writable_mailboxes is None:
            return True
        allowed = {m.lower() for m in self.writable_mailboxes}
        return mailbox.id.lower() in allowed or mailbox.upn.lower() in allowed


@dataclass
class User:
    """A user or a room mailbox (``kind`` = ``"user"`` or ``"room"``)."""

    id: str
    upn: str
    tenant_id: str
    display_name: str
    kind: str = "user"

    @property
    def mail(self) -> str:
        return self.upn

    def as_graph(self) -> dict[str, object]:
        return {
            "id": self.id,
            "userPrincipalName": self.upn,
            "displayName": self.display_name,
            "mail": self.mail,
            "givenName": None if self.kind == "room" else self.display_name.split(" ")[0],
            "surname": None if self.kind == "room" else " ".join(self.display_name.split(" ")[1:]) or None,
            "jobTitle": None,
            "businessPhones": [],
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": None,
        }


class Directory:
    """Tenants, apps and users, with lookups by id, domain and UPN."""

    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.apps: dict[str, App] = {}
        self.places = Places()
        self.users: dict[str, User] = {}
        self._by_upn: dict[str, str] = {}

    # -- registration ---------------------------------------------------------------------
    def add_tenant(self, domain: str, tenant_id: str | None = None, name: str = "") -> Tenant:
        tenant_id = (tenant_id or new_guid()).lower()
        uuid.UUID(tenant_id)  # a tenant id is a GUID
        if tenant_id in self.tenants:
            tenant = self.tenants[tenant_id]
            if domain.lower() not in tenant.domains:
                tenant.domains.append(domain.lower())
            return tenant
        tenant = Tenant(tenant_id, [domain.lower()], name or domain.split(".")[0].title())
        self.tenants[tenant_id] = tenant
        return tenant

    def add_app(self, app: App) -> App:
        self.apps[app.client_id] = app
        return app

    def add_user(self, user: User) -> User:
        if user.upn.lower() in self._by_upn:
            raise ValueError(f"user {user.upn} exists")
        self.users[user.id] = user
        self._by_upn[user.upn.lower()] = user.id
        return user

    # -- lookups --------------------------------------------------------------------------
    def tenant(self, key: str) -> Tenant | None:
        """Find a tenant by GUID or domain."""
        key = key.strip().lower()
        if key in self.tenants:
            return self.tenants[key]
        for tenant in self.tenants.values():
            if key in tenant.domains:
                return tenant
        return None

    def user(self, key: str, tenant_id: str | None = None) -> User | None:
        """Find a user by object id or UPN, optionally only within one tenant."""
        user = self.users.get(key) or self.users.get(self._by_upn.get(key.lower(), ""))
        if user is None:
            lowered = key.lower()
            user = next((u for u in self.users.values() if u.id.lower() == lowered), None)
        if user is None or (tenant_id is not None and user.tenant_id != tenant_id):
            return None
        return user

    def user_anywhere(self, key: str) -> User | None:
        return self.user(key)

    def first_user(self, tenant_id: str | None) -> User | None:
        """The first person (not room) of a tenant, or of any tenant when ``tenant_id`` is None."""
        for user in self.users.values():
            if user.kind == "user" and (tenant_id is None or user.tenant_id == tenant_id):
                return user
        return None

    def rooms(self, tenant_id: str) -> list[User]:
        return [u for u in self.users.values() if u.kind == "room" and u.tenant_id == tenant_id]
