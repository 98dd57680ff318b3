"""The host contract of an i-Reserve style booking system, for its plugins.

A host creates ``pluggy.PluginManager(PROJECT_NAME)``, adds :mod:`hookspecs.spec`, loads plugins from the
``ireserve`` entry-point group and calls the hooks with keyword arguments. A plugin marks its
implementations with :data:`hookimpl`::

    from hookspecs import hookimpl

    @hookimpl
    def on_cron_tick(host, now):
        ...

This package imports nothing from any plugin.
"""

from __future__ import annotations

from hookspecs import spec
from hookspecs.forms import ActivityHour
from hookspecs.forms import ChannelState
from hookspecs.forms import ConfigForm
from hookspecs.forms import Conflict
from hookspecs.forms import FormAction
from hookspecs.forms import FormColumn
from hookspecs.forms import FormField
from hookspecs.forms import FormLink
from hookspecs.forms import HealthRow
from hookspecs.forms import HealthState
from hookspecs.markers import PROJECT_NAME
from hookspecs.markers import hookimpl
from hookspecs.markers import hookspec
from hookspecs.types import BookableObject
from hookspecs.types import Booking
from hookspecs.types import BookingConflictError
from hookspecs.types import BookingNotFoundError
from hookspecs.types import ConfigEntry
from hookspecs.types import Customer
from hookspecs.types import HostApi
from hookspecs.types import HostError
from hookspecs.types import HttpRequest
from hookspecs.types import HttpResponse
from hookspecs.types import Integration
from hookspecs.types import Job
from hookspecs.types import KeyRing
from hookspecs.types import ResultPage

__all__ = [
    "PROJECT_NAME",
    "ActivityHour",
    "BookableObject",
    "Booking",
    "BookingConflictError",
    "BookingNotFoundError",
    "ConfigEntry",
    "ChannelState",
    "ConfigForm",
    "Conflict",
    "Customer",
    "FormAction",
    "FormColumn",
    "FormField",
    "FormLink",
    "HealthRow",
    "HealthState",
    "HostApi",
    "HostError",
    "HttpRequest",
    "HttpResponse",
    "Integration",
    "Job",
    "KeyRing",
    "ResultPage",
    "hookimpl",
    "hookspec",
    "spec",
]
