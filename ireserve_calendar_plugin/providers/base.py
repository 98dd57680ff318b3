"""The provider contract: what a calendar provider class tells the plugin.

Public API: :class:`CalendarProvider`.

A provider is a class (registered through :mod:`.spec`) that describes one calendar service: its
settings schema, extra validation that needs the host (object ids, mailbox names), and later the
sync operations the provider-neutral engine drives. Providers depend on the engine's model, never the
other way round.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import ClassVar

from hookspecs.types import HostApi
from ireserve_calendar_plugin.config.schemas import ProviderSettingsSchema

__all__ = ["CalendarProvider"]


class CalendarProvider:
    """Base class of a calendar provider.

    Class attributes: ``name`` (the ``Integration.provider`` value it serves), ``title`` (shown to
    admins) and ``settings_schema`` (a :class:`ProviderSettingsSchema` subclass).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    settings_schema: ClassVar[type[ProviderSettingsSchema]] = ProviderSettingsSchema

    def validate_settings(self, host: HostApi, settings: Mapping[str, Any]) -> dict[str, str]:
        """Check what only the host can tell (for example that mapped objects exist).

        Returns ``{field: message}``; empty when all is well. Called after the schema loaded cleanly.
        """
        return {}
