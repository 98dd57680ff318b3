"""The reference host's directory data: bookable objects, customers, integrations and their logs.

Public API: :class:`ObjectStore` (``host.objects``), :class:`CustomerStore` (``host.customers``),
:class:`IntegrationStore` (``host.integrations``), :class:`LogEntry`, :data:`LOG_LEVELS`.

Each store implements its protocol from :mod:`hookspecs.types` and adds the host-side admin methods a
plugin never calls (``add``, ``rename``, ``add_integration``, ``set_enabled``, ``delete``, ``entries``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from hookspecs.types import BookableObject
from hookspecs.types import Customer
from hookspecs.types import Integration
from ireserve_devhost.db import Database
from ireserve_devhost.db import from_db_time
from ireserve_devhost.db import to_db_time

__all__ = ["LOG_LEVELS", "CustomerStore", "IntegrationStore", "LogEntry", "ObjectStore"]

#: The levels :meth:`IntegrationStore.log` accepts.
LOG_LEVELS = ("info", "warning", "error")

#: Longer log messages are cut to this many characters.
MAX_LOG_MESSAGE = 4000


class ObjectStore:
    """Bookable objects (:class:`hookspecs.types.ObjectApi`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, object_id: int) -> BookableObject | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute("SELECT id, name, timezone FROM objects WHERE id = ?", (object_id,)).fetchone()
        return BookableObject(*row) if row else None

    def all(self) -> list[BookableObject]:
        with self._db.transaction(write=False) as conn:
            rows = conn.execute("SELECT id, name, timezone FROM objects ORDER BY id").fetchall()
        return [BookableObject(*row) for row in rows]

    def add(self, name: str, timezone: str = "UTC") -> BookableObject:
        """Create an object. ``timezone`` must be a known IANA zone name; ValueError when another object
        already has this name (names are compared ignoring case and surrounding spaces)."""
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {timezone!r}") from err
        with self._db.transaction() as conn:
            self._db.dialect.lock(conn, "object names")
            _refuse_duplicate(conn, name, None)
            object_id = conn.execute(
                "INSERT INTO objects (name, timezone) VALUES (?, ?) RETURNING id", (name, timezone)
            ).fetchone()[0]
        return BookableObject(id=object_id, name=name, timezone=timezone)

    def rename(self, object_id: int, name: str) -> BookableObject:
        """Give an object a new name; LookupError when it does not exist, ValueError when another object
        has the name already. Bookings keep pointing at the object by its id."""
        with self._db.transaction() as conn:
            row = conn.execute("SELECT id, name, timezone FROM objects WHERE id = ?", (object_id,)).fetchone()
            if row is None:
                raise LookupError(f"no object {object_id}")
            self._db.dialect.lock(conn, "object names")
            _refuse_duplicate(conn, name, object_id)
            conn.execute("UPDATE objects SET name = ? WHERE id = ?", (name, object_id))
        return BookableObject(id=row[0], name=name, timezone=row[2])


class CustomerStore:
    """Customers (:class:`hookspecs.types.CustomerApi`); e-mail lookups ignore case."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, customer_id: int) -> Customer | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute("SELECT id, name, email FROM customers WHERE id = ?", (customer_id,)).fetchone()
        return Customer(*row) if row else None

    def find_by_email(self, email: str) -> Customer | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                f"SELECT id, name, email FROM customers WHERE {self._db.dialect.nocase_email} ORDER BY id LIMIT 1",
                (email.strip(),),
            ).fetchone()
        return Customer(*row) if row else None

    def add(self, name: str, email: str) -> Customer:
        """Create a customer."""
        with self._db.transaction() as conn:
            customer_id = conn.execute(
                "INSERT INTO customers (name, email) VALUES (?, ?) RETURNING id", (name, email.strip())
            ).fetchone()[0]
        return Customer(id=customer_id, name=name, email=email.strip())


@dataclass(frozen=True)
class LogEntry:
    """One line of an integration's admin-visible log."""

    integration_id: str
    at: datetime
    level: str
    message: str


