"""The engine's front door: one integration's inbound rounds, outbound pushes, channels and cron.

Public API: :class:`SyncEngine`, :class:`QueuedJob`, the job names :data:`JOB_SYNC`, :data:`JOB_OUTBOUND`,
:data:`JOB_CHANNEL`, and :func:`backoff_seconds`.

Jobs carry only ids (integration, calendar key, booking id), so a host may run them on any job
engine, twice, or on two workers at once: rounds and writes take the calendar's lease, state moves
by compare-and-set, creates are idempotent.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from enum import StrEnum

from hookspecs.types import HostApi
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.sync.channels import ChannelForce
from ireserve_calendar_plugin.sync.channels import ChannelKeeper
from ireserve_calendar_plugin.sync.channels import ChannelOutcome
from ireserve_calendar_plugin.sync.inbound import InboundRound
from ireserve_calendar_plugin.sync.inbound import RoundResult
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import SyncOptions
from ireserve_calendar_plugin.sync.outbound import OutboundSync
from ireserve_calendar_plugin.sync.ports import CalendarBackend
from ireserve_calendar_plugin.sync.state import DEFAULT_LEASE_TTL
from ireserve_calendar_plugin.sync.state import Schedule
from ireserve_calendar_plugin.sync.state import StateStore

__all__ = ["JOB_CHANNEL", "JOB_OUTBOUND", "JOB_SYNC", "QueuedJob", "SyncEngine", "Work", "backoff_seconds"]

log = logging.getLogger("ireserve_calendar_plugin.sync")


class Work(StrEnum):
    """The per-calendar work whose failure pushes the next attempt out (its value names it in logs)."""

    SYNC = "sync"
    CHANNEL = "channel"


JOB_SYNC = "calendar.sync"
JOB_OUTBOUND = "calendar.outbound"
JOB_CHANNEL = "calendar.channel"


def backoff_seconds(
    failures: int, *, base: float = 30.0, cap: float = 3600.0, rng: random.Random | None = None
) -> float:
    """Exponential backoff with jitter for the ``failures``-th consecutive failure (1-based)."""
    raw = min(cap, base * 2.0 ** min(max(0, failures - 1), 60))  # bounded: no float overflow
    draw = rng.random() if rng is not None else random.random()
    return raw * (0.5 + draw / 2)


@dataclass(frozen=True)
class QueuedJob:
    """A job to put on the host's queue."""

    name: str
    payload: dict[str, str]
    dedupe_key: str
    run_at: datetime | None = None


def sync_job(integration_id: str, calendar_key: str, run_at: datetime | None = None) -> QueuedJob:
    return QueuedJob(
        JOB_SYNC,
        {"integration": integration_id, "calendar": calendar_key},
        f"{JOB_SYNC}:{integration_id}:{calendar_key}",
        run_at,
    )


def channel_job(
    integration_id: str, calendar_key: str, force: ChannelForce = ChannelForce.NOTHING, run_at: datetime | None = None
) -> QueuedJob:
    payload = {"integration": integration_id, "calendar": calendar_key}
    if force:
        payload["force"] = force.value
    return QueuedJob(JOB_CHANNEL, payload, f"{JOB_CHANNEL}:{integration_id}:{calendar_key}", run_at)


def outbound_job(integration_id: str, booking_id: int, run_at: datetime | None = None, attempt: int = 1) -> QueuedJob:
    return QueuedJob(
        JOB_OUTBOUND,
        {"integration": integration_id, "booking": str(booking_id), "attempt": str(attempt)},
        f"{JOB_OUTBOUND}:{integration_id}:{booking_id}",
        run_at,
    )


