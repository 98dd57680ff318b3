"""The provider contract: what a calendar provider class tells and does for the plugin.

Public API: :class:`CalendarProvider`, :class:`BackendContext`, :class:`PushNotice`, :class:`PushParse`.

A provider is a class (registered through :mod:`.spec`) describing one calendar service: its settings
schema, host-aware validation, its OAuth endpoints, how it reads push notifications, and a factory
for the :class:`~ireserve_calendar_plugin.sync.ports.CalendarBackend` the provider-neutral engine
drives. Providers depend on the engine's model and ports, never the other way round.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from enum import StrEnum
from typing import Any
from typing import ClassVar

import requests

from hookspecs.types import HostApi
from hookspecs.types import HttpRequest
from hookspecs.types import HttpResponse
from ireserve_calendar_plugin.auth.tokens import TokenSet
from ireserve_calendar_plugin.config.schemas import BaseUrl
from ireserve_calendar_plugin.config.schemas import ProviderSettingsSchema
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.providers.rooms import RoomCatalog
from ireserve_calendar_plugin.sync.ports import CalendarBackend

__all__ = ["BackendContext", "CalendarProvider", "NoticeKind", "PushNotice", "PushParse"]


@dataclass(frozen=True)
class BackendContext:
    """Everything a provider needs to talk to its service for one integration.

    ``session`` lets tests and hosts inject a ``requests.Session``; ``sleep`` and ``now`` make retries
    and expiry testable without waiting. ``token_key`` is the config key of the account's tokens (another
    one only for the job that stops a disconnected account's push channels with its retired grant).
    ``issuer`` is the provider's :meth:`CalendarProvider.endpoint_settings` of ``settings``: tokens are tagged
    with it and a stored token tagged otherwise is never sent (None: no check, for contexts built by hand).
    """

    host: HostApi
    integration_id: str
    settings: Mapping[str, Any]
    store: SecureConfig
    now: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session | None = None
    token_key: str = "tokens"
    issuer: Mapping[str, str] | None = None

    @contextmanager
    def http_session(self) -> Iterator[requests.Session]:
        """The injected session, or a short-lived one of our own (closed afterwards)."""
        if self.session is not None:
            yield self.session
            return
        with requests.Session() as session:
            yield session


class NoticeKind(StrEnum):
    """What a push notification asks of the plugin."""

    #: the channel's first message (Google ``sync``): nothing to do
    HANDSHAKE = "handshake"
    #: the calendar changed: sync it
    CHANGED = "changed"
    #: notifications were missed (Graph ``missed``): sync
    RESYNC = "resync"
    #: renew or reauthorize the channel (Graph ``reauthorizationRequired``)
    RENEW = "renew"
    #: the channel is gone (Graph ``subscriptionRemoved``): make a new one, then sync
    RECREATE = "recreate"


@dataclass(frozen=True)
class PushNotice:
    """One notification, provider-neutral: which channel, its secret, and what it asks (:class:`NoticeKind`).
    ``resource``: the watched resource's id the notification names (Google's ``X-Goog-Resource-ID``;
    empty where the provider sends none), checked against the channel's."""

    channel_id: str
    secret: str
    kind: NoticeKind
    resource: str = ""


@dataclass(frozen=True)
class PushParse:
    """What a push request holds: the notices, and the status to acknowledge it with."""

    notices: tuple[PushNotice, ...] = ()
    ack_status: int = 202
    response: HttpResponse | None = field(default=None)


