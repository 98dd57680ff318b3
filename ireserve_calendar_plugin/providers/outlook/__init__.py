"""The Outlook / Microsoft 365 provider: Graph v1.0, delegated or application (room mailboxes) mode.

Registered through the ``ireserve_calendar.providers`` entry point ``outlook``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hookspecs.types import HostApi
from ireserve_calendar_plugin.providers.base import CalendarProvider
from ireserve_calendar_plugin.providers.outlook.settings import OutlookSettingsSchema
from ireserve_calendar_plugin.providers.registry import ProviderRegistry
from ireserve_calendar_plugin.providers.spec import provider_hookimpl

__all__ = ["OutlookProvider"]


class OutlookProvider(CalendarProvider):
    """Microsoft Graph v1.0 calendars, without MSAL or EWS."""

    name = "outlook"
    title = "Outlook / Microsoft 365"
    settings_schema = OutlookSettingsSchema

    def validate_settings(self, host: HostApi, settings: Mapping[str, Any]) -> dict[str, str]:
        if settings.get("auth_mode") == "delegated":
            if host.objects.get(int(settings["object_id"])) is None:
                return {"object_id": f"Object {settings['object_id']} does not exist."}
            return {}
        for row in settings.get("rooms", []):
            if host.objects.get(int(row["object"])) is None:
                return {"rooms": f"Object {row['object']} (room {row['upn']}) does not exist."}
        return {}


@provider_hookimpl
def calendar_provider_register(registry: ProviderRegistry) -> None:
    registry.add(OutlookProvider)
