"""The reference host's bookings: storage, validation and the status-change notification.

Public API: :class:`BookingStore` (``host.bookings``, a :class:`hookspecs.types.BookingApi`),
:data:`DEFAULT_CANCELLED_STATUSES`, :func:`check_origin`.

Rules this host applies, as a production host would:

* Intervals are half-open, ``[start, end)``: a booking ending at 10:00 does not overlap one starting
  at 10:00. Two bookings on one object conflict when both have a status outside
  ``cancelled_statuses`` and their intervals overlap. ``create`` and ``update_times`` raise
  :class:`hookspecs.types.BookingConflictError` on a conflict and write nothing, unless called with
  ``ignore_validation=True``. ``set_status`` does not validate (a status change is never refused).
* Arguments that are wrong rather than conflicting raise ValueError whatever ``ignore_validation``
  says: a naive datetime, ``end`` not after ``start``, an unknown object or customer, an all-day
  booking that does not run from local midnight to local midnight in the object's time zone, or an
  origin that is not ``"system"``, ``"user:<id>"`` or ``"calendar:<integration id>"``.
* Every write bumps ``version``. ``create``, a real status change and a real time change call the
  listener (the host's ``on_booking_status_changed``) after the commit, with the write's origin; a
  write that changes nothing neither bumps the version nor notifies. ``set_field`` and
  ``add_remark`` never notify.
* Returned datetimes are timezone-aware UTC.
* Batch reads (:class:`hookspecs.types.BatchBookingReads`): ``get_many`` and ``find_by_field_values`` read
  up to 500 values per query.

The store runs every statement through ``db.transaction()`` (:class:`ireserve_devhost.db.Transactions`):
on the :class:`~ireserve_devhost.db.Database` each call is its own transaction; inside a unit of work
(:mod:`ireserve_devhost.unit_of_work`) each call is a SAVEPOINT of the unit's transaction and the
listener queues the notification until the unit commits.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from hookspecs.types import Booking
from hookspecs.types import BookingConflictError
from hookspecs.types import BookingNotFoundError
from ireserve_devhost.db import Transactions
from ireserve_devhost.db import from_db_time
from ireserve_devhost.db import to_db_time

__all__ = ["DEFAULT_CANCELLED_STATUSES", "BookingStore", "StatusListener", "check_origin"]

#: The statuses that free a slot, unless the host is configured otherwise.
DEFAULT_CANCELLED_STATUSES = frozenset({"cancelled"})

#: Called after a committed create / status change / time change: (booking, old, new, origin).
StatusListener = Callable[[Booking, str | None, str, str], None]

_T = TypeVar("_T")

_COLUMNS = "id, object_id, start_utc, end_utc, status, title, customer_id, channel, all_day, version"


def check_origin(origin: str) -> str:
    """Return ``origin`` if it has one of the documented forms, else raise ValueError."""
    if not isinstance(origin, str):
        raise ValueError(f"origin must be a string, not {type(origin).__name__}")
    kind, sep, who = origin.partition(":")
    if origin == "system" or (sep and who and kind in ("user", "calendar")):
        return origin
    raise ValueError(f'origin must be "system", "user:<id>" or "calendar:<integration id>", not {origin!r}')


class BookingStore:
    """Bookings in SQLite, implementing :class:`hookspecs.types.BookingApi` (see the module docstring)."""

    def __init__(
        self,
        db: Transactions,
        clock: Callable[[], datetime],
        *,
        cancelled_statuses: Collection[str] = DEFAULT_CANCELLED_STATUSES,
        listener: StatusListener | None = None,
        holds_write_lock: bool = False,
    ) -> None:
        self._db = db
        self._clock = clock
        self.cancelled_statuses = frozenset(cancelled_statuses)
        self._listener = listener
        # Inside a unit of work (``holds_write_lock``) nobody else writes the bookings of an object the unit
        # wrote until it ends (SQLite: the write lock; PostgreSQL: the per-object lock, held to the commit),
        # so an object's time zone and the bound of its longest booking are read once per unit and kept
        # current by its own writes (a bound that only grows stays a correct bound, even after a savepoint
        # undoes a write).
        self._timezones: dict[int, str] | None = {} if holds_write_lock else None
        self._longest: dict[int, float | None] | None = {} if holds_write_lock else None

    # ------------------------------------------------------------------ reads

    def get(self, booking_id: int) -> Booking:
        with self._db.transaction(write=False) as conn:
            return self._one(conn, booking_id)

    def find_by_field(self, field_name: str, value: str) -> list[Booking]:
        with self._db.transaction(write=False) as conn:
            return _select(
                conn,
                "id IN (SELECT booking_id FROM booking_fields WHERE name = ? AND value = ?)",
                (field_name, value),
            )

    # batch reads (hookspecs.types.BatchBookingReads): one query per chunk of values instead of one per value

    def get_many(self, booking_ids: Collection[int]) -> dict[int, Booking]:
        found: dict[int, Booking] = {}
        with self._db.transaction(write=False) as conn:
            for chunk in _chunks(sorted(set(booking_ids))):
                for booking in _select(conn, f"id IN ({_marks(chunk)})", tuple(chunk)):
                    found[booking.id] = booking
        return found

    def find_by_field_values(self, field_name: str, values: Collection[str]) -> dict[str, list[Booking]]:
        found: dict[str, list[Booking]] = {}
        with self._db.transaction(write=False) as conn:
            for chunk in _chunks(sorted(set(values))):
                where = f"id IN (SELECT booking_id FROM booking_fields WHERE name = ? AND value IN ({_marks(chunk)}))"
                for booking in _select(conn, where, (field_name, *chunk)):
                    found.setdefault(booking.fields[field_name], []).append(booking)
        return found

    def all(self, object_id: int | None = None) -> list[Booking]:
        """Return every booking (of one object), ordered by start (host side)."""
        with self._db.transaction(write=False) as conn:
            if object_id is None:
                return _select(conn, "TRUE", ())
            return _select(conn, "object_id = ?", (object_id,))

    # ------------------------------------------------------------------ writes that notify

    def create(
        self,
        *,
        object_id: int,
        start: datetime,
        end: datetime,
        status: str,
        title: str,
        channel: str,
        origin: str,
        customer_id: int | None = None,
        all_day: bool = False,
        fields: Mapping[str, str] | None = None,
        ignore_validation: bool = False,
        remark: str = "",
    ) -> Booking:
        check_origin(origin)
        if not isinstance(remark, str):
            raise ValueError(f"a remark must be a string, not {type(remark).__name__}")
        if not status:
            raise ValueError("a status must not be empty")
        start_at, end_at = _interval(start, end)
        field_items = [(_field_name(name), _field_value(value)) for name, value in (fields or {}).items()]
        now = to_db_time(self._clock())
        with self._db.transaction() as conn:
            # concurrent writers (PostgreSQL) check and write one object's bookings one at a time
            self._db.dialect.lock(conn, "bookings of object", object_id)
            timezone = self._timezone(conn, object_id)
            if all_day:
                _check_all_day(start, end, timezone)
            if (
                customer_id is not None
                and not conn.execute("SELECT 1 FROM customers WHERE id = ?", (customer_id,)).fetchone()
            ):
                raise ValueError(f"unknown customer {customer_id}")
            if not ignore_validation and status not in self.cancelled_statuses:
                self._check_overlap(conn, object_id, start_at, end_at, exclude=None)
            booking_id: int = conn.execute(
                "INSERT INTO bookings (object_id, start_utc, end_utc, all_day, status, title, customer_id,"
                " channel, version, created_at, created_by, updated_at, updated_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?) RETURNING id",
                (object_id, start_at, end_at, int(all_day), status, title, customer_id, channel)
                + (now, origin, now, origin),
            ).fetchone()[0]
            self._lasts(object_id, start_at, end_at)
            conn.executemany(
                "INSERT INTO booking_fields (booking_id, name, value) VALUES (?, ?, ?)",
                [(booking_id, name, value) for name, value in field_items],
            )
            if remark:
                conn.execute(
                    "INSERT INTO booking_remarks (booking_id, seq, text, origin, at) VALUES (?, 1, ?, ?, ?)",
                    (booking_id, remark, origin, now),
                )
        # what was just written, without reading it back (as ``_select`` would return it)
        booking = Booking(
            id=booking_id,
            object_id=object_id,
            start=from_db_time(start_at),
            end=from_db_time(end_at),
            status=status,
            title=title,
            customer_id=customer_id,
            channel=channel,
            all_day=bool(all_day),
            version=1,
            fields=dict(sorted(field_items)),
            remarks=(remark,) if remark else (),
        )
        self._notify(booking, None, origin)
        return booking

    def update_times(
        self,
        booking_id: int,
        *,
        start: datetime,
        end: datetime,
        origin: str,
        all_day: bool = False,
        ignore_validation: bool = False,
    ) -> Booking:
        check_origin(origin)
        start_at, end_at = _interval(start, end)
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT object_id, start_utc, end_utc, all_day, status FROM bookings WHERE id = ?"
                + self._db.dialect.for_update,
                (booking_id,),
            ).fetchone()
            if row is None:
                raise BookingNotFoundError(booking_id)
            object_id, old_start, old_end, old_all_day, status = row
            if (old_start, old_end, bool(old_all_day)) == (start_at, end_at, all_day):
                return self._one(conn, booking_id)
            self._db.dialect.lock(conn, "bookings of object", object_id)
            if all_day:
                _check_all_day(start, end, self._timezone(conn, object_id))
            if not ignore_validation and status not in self.cancelled_statuses:
                self._check_overlap(conn, object_id, start_at, end_at, exclude=booking_id)
            self._touch(
                conn,
                booking_id,
                origin,
                "start_utc = ?, end_utc = ?, all_day = ?",
                (start_at, end_at, int(all_day)),
            )
            self._lasts(object_id, start_at, end_at)
            booking = self._one(conn, booking_id)
        self._notify(booking, status, origin)
        return booking

    def set_status(self, booking_id: int, status: str, *, origin: str) -> Booking:
        check_origin(origin)
        if not status:
            raise ValueError("a status must not be empty")
        with self._db.transaction() as conn:
            old_status = _status(conn, booking_id, self._db.dialect.for_update)
            if old_status != status:
                self._touch(conn, booking_id, origin, "status = ?", (status,))
            booking = self._one(conn, booking_id)
        if old_status != status:
            self._notify(booking, old_status, origin)
        return booking

    # ------------------------------------------------------------------ writes that do not notify

    def set_field(self, booking_id: int, field_name: str, value: str | None, *, origin: str) -> Booking:
        check_origin(origin)
        field_name = _field_name(field_name)
        new = None if value is None else _field_value(value)
        with self._db.transaction() as conn:
            _status(conn, booking_id, self._db.dialect.for_update)
            row = conn.execute(
                "SELECT value FROM booking_fields WHERE booking_id = ? AND name = ?", (booking_id, field_name)
            ).fetchone()
            if (row[0] if row else None) != new:
                if new is None:
                    conn.execute(
                        "DELETE FROM booking_fields WHERE booking_id = ? AND name = ?",
                        (booking_id, field_name),
                    )
                else:
                    conn.execute(
                        "INSERT INTO booking_fields (booking_id, name, value) VALUES (?, ?, ?)"
                        " ON CONFLICT (booking_id, name) DO UPDATE SET value = excluded.value",
                        (booking_id, field_name, new),
                    )
                self._touch(conn, booking_id, origin, "", ())
            return self._one(conn, booking_id)

    def add_remark(self, booking_id: int, text: str, *, origin: str) -> Booking:
        check_origin(origin)
        if not isinstance(text, str):
            raise ValueError(f"a remark must be a string, not {type(text).__name__}")
        with self._db.transaction() as conn:
            _status(conn, booking_id, self._db.dialect.for_update)
            conn.execute(
                "INSERT INTO booking_remarks (booking_id, seq, text, origin, at) VALUES (?,"
                " (SELECT COALESCE(MAX(seq), 0) + 1 FROM booking_remarks WHERE booking_id = ?), ?, ?, ?)",
                (booking_id, booking_id, text, origin, to_db_time(self._clock())),
            )
            self._touch(conn, booking_id, origin, "", ())
            return self._one(conn, booking_id)

    # ------------------------------------------------------------------ helpers

    def _one(self, conn: sqlite3.Connection, booking_id: int | None) -> Booking:
        found = _select(conn, "id = ?", (booking_id,))
        if not found:
            raise BookingNotFoundError(booking_id)
        return found[0]

    def _touch(
        self,
        conn: sqlite3.Connection,
        booking_id: int,
        origin: str,
        assignments: str,
        params: tuple[object, ...],
    ) -> None:
        extra = f"{assignments}, " if assignments else ""
        conn.execute(
            f"UPDATE bookings SET {extra}version = version + 1, updated_at = ?, updated_by = ? WHERE id = ?",
            (*params, to_db_time(self._clock()), origin, booking_id),
        )

    def _check_overlap(
        self, conn: sqlite3.Connection, object_id: int, start_at: str, end_at: str, exclude: int | None
    ) -> None:
        # An overlapping booking starts before ``end_at`` and, being no longer than the object's longest
        # booking, after ``start_at - longest``: that bounds the index scan (one second of slack covers
        # julianday's rounding). Without the bound every earlier booking of the object would be visited.
        longest = self._longest_days(conn, object_id)
        if longest is None:
            return
        earliest = to_db_time(from_db_time(start_at) - timedelta(days=longest, seconds=1))
        cancelled = sorted(self.cancelled_statuses)
        row = conn.execute(
            f"SELECT id, start_utc, end_utc FROM bookings WHERE object_id = ? AND id {self._db.dialect.is_not} ?"
            " AND start_utc < ? AND start_utc > ? AND end_utc > ?"
            f" AND status NOT IN ({', '.join('?' * len(cancelled))}) ORDER BY start_utc LIMIT 1",
            (object_id, exclude, end_at, earliest, start_at, *cancelled),
        ).fetchone()
        if row:
            other, other_start, other_end = row[0], from_db_time(row[1]), from_db_time(row[2])
            raise BookingConflictError(
                f"overlaps booking {other} on object {object_id}"
                f" ({other_start:%Y-%m-%d %H:%M} to {other_end:%Y-%m-%d %H:%M} UTC)"
            )

    def _longest_days(self, conn: sqlite3.Connection, object_id: int) -> float | None:
        if self._longest is not None and object_id in self._longest:
            return self._longest[object_id]
        # Spelled ORDER BY ... LIMIT 1 rather than MAX(): one index probe whatever the planner's statistics
        # (PostgreSQL plans MAX() over a table it has not analysed yet as a scan of the object's bookings).
        length = self._db.dialect.booking_length_days
        found = conn.execute(
            f"SELECT {length} FROM bookings WHERE object_id = ? ORDER BY {length} DESC LIMIT 1", (object_id,)
        ).fetchone()
        longest: float | None = None if found is None else float(found[0])
        if self._longest is not None:
            self._longest[object_id] = longest
        return longest

    def forget_kept(self) -> None:
        """Drop the time zones and longest-booking bounds a unit keeps. Called when a savepoint of the unit is
        rolled back: PostgreSQL then also releases the object locks taken inside it, so another writer may
        have booked those objects since, and the next check must read the bound again."""
        if self._timezones is not None:
            self._timezones.clear()
        if self._longest is not None:
            self._longest.clear()

    def _lasts(self, object_id: int, start_at: str, end_at: str) -> None:
        """An own write gave ``object_id`` a booking from ``start_at`` to ``end_at``: grow the kept bound."""
        if self._longest is not None and object_id in self._longest:
            days = (from_db_time(end_at) - from_db_time(start_at)).total_seconds() / 86400
            self._longest[object_id] = max(self._longest[object_id] or 0.0, days)

    def _timezone(self, conn: sqlite3.Connection, object_id: int) -> str:
        if self._timezones is None:
            return _object_timezone(conn, object_id)
        if object_id not in self._timezones:
            self._timezones[object_id] = _object_timezone(conn, object_id)
        return self._timezones[object_id]

    def _notify(self, booking: Booking, old_status: str | None, origin: str) -> None:
        if self._listener is not None:
            self._listener(booking, old_status, booking.status, origin)


# ---------------------------------------------------------------------- module helpers


def _select(conn: sqlite3.Connection, where: str, params: tuple[object, ...]) -> list[Booking]:
    """Return full booking snapshots (with fields and remarks) matching a WHERE clause of ours."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM bookings WHERE {where} ORDER BY start_utc, id", params).fetchall()
    if not rows:
        return []
    subquery = f"SELECT id FROM bookings WHERE {where}"
    fields: dict[int, dict[str, str]] = defaultdict(dict)
    for booking_id, name, value in conn.execute(
        f"SELECT booking_id, name, value FROM booking_fields WHERE booking_id IN ({subquery}) ORDER BY name",
        params,
    ):
        fields[booking_id][name] = value
    remarks: dict[int, list[str]] = defaultdict(list)
    for booking_id, text in conn.execute(
        f"SELECT booking_id, text FROM booking_remarks WHERE booking_id IN ({subquery}) ORDER BY seq", params
    ):
        remarks[booking_id].append(text)
    return [
        Booking(
            id=row[0],
            object_id=row[1],
            start=from_db_time(row[2]),
            end=from_db_time(row[3]),
            status=row[4],
            title=row[5],
            customer_id=row[6],
            channel=row[7],
            all_day=bool(row[8]),
            version=row[9],
            fields=dict(fields[row[0]]),
            remarks=tuple(remarks[row[0]]),
        )
        for row in rows
    ]


