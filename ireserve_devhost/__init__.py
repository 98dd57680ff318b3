"""The reference host: a small, real i-Reserve style booking host that runs plugins.

Public API:

* :class:`ReferenceHost` (:mod:`.host`) implements :class:`hookspecs.types.HostApi` on SQLite:
  ``bookings`` (:class:`BookingStore`), ``customers``, ``objects``, ``integrations``, ``config``
  (:class:`ConfigStore`), ``jobs`` (:class:`JobStore`), ``keyring``, ``url_for``, ``now``, plus
  host-side helpers (``add_object``, ``add_customer``, ``add_integration``, ``list_bookings``,
  ``integration_log``, ``cron_tick``, ``rotate_key``, ``drop_key``).
* :func:`get_plugin_manager` and :class:`HostHooks` (:mod:`.hooks`): plugin loading by entry point
  and the typed façade the host calls hooks through.
* :class:`Worker` (:mod:`.jobs`): runs queued jobs through ``on_job`` with leases and backoff.
* :class:`HostApp`, :class:`HostServer`, :func:`serve` (:mod:`.server`): HTTP, cron and workers. Plugin
  routes live under the prefix; the admin pages (:mod:`.admin`, Jinja2 templates in ``templates/``
  through :mod:`.templating`, rendering any plugin's ``on_config_form`` generically with
  :mod:`.form_view` and reading it back with :mod:`.form_data`, plus the objects and a bookings page)
  under ``/admin/``.
* :func:`run_host`, :func:`main` (:mod:`.run`): the command line.

Host developers can read it as the worked example of the contract in :mod:`hookspecs`. It imports
nothing of the plugin: the plugin arrives only through the ``ireserve`` entry-point group.
"""

from __future__ import annotations

from ireserve_devhost.bookings import BookingStore
from ireserve_devhost.config_store import ConfigStore
from ireserve_devhost.db import Database
from ireserve_devhost.directory import LogEntry
from ireserve_devhost.hooks import HostHooks
from ireserve_devhost.hooks import get_plugin_manager
from ireserve_devhost.host import ReferenceHost
from ireserve_devhost.jobs import JobRecord
from ireserve_devhost.jobs import JobStore
from ireserve_devhost.jobs import Worker
from ireserve_devhost.run import main
from ireserve_devhost.run import run_host
from ireserve_devhost.server import HostApp
from ireserve_devhost.server import HostServer
from ireserve_devhost.server import serve

__all__ = [
    "BookingStore",
    "ConfigStore",
    "Database",
    "HostApp",
    "HostHooks",
    "HostServer",
    "JobRecord",
    "JobStore",
    "LogEntry",
    "ReferenceHost",
    "Worker",
    "get_plugin_manager",
    "main",
    "run_host",
    "serve",
]
