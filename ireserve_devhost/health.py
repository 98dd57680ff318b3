"""What every host process on a database reports about itself, so ``status`` and the admin page see it.

Public API: :class:`ProcessHealth`, :class:`ProcessReport`, :func:`process_reports`, :func:`process_problems`,
:func:`wall_clock`, :data:`ALIVE_WITHIN`, :data:`FAILURE_WINDOW`.

Several processes may serve one database (hosts, workers, operator commands), each with its own key
ring in memory. One of them failing every push (say, it cannot decrypt what another process sealed)
is invisible to ``ireserve-devhost status``, which runs in its own process and decrypts fine. So each
serving process keeps one row in ``host_processes``: a heartbeat, the key ids it holds and the current
one, why it could not re-read the key file (if so), and the last exception a plugin route or job
raised in it. :func:`process_problems` turns the rows of live processes into lines an operator reads.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING

from ireserve_devhost.db import Database
from ireserve_devhost.db import from_db_time
from ireserve_devhost.db import to_db_time

if TYPE_CHECKING:
    from ireserve_devhost.keyring import KeyStore

__all__ = [
    "ALIVE_WITHIN",
    "FAILURE_WINDOW",
    "ProcessHealth",
    "ProcessReport",
    "process_problems",
    "process_reports",
    "wall_clock",
]

#: A process whose heartbeat is older than this is taken for gone (killed or stopped).
ALIVE_WITHIN = timedelta(minutes=2)
#: A plugin failure older than this no longer needs attention.
FAILURE_WINDOW = timedelta(minutes=10)
#: Rows of processes not seen for this long are deleted.
_FORGET_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class ProcessReport:
    """One process's last report."""

    process: str
    seen_at: datetime
    key_current: str
    key_ids: tuple[str, ...]
    key_error: str
    last_failure: str
    failure_at: datetime | None
    failures: int


def wall_clock() -> datetime:
    """The wall clock: processes compare heartbeats with each other, and only this clock do they share
    (a host's injected clock may run days ahead in a simulation)."""
    return datetime.now(UTC)


class ProcessHealth:
    """This process's row in ``host_processes``: :meth:`beat` now and then, :meth:`failed` on a plugin exception."""

    def __init__(self, db: Database, keys: KeyStore, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._clock = clock or wall_clock
        self._keys = keys
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.Lock()
        self._last_beat = 0.0

    def beat(self, *, at_most_every: float = 0.0) -> None:
        """Record that this process is alive, with its key ring's state (skipped if it beat recently)."""
        if time.monotonic() - self._last_beat < at_most_every:
            return
        ring = self._keys.snapshot()
        now = to_db_time(self._clock())
        with self._lock, self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO host_processes (process, seen_at, key_current, key_ids, key_error) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (process) DO UPDATE SET seen_at = excluded.seen_at, key_current = excluded.key_current,"
                " key_ids = excluded.key_ids, key_error = excluded.key_error",
                (self.process, now, ring.current, ",".join(sorted(ring.keys)), self._keys.load_error or ""),
            )
            forget = to_db_time(self._clock() - _FORGET_AFTER)
            conn.execute("DELETE FROM host_processes WHERE seen_at < ?", (forget,))
        self._last_beat = time.monotonic()

    def failed(self, where: str, exc: BaseException) -> None:
        """Record that a plugin call (``on_http_route``, ``on_job``) raised; the text is the exception's type only."""
        now = to_db_time(self._clock())
        what = f"{where} raised {type(exc).__name__}"
        try:
            with self._lock, self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO host_processes (process, seen_at, last_failure, failure_at, failures)"
                    " VALUES (?, ?, ?, ?, 1) ON CONFLICT (process) DO UPDATE SET seen_at = excluded.seen_at,"
                    " last_failure = excluded.last_failure, failure_at = excluded.failure_at,"
                    " failures = host_processes.failures + 1",
                    (self.process, now, what, now),
                )
        except Exception:  # never turn a failed request into a second failure
            return


def process_reports(db: Database) -> list[ProcessReport]:
    """Every process's last report, most recently seen first."""
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            "SELECT process, seen_at, key_current, key_ids, key_error, last_failure, failure_at, failures"
            " FROM host_processes ORDER BY seen_at DESC"
        ).fetchall()
    return [
        ProcessReport(
            process=row[0],
            seen_at=from_db_time(row[1]),
            key_current=row[2],
            key_ids=tuple(kid for kid in row[3].split(",") if kid),
            key_error=row[4],
            last_failure=row[5],
            failure_at=from_db_time(row[6]) if row[6] else None,
            failures=row[7],
        )
        for row in rows
    ]


def process_problems(reports: list[ProcessReport], now: datetime) -> list[str]:
    """What needs an operator's attention in the live processes' reports."""
    found = []
    for report in reports:
        if now - report.seen_at > ALIVE_WITHIN:
            continue
        if report.key_error:
            found.append(f"host process {report.process} cannot read its keys: {report.key_error}")
        if report.failure_at is not None and now - report.failure_at <= FAILURE_WINDOW:
            found.append(
                f"host process {report.process}: {report.last_failure} at {report.failure_at:%Y-%m-%d %H:%M:%S} UTC "
                f"({report.failures} plugin failure(s) so far; see its log)"
            )
    return found