#: values per ``IN (...)`` of a batch read (SQLite allows 32766 parameters; PostgreSQL 65535)
_CHUNK = 500


def _chunks(values: list[_T]) -> Iterator[list[_T]]:
    for at in range(0, len(values), _CHUNK):
        yield values[at : at + _CHUNK]


def _marks(values: Collection[object]) -> str:
    return ", ".join("?" * len(values))


def _status(conn: sqlite3.Connection, booking_id: int, lock: str = "") -> str:
    """The booking's status (``lock``: the dialect's ``for_update`` when the caller goes on to change it)."""
    row = conn.execute("SELECT status FROM bookings WHERE id = ?" + lock, (booking_id,)).fetchone()
    if row is None:
        raise BookingNotFoundError(booking_id)
    return str(row[0])


def _object_timezone(conn: sqlite3.Connection, object_id: int) -> str:
    row = conn.execute("SELECT timezone FROM objects WHERE id = ?", (object_id,)).fetchone()
    if row is None:
        raise ValueError(f"unknown object {object_id}")
    return str(row[0])


def _interval(start: datetime, end: datetime) -> tuple[str, str]:
    start_at, end_at = to_db_time(start, "start"), to_db_time(end, "end")
    if end_at <= start_at:
        raise ValueError(f"a booking must end after it starts ({start.isoformat()} to {end.isoformat()})")
    return start_at, end_at


def _check_all_day(start: datetime, end: datetime, timezone: str) -> None:
    zone = ZoneInfo(timezone)
    for name, value in (("start", start), ("end", end)):
        if value != _local_day_start(value, zone):
            raise ValueError(f"an all-day booking must {name} at local midnight in {timezone}, not {value.isoformat()}")


def _local_day_start(value: datetime, zone: ZoneInfo) -> datetime:
    """Return the first instant of ``value``'s local day (a skipped midnight normalises to the jump)."""
    midnight = datetime.combine(value.astimezone(zone).date(), time(0), tzinfo=zone)
    return midnight.astimezone(UTC)


def _field_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a field name must be a non-empty string, not {name!r}")
    return name


def _field_value(value: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"a field value must be a string, not {type(value).__name__}")
    return value
