"""What every part of the engine works within: one integration's host, backend, options, clock, stores.

Public API: :class:`IntegrationScoped`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hookspecs.types import HostApi
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.sync.links import LinkStore
from ireserve_calendar_plugin.sync.model import SyncOptions
from ireserve_calendar_plugin.sync.ports import CalendarBackend
from ireserve_calendar_plugin.sync.state import Leases

__all__ = ["IntegrationScoped"]


class IntegrationScoped:
    """Base of the inbound and outbound workers: writes carry ``origin``; links and leases live in ``store``."""

    def __init__(
        self,
        *,
        host: HostApi,
        integration_id: str,
        backend: CalendarBackend,
        store: SecureConfig,
        options: SyncOptions,
        now: Callable[[], datetime],
    ) -> None:
        self.host = host
        self.integration_id = integration_id
        self.origin = f"calendar:{integration_id}"
        self.backend = backend
        self.store = store
        self.options = options
        self.now = now
        self.links = LinkStore(store)
        self.leases = Leases(store)
