"""What every part of the engine works within: one integration's host, backend, options, clock, stores.

Public API: :class:`IntegrationScoped`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from datetime import timedelta

from hookspecs.types import HostApi
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.sync.echo import origin_of
from ireserve_calendar_plugin.sync.links import LinkStore
from ireserve_calendar_plugin.sync.model import SyncOptions
from ireserve_calendar_plugin.sync.ports import CalendarBackend
from ireserve_calendar_plugin.sync.state import DEFAULT_LEASE_TTL
from ireserve_calendar_plugin.sync.state import Leases

__all__ = ["IntegrationScoped"]


class IntegrationScoped:
    """Base of the inbound and outbound workers: writes carry ``origin``; links and leases live in ``store``;
    a calendar's lease is taken for ``lease_ttl`` at a time."""

    def __init__(
        self,
        *,
        host: HostApi,
        integration_id: str,
        backend: CalendarBackend,
        store: SecureConfig,
        options: SyncOptions,
        now: Callable[[], datetime],
        lease_ttl: timedelta = DEFAULT_LEASE_TTL,
    ) -> None:
        self.host = host
        self.integration_id = integration_id
        self.origin = origin_of(integration_id)
        self.backend = backend
        self.store = store
        self.options = options
        self.now = now
        self.lease_ttl = lease_ttl
        self.links = LinkStore(store)
        self.leases = Leases(store)
