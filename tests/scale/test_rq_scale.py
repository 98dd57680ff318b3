"""Scale out on a real distributed job engine: RQ on a real Redis server, real worker processes.

The scenario of the scale-out issue: an initial sync, a burst of changes on both sides with
notifications, one worker killed with SIGKILL mid-round; afterwards every booking matches its event,
nothing is duplicated or lost, and the same scenario on the embedded SQLite queue ends in the same
state. Skipped (with the reason) only where no ``redis-server`` binary or no ``rq`` package exists;
``.ci/run`` installs both.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ireserve_calendar_plugin.devhost import Worker
from ireserve_calendar_plugin.world import World

rq = pytest.importorskip("rq", reason="the scale-out test needs the rq extra: pip install -e '.[rq]'")

CALENDARS = 20
EVENTS_PER_CALENDAR = 12
USER = "demo@example.com"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: Any) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary (apt-get install redis-server; .ci/run does)")
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Scenario:
    """20 Google calendars of one user, 20 rooms, each with events; then a burst on both sides."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.google, base = world.google()
        self.google.set_paging(page_cap=4)  # several pages per round, so a kill lands mid-round
        self.rooms = []
        rows = []
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        for i in range(CALENDARS):
            calendar_id = f"room-{i:02d}@group.calendar.google.com"
            self.google.share_calendar(calendar_id, USER, "owner")
            room = world.host.add_object(f"Room {i:02d}")
            self.rooms.append((room, calendar_id))
            rows.append({"object": str(room.id), "calendar_id": calendar_id})
            for j in range(EVENTS_PER_CALENDAR):
                at = start + timedelta(days=j, hours=i % 8)
                self.google.create_event(calendar_id, summary=f"E{i}-{j}", start=at, end=at + timedelta(hours=1))
        self.integration = world.integration("g1", "google", {
            "client_id": "demo-client", "client_secret": "demo-secret", "allow_booking_update": True,
            "calendar_mapping": rows, **World.google_urls(base),
        })

    def burst(self) -> None:
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=40)
        for i, (room, calendar_id) in enumerate(self.rooms):
            events = list(self.google.events(calendar_id, include_cancelled=False))
            first = events[0]
            moved = datetime.fromisoformat(first["start"]["dateTime"]) + timedelta(hours=10)
            self.google.move_event(calendar_id, first["id"], moved, moved + timedelta(hours=1))
            self.google.delete_event(calendar_id, events[1]["id"])
            self.world.host.bookings.create(object_id=room.id, start=start + timedelta(hours=i),
                                            end=start + timedelta(hours=i, minutes=30), status="confirmed",
                                            title=f"B{i}", channel="web", origin="user:1")

    def snapshot(self) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
        """(live bookings, live events) as comparable tuples, and checks the pairing on the way."""
        bookings: set[tuple[Any, ...]] = set()
        events: set[tuple[Any, ...]] = set()
        for room, calendar_id in self.rooms:
            live = [b for b in self.world.host.list_bookings(room.id) if b.status != "cancelled"]
            remote = self.google.events(calendar_id, include_cancelled=False)
            by_id = {e["id"]: e for e in remote}
            assert len(live) == len(remote), f"{calendar_id}: {len(live)} bookings vs {len(remote)} events"
            linked = [b.fields.get("external_id") for b in live]
            assert len(set(linked)) == len(linked), f"{calendar_id}: two bookings share an event"
            for booking in live:
                event = by_id[booking.fields["external_id"]]
                assert datetime.fromisoformat(event["start"]["dateTime"]) == booking.start
                bookings.add((calendar_id, booking.title.split(" [")[0], booking.start, booking.end))
                events.add((calendar_id, event["summary"].split(" [")[0], event["start"]["dateTime"]))
        return bookings, events


