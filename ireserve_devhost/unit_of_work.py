"""The reference host's unit of work: many writes in one database transaction, hooks after the commit.

Public API: :class:`SqliteUnitOfWork`, :func:`open_unit`.

Implements :class:`hookspecs.types.UnitOfWork` (``host.unit_of_work()``, see
:class:`hookspecs.types.UnitOfWorkHost`) with the host's own :class:`~.bookings.BookingStore` and
:class:`~.config_store.ConfigStore`, pointed at the unit instead of the database:

* :func:`open_unit` takes one connection and begins a write transaction through
  :meth:`.db.Database.transaction` (SQLite: ``BEGIN IMMEDIATE``, the write lock, as every write of this
  host does; PostgreSQL: ``BEGIN``, and the stores' row and key locks are held until the unit ends); the
  block's normal end commits, an exception rolls everything back and propagates.
* each booking store call runs in its own ``SAVEPOINT`` (:meth:`SqliteUnitOfWork.transaction`), so a
  write that raises (an overlap, a bad argument) leaves nothing, exactly as its own transaction would, and
  the unit goes on; a config ``put`` writes a single statement, atomic without one;
  :meth:`SqliteUnitOfWork.savepoint` groups a booking's writes the same way.
* the stores' status-change listener is the unit's queue: a notification is kept only if the savepoints
  around its write are released, and the queue is handed to the host's hooks after the COMMIT (never
  when the unit rolls back).

The same class serves both backends: SAVEPOINT / RELEASE / ROLLBACK TO are spelled alike in SQLite and
PostgreSQL, and the stores take their dialect from the unit (:attr:`SqliteUnitOfWork.dialect`). On
PostgreSQL a failed statement inside a savepoint (not only a refused write) is undone by the ROLLBACK TO,
after which the transaction is usable again, as on SQLite.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from contextlib import AbstractContextManager
from contextlib import contextmanager
from datetime import datetime

from hookspecs.types import Booking
from ireserve_devhost.bookings import BookingStore
from ireserve_devhost.bookings import StatusListener
from ireserve_devhost.config_store import ConfigStore
from ireserve_devhost.db import Database
from ireserve_devhost.dialect import SQLITE
from ireserve_devhost.dialect import Dialect

__all__ = ["SqliteUnitOfWork", "open_unit"]

#: a queued ``on_booking_status_changed``: (booking, old status, new status, origin)
Notification = tuple[Booking, str | None, str, str]


class SqliteUnitOfWork:
    """One open transaction on one connection: ``bookings`` and ``config`` write into it (see the module
    docstring). Made by :func:`open_unit`; unusable once its block has ended."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        clock: Callable[[], datetime],
        cancelled_statuses: Collection[str],
        dialect: Dialect = SQLITE,
    ) -> None:
        self._conn = conn
        #: the database's SQL dialect, for the stores bound to the unit
        self.dialect = dialect
        self._depth = 0
        self._open = True
        #: notifications of the writes kept so far, in write order
        self.pending: list[Notification] = []
        # the unit keeps the bookings of every object it wrote locked until it ends (SQLite: the write lock;
        # PostgreSQL: the per-object lock the store takes), so the store may keep what it read of them
        self.bookings = BookingStore(
            self, clock, cancelled_statuses=cancelled_statuses, listener=self._queue, holds_write_lock=True
        )
        # ConfigStore.put writes one statement (an upsert after its compare): atomic without a savepoint
        self.config = ConfigStore(_Statements(self))

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """What the stores call for each operation: a SAVEPOINT of the unit (reads need none)."""
        if not self._open:
            raise RuntimeError("this unit of work has ended")
        if not write:
            yield self._conn
            return
        with self.savepoint():
            yield self._conn

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo every write (and drop every notification) made in the block when it raises; re-raise."""
        if not self._open:
            raise RuntimeError("this unit of work has ended")
        self._depth += 1
        name = f"uow_{self._depth}"
        mark = len(self.pending)
        self._conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._conn.execute(f"ROLLBACK TO {name}")
            self._conn.execute(f"RELEASE {name}")
            del self.pending[mark:]
            # locks taken inside the savepoint are gone with it (PostgreSQL): what the unit kept may be stale
            self.bookings.forget_kept()
            raise
        else:
            self._conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    def close(self) -> None:
        self._open = False

    def _queue(self, booking: Booking, old_status: str | None, new_status: str, origin: str) -> None:
        self.pending.append((booking, old_status, new_status, origin))


class _Statements:
    """The unit's connection for stores whose every write is a single statement (no savepoint needed)."""

    def __init__(self, unit: SqliteUnitOfWork) -> None:
        self._unit = unit
        self.dialect = unit.dialect

    def transaction(self, *, write: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        return self._unit.transaction(write=False)


@contextmanager
def open_unit(
    db: Database,
    clock: Callable[[], datetime],
    cancelled_statuses: Collection[str],
    listener: StatusListener | None,
) -> Iterator[SqliteUnitOfWork]:
    """One unit of work on ``db``: commit at the block's end and then notify ``listener`` of every kept
    write in order; roll back (notifying nothing) when the block raises."""
    with db.transaction() as conn:
        unit = SqliteUnitOfWork(conn, clock, cancelled_statuses, db.dialect)
        try:
            yield unit
        finally:
            unit.close()
    # committed: only now may plugins hear about the unit's writes
    if listener is not None:
        for notification in unit.pending:
            listener(*notification)
