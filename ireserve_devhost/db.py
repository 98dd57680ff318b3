"""The reference host's SQLite storage: connections, transactions, schema and time columns.

Public API: :class:`Database`, :class:`Transactions`, :func:`open_database`, :data:`SCHEMA_VERSION`,
:func:`require_aware`, :func:`to_db_time`, :func:`from_db_time`.

:func:`open_database` also opens PostgreSQL (a ``postgresql://`` URL, :mod:`.postgres`); the stores
take the SQL that differs from the database's :attr:`Database.dialect` (:mod:`.dialect`).

One :class:`Database` is shared by every thread of a host. It hands out connections from a small
pool: a file database gets up to ``max_connections`` connections in WAL mode, so readers never wait
for the writer; ``:memory:`` gets exactly one connection, which the pool then serialises between
threads. Every use goes through :meth:`Database.transaction`; a write transaction starts with
``BEGIN IMMEDIATE`` so concurrent writers (threads or processes) queue on ``busy_timeout`` instead
of failing on a lock upgrade.

A database file is created with mode 0600 (its -wal and -shm files inherit it); an existing one
readable by others is tightened to 0600 on open.

Datetimes are stored as fixed-width UTC ISO strings (``2024-05-01T08:00:00.000000+00:00``), so string
order is time order and SQL can compare them directly. Naive datetimes are rejected.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import Protocol

from ireserve_devhost.dialect import SQLITE
from ireserve_devhost.dialect import Dialect
from ireserve_devhost.dialect import is_database_url

__all__ = [
    "BOOKING_LENGTH_DAYS",
    "MEMORY",
    "SCHEMA_VERSION",
    "Database",
    "Transactions",
    "from_db_time",
    "open_database",
    "require_aware",
    "to_db_time",
]

#: A booking's length in days, as SQL; the overlap check and its index must spell it exactly alike.
BOOKING_LENGTH_DAYS = SQLITE.booking_length_days

# Each entry upgrades the schema by one version; ``PRAGMA user_version`` records how many ran.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE objects (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            timezone TEXT NOT NULL DEFAULT 'UTC')""",
        """CREATE TABLE customers (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL COLLATE NOCASE)""",
        "CREATE INDEX customers_by_email ON customers (email)",
        """CREATE TABLE bookings (
            id INTEGER PRIMARY KEY,
            object_id INTEGER NOT NULL REFERENCES objects (id),
            start_utc TEXT NOT NULL,
            end_utc TEXT NOT NULL,
            all_day INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            customer_id INTEGER REFERENCES customers (id),
            channel TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL)""",
        "CREATE INDEX bookings_by_object_time ON bookings (object_id, start_utc)",
        """CREATE TABLE booking_fields (
            booking_id INTEGER NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (booking_id, name))""",
        "CREATE INDEX booking_fields_by_value ON booking_fields (name, value)",
        """CREATE TABLE booking_remarks (
            booking_id INTEGER NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            text TEXT NOT NULL,
            origin TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (booking_id, seq))""",
        """CREATE TABLE integrations (
            id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            enabled INTEGER NOT NULL DEFAULT 1,
            name TEXT NOT NULL DEFAULT '')""",
        # A deleted value stays as a tombstone (value NULL) so its version keeps counting up.
        """CREATE TABLE config (
            integration_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT,
            version INTEGER NOT NULL,
            PRIMARY KEY (integration_id, key))""",
        """CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            payload TEXT NOT NULL,
            dedupe_key TEXT,
            state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'merged')),
            run_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT,
            lease_expires TEXT,
            last_error TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX jobs_by_state_time ON jobs (state, run_at)",
        """CREATE UNIQUE INDEX jobs_one_queued_per_key ON jobs (dedupe_key)
            WHERE state = 'queued' AND dedupe_key IS NOT NULL""",
        """CREATE TABLE integration_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            integration_id TEXT NOT NULL,
            at TEXT NOT NULL,
            level TEXT NOT NULL,
            message TEXT NOT NULL)""",
        "CREATE INDEX integration_log_by_integration ON integration_log (integration_id, id)",
    ),
    (
        # The longest booking of an object (in days) in O(log n): it bounds the overlap check's index
        # scan to bookings starting after ``start - longest`` instead of every earlier booking.
        f"CREATE INDEX bookings_by_object_length ON bookings (object_id, ({BOOKING_LENGTH_DAYS}))",
    ),
    (
        # One row per serving process (.health): its heartbeat, key ring state and last plugin failure.
        """CREATE TABLE host_processes (
            process TEXT PRIMARY KEY,
            seen_at TEXT NOT NULL,
            key_current TEXT NOT NULL DEFAULT '',
            key_ids TEXT NOT NULL DEFAULT '',
            key_error TEXT NOT NULL DEFAULT '',
            last_failure TEXT NOT NULL DEFAULT '',
            failure_at TEXT,
            failures INTEGER NOT NULL DEFAULT 0)""",
    ),
)

#: The schema version this host writes; a database with a newer one is refused.
SCHEMA_VERSION = len(_MIGRATIONS)

#: The path of an in-memory database.
MEMORY = ":memory:"


class Transactions(Protocol):
    """Where the stores run their statements: a :class:`Database` (one transaction per call) or an open
    unit of work (:class:`ireserve_devhost.unit_of_work.SqliteUnitOfWork`: one SAVEPOINT per call)."""

    #: the SQL that differs between the backends (:mod:`.dialect`)
    dialect: Dialect

    def transaction(self, *, write: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        """Run a block atomically and yield the connection to run it on."""
        ...


def require_aware(value: datetime, name: str = "datetime") -> datetime:
    """Return ``value`` if it is a timezone-aware datetime; raise ValueError for a naive one."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got the naive {value.isoformat()}")
    return value


