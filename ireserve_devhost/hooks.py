"""How the reference host loads its plugins and calls their hooks.

Public API: :func:`get_plugin_manager`, :class:`HostHooks`, :data:`DISABLED_PLUGINS_ENV`.

Loading is exactly what a production host does: a ``pluggy.PluginManager`` named
:data:`hookspecs.PROJECT_NAME`, the specs of :mod:`hookspecs.spec`, and every plugin of the
``ireserve`` entry-point group, minus the names listed in ``IRESERVE_DISABLED_PLUGINS``.

:class:`HostHooks` is the host's only way to call a hook (tox's typed ``Plugin`` façade): one method
per hook, always with keyword arguments, with the host passed in. It applies the contract's error
rules: an exception from ``on_booking_status_changed`` or ``on_cron_tick`` is logged and swallowed
(the change stays committed; pluggy stops calling further plugins of that hook), while exceptions
from the other hooks propagate to the caller that maps them (HTTP 500, job retry, admin error).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import datetime

import pluggy

from hookspecs import spec
from hookspecs.forms import ConfigForm
from hookspecs.markers import PROJECT_NAME
from hookspecs.types import Booking
from hookspecs.types import HostApi
from hookspecs.types import HttpRequest
from hookspecs.types import HttpResponse
from hookspecs.types import Integration
from hookspecs.types import Job

__all__ = ["DISABLED_PLUGINS_ENV", "HostHooks", "get_plugin_manager"]

log = logging.getLogger(__name__)

#: Comma-separated plugin (entry-point) names the host must not load.
DISABLED_PLUGINS_ENV = "IRESERVE_DISABLED_PLUGINS"


def get_plugin_manager(*, entrypoints: bool = True, disabled: Iterable[str] | None = None) -> pluggy.PluginManager:
    """Return a plugin manager with the host specs and the installed plugins.

    :param entrypoints: load the ``ireserve`` entry-point group (False gives an empty manager, for
        tests that register their own plugin objects).
    :param disabled: plugin names to block; by default read from ``IRESERVE_DISABLED_PLUGINS``.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(spec)
    if disabled is None:
        disabled = os.environ.get(DISABLED_PLUGINS_ENV, "").split(",")
    for name in disabled:
        if name.strip():
            pm.set_blocked(name.strip())
    if entrypoints:
        count = pm.load_setuptools_entrypoints(PROJECT_NAME)
        log.info("loaded %d plugin(s) from the %r entry points", count, PROJECT_NAME)
    pm.check_pending()
    return pm


class HostHooks:
    """A typed façade over ``pm.hook`` that passes ``host`` and keywords on every call."""

    def __init__(self, pm: pluggy.PluginManager, host: HostApi) -> None:
        self.pm = pm
        self._host = host

    def booking_status_changed(self, booking: Booking, old_status: str | None, new_status: str, origin: str) -> None:
        """Tell plugins about a committed booking change; their errors are logged, never raised."""
        try:
            self.pm.hook.on_booking_status_changed(
                host=self._host, booking=booking, old_status=old_status, new_status=new_status, origin=origin
            )
        except Exception:
            log.exception(
                "on_booking_status_changed failed for booking %s (%s -> %s)",
                booking.id,
                old_status,
                new_status,
            )

    def cron_tick(self, now: datetime) -> None:
        """Give plugins their periodic turn; their errors are logged, never raised."""
        try:
            self.pm.hook.on_cron_tick(host=self._host, now=now)
        except Exception:
            log.exception("on_cron_tick failed at %s", now.isoformat())

    def http_route(self, request: HttpRequest) -> HttpResponse | None:
        """Return the first plugin's response to a request under the prefix, or None. Errors propagate."""
        response: HttpResponse | None = self.pm.hook.on_http_route(host=self._host, request=request)
        return response

    def config_form(self, integration: Integration, submitted: Mapping[str, object] | None) -> ConfigForm | None:
        """Return the first non-None admin form of an integration, or None. Errors propagate."""
        forms = self.pm.hook.on_config_form(host=self._host, integration=integration, submitted=submitted)
        return next((form for form in forms if form is not None), None)

    def integration_removed(self, integration: Integration) -> bool:
        """Tell plugins an integration was deleted; True when one keeps its config to clean up (and deletes it
        itself). Errors are logged, never raised: the config is then dropped by the host."""
        try:
            kept = self.pm.hook.on_integration_removed(host=self._host, integration=integration)
        except Exception:
            log.exception("on_integration_removed failed for integration %s", integration.id)
            return False
        return bool(kept)

    def job(self, job: Job) -> bool | None:
        """Run a job through the plugin that owns its name; None when none does. Errors propagate."""
        handled: bool | None = self.pm.hook.on_job(host=self._host, job=job)
        return handled
