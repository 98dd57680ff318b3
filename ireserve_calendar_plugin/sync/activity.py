"""What happened to each calendar lately, for its health: rounds, changes and failures per hour, the
last success and the last failure, and the bookings whose write waits for a retry.

Public API: :class:`ActivityLog`, :class:`CalendarActivity`, :class:`PendingWrites`, :class:`PendingWrite`,
:data:`HOURS_KEPT`.

Facts only (counts, times, a problem kind chosen by the caller): the words come from the plugin's
:mod:`ireserve_calendar_plugin.messages`. Keys in the integration's encrypted config:
``activity/<calendar key>`` (one small document per calendar, updated by compare-and-set) and
``pending/outbound`` (booking id -> its failed write).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any

from ireserve_calendar_plugin.config.store import SecureConfig

__all__ = ["HOURS_KEPT", "ActivityLog", "CalendarActivity", "PendingWrite", "PendingWrites"]

#: How many hours of activity a calendar keeps.
HOURS_KEPT = 24


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass(frozen=True)
class CalendarActivity:
    """One calendar's recent facts. ``hours`` maps the start of an hour (aware) to ``(rounds, changes,
    failures)``; ``problem`` is the kind of the last failure (empty once a round succeeded after it),
    ``failures_in_a_row`` counts failures since the last success, ``retry_at`` when the next attempt is due."""

    hours: dict[datetime, tuple[int, int, int]] = field(default_factory=dict)
    last_success: datetime | None = None
    last_failure: datetime | None = None
    problem: str = ""
    failures_in_a_row: int = 0
    retry_at: datetime | None = None

    @property
    def failing(self) -> bool:
        """True when the last attempt failed (no success since)."""
        return bool(self.problem)

    def last_hours(self, now: datetime, count: int = HOURS_KEPT) -> list[tuple[datetime, int, int, int]]:
        """``count`` hours ending with the current one, oldest first, zeros where nothing happened."""
        current = _hour(now)
        out = []
        for back in range(count - 1, -1, -1):
            start = current - timedelta(hours=back)
            rounds, changes, failures = self.hours.get(start, (0, 0, 0))
            out.append((start, rounds, changes, failures))
        return out


class ActivityLog:
    """Records and reads :class:`CalendarActivity` (one document per calendar)."""

    PREFIX = "activity/"

    def __init__(self, store: SecureConfig) -> None:
        self._store = store

    def load(self, calendar_key: str) -> CalendarActivity:
        data = self._store.load(self.PREFIX + calendar_key, {}).data or {}
        hours = {}
        for start, counts in (data.get("hours") or {}).items():
            hours[datetime.fromisoformat(start)] = (int(counts[0]), int(counts[1]), int(counts[2]))
        return CalendarActivity(
            hours=hours,
            last_success=_dt(data.get("last_success")),
            last_failure=_dt(data.get("last_failure")),
            problem=str(data.get("problem") or ""),
            failures_in_a_row=int(data.get("failures_in_a_row") or 0),
            retry_at=_dt(data.get("retry_at")),
        )

    def _bump(self, data: dict[str, Any], now: datetime, rounds: int, changes: int, failures: int) -> None:
        hours = dict(data.get("hours") or {})
        key = _hour(now).isoformat()
        before = hours.get(key, [0, 0, 0])
        hours[key] = [before[0] + rounds, before[1] + changes, before[2] + failures]
        oldest = _hour(now) - timedelta(hours=HOURS_KEPT - 1)
        data["hours"] = {k: v for k, v in hours.items() if datetime.fromisoformat(k) >= oldest}

    def success(self, calendar_key: str, now: datetime, *, changes: int = 0, rounds: int = 1) -> None:
        """A round or a write of this calendar went through: the failure streak ends."""

        def change(data: dict[str, Any] | None) -> dict[str, Any]:
            data = dict(data or {})
            self._bump(data, now, rounds, changes, 0)
            data.update(last_success=now.isoformat(), problem="", failures_in_a_row=0, retry_at=None)
            return data

        self._store.update(self.PREFIX + calendar_key, change, default={})

    def failure(self, calendar_key: str, now: datetime, *, problem: str, retry_at: datetime | None) -> None:
        """An attempt failed with ``problem`` (a kind chosen by the caller); the next one is at ``retry_at``."""

        def change(data: dict[str, Any] | None) -> dict[str, Any]:
            data = dict(data or {})
            self._bump(data, now, 1, 0, 1)
            data.update(
                last_failure=now.isoformat(),
                problem=problem,
                failures_in_a_row=int(data.get("failures_in_a_row") or 0) + 1,
                retry_at=retry_at.isoformat() if retry_at else None,
            )
            return data

        self._store.update(self.PREFIX + calendar_key, change, default={})


@dataclass(frozen=True)
class PendingWrite:
    """A booking whose write to ``calendar_key`` failed: why (a problem kind), since when, next try (None:
    not retried until an admin acts, for example reconnects)."""

    booking_id: int
    calendar_key: str
    problem: str
    since: datetime
    retry_at: datetime | None


class PendingWrites:
    """The integration's failed outbound writes waiting for a retry (``pending/outbound``)."""

    KEY = "pending/outbound"

    def __init__(self, store: SecureConfig) -> None:
        self._store = store

    def all(self) -> list[PendingWrite]:
        data = self._store.load(self.KEY, {}).data or {}
        return [
            PendingWrite(
                int(bid),
                str(w["calendar"]),
                str(w["problem"]),
                datetime.fromisoformat(w["since"]),
                _dt(w.get("retry_at")),
            )
            for bid, w in sorted(data.items(), key=lambda item: int(item[0]))
        ]

    def get(self, booking_id: int) -> PendingWrite | None:
        return next((w for w in self.all() if w.booking_id == booking_id), None)

    def add(self, booking_id: int, calendar_key: str, problem: str, now: datetime, retry_at: datetime | None) -> None:
        def change(data: dict[str, Any] | None) -> dict[str, Any]:
            data = dict(data or {})
            since = (data.get(str(booking_id)) or {}).get("since") or now.isoformat()
            data[str(booking_id)] = {
                "calendar": calendar_key,
                "problem": problem,
                "since": since,
                "retry_at": retry_at.isoformat() if retry_at else None,
            }
            return data

        self._store.update(self.KEY, change, default={})

    def resolve(self, booking_id: int) -> bool:
        """Forget a write that went through. Returns whether it was pending (no storage write when not)."""
        doc = self._store.load(self.KEY, {})
        if str(booking_id) not in (doc.data or {}):
            return False
        self._store.update(self.KEY, lambda d: {k: v for k, v in (d or {}).items() if k != str(booking_id)}, default={})
        return True