@functools.cache
def _schema_facts(schema_cls: type[ProviderSettingsSchema]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """(endpoint field names, every field's ``load_default``) of a settings schema, computed once per
    class: building a marshmallow schema deep-copies its fields, and every job asked twice."""
    schema = schema_cls()
    names = tuple(name for name, f in schema.fields.items() if isinstance(f, BaseUrl) or f.metadata.get("endpoint"))
    return names, {name: f.load_default for name, f in schema.fields.items()}


class CalendarProvider:
    """Base class of a calendar provider.

    Class attributes: ``name`` (the ``Integration.provider`` value it serves), ``title`` (shown to
    admins), ``settings_schema`` (a :class:`ProviderSettingsSchema` subclass) and ``grant_keys`` (the
    integration config keys holding what a grant or the client credentials obtained: tokens of any
    kind; dropped when an endpoint setting changes, see :meth:`endpoint_fields`) and ``supports_push``
    (False for a service without change notifications: the engine then never asks for a channel and
    only polls, at the settings' ``poll_interval_minutes``).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    settings_schema: ClassVar[type[ProviderSettingsSchema]] = ProviderSettingsSchema
    grant_keys: ClassVar[tuple[str, ...]] = ("tokens",)
    supports_push: ClassVar[bool] = True

    def endpoint_fields(self) -> tuple[str, ...]:
        """The settings naming a place credentials or tokens are sent to (API base, auth, token, revoke
        URLs). Changing one is a re-approval: the admin form asks for the client secret again and drops
        everything under :attr:`grant_keys`. Default: every :class:`BaseUrl` field of the schema and every
        field whose metadata says ``endpoint=True``, so a new provider gets the rule by declaring its URLs."""
        return _schema_facts(self.settings_schema)[0]

    def endpoint_settings(self, settings: Mapping[str, Any]) -> dict[str, str]:
        """The :meth:`endpoint_fields` of ``settings`` as compared (defaults filled in, a trailing slash
        dropped): what a settings change is judged by, and the tag of every token obtained under them."""
        defaults = _schema_facts(self.settings_schema)[1]
        out: dict[str, str] = {}
        for name in self.endpoint_fields():
            value = settings.get(name)
            if value is None and name in defaults:
                default = defaults[name]
                value = default() if callable(default) else default
            out[name] = str(value or "").rstrip("/")
        return out

    def validate_settings(self, host: HostApi, settings: Mapping[str, Any]) -> dict[str, str]:
        """Check what only the host can tell (for example that mapped objects exist).

        Returns ``{field: message}``; empty when all is well. Called after the schema loaded cleanly.
        """
        return {}

    # -- connection -----------------------------------------------------------------------------
    def uses_authorization_code(self, settings: Mapping[str, Any]) -> bool:
        """Whether an admin connects an account interactively (False for app-only modes)."""
        return True

    def authorization_url(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> str:
        """The consent URL to send the admin to (PKCE S256 challenge included)."""
        raise NotImplementedError

    def exchange_code(self, ctx: BackendContext, *, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
        """Trade an authorization code for tokens. Raises our error types on failure."""
        raise NotImplementedError

    def revoke_token(self, ctx: BackendContext, token: str) -> None:
        """Revoke a refresh token we no longer use (best effort; providers without revocation do nothing)."""
        return None

    def form_choices(self, ctx: BackendContext) -> dict[str, list[tuple[str, str]]]:
        """Choices to offer in the admin form once connected, keyed ``table.column`` (may do I/O)."""
        return {}

    def account_label(self, ctx: BackendContext) -> str:
        """The connected account's name to show admins (may do I/O; called from a job). "" when none."""
        return ""

    # -- rooms ----------------------------------------------------------------------------------
    def supports_discovery(self, settings: Mapping[str, Any]) -> bool:
        """Whether this integration's mode can list the tenant's rooms (:meth:`discover_rooms`)."""
        return False

    def discover_rooms(self, ctx: BackendContext) -> RoomCatalog:
        """List the tenant's rooms and room groups (I/O; called from the discovery job only, never while a
        page renders). Raises :class:`DiscoveryNotPermittedError` when the app may not list them."""
        raise NotImplementedError

    def map_rooms(self, settings: Mapping[str, Any], pairs: list[tuple[str, int]]) -> dict[str, Any]:
        """The settings fields that map each ``(room address, object id)`` (added to what is mapped)."""
        raise NotImplementedError

    def mapped_rooms(self, settings: Mapping[str, Any]) -> set[str]:
        """The room addresses already mapped (lower-cased)."""
        return set()

    # -- sync -----------------------------------------------------------------------------------
    def backend(self, ctx: BackendContext) -> CalendarBackend:
        """The engine's port for this integration."""
        raise NotImplementedError

    def parse_push(self, request: HttpRequest) -> PushParse:
        """Read a push request (headers and body) into notices. Must not do I/O; must not trust it."""
        raise NotImplementedError
