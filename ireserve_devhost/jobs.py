"""The reference host's durable job queue and the worker that runs it through ``on_job``.

Public API: :class:`JobStore` (``host.jobs``, a :class:`hookspecs.types.JobQueue`), :class:`JobRecord`,
:class:`Worker`, :func:`backoff`, :data:`MAX_ATTEMPTS`, :data:`DEFAULT_LEASE`.

Jobs live in the host database, so they survive a restart. Their life::

    enqueue -> queued --claim--> running --hook returns True--> done
                 ^                  |--hook raises--> queued again at now + backoff(attempt)
                 |                  |                 (failed after MAX_ATTEMPTS; merged when a queued
                 |                  |                  job with the same dedupe key takes the retry over)
                 |                  |--no plugin answers--> failed
                 +--lease expired---+  (the worker died: another worker claims it again)

* **Dedupe** (the contract of :meth:`hookspecs.types.JobQueue.enqueue`): a *queued* job with the same
  ``dedupe_key`` absorbs a new one (keeping its payload; its ``run_at`` moves to the earlier of the
  two) and ``enqueue`` returns False. A *running* job never absorbs, so a change that arrives during a
  run causes exactly one more run. A unique index keeps at most one queued job per key.
* **Claiming** is one write transaction that picks the oldest due job and sets ``state='running'``
  with a lease (owner + expiry), so two workers, in threads, processes or on other machines, never run
  the same job while its lease holds. On SQLite the transaction is ``BEGIN IMMEDIATE`` (one writer at a
  time); on PostgreSQL the pick is ``FOR UPDATE SKIP LOCKED``, so concurrent claims take different jobs
  instead of waiting for each other, and completing or failing a job locks its row first. A job
  whose lease expired is claimable again; its attempt counts. Leases are not renewed, so they must
  outlast the longest job (default 5 minutes).
* **Retries**: when ``on_job`` raises, the error (exception type and message, truncated) is stored in
  ``last_error`` and the job waits ``backoff(attempt)`` (2, 4, 8 ... seconds, at most 15 minutes).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

from hookspecs.types import Job
from ireserve_devhost.db import Database
from ireserve_devhost.db import from_db_time
from ireserve_devhost.db import to_db_time

if TYPE_CHECKING:
    from ireserve_devhost.host import ReferenceHost

__all__ = ["DEFAULT_LEASE", "JOB_STATES", "MAX_ATTEMPTS", "JobRecord", "JobStore", "Worker", "backoff"]

log = logging.getLogger(__name__)

#: Every state a job can be in.
JOB_STATES = ("queued", "running", "done", "failed", "merged")

#: A job that failed this many attempts is given up (state ``failed``).
MAX_ATTEMPTS = 10

#: How long a claim holds before another worker may take the job over.
DEFAULT_LEASE = timedelta(minutes=5)

#: The longest wait between two attempts.
MAX_BACKOFF = timedelta(minutes=15)

#: Stored error texts are cut to this many characters.
MAX_ERROR = 2000

# A run_at later than any real one: "due" for run_until_idle(include_future=True).
_END_OF_TIME = "9999-12-31T23:59:59.999999+00:00"

_COLUMNS = (
    "id, name, payload, state, run_at, attempts, dedupe_key, last_error, lease_owner, lease_expires,"
    " created_at, updated_at"
)


def backoff(attempt: int) -> timedelta:
    """Return how long to wait after failed attempt number ``attempt`` (from 1): 2^attempt s, capped."""
    return min(timedelta(seconds=2 ** min(attempt, 20)), MAX_BACKOFF)


@dataclass(frozen=True)
class JobRecord:
    """A job as the admin sees it. ``attempts`` counts the runs started so far."""

    id: str
    name: str
    payload: Mapping[str, str]
    state: str
    run_at: datetime
    attempts: int
    dedupe_key: str | None
    last_error: str
    lease_owner: str | None
    lease_expires: datetime | None
    created_at: datetime
    updated_at: datetime


class JobStore:
    """Jobs in the host database: the plugin-facing ``enqueue`` plus the worker and admin side."""

    def __init__(self, db: Database, clock: Callable[[], datetime], *, max_attempts: int = MAX_ATTEMPTS) -> None:
        self._db = db
        self._clock = clock
        self.max_attempts = max_attempts

    # ------------------------------------------------------------------ the JobQueue contract

    def enqueue(
        self,
        name: str,
        payload: Mapping[str, str],
        *,
        dedupe_key: str | None = None,
        run_at: datetime | None = None,
    ) -> bool:
        if not isinstance(name, str) or not name:
            raise ValueError("a job needs a name")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in payload.items()):
            raise TypeError("a job payload maps strings to strings (plain ids)")
        now = to_db_time(self._clock())
        due = to_db_time(run_at, "run_at") if run_at is not None else now
        body = json.dumps(dict(payload), sort_keys=True)
        with self._db.transaction() as conn:
            if dedupe_key is not None:
                self._db.dialect.lock(conn, "job dedupe key", dedupe_key)
                row = conn.execute(
                    "SELECT id, run_at FROM jobs WHERE dedupe_key = ? AND state = 'queued'", (dedupe_key,)
                ).fetchone()
                if row is not None:
                    if due < row[1]:
                        conn.execute("UPDATE jobs SET run_at = ?, updated_at = ? WHERE id = ?", (due, now, row[0]))
                    return False
            conn.execute(
                "INSERT INTO jobs (name, payload, dedupe_key, state, run_at, created_at, updated_at)"
                " VALUES (?, ?, ?, 'queued', ?, ?, ?)",
                (name, body, dedupe_key, due, now, now),
            )
        return True

    # ------------------------------------------------------------------ admin side

    def all(self, *, state: str | None = None, name: str | None = None) -> list[JobRecord]:
        """Return jobs, oldest first, optionally only those in one state and / or with one name."""
        if state is not None and state not in JOB_STATES:
            raise ValueError(f"unknown job state {state!r}")
        where = [("state = ?", state), ("name = ?", name)]
        wanted = [(condition, value) for condition, value in where if value is not None]
        sql = " AND ".join(condition for condition, _ in wanted) or "TRUE"
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE {sql} ORDER BY id", tuple(value for _, value in wanted)
            ).fetchall()
        return [_record(row) for row in rows]

    def get(self, job_id: str) -> JobRecord | None:
        """Return one job by id, or None."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (int(job_id),)).fetchone()
        return _record(row) if row else None

    def counts(self) -> dict[str, int]:
        """Return how many jobs are in each state (every state present, 0 when none)."""
        with self._db.transaction(write=False) as conn:
            rows = conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return dict.fromkeys(JOB_STATES, 0) | dict(rows)

    # ------------------------------------------------------------------ worker side

    def claim(self, owner: str, lease: timedelta = DEFAULT_LEASE, *, include_future: bool = False) -> Job | None:
        """Atomically take the oldest due job (or one whose lease expired) for ``owner``; None when idle."""
        now = self._clock()
        now_at = to_db_time(now)
        with self._db.transaction() as conn:
            while True:
                row = conn.execute(
                    "SELECT id, name, payload, state, attempts, lease_owner FROM jobs"
                    " WHERE (state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_expires <= ?)"
                    " ORDER BY run_at, id LIMIT 1" + self._db.dialect.skip_locked,
                    (_END_OF_TIME if include_future else now_at, now_at),
                ).fetchone()
                if row is None:
                    return None
                job_id, name, payload, state, attempts, old_owner = row
                if state == "running":  # the previous worker died or overran its lease
                    error = f"lease of worker {old_owner} expired during attempt {attempts}"
                    log.warning("job %s (%s): %s", job_id, name, error)
                    if attempts >= self.max_attempts:
                        _finish(conn, job_id, "failed", error, now_at)
                        continue
                    conn.execute("UPDATE jobs SET last_error = ? WHERE id = ?", (error, job_id))
                conn.execute(
                    "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?,"
                    " lease_expires = ?, updated_at = ? WHERE id = ?",
                    (owner, to_db_time(now + lease), now_at, job_id),
                )
                return Job(id=str(job_id), name=name, payload=json.loads(payload), attempt=attempts + 1)

    def complete(self, job: Job, owner: str) -> bool:
        """Mark a claimed job done; False (and nothing changed) if ``owner`` no longer holds its lease."""
        with self._db.transaction() as conn:
            if not _holds(conn, job, owner, self._db.dialect.for_update):
                log.warning("job %s (%s) finished after its lease was lost; result ignored", job.id, job.name)
                return False
            _finish(conn, int(job.id), "done", None, to_db_time(self._clock()))
        return True

    def fail(self, job: Job, owner: str, error: str, *, permanent: bool = False) -> str | None:
        """Record a failed attempt and return the job's new state (None if the lease was lost).

        The job is queued again after :func:`backoff`, or ``failed`` when ``permanent`` or out of
        attempts, or ``merged`` when a queued job with the same dedupe key takes the retry over.
        """
        now = self._clock()
        now_at = to_db_time(now)
        error = error[:MAX_ERROR]
        with self._db.transaction() as conn:
            if not _holds(conn, job, owner, self._db.dialect.for_update):
                log.warning("job %s (%s) failed after its lease was lost: %s", job.id, job.name, error)
                return None
            attempts, dedupe_key = conn.execute(
                "SELECT attempts, dedupe_key FROM jobs WHERE id = ?", (int(job.id),)
            ).fetchone()
            if permanent or attempts >= self.max_attempts:
                _finish(conn, int(job.id), "failed", error, now_at)
                return "failed"
            retry_at = to_db_time(now + backoff(attempts))
            twin = None
            if dedupe_key is not None:
                self._db.dialect.lock(conn, "job dedupe key", dedupe_key)
                twin = conn.execute(
                    "SELECT id, run_at FROM jobs WHERE dedupe_key = ? AND state = 'queued'", (dedupe_key,)
                ).fetchone()
            if twin is not None:
                conn.execute(
                    f"UPDATE jobs SET run_at = {self._db.dialect.least}(run_at, ?) WHERE id = ?", (retry_at, twin[0])
                )
                _finish(conn, int(job.id), "merged", f"{error} (retry taken over by job {twin[0]})", now_at)
                return "merged"
            conn.execute(
                "UPDATE jobs SET state = 'queued', run_at = ?, last_error = ?, lease_owner = NULL,"
                " lease_expires = NULL, updated_at = ? WHERE id = ?",
                (retry_at, error, now_at, int(job.id)),
            )
            return "queued"


