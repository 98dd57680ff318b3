"""RQ worker processes for the scale tests, and waits on the queue's own state (never on sleeps alone).

Public API: :func:`start_workers`, :func:`stop_workers`, :func:`wait_until`, :func:`rq_idle`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def start_workers(
    redis_url: str,
    database: str,
    public_url: str,
    n: int,
    *,
    lease_seconds: int | None = None,
    job_timeout: int = 60,
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
    command = [
        sys.executable,
        "-c",
        "from rq.cli import main; main()",
        "worker",
        "--url",
        redis_url,
        "--with-scheduler",
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


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> None:
    """Poll ``condition`` until it holds; an AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def rq_idle(queue: Any) -> bool:
    """Nothing queued, started, scheduled (a retry or a deferred job) or dequeued-but-not-started."""
    from rq.registry import ScheduledJobRegistry
    from rq.registry import StartedJobRegistry

    return (
        len(queue) == 0
        and len(StartedJobRegistry(queue=queue)) == 0
        and len(ScheduledJobRegistry(queue=queue)) == 0
        and not queue.intermediate_queue.get_job_ids()
    )
