"""Concurrency: eight workers given the same work many times over end where one worker ends.

What it proves, with 8 devhost workers (threads, each its own lease owner) running the job queue at
once while duplicate sync and outbound jobs are queued for the same calendar and bookings (also under
distinct dedupe keys, so the queue cannot merge them):

- at most one worker is inside a round or a write of a calendar at any moment (the calendar lease);
- no sync-state update is lost: the stored cursor is the last sync token the provider issued
  (compare-and-set rejected every stale writer);
- every booking got exactly one event and every event one booking (creates stayed idempotent);
- the final state of both sides equals the final state of the same story run by one worker.
"""

from __future__ import annotations

import functools
import random
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.sync.channels import ChannelKeeper
from ireserve_calendar_plugin.sync.engine import JOB_OUTBOUND
from ireserve_calendar_plugin.sync.engine import JOB_SYNC
from ireserve_calendar_plugin.sync.inbound import InboundRound
from ireserve_calendar_plugin.sync.outbound import OutboundSync
from ireserve_calendar_plugin.sync.state import StateStore
from ireserve_devhost import Worker
from ireserve_lab.world import World
from tests.reliability.conftest import USER
from tests.reliability.conftest import GoogleRig
from tests.reliability.conftest import hour_after
from tests.reliability.conftest import install_clock_sleep
from tests.reliability.conftest import make_rig
from tests.reliability.conftest import report

WORKERS = 8