class Worker:
    """Runs due jobs of one host through its ``on_job`` hook. Each worker has its own lease owner id.

    Use several workers (threads or processes on the same database file) for parallelism.
    """

    def __init__(self, host: ReferenceHost, *, lease: timedelta = DEFAULT_LEASE, owner: str | None = None) -> None:
        self.host = host
        self.lease = lease
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def run_once(self, *, include_future: bool = False) -> bool:
        """Claim and run one due job; return whether there was one."""
        job = self.host.jobs.claim(self.owner, self.lease, include_future=include_future)
        if job is None:
            return False
        try:
            handled = self.host.hooks.job(job)
        except Exception as exc:
            log.warning("job %s (%s) attempt %d raised", job.id, job.name, job.attempt, exc_info=True)
            self.host.health.failed("on_job", exc)
            self.host.jobs.fail(job, self.owner, f"{type(exc).__name__}: {exc}")
            return True
        if handled is None:
            log.error("job %s: no plugin handles job %s", job.id, job.name)
            self.host.jobs.fail(job, self.owner, f"no plugin handles job {job.name}", permanent=True)
        else:
            self.host.jobs.complete(job, self.owner)
        return True

    def run_until_idle(self, max_jobs: int = 10_000, include_future: bool = False) -> int:
        """Run jobs until none is due (or ``max_jobs`` ran); return how many ran.

        ``include_future=True`` also runs jobs whose ``run_at`` (or retry time) lies ahead.
        """
        ran = 0
        while ran < max_jobs and self.run_once(include_future=include_future):
            ran += 1
        return ran


