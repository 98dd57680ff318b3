"""RQ worker processes for the scale tests, and waits on the queue's own state (never on sleeps alone).

Public API: :func:`start_workers`, :func:`stop_workers`, :func:`wait_until`, :func:`rq_idle`,
:func:`settle_rq`, :func:`kill_lease_holder`, :class:`KilledHolder`, :class:`Scheduler`.

The workers run without RQ's scheduler; the test process runs it (:class:`Scheduler`). RQ's scheduler
lives inside one worker holding a lock for 61 s, and the other workers only try to take it over every
120 s (``DEFAULT_SCHEDULER_FALLBACK_PERIOD``): a test that SIGKILLs the worker holding it would see
every scheduled retry (a busy calendar's job, run again 5 s later) stall for two minutes. A host
that kills workers should run the scheduler in a process of its own for the same reason.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from types import TracebackType
from typing import Any


def start_workers(
    redis_url: str,
    database: str,
    public_url: str,
    n: int,
    *,
    lease_seconds: int | None = None,
    job_timeout: int = 60,
    with_scheduler: bool = True,
) -> list[subprocess.Popen[bytes]]:
    """``n`` ``rq worker`` processes (one job at a time each) on the host's database and Redis."""
    env = {
        **os.environ,
        "IRESERVE_DEVHOST_DB": database,
        "IRESERVE_REDIS_URL": redis_url,
        "IRESERVE_DEVHOST_PUBLIC_URL": public_url,
        "IRESERVE_RQ_JOB_TIMEOUT": str(job_timeout),
    }
    if lease_seconds is not None:
        env["IRESERVE_CALENDAR_LEASE_SECONDS"] = str(lease_seconds)
    # the host and its plugins are loaded before the first job (as a long-running worker has them),
    # so the first job of each worker does not pay for the imports
    warm = "from ireserve_devhost.rq_queue import host_for_worker; host_for_worker(); from rq.cli import main; main()"
    command = [
        sys.executable,
        "-c",
        warm,
        "worker",
        "--url",
        redis_url,
        *(["--with-scheduler"] if with_scheduler else []),
        "--worker-class",
        "rq.worker.SimpleWorker",
        "--quiet",
        "ireserve",
    ]
    return [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    """Terminate the workers still running (killed ones are only reaped)."""
    for proc in workers:
        if proc.poll() is None:
            proc.terminate()
    for proc in workers:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Scheduler:
    """RQ's scheduler (due scheduled jobs moved to the queue, every 0.1 s) in a thread of this process."""

    def __init__(self, queue: Any) -> None:
        from rq.scheduler import RQScheduler

        self._scheduler = RQScheduler([queue], connection=queue.connection)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        locked_at = 0.0
        while not self._stop.is_set():
            if time.monotonic() - locked_at > 20:
                self._scheduler.acquire_locks()
                locked_at = time.monotonic()
            self._scheduler.enqueue_scheduled_jobs()
            self._stop.wait(0.1)

    def __enter__(self) -> Scheduler:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._scheduler.release_locks()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> None:
    """Poll ``condition`` until it holds; an AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def rq_idle(queue: Any, dead: Collection[str] = ()) -> bool:
    """Nothing queued, started, scheduled (a retry or a deferred job) or dequeued-but-not-started; the
    ``dead`` job ids (those of killed workers, which RQ retries only after their timeout) excepted."""
    from rq.registry import ScheduledJobRegistry
    from rq.registry import StartedJobRegistry

    started = set(StartedJobRegistry(queue=queue).get_job_ids()) - set(dead)
    dequeued = set(queue.intermediate_queue.get_job_ids()) - set(dead)
    return len(queue) == 0 and not started and len(ScheduledJobRegistry(queue=queue)) == 0 and not dequeued


def settle_rq(world: Any, queue: Any, *, timeout: float = 90, dead: Collection[str] = ()) -> None:
    """Return once the queue's own state says everything is done: pushes delivered, then :func:`rq_idle`
    twice in a row around another delivery (a push that arrives meanwhile queues a job and resets it)."""

    def quiet() -> bool:
        world.wait_for_pushes()
        if not rq_idle(queue, dead):
            return False
        world.wait_for_pushes()
        return rq_idle(queue, dead)

    wait_until(quiet, timeout, "the RQ workers to finish every job", poll=0.1)


@dataclass
class KilledHolder:
    """A worker SIGKILLed while it held a calendar's lease: the calendar, its pid, its job, the lease."""

    calendar_key: str
    pid: int
    job_id: str
    token: str
    until: datetime
    killed_at: datetime


def kill_lease_holder(
    queue: Any,
    store: Any,
    calendar_key: str | None,
    workers: list[subprocess.Popen[bytes]],
    *,
    timeout: float = 30,
) -> KilledHolder:
    """SIGKILL the worker that holds ``calendar_key``'s lease (None: any calendar's) at this moment.

    The holder is found through host storage, not guessed: the lease record ``lease/<key>`` is taken
    and unexpired, and exactly one worker (by RQ's registry) runs a job of that calendar. After the kill
    the record must still carry the same token (nobody released or took it over); the caller can check
    again later (:func:`lease_of`) that it stays so until it expires."""
    from rq import Worker as RqWorker

    by_pid = {proc.pid: proc for proc in workers}
    found: dict[str, Any] = {}
    seen: list[Any] = []

    def holder() -> bool:
        running: dict[str, list[tuple[int, str]]] = {}
        for worker in RqWorker.all(queue=queue):
            job = worker.get_current_job()
            key = _calendar_of(job) if job is not None else None
            if key is not None and worker.pid in by_pid and calendar_key in (None, key):
                running.setdefault(key, []).append((worker.pid, job.id))
        seen[:] = [running]
        for key, jobs in running.items():
            lease = lease_of(store, key)
            if len(jobs) == 1 and lease is not None and lease[1] > datetime.now(UTC):
                found.update(key=key, pid=jobs[0][0], job_id=jobs[0][1], token=lease[0], until=lease[1])
                return True
        return False

    try:
        wait_until(holder, timeout, f"a worker holding the lease of {calendar_key or 'a calendar'}", poll=0.02)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen (workers running each calendar's jobs): {seen}") from None
    os.kill(found["pid"], signal.SIGKILL)
    killed_at = datetime.now(UTC)
    by_pid[found["pid"]].wait(timeout=10)
    after = lease_of(store, found["key"])
    assert after is not None and after[0] == found["token"] and after[1] > killed_at, (
        "the killed worker did not hold the lease when it died"
    )
    return KilledHolder(found["key"], found["pid"], found["job_id"], found["token"], found["until"], killed_at)


def lease_of(store: Any, calendar_key: str) -> tuple[str, datetime] | None:
    """(token, expiry) of the calendar's lease record in host storage, None when there is none."""
    data = store.load(f"lease/{calendar_key}").data
    if not isinstance(data, dict):
        return None
    return str(data["token"]), datetime.fromisoformat(str(data["until"]))


def _calendar_of(job: Any) -> str | None:
    try:
        payload = json.loads(job.args[1])
    except (IndexError, TypeError, ValueError):
        return None
    return payload.get("calendar") if isinstance(payload, dict) else None
