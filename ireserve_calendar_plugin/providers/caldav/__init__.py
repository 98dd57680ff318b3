"""The CalDAV provider (Nextcloud, Fastmail, iCloud, SOGo, Radicale): username and app password, no push.

Registered through the ``ireserve_calendar.providers`` entry point ``caldav``.

Public API: :class:`CalDavProvider`, :data:`EXTRA_HINT`. Its parts: :mod:`.settings` (the schema),
:mod:`.dav` (WebDAV requests and the one error mapping), :mod:`.discovery` (the calendar home set,
listed by the plugin's choices job), :mod:`.ical` (VEVENT <-> model, recurrence) and :mod:`.backend` (the
engine's ``CalendarBackend``).

This module imports without the ``[caldav]`` extra, so the provider is always offered; what needs
the extra (:mod:`.ical`, :mod:`.backend`) is imported when used, and without it the integration says
in words what to install (:data:`EXTRA_HINT`).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from hookspecs.types import HostApi
from hookspecs.types import HttpRequest
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.errors import NotConfiguredError
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.base import CalendarProvider
from ireserve_calendar_plugin.providers.base import PushParse
from ireserve_calendar_plugin.providers.caldav import discovery
from ireserve_calendar_plugin.providers.caldav.settings import CalDavSettingsSchema
from ireserve_calendar_plugin.providers.registry import ProviderRegistry
from ireserve_calendar_plugin.providers.spec import provider_hookimpl
from ireserve_calendar_plugin.sync.ports import CalendarBackend

__all__ = ["EXTRA_HINT", "CalDavProvider", "extra_installed"]

log = logging.getLogger("ireserve_calendar_plugin.caldav")

EXTRA_MODULES = ("icalendar", "recurring_ical_events")
EXTRA_HINT = (
    "The CalDAV provider needs its libraries (icalendar, recurring-ical-events): "
    "pip install 'ireserve-calendar-plugin[caldav]'"
)


def extra_installed() -> bool:
    """Whether the ``[caldav]`` extra's libraries can be imported."""
    return all(importlib.util.find_spec(name) is not None for name in EXTRA_MODULES)


def _require_extra() -> None:
    if not extra_installed():
        raise NotConfiguredError(EXTRA_HINT)


class CalDavProvider(CalendarProvider):
    """CalDAV over HTTP Basic (an app password); polled, as CalDAV has no push."""

    name = "caldav"
    title = "CalDAV (Nextcloud, Fastmail, iCloud, SOGo, Radicale)"
    settings_schema = CalDavSettingsSchema
    supports_push = False

    def validate_settings(self, host: HostApi, settings: Mapping[str, Any]) -> dict[str, str]:
        for row in settings.get("calendar_mapping", []):
            if row["object"] != "*" and host.objects.get(int(row["object"])) is None:
                return {"calendar_mapping": f"Object {row['object']} does not exist."}
        inbound = settings.get("inbound_object_id")
        if inbound is not None and host.objects.get(int(inbound)) is None:
            return {"inbound_object_id": f"Object {inbound} does not exist."}
        return {}

    def uses_authorization_code(self, settings: Mapping[str, Any]) -> bool:
        return False

    def form_choices(self, ctx: BackendContext) -> dict[str, list[tuple[str, str]]]:
        """The account's event calendars, found through the principal's calendar home set (three
        PROPFINDs; run by the plugin's choices job, never while the form renders). A listing proves the
        credentials, so it marks the integration connected."""
        _require_extra()
        from ireserve_calendar_plugin.providers.caldav.backend import CalDavBackend

        backend = CalDavBackend(ctx)
        try:
            found = discovery.discover(backend.dav, urlsplit(str(ctx.settings["server_url"])).path or "/")
        finally:
            backend.close()
        AuthStatus(ctx.store).mark_connected(self.account_label(ctx), ctx.now())
        offered = [(c["path"], f"{c['name'] or c['path']}{'' if c['writable'] else ' (read-only)'}") for c in found]
        return {"calendar_mapping.calendar_id": offered}

    def account_label(self, ctx: BackendContext) -> str:
        return f"{ctx.settings['username']} @ {urlsplit(str(ctx.settings['server_url'])).hostname}"

    def backend(self, ctx: BackendContext) -> CalendarBackend:
        _require_extra()
        from ireserve_calendar_plugin.providers.caldav.backend import CalDavBackend

        return CalDavBackend(ctx)

    def parse_push(self, request: HttpRequest) -> PushParse:
        """CalDAV has no push: nothing that arrives at the push route is ours."""
        return PushParse(ack_status=404)


@provider_hookimpl
def calendar_provider_register(registry: ProviderRegistry) -> None:
    if not extra_installed():
        log.warning(EXTRA_HINT)
    registry.add(CalDavProvider)
