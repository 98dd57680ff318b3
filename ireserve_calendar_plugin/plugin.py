"""The host-facing plugin: the hook implementations, thin, delegating to services.

Registered in the host's ``ireserve`` entry-point group as ``calendar``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from hookspecs import hookimpl
from hookspecs.forms import ConfigForm
from hookspecs.types import Booking
from hookspecs.types import HostApi
from hookspecs.types import HttpRequest
from hookspecs.types import HttpResponse
from hookspecs.types import Integration
from hookspecs.types import Job
from ireserve_calendar_plugin import services
from ireserve_calendar_plugin.admin import config_form
from ireserve_calendar_plugin.removal import integration_removed
from ireserve_calendar_plugin.web import routes

log = logging.getLogger(__name__)


@hookimpl
def on_config_form(
    host: HostApi, integration: Integration, submitted: Mapping[str, object] | None
) -> ConfigForm | None:
    return config_form(host, integration, submitted)


@hookimpl
def on_booking_status_changed(
    host: HostApi, booking: Booking, old_status: str | None, new_status: str, origin: str
) -> None:
    services.booking_changed(host, booking, origin)


@hookimpl
def on_cron_tick(host: HostApi, now: datetime) -> None:
    services.cron_tick(host, now)


@hookimpl
def on_http_route(host: HostApi, request: HttpRequest) -> HttpResponse | None:
    return routes.handle(host, request)


@hookimpl
def on_job(host: HostApi, job: Job) -> bool | None:
    return services.run_job(host, job)


@hookimpl
def on_integration_removed(host: HostApi, integration: Integration) -> bool | None:
    return integration_removed(host, integration)
