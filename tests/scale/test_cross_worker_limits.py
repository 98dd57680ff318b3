"""Provider limits hold across worker processes, checked from the emulators' request logs (issue 16).

Four real RQ worker processes on a real Redis share one host database (``host_database``) and serve
two integrations at once:

- Outlook in application mode with room mailboxes (12 by default; the issue's 50 with ``--run-slow``;
  room writes on) on a Graph emulator that, like
  Exchange, answers 429 ``MailboxConcurrency`` when a mailbox sees a 5th concurrent request. Graph's
  limit is 4, but four single-job workers can never send a 5th request to one mailbox, so "0 such
  429s" alone could not fail; what the plugin promises (and this test measures from the emulator's
  log) is stronger: every round, channel call and outbound write of a mailbox holds that calendar's
  lease in host storage, so a mailbox sees at most ONE request of ours at a time, however many
  workers, and even while four outbound jobs of the same room are queued at once.
- Google with 4 calendars of one user: one event insert gets a 429 with ``Retry-After: 3``. Google's
  quota is per user, so the shared pause (``providers/limits.py``) keeps every worker, busy with the
  other calendars, from sending any Calendar API request before it passed (without it they go on).
- A worker is SIGKILLed while it holds a room's lease (found through the lease record and RQ's
  registry, the round held open by a slow answer); the other workers keep writing other rooms while the
  dead lease stands, nobody touches that room before the lease expires, and its next write goes out
  soon after. Done is read from the queue's state (RQ registries), never from sleeps.

Every booking ends with exactly one event, every event with one booking.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from calendar_emulators.core import Fault
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.providers.outlook.backend import room_key
from ireserve_lab.world import World
from tests.scale.workers import Scheduler
from tests.scale.workers import kill_lease_holder
from tests.scale.workers import lease_of
from tests.scale.workers import settle_rq
from tests.scale.workers import start_workers
from tests.scale.workers import stop_workers
from tests.scale.workers import wait_until

rq = pytest.importorskip("rq", reason="the scale-out test needs the rq extra: pip install -e './ireserve_devhost[rq]'")

TENANT = "contoso.onmicrosoft.com"
BUSY_ROOMS = 4  # rooms that get several bookings at once (outbound jobs racing for one mailbox)
PER_BUSY_ROOM = 4
USER = "demo@example.com"
CALENDARS = 4
PER_CALENDAR = 3
RETRY_AFTER = 3
LEASE_SECONDS = 4
SLOW_ANSWER = 2.5  # the killed worker's round waits this long for its page (under the lease's 4 s)
BUSY_RETRY = 5  # services.BUSY_RETRY: a job finding its calendar busy runs again this much later
MAILBOX = re.compile(r"^/v1\.0/users/([^/]+)/")


def _hour(days: int, hours: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=days, hours=hours)


def _book(world: World, object_id: int, first: int, count: int) -> list[int]:
    made = []
    for i in range(first, first + count):
        booking = world.host.bookings.create(
            object_id=object_id,
            start=_hour(3, i),
            end=_hour(3, i) + timedelta(minutes=30),
            status="confirmed",
            title=f"B{i}",
            channel="web",
            origin="user:1",
        )
        made.append(booking.id)
    return made


def mailbox_peaks(entries: list[Any]) -> dict[str, int]:
    """The most requests each mailbox was answering at once, from the log's starts and durations."""
    edges: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for e in entries:
        found = MAILBOX.match(e.path)
        if found:
            edges[found.group(1).lower()].append((e.started, 1))
            edges[found.group(1).lower()].append((e.started + timedelta(seconds=e.duration), -1))
    peaks = {}
    for mailbox, steps in edges.items():
        current = peak = 0
        for _, step in sorted(steps):
            current += step
            peak = max(peak, current)
        peaks[mailbox] = peak
    return peaks


