"""An optional job-queue backend for the reference host on a real distributed engine: RQ on Redis.

Public API: :class:`RedisJobQueue`, :func:`perform`, :func:`host_for_worker`, :data:`DB_ENV`,
:data:`REDIS_ENV`, :data:`QUEUE_NAME`.

Install with ``pip install -e '.[rq]'``; run workers with
``IRESERVE_DEVHOST_DB=host.sqlite3 IRESERVE_REDIS_URL=redis://127.0.0.1:6379/0 rq worker --with-scheduler
--url redis://127.0.0.1:6379/0 ireserve``. The embedded SQLite queue stays the default.

It keeps the contract of :meth:`hookspecs.types.JobQueue.enqueue` exactly: a job with the same dedupe
key that is queued (or scheduled) and not yet started absorbs a new one (moving its run time to the
earlier of the two); a started job does not, so a change arriving during a run causes one more run.
The dedupe index is a Redis key per dedupe key, changed only inside ``WATCH``/``MULTI`` transactions.
A job that raises is retried by RQ with backoff; a job whose worker died is retried after its timeout.
Jobs carry only the name and the payload of plain ids; a worker process rebuilds the host from the
database named in :data:`DB_ENV`: a SQLite file for workers on one machine, a ``postgresql://`` URL
(with :data:`~.keyring.KEY_FILE_ENV`) for workers on several.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from hookspecs.types import Job
from ireserve_devhost.dbcheck import DB_ENV

__all__ = ["DB_ENV", "QUEUE_NAME", "REDIS_ENV", "RedisJobQueue", "host_for_worker", "perform"]

REDIS_ENV = "IRESERVE_REDIS_URL"
QUEUE_NAME = "ireserve"
_DEDUPE = "ireserve:dedupe:"
#: Seconds to wait between the attempts of a failing job (RQ retries; the plugin also retries itself).
RETRY_INTERVALS = [2, 4, 8, 16, 32, 60, 120, 300, 600, 900]
#: Seconds a job may run before RQ counts its worker as dead and retries it (``IRESERVE_RQ_JOB_TIMEOUT``).
DEFAULT_JOB_TIMEOUT = 600


def _imports() -> tuple[Any, Any, Any, Any, Any]:
    try:
        import redis
        from rq import Queue
        from rq import Retry
        from rq.job import Job as RqJob
        from rq.registry import ScheduledJobRegistry
    except ImportError as exc:  # pragma: no cover - only without the extra
        raise RuntimeError("the RQ backend needs the 'rq' extra: pip install -e '.[rq]'") from exc
    return redis, Queue, Retry, RqJob, ScheduledJobRegistry


class RedisJobQueue:
    """:class:`hookspecs.types.JobQueue` on RQ. ``redis_url`` like ``redis://127.0.0.1:6379/0``."""

    def __init__(self, redis_url: str, *, queue_name: str = QUEUE_NAME, job_timeout: int | None = None) -> None:
        redis, queue_cls, retry_cls, job_cls, scheduled_cls = _imports()
        self._redis = redis.Redis.from_url(redis_url)
        self._watch_error = redis.WatchError
        self.queue = queue_cls(queue_name, connection=self._redis)
        self._retry = retry_cls(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)
        self._job_cls = job_cls
        self._scheduled = scheduled_cls(queue=self.queue)
        self.redis_url = redis_url
        self.job_timeout = job_timeout or int(os.environ.get("IRESERVE_RQ_JOB_TIMEOUT", DEFAULT_JOB_TIMEOUT))

    def enqueue(
        self,
        name: str,
        payload: Mapping[str, str],
        *,
        dedupe_key: str | None = None,
        run_at: datetime | None = None,
    ) -> bool:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in payload.items()):
            raise TypeError("a job payload maps strings to strings (plain ids)")
        if run_at is not None and run_at.tzinfo is None:
            raise ValueError("run_at must be timezone-aware")
        job_id = uuid.uuid4().hex
        if dedupe_key is None:
            self._submit(job_id, name, payload, None, run_at)
            return True
        index = _DEDUPE + dedupe_key
        while True:
            with self._redis.pipeline() as pipe:
                try:
                    pipe.watch(index)
                    existing = pipe.get(index)
                    if existing is not None:
                        absorbed = self._absorb(existing.decode(), run_at)
                        if absorbed:
                            pipe.unwatch()
                            return False
                    pipe.multi()
                    pipe.set(index, job_id)
                    pipe.execute()
                except self._watch_error:
                    continue
            self._submit(job_id, name, payload, dedupe_key, run_at)
            return True

    def _absorb(self, job_id: str, run_at: datetime | None) -> bool:
        """True when the indexed job is still waiting (then it takes this request's earlier run time)."""
        try:
            job = self._job_cls.fetch(job_id, connection=self._redis)
        except Exception:  # the job expired or never made it: the index is stale
            return False
        status = job.get_status(refresh=True)
        status = getattr(status, "value", status)
        if status == "queued":
            return True
        if status == "scheduled":
            when = run_at or datetime.now(UTC)
            scheduled = self._scheduled.get_scheduled_time(job)
            if scheduled is not None and when < scheduled:
                if when <= datetime.now(UTC):
                    self._scheduled.remove(job)
                    self.queue.enqueue_job(job)
                else:
                    self._scheduled.schedule(job, when)
            return True
        return False  # started, finished, failed: a new run is needed

    def _submit(
        self, job_id: str, name: str, payload: Mapping[str, str], dedupe_key: str | None, run_at: datetime | None
    ) -> None:
        args = (name, json.dumps(dict(payload), sort_keys=True), dedupe_key or "")
        options = {
            "job_id": job_id,
            "retry": self._retry,
            "job_timeout": self.job_timeout,
            "result_ttl": 600,
            "failure_ttl": 7 * 24 * 3600,
        }
        if run_at is not None and run_at > datetime.now(UTC):
            self.queue.enqueue_at(run_at, perform, *args, **options)
        else:
            self.queue.enqueue(perform, *args, **options)

    def release(self, dedupe_key: str, job_id: str) -> None:
        """Drop the dedupe index entry if it still names ``job_id`` (called when that job starts)."""
        index = _DEDUPE + dedupe_key
        with self._redis.pipeline() as pipe:
            try:
                pipe.watch(index)
                if (pipe.get(index) or b"").decode() == job_id:
                    pipe.multi()
                    pipe.delete(index)
                    pipe.execute()
            except self._watch_error:
                pass  # someone re-pointed the index at a newer job: leave it

    def pending(self) -> int:
        """Jobs waiting now or later (queued plus scheduled)."""
        return len(self.queue) + len(self._scheduled)


