"""What differs between the reference host's two storage backends, in one place the stores ask.

Public API: :class:`Dialect`, :data:`SQLITE`, :data:`POSTGRES`, :class:`Connection`, :func:`is_database_url`.

The stores write one SQL text for both backends (``?`` placeholders; the PostgreSQL connection turns
them into its own) and take from the :class:`Dialect` of their database only the fragments that
differ: the length of a booking in days, locking suffixes, a few function names.

Who may write concurrently differs most. SQLite runs every write transaction alone (``BEGIN
IMMEDIATE``), so a read-then-write inside one is safe by construction and :meth:`Dialect.lock` does
nothing. PostgreSQL runs write transactions side by side (READ COMMITTED), so each read-then-write
that must not interleave takes a lock held until commit: a row lock (``FOR UPDATE``) where the row
exists, or an advisory lock on a key (:meth:`Dialect.lock`) where it may not exist yet (a config key
written the first time, a dedupe key, the bookings of one object). A job claim skips the jobs other
workers hold (``FOR UPDATE SKIP LOCKED``) instead of waiting for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any
from typing import Protocol

__all__ = ["POSTGRES", "SQLITE", "Connection", "Cursor", "Dialect", "is_database_url"]

#: URL schemes that name a PostgreSQL database instead of a SQLite file.
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: object) -> bool:
    """Whether ``location`` names a PostgreSQL database (``postgresql://...``) rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


class Cursor(Protocol):
    """The part of a DB-API cursor the stores use."""

    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The part of a connection the stores use: ``sqlite3.Connection`` or the PostgreSQL adapter."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]], /) -> Any: ...


class Dialect:
    """The SQL fragments and locks of one backend (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        booking_length_days: str,
        for_update: str,
        skip_locked: str,
        is_not: str,
        least: str,
        nocase_email: str,
        advisory_lock: str | None,
    ) -> None:
        #: ``"sqlite"`` or ``"postgresql"``.
        self.name = name
        #: A booking's length in days, as SQL; the overlap check and its index must spell it exactly alike.
        self.booking_length_days = booking_length_days
        #: Appended to a SELECT whose rows the transaction goes on to change: locks them until commit.
        self.for_update = for_update
        #: Appended to a job claim's SELECT: lock the row, skipping rows another worker holds.
        self.skip_locked = skip_locked
        #: The null-safe "differs from" operator.
        self.is_not = is_not
        #: The smaller of two values (a scalar, not the aggregate).
        self.least = least
        #: ``customers.email`` equals the parameter, ignoring case.
        self.nocase_email = nocase_email
        self._advisory_lock = advisory_lock

    def lock(self, conn: Connection, *key: object) -> None:
        """Hold a lock on ``key`` until the current write transaction ends (nothing on SQLite, whose write
        transactions exclude each other already). Used where the rows a write depends on may not exist yet."""
        if self._advisory_lock is not None:
            # its answer is never read: a connection that can defer it sends it with the next statement
            send = getattr(conn, "defer", conn.execute)
            send(self._advisory_lock, (json.dumps([str(part) for part in key]),))

    def __repr__(self) -> str:
        return f"Dialect({self.name!r})"


SQLITE = Dialect(
    "sqlite",
    booking_length_days="julianday(end_utc) - julianday(start_utc)",
    for_update="",
    skip_locked="",
    is_not="IS NOT",
    least="min",
    nocase_email="email = ?",  # the column is COLLATE NOCASE
    advisory_lock=None,
)

POSTGRES = Dialect(
    "postgresql",
    # ireserve_booking_days: an IMMUTABLE SQL function created by the schema (see postgres.py), so the
    # index on it and the query spell it alike
    booking_length_days="ireserve_booking_days(start_utc, end_utc)",
    for_update=" FOR UPDATE",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    is_not="IS DISTINCT FROM",
    least="LEAST",
    nocase_email="lower(email) = lower(?)",  # indexed as lower(email)
    advisory_lock="SELECT pg_advisory_xact_lock(hashtextextended(?, 0))",
)
