"""The hooks a host calls on its plugins. Each docstring is the contract.

Public API: :func:`on_booking_status_changed`, :func:`on_cron_tick`, :func:`on_http_route`,
:func:`on_config_form`, :func:`on_job`, and the optional :func:`on_integration_removed`.

Every hook is called with keyword arguments only. ``on_booking_status_changed``, ``on_cron_tick`` and
``on_job`` may be delivered more than once for the same event (hosts deliver at least once, and
distributed job engines retry), so implementations must be idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from hookspecs.forms import ConfigForm
from hookspecs.markers import hookspec
from hookspecs.types import Booking
from hookspecs.types import HostApi
from hookspecs.types import HttpRequest
from hookspecs.types import HttpResponse
from hookspecs.types import Integration
from hookspecs.types import Job

# --------------------------------------------------------------------------- bookings


@hookspec
def on_booking_status_changed(
    host: HostApi, booking: Booking, old_status: str | None, new_status: str, origin: str
) -> None:
    """React to a booking that was created or changed.

    The host calls this after the change is committed:
    when a booking is created (``old_status`` is None), when its status changes, and when its times
    or its object change (then ``old_status == new_status`` is possible).

    :param host: the host services (:class:`hookspecs.types.HostApi`).
    :param booking: the booking as it is now, after the change.
    :param old_status: the status before the change, or None for a new booking.
    :param new_status: the status after the change.
    :param origin: who made the change: ``"user:<id>"``, ``"system"`` or ``"calendar:<integration id>"``
        for a plugin's own write, so a plugin can ignore its own echo even across processes.
    :returns: nothing. A plugin must not block: queue slow work with ``host.jobs``.
    :raises: nothing on purpose. An exception is logged by the host and does not undo the change.
    """


# --------------------------------------------------------------------------- time


@hookspec
def on_cron_tick(host: HostApi, now: datetime) -> None:
    """Do periodic work. The host calls this at least once a minute, possibly from several processes.

    :param host: the host services.
    :param now: the tick's time, timezone-aware.
    :returns: nothing. Work should be cheap and proportional to what is due; slow work goes to jobs.
    """


# --------------------------------------------------------------------------- web


@hookspec(firstresult=True)
def on_http_route(host: HostApi, request: HttpRequest) -> HttpResponse | None:
    """Answer an HTTP request under the plugins' URL prefix (``host.url_for`` builds its URLs).

    Stops at the first non-None result. The host answers 404 when every plugin returns None, and 500
    (without details) when a plugin raises.

    :param host: the host services.
    :param request: the request, with ``path`` relative to the prefix.
    :returns: the response, or None when the path is not this plugin's.
    """


# --------------------------------------------------------------------------- admin


@hookspec
def on_config_form(
    host: HostApi, integration: Integration, submitted: Mapping[str, object] | None
) -> ConfigForm | None:
    """Describe, and optionally save, the admin form of one integration.

    Every plugin receives the call; the one serving ``integration.provider`` answers, others return
    None. The host renders the first non-None :class:`hookspecs.forms.ConfigForm` of the result list.

    :param host: the host services.
    :param integration: the integration being configured.
    :param submitted: None to just show the form; otherwise the submitted values by field name. The
        plugin validates them all, and either stores them all (``saved=True``) or stores nothing
        and returns the form with per-field errors.
    :returns: the form, or None when this plugin does not serve the integration.
    """


# --------------------------------------------------------------------------- jobs


@hookspec(firstresult=True)
def on_job(host: HostApi, job: Job) -> bool | None:
    """Run one queued job that a plugin put on ``host.jobs``.

    Stops at the first non-None result. A job may be delivered twice or run by two workers at
    once; plugins make their jobs idempotent.

    :param host: the host services.
    :param job: the job (name and payload of plain ids).
    :returns: True when this plugin owned and ran the job, None when the name is not its own.
    :raises: any exception to ask the host to retry the job later with backoff.
    """


# --------------------------------------------------------------------------- integrations


@hookspec(firstresult=True)
def on_integration_removed(host: HostApi, integration: Integration) -> bool | None:
    """Tell the plugin serving ``integration`` that an admin deleted it, so it can clean up at the provider.

    Optional for hosts, and a plugin works without it (whatever it keeps at a provider, such as push
    channels, then lasts until it expires there). A host that deletes integrations calls it once the
    integration is no longer listed (``host.integrations.get`` returns None) and before it deletes the
    integration's config. The plugin may read and write that config and queue jobs here, nothing slower
    (no provider call); its jobs then run for an integration the host no longer lists. Bookings are
    the host's: no plugin changes them because an integration was removed.

    :param host: the host services.
    :param integration: the integration as it was before it was deleted.
    :returns: True when the plugin still needs the integration's config to clean up and deletes every
        key of it itself when done: the host then leaves the config alone, and gives no new integration
        this id while ``host.config.keys(integration.id)`` lists any key. None when the plugin keeps
        nothing: the host deletes the config.
    """