_host_lock = threading.Lock()
_host: Any = None


def host_for_worker() -> Any:
    """The reference host of this worker process (built once from :data:`DB_ENV` and :data:`REDIS_ENV`)."""
    global _host
    with _host_lock:
        if _host is None:
            from ireserve_devhost.host import ReferenceHost

            db_path = os.environ[DB_ENV]
            redis_url = os.environ[REDIS_ENV]
            public_url = os.environ.get("IRESERVE_DEVHOST_PUBLIC_URL", "http://127.0.0.1:8080")
            _host = ReferenceHost(db_path, public_url=public_url, job_queue=RedisJobQueue(redis_url))
        return _host


def perform(name: str, payload_json: str, dedupe_key: str) -> bool:
    """The RQ job function: hand the job to the plugins through ``on_job``. Raises to ask for a retry."""
    from rq import get_current_job

    current = get_current_job()
    host = host_for_worker()
    if dedupe_key and current is not None:
        host.jobs.release(dedupe_key, current.id)  # from now on a new change makes a new job
    attempt = 1 + (current.meta.get("attempt", 0) if current is not None else 0)
    if current is not None:
        current.meta["attempt"] = attempt
        current.save_meta()
    job = Job(current.id if current else uuid.uuid4().hex, name, json.loads(payload_json), attempt)
    handled = host.hooks.job(job)
    if handled is None:
        raise LookupError(f"no plugin handles job {name!r}")
    return bool(handled)
