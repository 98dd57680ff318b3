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
from ireserve_calendar_plugin.config.form import SETTINGS_KEY
from ireserve_calendar_plugin.config.form import build_form
from ireserve_calendar_plugin.config.form import submit_form
from ireserve_calendar_plugin.runtime import context_for

log = logging.getLogger(__name__)


@hookimpl
def on_config_form(
    host: HostApi, integration: Integration, submitted: Mapping[str, object] | None
) -> ConfigForm | None:
    ctx = context_for(host, integration)
    if ctx is None:
        return None
    if submitted is None:
        return build_form(host, integration, ctx.provider, ctx.store.load(SETTINGS_KEY).data)
    form, _ = submit_form(host, integration, ctx.provider, ctx.store, submitted)
    return form


@hookimpl
def on_booking_status_changed(
    host: HostApi, booking: Booking, old_status: str | None, new_status: str, origin: str
) -> None:
    return None


@hookimpl
def on_cron_tick(host: HostApi, now: datetime) -> None:
    return None


@hookimpl
def on_http_route(host: HostApi, request: HttpRequest) -> HttpResponse | None:
    return None


@hookimpl
def on_job(host: HostApi, job: Job) -> bool | None:
    return None
