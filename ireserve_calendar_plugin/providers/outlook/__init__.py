"""The Outlook / Microsoft 365 provider: Graph v1.0, delegated or application (room mailboxes) mode.

Registered through the ``ireserve_calendar.providers`` entry point ``outlook``.

Public API: :class:`OutlookProvider`. Its parts: :mod:`.settings` (the schema), :mod:`.auth` (consent
URL, code exchange, rotating refresh, client credentials), :mod:`.client` (the v1.0 calls and the one
error mapping), :mod:`.mapping` (event JSON <-> model), :mod:`.push` (change and lifecycle
notifications, the validation handshake) and :mod:`.backend` (the engine's ``CalendarBackend``).
No MSAL and no EWS: plain ``requests`` through the shared ``ApiClient``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hookspecs.types import HostApi
from hookspecs.types import HttpRequest
from ireserve_calendar_plugin.auth.tokens import TokenSet
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.base import CalendarProvider
from ireserve_calendar_plugin.providers.base import PushParse
from ireserve_calendar_plugin.providers.outlook import auth
from ireserve_calendar_plugin.providers.outlook import mapping
from ireserve_calendar_plugin.providers.outlook import places
from ireserve_calendar_plugin.providers.outlook import push
from ireserve_calendar_plugin.providers.outlook.backend import APP_TOKEN_KEY
from ireserve_calendar_plugin.providers.outlook.backend import OutlookBackend
from ireserve_calendar_plugin.providers.outlook.settings import OutlookSettingsSchema
from ireserve_calendar_plugin.providers.registry import ProviderRegistry
from ireserve_calendar_plugin.providers.rooms import RoomCatalog
from ireserve_calendar_plugin.providers.spec import provider_hookimpl

__all__ = ["OutlookProvider"]


def _delegated(settings: Mapping[str, Any]) -> bool:
    return bool(settings.get("auth_mode", "delegated") == "delegated")


class OutlookProvider(CalendarProvider):
    """Microsoft Graph v1.0 calendars, without MSAL or EWS."""

    name = "outlook"
    title = "Outlook / Microsoft 365"
    settings_schema = OutlookSettingsSchema
    #: the delegated grant, the shared application token and the memo of a refused client
    grant_keys = ("tokens", APP_TOKEN_KEY, auth.FAILURE_KEY)

    def validate_settings(self, host: HostApi, settings: Mapping[str, Any]) -> dict[str, str]:
        if settings.get("auth_mode") == "delegated":
            if host.objects.get(int(settings["object_id"])) is None:
                return {"object_id": f"Object {settings['object_id']} does not exist."}
            return {}
        for row in settings.get("rooms", []):
            if host.objects.get(int(row["object"])) is None:
                return {"rooms": f"Object {row['object']} (room {row['upn']}) does not exist."}
        return {}

    # -- connection -----------------------------------------------------------------------------
    def uses_authorization_code(self, settings: Mapping[str, Any]) -> bool:
        """Delegated mode signs a user in; application mode authenticates as the app itself."""
        return _delegated(settings)

    def authorization_url(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> str:
        if not _delegated(settings):
            raise ConfigError("Application mode has no account to connect.", {"auth_mode": "No sign-in needed."})
        return auth.authorization_url(settings, redirect_uri=redirect_uri, state=state, code_challenge=code_challenge)

    def exchange_code(self, ctx: BackendContext, *, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
        with ctx.http_session() as session:
            return auth.exchange_code(
                ctx.settings,
                session,
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=code_verifier,
                now=ctx.now(),
                sleep=ctx.sleep,
            )

    def account_label(self, ctx: BackendContext) -> str:
        """The signed-in user's UPN (delegated mode); application mode has no account."""
        if not _delegated(ctx.settings):
            return ""
        backend = self.backend(ctx)
        try:
            return mapping.account_of(backend.client.me())
        finally:
            backend.close()

    # revoke_token: the identity platform has no endpoint to revoke one refresh token (the base does nothing)

    # -- rooms ----------------------------------------------------------------------------------
    def supports_discovery(self, settings: Mapping[str, Any]) -> bool:
        """Application mode lists the tenant's rooms through Graph ``places``."""
        return not _delegated(settings)

    def discover_rooms(self, ctx: BackendContext) -> RoomCatalog:
        backend = self.backend(ctx)
        try:
            return places.discover(backend.api, backend.base_url)
        finally:
            backend.close()

    def mapped_rooms(self, settings: Mapping[str, Any]) -> set[str]:
        return {str(row["upn"]).lower() for row in settings.get("rooms") or () if isinstance(row, Mapping)}

    def map_rooms(self, settings: Mapping[str, Any], pairs: list[tuple[str, int]]) -> dict[str, Any]:
        rows = [dict(row) for row in settings.get("rooms") or () if isinstance(row, Mapping)]
        return {"rooms": rows + [{"upn": address, "object": object_id} for address, object_id in pairs]}

    # -- sync -----------------------------------------------------------------------------------
    def backend(self, ctx: BackendContext) -> OutlookBackend:
        return OutlookBackend(ctx)

    def parse_push(self, request: HttpRequest) -> PushParse:
        return push.parse_push(request)


@provider_hookimpl
def calendar_provider_register(registry: ProviderRegistry) -> None:
    registry.add(OutlookProvider)
