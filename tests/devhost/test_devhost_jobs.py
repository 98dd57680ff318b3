"""The durable job queue: dedupe, scheduling, retries with backoff, leases, restarts, parallel workers."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pluggy
import pytest

from hookspecs import Job
from ireserve_devhost import ReferenceHost
from ireserve_devhost import Worker
from ireserve_devhost.jobs import MAX_ATTEMPTS
from ireserve_devhost.jobs import MAX_ERROR
from ireserve_devhost.jobs import backoff

pytestmark = pytest.mark.backends  # the storage contract: on SQLite and on PostgreSQL


def _states(host: ReferenceHost) -> list[str]:
    return [record.state for record in host.jobs.all()]


# --------------------------------------------------------------------------- dedupe


def test_a_queued_job_absorbs_one_with_the_same_key(host: ReferenceHost, clock) -> None:
    soon, later = clock() + timedelta(minutes=1), clock() + timedelta(minutes=5)
    assert host.jobs.enqueue("sync", {"calendar": "c1"}, dedupe_key="sync:c1", run_at=later)
    assert not host.jobs.enqueue("sync", {"calendar": "other"}, dedupe_key="sync:c1", run_at=soon)
    assert not host.jobs.enqueue("sync", {"calendar": "c1"}, dedupe_key="sync:c1", run_at=later)
    assert host.jobs.enqueue("sync", {"calendar": "c2"}, dedupe_key="sync:c2")
    assert host.jobs.enqueue("sync", {"calendar": "c1"})  # no key, no dedupe
    first = host.jobs.all()[0]
    assert first.run_at == soon  # moved to the earlier time, never later
    assert dict(first.payload) == {"calendar": "c1"}  # the queued job keeps its payload
    assert len(host.jobs.all()) == 3


def test_a_running_job_does_not_absorb(host: ReferenceHost, plugin: Any) -> None:
    runs: list[str] = []

    def handle(job: Job) -> bool:
        runs.append(job.id)
        if len(runs) == 1:  # a change arrives while the first run is busy
            assert host.jobs.enqueue("sync", {"calendar": "c1"}, dedupe_key="sync:c1")
            assert not host.jobs.enqueue("sync", {"calendar": "c1"}, dedupe_key="sync:c1")
        return True

    plugin.job_answer = handle
    host.jobs.enqueue("sync", {"calendar": "c1"}, dedupe_key="sync:c1")
    assert Worker(host).run_until_idle() == 2  # exactly one more run
    assert len(set(runs)) == 2 and _states(host) == ["done", "done"]


# --------------------------------------------------------------------------- scheduling


def test_a_job_does_not_run_before_its_time(host: ReferenceHost, plugin: Any, clock) -> None:
    host.jobs.enqueue("renew", {"channel": "ch1"}, run_at=clock() + timedelta(hours=1))
    worker = Worker(host)
    assert not worker.run_once()
    clock.advance(minutes=59, seconds=59)
    assert not worker.run_once()
    clock.advance(seconds=1)
    assert worker.run_once()
    assert plugin.of("on_job")[0]["job"].payload == {"channel": "ch1"}


def test_run_until_idle_can_include_future_jobs(host: ReferenceHost, plugin: Any, clock) -> None:
    host.jobs.enqueue("renew", {}, run_at=clock() + timedelta(days=2))
    assert Worker(host).run_until_idle() == 0
    assert Worker(host).run_until_idle(include_future=True) == 1


def test_jobs_run_oldest_due_first(host: ReferenceHost, plugin: Any, clock) -> None:
    host.jobs.enqueue("b", {}, run_at=clock() - timedelta(seconds=1))
    host.jobs.enqueue("c", {})
    host.jobs.enqueue("a", {}, run_at=clock() - timedelta(seconds=2))
    Worker(host).run_until_idle()
    assert [call["job"].name for call in plugin.of("on_job")] == ["a", "b", "c"]


def test_payloads_are_plain_strings(host: ReferenceHost) -> None:
    with pytest.raises(TypeError):
        host.jobs.enqueue("sync", {"calendar": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        host.jobs.enqueue("", {})


# --------------------------------------------------------------------------- failures


def test_an_exception_is_retried_with_backoff(host: ReferenceHost, plugin: Any, clock) -> None:
    attempts: list[int] = []

    def flaky(job: Job) -> bool:
        attempts.append(job.attempt)
        if len(attempts) < 3:
            raise ConnectionError("provider down")
        return True

    plugin.job_answer = flaky
    host.jobs.enqueue("sync", {"calendar": "c1"})
    worker = Worker(host)
    assert worker.run_once()
    [record] = host.jobs.all()
    assert (record.state, record.attempts, record.last_error) == ("queued", 1, "ConnectionError: provider down")
    assert record.run_at == clock() + timedelta(seconds=2) == clock() + backoff(1)
    assert not worker.run_once()  # not before the backoff
    clock.advance(seconds=2)
    assert worker.run_once()
    assert host.jobs.all()[0].run_at == clock() + timedelta(seconds=4)
    clock.advance(seconds=4)
    assert worker.run_once()
    assert attempts == [1, 2, 3] and _states(host) == ["done"]


def test_backoff_doubles_up_to_fifteen_minutes() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 9, 10, 50)] == [2, 4, 8, 512, 900, 900]


def test_a_job_that_keeps_failing_ends_failed_with_its_error(host: ReferenceHost, plugin: Any, clock) -> None:
    def broken(job: Job) -> bool:
        raise ValueError("x" * 5000)

    plugin.job_answer = broken
    host.jobs.enqueue("sync", {})
    worker = Worker(host)
    for _ in range(MAX_ATTEMPTS + 3):
        worker.run_once()
        clock.advance(minutes=15)
    [record] = host.jobs.all()
    assert (record.state, record.attempts) == ("failed", MAX_ATTEMPTS)
    assert record.last_error.startswith("ValueError: xxx") and len(record.last_error) == MAX_ERROR
    assert len(plugin.of("on_job")) == MAX_ATTEMPTS


def test_a_job_no_plugin_handles_fails_at_once(host: ReferenceHost, plugin: Any) -> None:
    plugin.job_answer = lambda job: None
    host.jobs.enqueue("mystery", {})
    assert Worker(host).run_once()
    [record] = host.jobs.all()
    assert (record.state, record.last_error) == ("failed", "no plugin handles job mystery")


def test_a_failed_retry_is_taken_over_by_a_queued_job_with_its_key(host: ReferenceHost, plugin: Any, clock) -> None:
    def fail_first(job: Job) -> bool:
        if job.id == "1":
            host.jobs.enqueue("sync", {"calendar": "c1"}, dedupe_key="sync:c1", run_at=clock() + timedelta(hours=1))
            raise RuntimeError("boom")
        return True

    plugin.job_answer = fail_first
    host.jobs.enqueue("sync", {"calendar": "c1"}, dedupe_key="sync:c1")
    worker = Worker(host)
    assert worker.run_once()
    first, second = host.jobs.all()
    assert first.state == "merged" and "RuntimeError: boom" in first.last_error
    assert (second.state, second.run_at) == ("queued", clock() + backoff(1))  # pulled in to the retry time
    clock.advance(seconds=2)
    assert worker.run_until_idle() == 1 and _states(host) == ["merged", "done"]


# --------------------------------------------------------------------------- leases, restarts, parallel workers


def test_an_expired_lease_is_claimed_again(host: ReferenceHost, plugin: Any, clock) -> None:
    host.jobs.enqueue("sync", {})
    dead = host.jobs.claim("dead-worker", timedelta(minutes=5))  # claimed, then the worker died
    assert dead is not None and dead.attempt == 1
    worker = Worker(host)
    assert not worker.run_once()  # the lease still holds
    clock.advance(minutes=5)
    assert worker.run_once()
    assert plugin.of("on_job")[0]["job"].attempt == 2
    [record] = host.jobs.all()
    assert record.state == "done" and "expired" in record.last_error
    assert not host.jobs.complete(dead, "dead-worker")  # the zombie's late result is ignored
    assert host.jobs.all()[0].state == "done"


def test_jobs_survive_a_restart(
    pm: pluggy.PluginManager, plugin: Any, clock, db_location: str | Path, host_options: dict[str, Any]
) -> None:
    with ReferenceHost(db_location, plugin_manager=pm, clock=clock, **host_options) as first:
        first.jobs.enqueue("sync", {"calendar": "c1"}, dedupe_key="sync:c1")
        first.jobs.enqueue("renew", {"channel": "ch1"}, run_at=clock() + timedelta(hours=1))
    with ReferenceHost(db_location, plugin_manager=pm, clock=clock, **host_options) as second:
        assert not second.jobs.enqueue("sync", {"calendar": "c1"}, dedupe_key="sync:c1")
        assert Worker(second).run_until_idle() == 1
        clock.advance(hours=1)
        assert Worker(second).run_until_idle() == 1
        assert [c["job"].name for c in plugin.of("on_job")] == ["sync", "renew"]
        assert second.jobs.counts()["done"] == 2


def test_two_worker_threads_never_run_the_same_job(file_host: ReferenceHost, plugin: Any) -> None:
    in_flight: set[str] = set()
    runs: list[str] = []
    overlaps: list[str] = []
    threads_used: set[int] = set()
    lock = threading.Lock()

    def handle(job: Job) -> bool:
        with lock:
            if job.id in in_flight:
                overlaps.append(job.id)
            in_flight.add(job.id)
            runs.append(job.id)
            threads_used.add(threading.get_ident())
        time.sleep(0.001)  # widen the window in which a double claim would show
        with lock:
            in_flight.discard(job.id)
        return True

    plugin.job_answer = handle
    for number in range(60):
        file_host.jobs.enqueue("sync", {"n": str(number)})
    workers = [Worker(file_host), Worker(file_host)]
    threads = [threading.Thread(target=worker.run_until_idle) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [] and len(threads_used) == 2
    assert sorted(runs, key=int) == [str(n) for n in range(1, 61)]  # each job exactly once
    assert file_host.jobs.counts()["done"] == 60