def to_db_time(value: datetime, name: str = "datetime") -> str:
    """Return the stored form of an aware datetime: a fixed-width UTC ISO string."""
    return require_aware(value, name).astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    """Return the aware UTC datetime of a stored time string."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _private_file(path: str) -> None:
    """Create the database file 0600 before SQLite does (SQLite gives its -wal and -shm files the
    database file's mode), or tighten an existing one (and its -wal/-shm) to 0600."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        return
    except FileExistsError:
        pass
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            continue
        except PermissionError:  # not ours to change: SQLite still opens it, as before
            continue


class Database:
    """A thread-safe SQLite database: a file path (WAL) or ``":memory:"``.

    The schema is created or checked on open. Use :meth:`transaction` for every statement, and
    :meth:`close` when done (also as a context manager).
    """

    #: The SQL that differs between backends (:mod:`.dialect`).
    dialect: Dialect = SQLITE

    def __init__(
        self, path: str | os.PathLike[str] = MEMORY, *, busy_timeout: float = 10.0, max_connections: int = 8
    ) -> None:
        self.path = os.fspath(path)
        self.in_memory = self.path == MEMORY
        self._busy_timeout = busy_timeout
        self._start_pool(1 if self.in_memory else max_connections)
        if not self.in_memory:
            _private_file(self.path)
        self._open_schema()

    def _start_pool(self, max_connections: int) -> None:
        """An empty pool of at most ``max_connections`` connections (every backend's first step)."""
        self._max = max(1, max_connections)
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._opened = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._closed = False

    def _open_schema(self) -> None:
        """Create or upgrade the schema; a database that cannot be migrated is closed again."""
        try:
            self._migrate()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ public

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """Run a block in one transaction and yield its connection; commit on success, roll back on error.

        ``write=True`` takes the write lock up front (``BEGIN IMMEDIATE``); ``write=False`` gives a
        consistent read snapshot. Transactions do not nest: a thread that already holds one gets
        RuntimeError rather than a deadlock.
        """
        conn = self._acquire()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:  # a failed COMMIT
                conn.execute("ROLLBACK")
            self._release(conn)

    def close(self) -> None:
        """Close every idle connection; connections in use close when they come back."""
        with self._lock:
            self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ pool

    def _acquire(self) -> sqlite3.Connection:
        if getattr(self._local, "holding", False):
            raise RuntimeError("nested database transaction in one thread")
        fresh = False
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("the database is closed")
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = None
                if self._opened < self._max:
                    self._opened += 1
                    fresh = True
        if fresh:  # opened outside the lock: a slow connect (a database server) holds up no other thread
            try:
                conn = self._open()
            except BaseException:
                with self._lock:
                    self._opened -= 1
                raise
        while conn is None:  # the pool is exhausted: wait for a connection to come back
            try:
                conn = self._idle.get(timeout=0.5)
            except queue.Empty:
                if self._closed:
                    raise sqlite3.ProgrammingError("the database is closed") from None
        self._local.holding = True
        return conn

    def _release(self, conn: sqlite3.Connection) -> None:
        self._local.holding = False
        with self._lock:
            if not self._closed:
                self._idle.put(conn)
                return
        conn.close()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not self.in_memory:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _migrate(self) -> None:
        with self.transaction() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {version}; this host supports up to {SCHEMA_VERSION}"
                )
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def open_database(location: str | os.PathLike[str] = MEMORY) -> Database:
    """Open the host database at ``location``: a SQLite file, ``":memory:"``, or a ``postgresql://`` URL
    (needs the ``postgres`` extra, see :mod:`.postgres`)."""
    if is_database_url(location):
        from ireserve_devhost.postgres import PostgresDatabase

        return PostgresDatabase(str(location))
    return Database(location)
