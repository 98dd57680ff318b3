"""The Google Calendar provider: OAuth or a Workspace service account, object -> calendar mapping, channels.

Registered through the ``ireserve_calendar.providers`` entry point ``google``.

Public API: :class:`GoogleProvider`. Its parts: :mod:`.settings` (the schema), :mod:`.auth` (consent
URL, code exchange, google-auth refresh, revocation), :mod:`.client` (the v3 calls and the one error
mapping), :mod:`.mapping` (Event JSON <-> model), :mod:`.push` (notification headers) and
:mod:`.backend` (the engine's ``CalendarBackend``); service-account mode adds :mod:`.service_account`
(JWT-bearer tokens with domain-wide delegation) and :mod:`.resources` (resource-calendar discovery).
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
from ireserve_calendar_plugin.providers.google import auth
from ireserve_calendar_plugin.providers.google import push
from ireserve_calendar_plugin.providers.google import resources
from ireserve_calendar_plugin.providers.google.backend import GoogleBackend
from ireserve_calendar_plugin.providers.google.backend import pacer_for
from ireserve_calendar_plugin.providers.google.service_account import CALENDAR_TOKEN_KEY
from ireserve_calendar_plugin.providers.google.service_account import DIRECTORY_TOKEN_KEY
from ireserve_calendar_plugin.providers.google.settings import AuthMode
from ireserve_calendar_plugin.providers.google.settings import GoogleSettingsSchema
from ireserve_calendar_plugin.providers.registry import ProviderRegistry
from ireserve_calendar_plugin.providers.rooms import RoomCatalog
from ireserve_calendar_plugin.providers.spec import provider_hookimpl

__all__ = ["GoogleProvider"]


def _service_account(settings: Mapping[str, Any]) -> bool:
    return settings.get("auth_mode") == AuthMode.SERVICE_ACCOUNT.value


class GoogleProvider(CalendarProvider):
    """Google Calendar v3 over delegated OAuth 2.0."""

    name = "google"
    title = "Google Calendar"
    settings_schema = GoogleSettingsSchema
    grant_keys = ("tokens", CALENDAR_TOKEN_KEY, DIRECTORY_TOKEN_KEY)

    def validate_settings(self, host: HostApi, settings: Mapping[str, Any]) -> dict[str, str]:
        for row in settings.get("calendar_mapping", []):
            if row["object"] != "*" and host.objects.get(int(row["object"])) is None:
                return {"calendar_mapping": f"Object {row['object']} does not exist."}
        inbound = settings.get("inbound_object_id")
        if inbound is not None and host.objects.get(int(inbound)) is None:
            return {"inbound_object_id": f"Object {inbound} does not exist."}
        return {}

    def form_choices(self, ctx: BackendContext) -> dict[str, list[tuple[str, str]]]:
        """The connected account's calendars (from ``calendarList.list``) for the mapping table."""
        backend = self.backend(ctx)
        try:
            entries = backend.calendar_list()
        finally:
            backend.close()
        offered = [(e["id"], f"{e['name'] or e['id']}{'' if e['writable'] else ' (read-only)'}") for e in entries]
        return {"calendar_mapping.calendar_id": offered}

    def account_label(self, ctx: BackendContext) -> str:
        """The connected account's e-mail: its primary calendar's id."""
        backend = self.backend(ctx)
        try:
            return backend.client.primary_calendar_id()
        finally:
            backend.close()

    # -- connection -----------------------------------------------------------------------------
    def uses_authorization_code(self, settings: Mapping[str, Any]) -> bool:
        """OAuth mode signs an account in; a service account authenticates with its key."""
        return not _service_account(settings)

    def authorization_url(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> str:
        if _service_account(settings):
            raise ConfigError("Service-account mode has no account to connect.", {"auth_mode": "No sign-in needed."})
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
                pacer=pacer_for(ctx),
            )

    def revoke_token(self, ctx: BackendContext, token: str) -> None:
        with ctx.http_session() as session:
            auth.revoke(ctx.settings, session, token)

    # -- rooms ----------------------------------------------------------------------------------
    def supports_discovery(self, settings: Mapping[str, Any]) -> bool:
        """Service-account mode lists the domain's resource calendars (Admin SDK Directory)."""
        return _service_account(settings)

    def discover_rooms(self, ctx: BackendContext) -> RoomCatalog:
        return resources.discover(ctx)

    def mapped_rooms(self, settings: Mapping[str, Any]) -> set[str]:
        return {
            str(row["calendar_id"]).lower()
            for row in settings.get("calendar_mapping") or ()
            if isinstance(row, Mapping)
        }

    def map_rooms(self, settings: Mapping[str, Any], pairs: list[tuple[str, int]]) -> dict[str, Any]:
        rows = [dict(row) for row in settings.get("calendar_mapping") or () if isinstance(row, Mapping)]
        taken = {str(row.get("object")) for row in rows}
        rows += [{"object": str(obj), "calendar_id": address} for address, obj in pairs if str(obj) not in taken]
        return {"calendar_mapping": rows}

    # -- sync -----------------------------------------------------------------------------------
    def backend(self, ctx: BackendContext) -> GoogleBackend:
        return GoogleBackend(ctx)

    def parse_push(self, request: HttpRequest) -> PushParse:
        return push.parse_push(request)


@provider_hookimpl
def calendar_provider_register(registry: ProviderRegistry) -> None:
    registry.add(GoogleProvider)