class IntegrationStore:
    """Integrations and their logs (:class:`hookspecs.types.IntegrationApi`), plus admin methods."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    def get(self, integration_id: str) -> Integration | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT id, provider, enabled, name FROM integrations WHERE id = ?", (integration_id,)
            ).fetchone()
        return _integration(row) if row else None

    def all(self) -> list[Integration]:
        with self._db.transaction(write=False) as conn:
            rows = conn.execute("SELECT id, provider, enabled, name FROM integrations ORDER BY id").fetchall()
        return [_integration(row) for row in rows]

    def log(self, integration_id: str, level: str, message: str) -> None:
        if level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO integration_log (integration_id, at, level, message) VALUES (?, ?, ?, ?)",
                (integration_id, to_db_time(self._clock()), level, str(message)[:MAX_LOG_MESSAGE]),
            )

    # ------------------------------------------------------------------ admin side

    def add_integration(self, integration_id: str, provider: str, name: str = "", enabled: bool = True) -> Integration:
        """Create an integration; ValueError if the id is taken or empty."""
        if not integration_id:
            raise ValueError("an integration needs an id")
        with self._db.transaction() as conn:
            self._db.dialect.lock(conn, "integration", integration_id)
            if conn.execute("SELECT 1 FROM integrations WHERE id = ?", (integration_id,)).fetchone():
                raise ValueError(f"integration {integration_id!r} already exists")
            if conn.execute(
                "SELECT 1 FROM config WHERE integration_id = ? AND value IS NOT NULL LIMIT 1", (integration_id,)
            ).fetchone():
                raise ValueError(
                    f"integration {integration_id!r} was deleted and its plugin is still cleaning up after it "
                    "(stopping its push channels); use another id, or try again in a few minutes"
                )
            conn.execute(
                "INSERT INTO integrations (id, provider, enabled, name) VALUES (?, ?, ?, ?)",
                (integration_id, provider, int(enabled), name),
            )
        return Integration(id=integration_id, provider=provider, enabled=enabled, name=name)

    def set_enabled(self, integration_id: str, enabled: bool) -> Integration:
        """Enable or disable an integration; LookupError if it does not exist."""
        with self._db.transaction() as conn:
            cursor = conn.execute("UPDATE integrations SET enabled = ? WHERE id = ?", (int(enabled), integration_id))
            if cursor.rowcount == 0:
                raise LookupError(f"no integration {integration_id!r}")
            row = conn.execute(
                "SELECT id, provider, enabled, name FROM integrations WHERE id = ?", (integration_id,)
            ).fetchone()
        return _integration(row)

    def delete(self, integration_id: str, *, keep_config: bool = False) -> None:
        """Remove an integration with its log, and drop its stored config in the same transaction (as
        tombstones, so config versions never repeat if the id is used again); LookupError if absent.
        ``keep_config``: leave the config to the plugin that cleans up after it (``on_integration_removed``)."""
        with self._db.transaction() as conn:
            cursor = conn.execute("DELETE FROM integrations WHERE id = ?", (integration_id,))
            if cursor.rowcount == 0:
                raise LookupError(f"no integration {integration_id!r}")
            if not keep_config:
                self._drop_config(conn, integration_id)
            conn.execute("DELETE FROM integration_log WHERE integration_id = ?", (integration_id,))

    def drop_config(self, integration_id: str) -> None:
        """Drop a deleted integration's stored config (as tombstones) when no plugin keeps it."""
        with self._db.transaction() as conn:
            self._drop_config(conn, integration_id)

    @staticmethod
    def _drop_config(conn: sqlite3.Connection, integration_id: str) -> None:
        conn.execute(
            "UPDATE config SET value = NULL, version = version + 1 WHERE integration_id = ? AND value IS NOT NULL",
            (integration_id,),
        )

    def entries(self, integration_id: str, limit: int = 200) -> list[LogEntry]:
        """Return the integration's log, newest first."""
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT integration_id, at, level, message FROM integration_log"
                " WHERE integration_id = ? ORDER BY id DESC LIMIT ?",
                (integration_id, limit),
            ).fetchall()
        return [LogEntry(row[0], from_db_time(row[1]), row[2], row[3]) for row in rows]


def _refuse_duplicate(conn: sqlite3.Connection, name: str, object_id: int | None) -> None:
    """ValueError when another object than ``object_id`` is already called ``name`` (any case)."""
    wanted = name.strip().casefold()
    for other_id, other_name in conn.execute("SELECT id, name FROM objects").fetchall():
        if other_id != object_id and other_name.strip().casefold() == wanted:
            raise ValueError(f"another object (id {other_id}) is already called {other_name!r}; choose another name")


def _integration(row: tuple[str, str, int, str]) -> Integration:
    return Integration(id=row[0], provider=row[1], enabled=bool(row[2]), name=row[3])