class SyncEngine:
    """Everything the plugin does for one integration, minus HTTP routing and admin forms."""

    def __init__(
        self,
        *,
        host: HostApi,
        integration_id: str,
        backend: CalendarBackend,
        store: SecureConfig,
        options: SyncOptions,
        now: Callable[[], datetime],
        push_address: str | None = None,
        lease_ttl: timedelta = DEFAULT_LEASE_TTL,
    ) -> None:
        self.host = host
        self.integration_id = integration_id
        self.backend = backend
        self.store = store
        self.options = options
        self.now = now
        self.push_address = push_address
        self.inbound = InboundRound(
            host=host,
            integration_id=integration_id,
            backend=backend,
            store=store,
            options=options,
            now=now,
            lease_ttl=lease_ttl,
        )
        self.outbound = OutboundSync(
            host=host,
            integration_id=integration_id,
            backend=backend,
            store=store,
            options=options,
            now=now,
            lease_ttl=lease_ttl,
        )
        self.outbound.on_event_gone = self._sync_now
        self.channels = ChannelKeeper(backend=backend, store=store, now=now, lease_ttl=lease_ttl)
        self.states = StateStore(store)
        self.schedule = Schedule(store)

    def close(self) -> None:
        self.backend.close()

    def _sync_now(self, calendar_key: str) -> bool:
        """Queue an inbound round of the calendar at once (deduplicated). Returns whether it was queued."""
        job = sync_job(self.integration_id, calendar_key)
        return self.host.jobs.enqueue(job.name, job.payload, dedupe_key=job.dedupe_key, run_at=job.run_at)

    def __enter__(self) -> SyncEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def calendar(self, key: str) -> CalendarRef:
        for calendar in self.backend.calendars():
            if calendar.key == key:
                return calendar
        raise ConfigError(f"calendar {key} is no longer part of integration {self.integration_id}")

    # -- work -----------------------------------------------------------------------------------
    def sync(self, calendar_key: str) -> RoundResult:
        return self.inbound.run(self.calendar(calendar_key))

    def push_booking(self, booking_id: int) -> list[str]:
        return self.outbound.push(booking_id)

    def keep_channel(self, calendar_key: str, force: ChannelForce = ChannelForce.NOTHING) -> ChannelOutcome:
        if not self.push_address:
            return ChannelOutcome.NO_PUSH_ADDRESS
        return self.channels.ensure(self.calendar(calendar_key), self.push_address, force=force)

    def record_failure(
        self, calendar_key: str, error: BaseException, *, retry_after: float | None = None, what: Work = Work.SYNC
    ) -> datetime:
        """Note a failed round on the calendar's health and push its next attempt out. Returns when."""

        def describe(exc: BaseException) -> str:
            return f"{type(exc).__name__}: {exc}"[:300] if isinstance(exc, CalendarPluginError) else type(exc).__name__

        for _ in range(10):
            state = self.states.load(calendar_key)
            failures = state.error_count + 1
            changed = state.but(last_error=describe(error), error_count=failures, last_attempt=self.now())
            if self.states.commit(calendar_key, changed):
                break
        delay = max(backoff_seconds(failures), retry_after or 0.0)
        when = self.now() + timedelta(seconds=delay)
        if what == Work.SYNC:
            self.schedule.next_sync(calendar_key, when)
        else:
            self.schedule.next_renewal(calendar_key, when)
        return when

    # -- cron -----------------------------------------------------------------------------------
    def due(self, now: datetime) -> list[QueuedJob]:
        """The jobs this tick should queue: polls of calendars not synced for 30 minutes (or never),
        and channel creations and renewals that are due. Local work only; no API call."""
        plan = self.schedule.load()
        jobs: list[QueuedJob] = []
        for calendar in self.backend.calendars():
            entry = plan.get(calendar.key, {})
            # the channel first: a new channel queues its catch-up sync, which the poll queued right
            # after it then absorbs (same dedupe key), instead of a second round per calendar
            if self.push_address:
                renew_at = entry.get("renew")
                if renew_at is None or datetime.fromisoformat(renew_at) <= now:
                    jobs.append(channel_job(self.integration_id, calendar.key))
            sync_at = entry.get("sync")
            if sync_at is None or datetime.fromisoformat(sync_at) <= now:
                jobs.append(sync_job(self.integration_id, calendar.key))
        return jobs
