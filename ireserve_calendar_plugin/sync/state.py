"""Per-calendar sync state, the round lease, and the integration's schedule, all by compare-and-set.

Public API: :class:`CalendarState`, :class:`StateStore`, :class:`Lease`, :class:`Schedule`,
:data:`SCHEMA_VERSION`.

Keys in the integration's encrypted config: ``cal/<key>`` (cursor, channel, health), ``lease/<key>``
(who runs a round now, until when) and ``schedule`` (when each calendar is next due for a poll or a
channel renewal, so a cron tick reads one document however many calendars there are).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from enum import StrEnum
from typing import Any

from ireserve_calendar_plugin.config.store import SecureConfig

__all__ = [
    "DEFAULT_LEASE_TTL",
    "SCHEMA_VERSION",
    "CalendarState",
    "Lease",
    "Leases",
    "Schedule",
    "StateStore",
    "SyncPhase",
]

#: Bump to force every calendar through a clean full sync after a change of what state means.
SCHEMA_VERSION = 1
#: How long a round (or a write) may hold a calendar's lease without extending it (extended on every
#: page). A worker that dies mid-round blocks its calendar this long at most. The engine takes it as a
#: parameter; the operator's setting is read where the plugin is composed (``runtime.lease_ttl``).
DEFAULT_LEASE_TTL = timedelta(seconds=300)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _until(lease_doc: dict[str, Any]) -> datetime:
    """The expiry of a stored lease document (always written with one)."""
    return datetime.fromisoformat(str(lease_doc["until"]))


class SyncPhase(StrEnum):
    """Where a calendar's sync stands (its value is what the admin sees)."""

    #: never synced
    INITIAL = "initial"
    #: holds a cursor: the next round lists only changes
    INCREMENTAL = "incremental"
    #: synced before, but its cursor was dropped: the next round is a full listing
    NEEDS_RESYNC = "needs resync"


@dataclass(frozen=True)
class CalendarState:
    """What the engine keeps per calendar. ``version`` is the stored version (0 = never stored)."""

    cursor: str | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    resync_reason: str = "initial"
    last_sync: datetime | None = None
    last_attempt: datetime | None = None
    last_error: str = ""
    error_count: int = 0
    channel: dict[str, Any] | None = None
    retiring: tuple[dict[str, Any], ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION
    version: int = 0

    @property
    def phase(self) -> SyncPhase:
        """Where the calendar's sync stands (:class:`SyncPhase`)."""
        if self.cursor:
            return SyncPhase.INCREMENTAL
        return SyncPhase.INITIAL if self.last_sync is None else SyncPhase.NEEDS_RESYNC

    def but(self, **changes: Any) -> CalendarState:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("version")
        for name in ("window_start", "window_end", "last_sync", "last_attempt"):
            data[name] = _iso(data[name])
        data["retiring"] = list(self.retiring)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], version: int) -> CalendarState:
        if data.get("schema") != SCHEMA_VERSION:
            # an old layout: keep the channel (so it can be stopped) but sync afresh
            return cls(channel=data.get("channel"), resync_reason="state schema changed", version=version)
        values = dict(data)
        for name in ("window_start", "window_end", "last_sync", "last_attempt"):
            values[name] = _dt(values.get(name))
        values["retiring"] = tuple(values.get("retiring", ()))
        return cls(**values, version=version)


class StateStore:
    """Loads and commits :class:`CalendarState` by compare-and-set."""

    def __init__(self, store: SecureConfig) -> None:
        self._store = store

    def load(self, calendar_key: str) -> CalendarState:
        doc = self._store.load(f"cal/{calendar_key}")
        return CalendarState.from_json(doc.data, doc.version) if doc.exists else CalendarState()

    def commit(self, calendar_key: str, state: CalendarState) -> bool:
        """Write ``state`` only if the stored version is still ``state.version``."""
        return self._store.save(f"cal/{calendar_key}", state.to_json(), expected_version=state.version)

    def keys(self) -> list[str]:
        return [k[len("cal/") :] for k in self._store.list_keys("cal/")]


@dataclass(frozen=True)
class Lease:
    """A time-limited claim on one calendar's rounds. ``token`` identifies the holder."""

    calendar_key: str
    token: str
    until: datetime


class Leases:
    """Acquire, extend, check and release :class:`Lease` documents by compare-and-set."""

    def __init__(self, store: SecureConfig) -> None:
        self._store = store

    def acquire(self, calendar_key: str, now: datetime, ttl: timedelta) -> Lease | None:
        """Take the lease if it is free or expired; None if someone else holds it."""
        key = f"lease/{calendar_key}"
        doc = self._store.load(key)
        if doc.exists and _until(doc.data) > now:
            return None
        lease = Lease(calendar_key, secrets.token_hex(8), now + ttl)
        if not self._store.save(key, {"token": lease.token, "until": _iso(lease.until)}, expected_version=doc.version):
            return None
        return lease

    def extend(self, lease: Lease, now: datetime, ttl: timedelta) -> Lease | None:
        """Push the expiry out; None when the lease was lost (expired and taken by another)."""
        key = f"lease/{lease.calendar_key}"
        doc = self._store.load(key)
        if not doc.exists or doc.data["token"] != lease.token:
            return None
        longer = replace(lease, until=now + ttl)
        if not self._store.save(key, {"token": lease.token, "until": _iso(longer.until)}, expected_version=doc.version):
            return None
        return longer

    def holds(self, lease: Lease, now: datetime) -> bool:
        """The fencing check before a commit: still ours and not expired."""
        doc = self._store.load(f"lease/{lease.calendar_key}")
        return doc.exists and doc.data["token"] == lease.token and _until(doc.data) > now

    def release(self, lease: Lease) -> None:
        key = f"lease/{lease.calendar_key}"
        doc = self._store.load(key)
        if doc.exists and doc.data["token"] == lease.token:
            self._store.save(key, None, expected_version=doc.version)


class Schedule:
    """When each calendar is next due: ``{key: {"sync": iso, "renew": iso | None}}`` in one document."""

    KEY = "schedule"

    def __init__(self, store: SecureConfig) -> None:
        self._store = store

    def load(self) -> dict[str, dict[str, str | None]]:
        return dict(self._store.load(self.KEY, {}).data or {})

    def next_sync(self, calendar_key: str, when: datetime) -> None:
        """Record when ``calendar_key`` is next due for a poll (its renewal stays as it is)."""
        self._update_entry(calendar_key, "sync", when)

    def next_renewal(self, calendar_key: str, when: datetime | None) -> None:
        """Record when the channel of ``calendar_key`` is next due for renewal (None: it has none)."""
        self._update_entry(calendar_key, "renew", when)

    def _update_entry(self, calendar_key: str, name: str, when: datetime | None) -> None:
        def change(data: dict[str, Any] | None) -> dict[str, Any]:
            data = dict(data or {})
            entry = dict(data.get(calendar_key, {}))
            entry[name] = _iso(when)
            data[calendar_key] = entry
            return data

        self._store.update(self.KEY, change, default={})

    def drop(self, calendar_keys: set[str]) -> None:
        self._store.update(
            self.KEY, lambda d: {k: v for k, v in (d or {}).items() if k not in calendar_keys}, default={}
        )