# ---------------------------------------------------------------------- helpers


def _holds(conn: sqlite3.Connection, job: Job, owner: str, lock: str = "") -> bool:
    """Whether ``owner`` still holds the job's lease (``lock``: the dialect's ``for_update``, kept until commit)."""
    row = conn.execute(
        "SELECT 1 FROM jobs WHERE id = ? AND state = 'running' AND lease_owner = ?" + lock, (int(job.id), owner)
    ).fetchone()
    return row is not None


def _finish(conn: sqlite3.Connection, job_id: int, state: str, error: str | None, now_at: str) -> None:
    conn.execute(
        "UPDATE jobs SET state = ?, last_error = COALESCE(?, last_error), lease_owner = NULL,"
        " lease_expires = NULL, updated_at = ? WHERE id = ?",
        (state, error, now_at, job_id),
    )


def _record(row: tuple[Any, ...]) -> JobRecord:
    job_id, name, payload, state, run_at, attempts, dedupe_key, last_error, owner, expires = row[:10]
    return JobRecord(
        id=str(job_id),
        name=name,
        payload=json.loads(payload),
        state=state,
        run_at=from_db_time(run_at),
        attempts=attempts,
        dedupe_key=dedupe_key,
        last_error=last_error,
        lease_owner=owner,
        lease_expires=None if expires is None else from_db_time(expires),
        created_at=from_db_time(row[10]),
        updated_at=from_db_time(row[11]),
    )