class Exclusive:
    """Counts workers inside a calendar's critical sections; remembers the highest count per calendar."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.inside: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.entered = 0

    def guard(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, key_of: Callable[..., str]) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = key_of(*args, **kwargs)
            with self._lock:
                self.inside[key] += 1
                self.entered += 1
                self.peak[key] = max(self.peak[key], self.inside[key])
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.inside[key] -= 1

        monkeypatch.setattr(owner, name, wrapper)


def _calendar_arg(_self: Any, calendar: Any, *args: Any, **kwargs: Any) -> str:
    return str(calendar.key)


class Story:
    """The same seeded story for any number of workers: changes on both sides, then duplicate jobs."""

    def __init__(self, world: World, provider: str, monkeypatch: pytest.MonkeyPatch, seed: int, size: int) -> None:
        self.world = world
        self.host = world.host
        self.rig: GoogleRig = make_rig(
            provider, world, seed=seed, settings={"allow_booking_update": True, "requests_per_minute": 600}
        )
        self.rig.connect()
        install_clock_sleep(monkeypatch, world)
        self.rng = random.Random(seed)
        self.size = size
        self.origin = hour_after(world.clock(), 24)
        self.slot = 0
        self.bookings: list[int] = []
        self.events: list[str] = []

    def _times(self) -> tuple[datetime, datetime]:
        self.slot += 1
        start = self.origin + timedelta(hours=self.slot)
        return start, start + timedelta(minutes=45)

    def changes(self, phase: int) -> None:
        """Phase 0 creates on both sides; phase 1 moves and cancels on both sides."""
        if phase == 0:
            for i in range(self.size):
                start, end = self._times()
                booking = self.host.bookings.create(
                    object_id=self.rig.room.id,
                    start=start,
                    end=end,
                    status="confirmed",
                    title=f"host-{i}",
                    channel="web",
                    origin=USER,
                )
                self.bookings.append(booking.id)
                start, end = self._times()
                self.events.append(self.rig.person_create(f"cal-{i}", start, end))
            return
        for booking_id in self.rng.sample(self.bookings, self.size // 2):
            if self.rng.random() < 0.3:
                self.host.bookings.set_status(booking_id, "cancelled", origin=USER)
            else:
                start, end = self._times()
                self.host.bookings.update_times(booking_id, start=start, end=end, origin=USER)
        for event_id in self.rng.sample(self.events, self.size // 2):
            if self.rng.random() < 0.3:
                self.rig.person_delete(event_id)
            else:
                self.rig.person_move(event_id, *self._times())

    def duplicate_jobs(self, tag: str) -> int:
        """The same work many times: sync jobs and outbound jobs, under fresh dedupe keys."""
        jobs = self.host.jobs
        payload = {"integration": self.rig.integration.id, "calendar": self.rig.calendar_key()}
        queued = sum(jobs.enqueue(JOB_SYNC, payload, dedupe_key=f"dup:{tag}:sync:{i}") for i in range(3 * WORKERS))
        for booking_id in self.bookings:
            for copy in range(3):
                queued += jobs.enqueue(
                    JOB_OUTBOUND,
                    {"integration": self.rig.integration.id, "booking": str(booking_id), "attempt": "1"},
                    dedupe_key=f"dup:{tag}:out:{booking_id}:{copy}",
                )
        return queued

    def run(self, workers: int) -> int:
        """Run ``workers`` workers at once, wave after wave, until no job is left; returns jobs run."""
        total = 0
        for _ in range(500):
            self.world.wait_for_pushes()
            ran = [0] * workers
            threads = [threading.Thread(target=self._work, args=(i, ran)) for i in range(workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            total += sum(ran)
            if not sum(ran) and not self.host.jobs.all(state="queued") and not self.host.jobs.all(state="running"):
                self.world.wait_for_pushes()
                if not self.host.jobs.all(state="queued"):
                    return total
            self.world.advance(6)  # busy calendars are retried 5 s later
        raise AssertionError("the queue never drained")

    def _work(self, index: int, ran: list[int]) -> None:
        ran[index] = Worker(self.host, owner=f"worker-{index}").run_until_idle(max_jobs=10_000)

    def snapshot(self) -> dict[str, Any]:
        """Both sides, in terms independent of ids and of when the World started."""

        def rel(moment: datetime) -> float:
            return (moment - self.origin).total_seconds()

        bookings = sorted(
            (b.title, rel(b.start), rel(b.end), b.status, bool(b.fields.get("external_id")))
            for b in self.host.list_bookings(self.rig.room.id)
        )
        events = sorted((e.title.split(" [")[0], rel(e.start), rel(e.end)) for e in self.rig.events() if e.live)
        return {"bookings": bookings, "events": events}


def _story(
    world: World, provider: str, monkeypatch: pytest.MonkeyPatch, workers: int, seed: int, size: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    story = Story(world, provider, monkeypatch, seed, size)
    exclusive = Exclusive()
    if workers > 1:
        exclusive.guard(monkeypatch, InboundRound, "_pages", _calendar_arg)
        for name in ("_create", "_update", "_delete"):
            exclusive.guard(monkeypatch, OutboundSync, name, _calendar_arg)
        exclusive.guard(monkeypatch, ChannelKeeper, "_ensure", _calendar_arg)
    queued = ran = 0
    for phase in (0, 1):
        story.changes(phase)
        queued += story.duplicate_jobs(f"p{phase}")
        ran += story.run(workers)
    world.advance(31 * 60)  # one more poll: nothing missed
    world.tick()
    ran += story.run(workers)

    rig = story.rig
    store = SecureConfig(world.host.config, world.host.keyring, rig.integration.id)
    cursor = StateStore(store).load(rig.calendar_key()).cursor
    snap = story.snapshot()
    linked = [b for b in world.host.list_bookings(rig.room.id) if b.fields.get("external_id")]
    live = [e for e in rig.events() if e.live]
    figures = {
        "workers": workers,
        "jobs_queued_as_duplicates": queued,
        "jobs_run": ran,
        "critical_sections_entered": exclusive.entered,
        "max_concurrent_per_calendar": max(exclusive.peak.values(), default=1 if workers == 1 else 0),
        "cursor_is_latest": rig.cursor_is_latest(cursor),
        "event_creates": rig.event_creates(),
        "live_events": len(live),
        "linked_bookings": len(linked),
        "events_per_linked_booking": Counter(Counter(e.booking_id for e in live if e.booking_id).values()),
        "bookings_per_event": Counter(Counter(b.fields["external_id"] for b in linked).values()),
    }
    return figures, snap


@pytest.mark.parametrize("seed", [7])
def test_eight_workers_end_where_one_worker_ends(
    tmp_path: Any, provider: str, monkeypatch: pytest.MonkeyPatch, long_run: bool, seed: int
) -> None:
    size = 40 if long_run else 16
    outcomes = {}
    for workers in (1, WORKERS):
        with World(tmp_path / f"host-{workers}.sqlite3") as world, monkeypatch.context() as patch:
            outcomes[workers] = _story(world, provider, patch, workers, seed, size)
    (one, one_snap), (many, many_snap) = outcomes[1], outcomes[WORKERS]
    report(f"concurrency-{provider}", {"one": one, "many": many, "size": size}, long_run=long_run)
    assert many["max_concurrent_per_calendar"] == 1 and many["critical_sections_entered"] > 0
    for figures in (one, many):
        assert figures["cursor_is_latest"]
        assert set(figures["events_per_linked_booking"]) <= {1} and set(figures["bookings_per_event"]) == {1}
        assert figures["live_events"] == figures["linked_bookings"]
    assert many["event_creates"] == one["event_creates"]  # duplicate outbound jobs made no extra event
    assert many_snap == one_snap
