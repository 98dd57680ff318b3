"""The providers' own pluggy project: how a calendar provider joins the plugin.

Public API: :data:`PROVIDER_PROJECT`, :data:`PROVIDER_ENTRY_POINT_GROUP`, :data:`provider_hookimpl`,
:func:`calendar_provider_register`.

A provider is a distribution that declares an entry point in the group
``ireserve_calendar.providers`` whose module implements::

    from ireserve_calendar_plugin.providers.spec import provider_hookimpl

    @provider_hookimpl
    def calendar_provider_register(registry):
        registry.add(MyProvider)

where ``MyProvider`` subclasses :class:`ireserve_calendar_plugin.providers.base.CalendarProvider`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ireserve_calendar_plugin.providers.registry import ProviderRegistry

PROVIDER_PROJECT = "ireserve_calendar"
PROVIDER_ENTRY_POINT_GROUP = "ireserve_calendar.providers"

provider_hookspec = pluggy.HookspecMarker(PROVIDER_PROJECT)
provider_hookimpl = pluggy.HookimplMarker(PROVIDER_PROJECT)


@provider_hookspec
def calendar_provider_register(registry: ProviderRegistry) -> None:
    """Add this distribution's provider classes to ``registry`` with ``registry.add(cls)``.

    Called once when the plugin loads its providers. Must not do I/O.
    """
