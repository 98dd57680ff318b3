"""Finding the calendar providers: a registry filled through the providers' entry points.

Public API: :class:`ProviderRegistry`, :func:`load_providers`, :data:`DISABLED_ENV`, :data:`TRACE_ENV`.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os

import pluggy

from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.providers import spec
from ireserve_calendar_plugin.providers.base import CalendarProvider

__all__ = ["DISABLED_ENV", "TRACE_ENV", "ProviderRegistry", "load_providers"]

log = logging.getLogger(__name__)

#: Comma-separated entry-point names of providers not to load (``set_blocked``).
DISABLED_ENV = "IRESERVE_CALENDAR_DISABLED_PROVIDERS"
#: Set to 1 to log every provider hook call (pluggy hook-call monitoring).
TRACE_ENV = "IRESERVE_CALENDAR_TRACE_PROVIDERS"


class ProviderRegistry:
    """The provider classes available, by their ``name``."""

    def __init__(self) -> None:
        self._providers: dict[str, type[CalendarProvider]] = {}

    def add(self, provider: type[CalendarProvider]) -> None:
        """Register a provider class. Two classes may not claim the same name."""
        if not (isinstance(provider, type) and issubclass(provider, CalendarProvider)):
            raise TypeError(f"{provider!r} is not a CalendarProvider subclass")
        if not provider.name:
            raise TypeError(f"{provider.__name__} has no name")
        existing = self._providers.get(provider.name)
        if existing is not None and existing is not provider:
            raise ValueError(f"two providers claim the name {provider.name!r}")
        self._providers[provider.name] = provider

    def get(self, name: str) -> type[CalendarProvider]:
        """Return the provider class for ``name`` or raise :class:`ConfigError`."""
        try:
            return self._providers[name]
        except KeyError:
            raise ConfigError(f"no calendar provider named {name!r} is installed") from None

    def names(self) -> list[str]:
        return sorted(self._providers)

    def __contains__(self, name: object) -> bool:
        return name in self._providers


def load_providers(*, plugin_manager: pluggy.PluginManager | None = None) -> ProviderRegistry:
    """Load every provider declared in the ``ireserve_calendar.providers`` entry-point group.

    Honours :data:`DISABLED_ENV` and :data:`TRACE_ENV`. A provider distribution that fails to
    import is logged and skipped, so one broken provider cannot take the others down.
    """
    pm = plugin_manager or pluggy.PluginManager(spec.PROVIDER_PROJECT)
    pm.add_hookspecs(spec)
    for name in filter(None, (n.strip() for n in os.environ.get(DISABLED_ENV, "").split(","))):
        pm.set_blocked(name)
    if os.environ.get(TRACE_ENV) == "1":
        pm.add_hookcall_monitoring(
            lambda hook_name, impls, kwargs: log.info("provider hook %s -> %d impls", hook_name, len(impls)),
            lambda outcome, hook_name, impls, kwargs: None,
        )
    _load_entry_points(pm)
    pm.check_pending()
    registry = ProviderRegistry()
    pm.hook.calendar_provider_register(registry=registry)
    return registry


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    """Like ``load_setuptools_entrypoints``, but one provider that fails to import is skipped and logged."""
    for dist in list(importlib.metadata.distributions()):
        for ep in dist.entry_points:
            if ep.group != spec.PROVIDER_ENTRY_POINT_GROUP or pm.get_plugin(ep.name) or pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except Exception:
                log.exception("calendar provider %r failed to load; skipped", ep.name)
                continue
            pm.register(plugin, name=ep.name)
