"""The Google Calendar provider: delegated OAuth, object -> calendar mapping, watch channels.

Registered through the ``ireserve_calendar.providers`` entry point ``google``.

Public API: :class:`GoogleProvider`. Its parts: :mod:`.settings` (the schema), :mod:`.auth` (consent
URL, code exchange, google-auth refresh, revocation), :mod:`.client` (the v3 calls and the one error
mapping), :mod:`.mapping` (Event JSON <-> model), :mod:`.push` (notification headers) and
:mod:`.backend` (the engine's ``CalendarBackend``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hookspecs.types import HostApi
from hookspecs.types import HttpRequest
from ireserve_calendar_plugin.auth.tokens import TokenSet
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.base import CalendarProvider
from ireserve_calendar_plugin.providers.base import PushParse
from ireserve_calendar_plugin.providers.google import auth
from ireserve_calendar_plugin.providers.google import push
from ireserve_calendar_plugin.providers.google.backend import GoogleBackend
from ireserve_calendar_plugin.providers.google.backend import pacer_for
from ireserve_calendar_plugin.providers.google.settings import GoogleSettingsSchema
from ireserve_calendar_plugin.providers.registry import ProviderRegistry
from ireserve_calendar_plugin.providers.spec import provider_hookimpl

__all__ = ["GoogleProvider"]


class GoogleProvider(CalendarProvider):
    """Google Calendar v3 over delegated OAuth 2.0."""

    name = "google"
    title = "Google Calendar"
    settings_schema = GoogleSettingsSchema

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
    def authorization_url(
        self, settings: Mapping[str, Any], *, redirect_uri: str, state: str, code_challenge: str
    ) -> str:
        return auth.authorization_url(settings, redirect_uri=redirect_uri, state=state, code_challenge=code_challenge)

    def exchange_code(self, ctx: BackendContext, *, code: str, redirect_uri: str, code_verifier: str) -> TokenSet:
        with ctx.http_session() as session:
            return auth.exchange_code(
                ctx.settings, session, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier, now=ctx.now(),
                pacer=pacer_for(ctx),
            )

    def revoke_token(self, ctx: BackendContext, token: str) -> None:
        with ctx.http_session() as session:
            auth.revoke(ctx.settings, session, token)

    # -- sync -----------------------------------------------------------------------------------
    def backend(self, ctx: BackendContext) -> GoogleBackend:
        return GoogleBackend(ctx)

    def parse_push(self, request: HttpRequest) -> PushParse:
        return push.parse_push(request)



@provider_hookimpl
def calendar_provider_register(registry: ProviderRegistry) -> None:
    registry.add(GoogleProvider)
