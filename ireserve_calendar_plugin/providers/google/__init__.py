"""The Google Calendar provider: delegated OAuth, object -> calendar mapping, watch channels.

Registered through the ``ireserve_calendar.providers`` entry point ``google``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hookspecs.types import HostApi
from ireserve_calendar_plugin.providers.base import CalendarProvider
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
        return {}


@provider_hookimpl
def calendar_provider_register(registry: ProviderRegistry) -> None:
    registry.add(GoogleProvider)