@pytest.mark.parametrize(
    "rooms",
    [12, pytest.param(50, marks=pytest.mark.slow)],  # the 50 rooms: ~25 s of worker processes on 2 cores
    ids=["12-rooms", "50-rooms"],
)
def test_four_workers_room_mailboxes_limits_retry_after_and_a_killed_lease_holder(
    redis_url: str, host_database: str, rq_queue: Any, rooms: int
) -> None:
    queue = rq_queue.queue
    with World(host_database, job_queue=rq_queue) as world:
        # started first: they load the host and the plugin while the test seeds the emulators
        workers = start_workers(
            redis_url, host_database, world.server.url, 4, lease_seconds=LEASE_SECONDS, with_scheduler=False
        )
        try:
            graph, graph_base = world.graph()
            graph.set_app_roles("demo-client", ["Calendars.ReadWrite"])  # room writes
            graph.configure(concurrency_limit=4)  # Graph's MailboxConcurrency: a 5th concurrent request is a 429
            upns = [u.upn for u in graph.add_rooms(TENANT, rooms, prefix="lim-room")]
            objects = [world.host.add_object(f"Limit room {i:02d}") for i in range(rooms)]
            for i, upn in enumerate(upns):
                graph.person_create_event(upn, f"R{i}", _hour(2, i % 9), _hour(2, i % 9 + 1), "UTC")
            world.integration(
                "rooms",
                "outlook",
                {
                    "client_id": "demo-client",
                    "client_secret": "demo-secret",
                    "auth_mode": "application",
                    "tenant": TENANT,
                    "room_outbound": True,
                    "ires_field": "room_event_id",
                    "rooms": [{"upn": u, "object": o.id} for u, o in zip(upns, objects, strict=True)],
                    **World.graph_urls(graph_base),
                },
            )
            google, google_base = world.google()
            calendars = []
            for i in range(CALENDARS):
                calendar_id = f"limit-{i}@group.calendar.google.com"
                google.share_calendar(calendar_id, USER, "owner")
                calendars.append((world.host.add_object(f"Google room {i}"), calendar_id))
            google_integration = world.integration(
                "g1",
                "google",
                {
                    "client_id": "demo-client",
                    "client_secret": "demo-secret",
                    **World.google_urls(google_base),
                    "calendar_mapping": [{"object": str(o.id), "calendar_id": c} for o, c in calendars],
                },
            )
            store = SecureConfig(world.host.config, world.host.keyring, "rooms")
            with Scheduler(queue):
                graph.latency = google.latency = 0.02  # requests last a while: workers could overlap on a mailbox
                world.connect(google_integration)
                # Google answers one event insert with a Retry-After while the workers are busy with
                # the other calendars' writes and first syncs, and with the rooms' first syncs
                google.faults.add(Fault(status=429, retry_after=RETRY_AFTER, method="POST", path=r"/events$"))
                for obj, _ in calendars:
                    _book(world, obj.id, 0, PER_CALENDAR)
                world.tick()  # the rooms' channels and first syncs
                settle_rq(world, queue)

                # a worker killed while it holds a room's lease: its round waits on a slow page ...
                victim = upns[BUSY_ROOMS + 1]
                graph.faults.add(
                    Fault(kind="timeout", delay=SLOW_ANSWER, method="GET", path=rf"/users/{re.escape(victim)}/.*delta$")
                )
                graph.person_create_event(victim, "Late", _hour(4, 1), _hour(4, 2), "UTC")  # pushed: a round
                # ... meanwhile outbound jobs of one room race for its mailbox (slower answers: they would
                # overlap there if anything let them)
                graph.latency = 0.05
                for obj in objects[:BUSY_ROOMS]:
                    _book(world, obj.id, 0, PER_BUSY_ROOM)
                world.wait_for_pushes()
                killed = kill_lease_holder(queue, store, room_key(victim), workers)
                other = objects[BUSY_ROOMS + 2]
                victim_booking = _book(world, objects[BUSY_ROOMS + 1].id, 10, 1)[0]
                other_booking = _book(world, other.id, 10, 1)[0]
                wait_until(
                    lambda: datetime.now(UTC) >= killed.until - timedelta(seconds=0.4), 10, "the lease near expiry"
                )
                still = lease_of(store, room_key(victim))
                assert still == (killed.token, killed.until), "a live worker released or extended the lease"
                wait_until(
                    lambda: bool(world.host.bookings.get(victim_booking).fields.get("room_event_id")),
                    LEASE_SECONDS + BUSY_RETRY + 15,
                    "the dead holder's room to be written again",
                )
                settle_rq(world, queue, dead=[killed.job_id])
        finally:
            stop_workers(workers)

        entries = graph.requests.entries()
        google_entries = [e for e in google.requests.entries() if e.path.startswith("/calendar/v3")]
        rooms_state = {
            upn: ([b for b in world.host.list_bookings(o.id) if b.status != "cancelled"], graph.events(upn))
            for upn, o in zip(upns, objects, strict=True)
        }
        google_state = {
            c: ([b for b in world.host.list_bookings(o.id) if b.status != "cancelled"], google.events(c))
            for o, c in calendars
        }
        other_written = world.host.bookings.get(other_booking).fields.get("room_event_id")

    # Graph: no MailboxConcurrency 429, and never two requests of ours in one mailbox at once
    throttled = [e for e in entries if e.status == 429 and not e.fault]
    assert throttled == [], f"{len(throttled)} MailboxConcurrency 429s"
    peaks = mailbox_peaks(entries)
    crowded = {m: n for m, n in peaks.items() if n > 1}
    assert crowded == {}, f"mailboxes that saw several requests of ours at once: {crowded}"
    assert len(peaks) == rooms

    # the kill: others went on while the dead lease stood; nobody touched its room before it expired
    victim_path = f"/v1.0/users/{victim.lower()}/"
    after_kill = sorted(
        (e for e in entries if e.path.lower().startswith(victim_path) and e.started > killed.killed_at),
        key=lambda e: e.started,
    )
    assert after_kill, "nobody wrote the dead holder's room again"
    assert after_kill[0].started >= killed.until - timedelta(seconds=0.05), "a request before the lease expired"
    assert after_kill[0].started <= killed.until + timedelta(seconds=BUSY_RETRY + 5)
    assert other_written
    others = [
        e
        for e in entries
        if killed.killed_at < e.started < killed.until and MAILBOX.match(e.path) and not e.path.startswith(victim_path)
    ]
    assert others, (
        "the other workers stalled while the dead worker's lease stood: "
        + str([(e.method, e.path, e.started.time()) for e in entries if e.started > killed.killed_at][:8])
        + str(killed)
    )
    assert other_written

    # Google: a Retry-After one worker got held back every worker
    injected = [e for e in google_entries if e.fault == "429"]
    assert len(injected) == 1
    answered = injected[0].started + timedelta(seconds=injected[0].duration)
    early = [
        e
        for e in google_entries
        if answered + timedelta(seconds=0.2) < e.started < answered + timedelta(seconds=RETRY_AFTER - 0.2)
    ]
    assert early == [], f"{len(early)} Calendar API request(s) before the shared Retry-After had passed"

    # nothing lost or duplicated
    for upn, (live, events) in rooms_state.items():
        ids = [b.fields.get("room_event_id") for b in live]
        assert None not in ids and len(set(ids)) == len(ids) == len(events), f"{upn} out of step"
        assert set(ids) == {e["id"] for e in events}, f"{upn} out of step"
    for calendar_id, (live, events) in google_state.items():
        ids = [b.fields.get("external_id") for b in live]
        assert None not in ids and len(set(ids)) == len(ids) == len(events) == PER_CALENDAR, calendar_id