def _rq_idle(queue: Any) -> bool:
    from rq.registry import ScheduledJobRegistry
    from rq.registry import StartedJobRegistry

    return len(queue) == 0 and len(StartedJobRegistry(queue=queue)) == 0 and len(ScheduledJobRegistry(queue=queue)) == 0


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _workers(redis_url: str, db: Path, public_url: str, n: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "IRESERVE_DEVHOST_DB": str(db), "IRESERVE_REDIS_URL": redis_url,
           "IRESERVE_DEVHOST_PUBLIC_URL": public_url, "IRESERVE_CALENDAR_LEASE_SECONDS": "4",
           "IRESERVE_RQ_JOB_TIMEOUT": "8"}
    command = [sys.executable, "-c", "from rq.cli import main; main()", "worker", "--url", redis_url,
               "--with-scheduler", "--worker-class", "rq.worker.SimpleWorker", "--quiet", "ireserve"]
    return [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(n)]


def _settle_rq(world: World, queue: Any, timeout: float = 90) -> None:
    from rq.registry import StartedJobRegistry

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        world.wait_for_pushes()
        StartedJobRegistry(queue=queue).cleanup()  # what a worker's maintenance does: retry jobs of dead workers
        if _rq_idle(queue):
            time.sleep(0.5)
            world.wait_for_pushes()
            if _rq_idle(queue):
                return
        time.sleep(0.2)
    raise AssertionError("the RQ workers did not finish in time")


def test_four_rq_workers_one_killed_mid_round_converge(redis_url: str, tmp_path: Path) -> None:
    from ireserve_calendar_plugin.devhost.rq_queue import RedisJobQueue

    queue_backend = RedisJobQueue(redis_url, job_timeout=8)
    queue_backend.queue.connection.flushdb()
    db = tmp_path / "host.sqlite3"
    with World(db, job_queue=queue_backend) as world:
        scenario = Scenario(world)
        workers = _workers(redis_url, db, world.server.url, 4)
        try:
            world.connect(scenario.integration)
            _settle_rq(world, queue_backend.queue)
            lists_after_initial = scenario.google.requests.count(method="GET", path=r"/events$")
            scenario.google.latency = 0.02  # rounds take a while: room to kill a worker inside one
            scenario.burst()
            from rq.registry import StartedJobRegistry

            _wait(lambda: len(StartedJobRegistry(queue=queue_backend.queue)) > 0, 20, "a job in flight")
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait(timeout=10)
            scenario.google.latency = 0
            _settle_rq(world, queue_backend.queue)
            bookings, events = scenario.snapshot()
        finally:
            for proc in workers:
                if proc.poll() is None:
                    proc.terminate()
            for proc in workers:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        assert len(bookings) == CALENDARS * (EVENTS_PER_CALENDAR - 1 + 1)  # one deleted, one booked, per room
        assert scenario.google.requests.count(method="POST", path=r"/token$") <= 2  # the code exchange (+1 refresh)
        # the initial sync listed each calendar's pages once: at most the pages plus one catch-up round each
        pages = -(-EVENTS_PER_CALENDAR // 4)
        assert lists_after_initial <= CALENDARS * (pages + 1)

    # the same scenario on the embedded queue, four worker threads, ends in the same state
    with World(tmp_path / "embedded.sqlite3") as world:
        scenario = Scenario(world)
        world.connect(scenario.integration)
        _run_threads(world, 4)
        scenario.burst()
        _run_threads(world, 4)
        embedded_bookings, embedded_events = scenario.snapshot()
    assert _shape(embedded_bookings) == _shape(bookings)
    assert _shape(embedded_events) == _shape(events)


def _shape(items: set[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    """Drop absolute times (the two worlds ran moments apart): keep calendar, title and time of day."""
    out = set()
    for item in items:
        at = item[2] if isinstance(item[2], datetime) else datetime.fromisoformat(item[2])
        out.add((item[0], item[1], at.astimezone(UTC).strftime("%H:%M")))
    return out


def _run_threads(world: World, n: int) -> None:
    for _ in range(30):
        world.wait_for_pushes()
        threads = [threading.Thread(target=Worker(world.host, owner=f"w{i}").run_until_idle,
                                    kwargs={"include_future": True}) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        world.wait_for_pushes()
        if not [j for j in world.host.jobs.all() if j.state == "queued"]:
            return
