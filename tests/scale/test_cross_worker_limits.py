"""Provider limits hold across worker processes: Graph's requests in flight per mailbox, a shared Retry-After.

Four real RQ worker processes on a real Redis, checked from the emulators' request logs:

- Graph: 24 bookings written out to one mailbox on an emulator that, like Exchange, answers 429
  (MailboxConcurrency) when a mailbox sees more concurrent requests than its limit: 1 here, far under
  Graph's 4, with 250 ms of latency per request so four workers could easily overlap. Each calendar's
  lease (in host storage, shared by every process) keeps a mailbox at one request of ours at a time.
- Google: bookings on 8 calendars of one user; one insert gets a 429 with ``Retry-After: 3``. Google's
  quota is per user, so the shared pause keeps every worker, busy with the other calendars, from sending
  any Calendar API request before it passed (without it they go on at once).

Every booking ends with exactly one event. (A worker killed mid-write is the RQ scale test's story.)
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from calendar_emulators.core import Fault
from ireserve_lab.world import World
from tests.scale.workers import start_workers
from tests.scale.workers import stop_workers
from tests.scale.workers import wait_until

rq = pytest.importorskip("rq", reason="the scale-out test needs the rq extra: pip install -e './ireserve_devhost[rq]'")

ALEX = "alex@contoso.onmicrosoft.com"
TENANT = "contoso.onmicrosoft.com"
LIMIT = 1


def _book(world: World, object_id: int, first: int, count: int) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    for i in range(first, first + count):
        world.host.bookings.create(
            object_id=object_id,
            start=start + timedelta(hours=i),
            end=start + timedelta(hours=i, minutes=30),
            status="confirmed",
            title=f"B{i}",
            channel="web",
            origin="user:1",
        )


def _events_made(graph: Any) -> int:
    return int(graph.requests.count(method="POST", path=r"/me/events$", status=201))


@pytest.mark.slow
def test_four_workers_keep_a_graph_mailbox_at_one_request_of_ours_at_a_time(
    redis_url: str, host_database: str, rq_queue: Any
) -> None:
    with World(host_database, job_queue=rq_queue) as world:
        graph, base = world.graph()
        graph.configure(concurrency_limit=LIMIT)
        room = world.host.add_object("Room A", timezone="Europe/Amsterdam")
        integration = world.integration(
            "o1",
            "outlook",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "auth_mode": "delegated",
                "tenant": TENANT,
                "object_id": str(room.id),
                "max_concurrency": 4,
                **World.graph_urls(base),
            },
        )
        world.connect(integration)
        workers = start_workers(redis_url, host_database, world.server.url, 4)
        try:
            graph.latency = 0.25  # requests overlap: four workers could easily have four in flight
            _book(world, room.id, 0, 24)
            wait_until(lambda: _events_made(graph) >= 24, 120, "24 events")
        finally:
            stop_workers(workers)
        throttled = [e for e in graph.requests.entries() if e.status == 429]
        bookings = [b for b in world.host.list_bookings(room.id) if b.status == "confirmed"]

    assert throttled == [], f"{len(throttled)} MailboxConcurrency 429s: a mailbox saw two requests of ours at once"
    assert len(bookings) == 24
    ids = [b.fields.get("external_id") for b in bookings]
    assert None not in ids and len(set(ids)) == 24  # exactly one event per booking, none duplicated


USER = "demo@example.com"
CALENDARS = 8


@pytest.mark.slow  # ~25 s of real worker processes; the rule itself has unit tests (tests/unit/test_limits.py)
def test_a_retry_after_seen_by_one_worker_holds_back_every_worker(
    redis_url: str, host_database: str, rq_queue: Any
) -> None:
    with World(host_database, job_queue=rq_queue) as world:
        google, base = world.google()
        rooms = []
        for i in range(CALENDARS):
            calendar_id = f"room-{i}@group.calendar.google.com"
            google.share_calendar(calendar_id, USER, "owner")
            rooms.append(world.host.add_object(f"Room {i}"))
        integration = world.integration(
            "g1",
            "google",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                **World.google_urls(base),
                "calendar_mapping": [
                    {"object": str(room.id), "calendar_id": f"room-{i}@group.calendar.google.com"}
                    for i, room in enumerate(rooms)
                ],
            },
        )
        world.connect(integration)
        workers = start_workers(redis_url, host_database, world.server.url, 4)
        try:
            google.latency = 0.1
            google.faults.add(Fault(status=429, retry_after=3, method="POST", path=r"/events$"))
            for room in rooms:
                _book(world, room.id, 0, 4)
            made = lambda: int(google.requests.count(method="POST", path=r"/events$", status=200))  # noqa: E731
            wait_until(lambda: made() >= 4 * CALENDARS, 120, f"{4 * CALENDARS} events")
        finally:
            stop_workers(workers)
        entries = [e for e in google.requests.entries() if e.path.startswith("/calendar/v3")]
        injected = [e for e in entries if e.fault == "429"]
        events = {room.id: [b.fields.get("external_id") for b in world.host.list_bookings(room.id)] for room in rooms}

    assert len(injected) == 1
    answered = injected[0].started + timedelta(seconds=injected[0].duration)
    early = [e for e in entries if answered + timedelta(seconds=0.2) < e.started < answered + timedelta(seconds=2.8)]
    assert early == [], f"{len(early)} Calendar API request(s) before the shared Retry-After had passed"
    ids = [i for linked in events.values() for i in linked]
    assert None not in ids and len(ids) == len(set(ids)) == 4 * CALENDARS
