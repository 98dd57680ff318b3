"""The composition root: from a host and an integration to the objects that serve it.

Public API: :func:`providers`, :func:`provider_for`, :class:`IntegrationContext`, :func:`context_for`,
:func:`origin_of`, :data:`ORIGIN_PREFIX`.

Nothing here keeps state between calls except the provider registry (loaded once per process from
entry points): everything workers share lives in the host's storage.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import replace
from datetime import timedelta
from typing import Any

import requests

from hookspecs.types import HostApi
from hookspecs.types import Integration
from hookspecs.types import SleepingHost
from ireserve_calendar_plugin.config.form import load_settings
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.base import CalendarProvider
from ireserve_calendar_plugin.providers.registry import ProviderRegistry
from ireserve_calendar_plugin.providers.registry import load_providers
from ireserve_calendar_plugin.sync.echo import ORIGIN_PREFIX
from ireserve_calendar_plugin.sync.echo import origin_of
from ireserve_calendar_plugin.sync.engine import SyncEngine
from ireserve_calendar_plugin.sync.model import SyncOptions
from ireserve_calendar_plugin.sync.state import DEFAULT_LEASE_TTL

__all__ = [
    "CLICK_TIMEOUT",
    "ORIGIN_PREFIX",
    "IntegrationContext",
    "backend_context",
    "click_context",
    "context_for",
    "engine_for",
    "lease_ttl",
    "origin_of",
    "provider_for",
    "providers",
    "push_address",
    "served_integrations",
]

#: The operator's setting of the calendar lease length, in seconds (see :func:`lease_ttl`).
LEASE_SECONDS_VARIABLE = "IRESERVE_CALENDAR_LEASE_SECONDS"
MIN_LEASE_SECONDS = 2
MAX_LEASE_SECONDS = 3600

_registry: ProviderRegistry | None = None
_registry_lock = threading.Lock()


def providers() -> ProviderRegistry:
    """Return the provider registry, loading entry points on first use."""
    global _registry
    with _registry_lock:
        if _registry is None:
            _registry = load_providers()
        return _registry


def reset_providers() -> None:
    """Forget the loaded registry (tests that install providers on the fly)."""
    global _registry
    with _registry_lock:
        _registry = None


def provider_for(integration: Integration) -> CalendarProvider | None:
    """Return a provider instance for the integration, or None when no installed provider serves it."""
    registry = providers()
    if integration.provider not in registry:
        return None
    return registry.get(integration.provider)()


@dataclass(frozen=True)
class IntegrationContext:
    """What serving one integration needs: the host, the integration, its provider and its store."""

    host: HostApi
    integration: Integration
    provider: CalendarProvider
    store: SecureConfig

    @property
    def origin(self) -> str:
        return origin_of(self.integration.id)


def context_for(host: HostApi, integration: Integration) -> IntegrationContext | None:
    """Build the context of an integration this plugin serves, or None."""
    provider = provider_for(integration)
    if provider is None:
        return None
    return IntegrationContext(host, integration, provider, SecureConfig(host.config, host.keyring, integration.id))


def push_address(ctx: IntegrationContext) -> str:
    """The public URL the provider pushes this integration's notifications to."""
    return ctx.host.url_for(f"/calendar/push/{ctx.integration.provider}/{ctx.integration.id}")


def backend_context(ctx: IntegrationContext, settings: dict[str, Any]) -> BackendContext:
    """What a provider's backend gets. Waits (pacing, retries) use the host's ``sleep`` when it offers one
    (the contract's optional :class:`~hookspecs.types.SleepingHost`: a host on a simulated clock makes them
    pass on that clock), else ``time.sleep``."""
    sleep = ctx.host.sleep if isinstance(ctx.host, SleepingHost) else time.sleep
    return BackendContext(
        host=ctx.host,
        integration_id=ctx.integration.id,
        settings=settings,
        store=ctx.store,
        now=ctx.host.now,
        sleep=sleep,
        issuer=ctx.provider.endpoint_settings(settings),
    )


def lease_ttl() -> timedelta:
    """The calendar lease length: the operator's ``IRESERVE_CALENDAR_LEASE_SECONDS`` (read when an engine
    is built, never at import), else :data:`~ireserve_calendar_plugin.sync.state.DEFAULT_LEASE_TTL`.
    Shorter bounds how long a dead worker blocks a calendar; one API page must always arrive within it."""
    raw = os.environ.get(LEASE_SECONDS_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_LEASE_TTL
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if not MIN_LEASE_SECONDS <= seconds <= MAX_LEASE_SECONDS:
        raise ConfigError(
            f"{LEASE_SECONDS_VARIABLE} must be a whole number of seconds from {MIN_LEASE_SECONDS} "
            f"to {MAX_LEASE_SECONDS}, not {raw[:20]!r}"
        )
    return timedelta(seconds=seconds)


#: How long, in all, the provider calls made while an admin waits for a page (a click) may take, in seconds.
CLICK_TIMEOUT = 5.0


class _DeadlineSession(requests.Session):
    """A session whose requests all end by one deadline: each gets at most the time that is left."""

    def __init__(self, budget: float) -> None:
        super().__init__()
        self.deadline = time.monotonic() + budget

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise requests.Timeout("the time for this click is used up")
        asked = kwargs.get("timeout")
        kwargs["timeout"] = left if not isinstance(asked, int | float) else min(float(asked), left)
        return super().request(method, url, *args, **kwargs)


def _no_retry(seconds: float) -> None:
    raise TransientError(f"no answer in time; not retried while an admin waits ({seconds:.1f}s wait refused)")


@contextmanager
def click_context(ctx: IntegrationContext, settings: dict[str, Any]) -> Iterator[BackendContext]:
    """A backend context for calls made while an admin waits: :data:`CLICK_TIMEOUT` seconds for all of
    them together, and no retries (a wait before a retry raises :class:`TransientError` instead)."""
    session = _DeadlineSession(CLICK_TIMEOUT)
    try:
        yield replace(backend_context(ctx, settings), session=session, sleep=_no_retry)
    finally:
        session.close()


def engine_for(ctx: IntegrationContext) -> SyncEngine:
    """Build the sync engine of a configured integration (raises :class:`NotConfiguredError` if not)."""
    settings = load_settings(ctx.store, ctx.provider)
    backend = ctx.provider.backend(backend_context(ctx, settings))
    return SyncEngine(
        host=ctx.host,
        integration_id=ctx.integration.id,
        backend=backend,
        store=ctx.store,
        options=SyncOptions.from_settings(ctx.provider.name, settings),
        now=ctx.host.now,
        push_address=push_address(ctx) if ctx.provider.supports_push else None,
        lease_ttl=lease_ttl(),
    )


def served_integrations(host: HostApi, *, disabled_too: bool = False) -> list[IntegrationContext]:
    """The enabled integrations this plugin serves (``disabled_too``: the disabled ones as well)."""
    out = []
    for integration in host.integrations.all():
        if integration.enabled or disabled_too:
            ctx = context_for(host, integration)
            if ctx is not None:
                out.append(ctx)
    return out
