"""Convergence under faults: a seeded random run against a model, per provider.

What it proves: whatever order people change bookings (in the host) and events (in the calendar), and
however badly the network, the provider and the worker behave meanwhile (about one API call in five
fails: 429 with and without ``Retry-After``, 403 rate limits, 500/503, connection resets, real client
timeouts whose request still lands; sync tokens go stale, access tokens expire, notifications are
dropped, duplicated up to 100 times and reordered; the worker dies between pages, between a host
write and its record, after an API write, before the cursor commit and between receiving a refreshed
token and storing it), once the faults stop both sides agree with the model:

- every live booking that should have an event has exactly one live event and every live event
  exactly one booking (0 duplicate bookings, 0 duplicate events, 0 orphans);
- every last change on either side is reflected (0 lost changes): times, all-day, status;
- no booking was changed by the plugin except as the effect of a person's calendar change (0 echo
  writes), and no retry was sent before its ``Retry-After``;
- a further cron tick and settle is a no-op (0 API writes, 0 booking writes).

The model: each booking/event pair is an *item* named in its title (``host-7``, ``cal-9``). A change on
one side is made only once the other side's last change of that item was fully carried over (a
person edits what they see in step); a few changes deliberately break that rule (*conflicts*), and
for those only agreement, not a winner, is required.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from calendar_emulators.core import Fault
from calendar_emulators.core import PushFaults
from hookspecs import hookimpl
from hookspecs.types import Booking
from hookspecs.types import BookingConflictError
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.sync.engine import JOB_OUTBOUND
from ireserve_calendar_plugin.sync.inbound import InboundRound
from ireserve_calendar_plugin.sync.links import LinkStore
from ireserve_calendar_plugin.sync.state import Leases
from ireserve_calendar_plugin.sync.state import StateStore
from ireserve_lab.radicale import RadicaleServer
from ireserve_lab.world import World
from tests.reliability.conftest import USER
from tests.reliability.conftest import Crash
from tests.reliability.conftest import Crasher
from tests.reliability.conftest import GoogleRig
from tests.reliability.conftest import SeenEvent
from tests.reliability.conftest import hour_after
from tests.reliability.conftest import install_clock_sleep
from tests.reliability.conftest import make_rig
from tests.reliability.conftest import report

LEASE_EXPIRY = 301.0  # a little over the job lease and the calendar lease (5 minutes each)
CLIENT_TIMEOUT = 0.2  # seconds the API client waits in these runs (the product default is 30)
TIMEOUT_DELAY = 0.35  # how long a "timeout" fault holds the request before the emulator answers it
_KEY = re.compile(r"^(host|cal)-(\d+)")


@dataclass
class Item:
    """One booking/event pair of the model, named ``<origin>-<key>`` in both titles."""

    key: int
    origin: str  # "host" or "cal": where it was created
    booking_times: tuple[datetime, datetime, bool]
    event_times: tuple[datetime, datetime, bool]
    status: str = "confirmed"
    wants_event: bool = True
    booking_id: int | None = None
    pending: str | None = None  # the side whose last change is not carried over yet
    conflicted: bool = False
    person_times: set[tuple[datetime, datetime]] = field(default_factory=set)
    person_cancelled: bool = False
    all_times: set[tuple[datetime, datetime, bool]] = field(default_factory=set)  # either side, ever

    @property
    def title(self) -> str:
        return f"{self.origin}-{self.key}"


@dataclass
class Observed:
    """Both sides, grouped by item key."""

    bookings: dict[int, list[Booking]]
    events: dict[int, list[SeenEvent]]  # live events only
    outbound_pending: set[int]


class Recorder:
    """A second plugin on the host: records every booking change with its origin."""

    def __init__(self) -> None:
        self.changes: list[tuple[Booking, str | None, str, str]] = []
        self._lock = threading.Lock()

    @hookimpl
    def on_booking_status_changed(
        self, host: Any, booking: Booking, old_status: str | None, new_status: str, origin: str
    ) -> None:
        with self._lock:
            self.changes.append((booking, old_status, new_status, origin))


class Slots:
    """Fresh, never overlapping times: hour slots for timed bookings, day ranges for all-day ones."""

    def __init__(self, start: datetime, zone: Any) -> None:
        self.start = start
        self.zone = zone
        self.hours = 0
        self.day = (start + timedelta(days=120)).astimezone(zone).date()

    def take(self, rng: random.Random, all_day: bool) -> tuple[datetime, datetime, bool]:
        if all_day:
            length = rng.choice((1, 1, 2, 3))
            first = datetime.combine(self.day, datetime.min.time(), self.zone).astimezone(UTC)
            last = datetime.combine(self.day + timedelta(days=length), datetime.min.time(), self.zone).astimezone(UTC)
            self.day += timedelta(days=length + 1)
            return first, last, True
        self.hours += 1
        begin = self.start + timedelta(hours=self.hours)
        return begin, begin + timedelta(minutes=rng.choice((30, 45, 60))), False


@dataclass
class Figures:
    mutations: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    refused: int = 0
    crashes: Counter[str] = field(default_factory=Counter)
    stale_cursors: int = 0
    token_expiries: int = 0
    pushes_sent: int = 0
    push_copies: int = 0
    worker_runs: int = 0
    retry_after_faults: list[tuple[str, str, datetime, float]] = field(default_factory=list)


class Run:
    """One seeded run: the World, the rig, the model, the fault switches."""

    def __init__(
        self,
        world: World,
        rig: GoogleRig,
        seed: int,
        *,
        allow_update: bool,
        crash_rate: float,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.world = world
        self.host = world.host
        self.rig = rig
        self.rng = random.Random(seed)
        self.seed = seed
        self.allow_update = allow_update
        self.items: dict[int, Item] = {}
        self.figures = Figures()
        self.slots = Slots(hour_after(world.clock(), 24), rig.zone)
        self.recorder = Recorder()
        self.host.pm.register(self.recorder, name="reliability-recorder")
        self.sleeper = install_clock_sleep(monkeypatch, world)
        rig.shorten_client_timeout(monkeypatch, CLIENT_TIMEOUT)
        self.crasher = Crasher(random.Random(seed * 7919 + 1), crash_rate)
        self._install_crash_points(monkeypatch)
        self._count_pushes(monkeypatch)
        self._record_retry_after(monkeypatch)

    # -- instrumentation ------------------------------------------------------------------------
    def _install_crash_points(self, monkeypatch: pytest.MonkeyPatch) -> None:
        c = self.crasher
        c.wrap(monkeypatch, InboundRound, "_execute", "inbound: between two host writes of a page", scale=0.1)
        c.wrap(monkeypatch, Leases, "extend", "inbound: between pages")
        c.wrap(monkeypatch, StateStore, "commit", "before the cursor/state commit")
        c.wrap(monkeypatch, LinkStore, "save", "after a host write, before its link record")
        c.wrap(monkeypatch, TokenStore, "save", "refreshed token received, not stored")
        owner, names = self.rig.write_methods()
        for name in names:
            c.wrap(monkeypatch, owner, name, "after an API write, before any record", after=True)
        c.skip_while_dying(monkeypatch, Leases, "release")

    def _count_pushes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        deliverer = self.rig.app.deliverer
        original = deliverer.send
        lock = threading.Lock()

        def send(url: str, headers: Any, body: bytes = b"") -> None:
            before = deliverer._seq
            original(url, headers, body)
            with lock:
                self.figures.pushes_sent += 1
                self.figures.push_copies += deliverer._seq - before

        monkeypatch.setattr(deliverer, "send", send)

    def _record_retry_after(self, monkeypatch: pytest.MonkeyPatch) -> None:
        plan = self.rig.app.faults
        original = plan.pick
        clock = self.rig.app.clock

        def pick(method: str, path: str) -> Fault | None:
            fault = original(method, path)
            if fault is not None and fault.kind == "status" and fault.retry_after is not None:
                self.figures.retry_after_faults.append((method, path, clock.now(), float(fault.retry_after)))
            return fault

        monkeypatch.setattr(plan, "pick", pick)

    def faults_on(self) -> None:
        api, faults = self.rig.api_prefix, self.rig.app.faults
        faults.seed(self.seed)
        for probability, fault in (
            (0.03, Fault(status=429, retry_after=None, path=api)),
            (0.025, Fault(status=429, retry_after=2, path=api)),
            (0.01, Fault(status=429, retry_after=45, path=api)),
            (0.005, Fault(status=429, retry_after=120, path=api)),
            (
                0.01 if self.rig.throttles_with_403 else 0.0,
                Fault(status=403, reason="rateLimitExceeded", retry_after=5, path=api),
            ),
            (0.03, Fault(status=500, path=api)),
            (0.03, Fault(status=503, path=api)),
            (0.04, Fault(kind="reset", path=api)),
            (0.01, Fault(kind="timeout", delay=TIMEOUT_DELAY, path=api)),
            (0.02, Fault(status=503, path=self.rig.token_path)),
            (0.02, Fault(kind="reset", path=self.rig.token_path)),
            *getattr(self.rig, "extra_faults", ()),
        ):
            faults.set_rate(probability, fault)
        self._push_faults(0)
        self.crasher.armed = True

    def _push_faults(self, step: int) -> None:
        copies = self.rng.choice((1, 2, 5, 20, 100))
        self.rig.app.deliverer.configure(
            PushFaults(drop=0.15, duplicate=0.08, duplicate_copies=copies, reorder=0.1, seed=self.seed * 100_003 + step)
        )

    def faults_off(self) -> None:
        self.crasher.armed = False
        self.rig.app.faults.clear()
        self.rig.app.deliverer.configure(PushFaults())

    # -- the worker -----------------------------------------------------------------------------
    def run_worker(self, max_jobs: int, *, include_future: bool = False) -> None:
        try:
            self.figures.worker_runs += self.world.worker.run_until_idle(
                max_jobs=max_jobs, include_future=include_future
            )
        except Crash:
            self.crasher.dying = False
            self.world.advance(LEASE_EXPIRY)  # the dead worker's leases run out; another one takes over
        self._drain_emulator()

    def _drain_emulator(self) -> None:
        """Let requests a timed-out client gave up on land before anyone acts on what they change."""
        deadline = time.monotonic() + 5
        while self.rig.app.in_flight and time.monotonic() < deadline:
            time.sleep(0.005)

    # -- observing ------------------------------------------------------------------------------
    def observe(self) -> Observed:
        bookings: dict[int, list[Booking]] = {}
        for booking in self.host.list_bookings(self.rig.room.id):
            key = _key_of(booking.title)
            if key is not None:
                bookings.setdefault(key, []).append(booking)
        events: dict[int, list[SeenEvent]] = {}
        for event in self.rig.events():
            key = _key_of(event.title)
            if event.live and key is not None:
                events.setdefault(key, []).append(event)
        pending = {
            int(job.payload["booking"])
            for state in ("queued", "running")
            for job in self.host.jobs.all(state=state, name=JOB_OUTBOUND)
        }
        return Observed(bookings, events, pending)

    def problems(self, item: Item, seen: Observed) -> list[str]:
        """How the two sides differ from the model for one item (empty: carried over completely)."""
        out: list[str] = []
        bookings = seen.bookings.get(item.key, [])
        events = seen.events.get(item.key, [])
        if len(bookings) > 1:
            out.append(f"duplicate bookings {[b.id for b in bookings]}")
        if len(events) > 1:
            out.append(f"duplicate events {[e.id for e in events]}")
        booking = bookings[0] if bookings else None
        if booking is None:
            if item.status != "cancelled":
                out.append("booking missing")
        else:
            if booking.status != item.status:
                out.append(f"status {booking.status} != {item.status}")
            if item.status != "cancelled" and _times(booking) != item.booking_times:
                out.append(f"booking times {_fmt(_times(booking))} != {_fmt(item.booking_times)}")
        want_event = item.wants_event and item.status != "cancelled"
        if want_event and not events:
            out.append("event missing")
        if not want_event and events:
            out.append(f"live event {events[0].id} of a booking without one")
        if want_event and events:
            event = events[0]
            if _times(event) != item.event_times:
                out.append(f"event times {_fmt(_times(event))} != {_fmt(item.event_times)}")
            if booking is not None and booking.fields.get("external_id") != event.id:
                out.append(f"booking linked to {booking.fields.get('external_id')!r}, not {event.id}")
            if event.booking_id is not None and booking is not None and event.booking_id != booking.id:
                out.append(f"event carries booking {event.booking_id}, not {booking.id}")
        if booking is not None and booking.id in seen.outbound_pending:
            out.append("outbound work still queued")
        return out

    def disagreement(self, item: Item, seen: Observed) -> list[str]:
        """For an item both sides changed at once: no winner is prescribed, but the sides must agree on
        one of the values either side gave it, without duplicates."""
        bookings, events = seen.bookings.get(item.key, []), seen.events.get(item.key, [])
        out = [f"duplicate {what}" for what, found in (("bookings", bookings), ("events", events)) if len(found) > 1]
        booking = bookings[0] if bookings else None
        if booking is None or booking.status == "cancelled":
            return out + [f"live event {e.id} of a cancelled booking" for e in events]
        if booking.status == "confirmed" and not events:
            out.append("confirmed booking without an event")
        # by design a web booking does not follow a person's move of its event unless updates are allowed
        kept_apart = not self.allow_update and item.origin == "host"
        for event in events:
            if _times(event) != _times(booking) and not (kept_apart and _times(event)[:2] in item.person_times):
                out.append(f"event {_fmt(_times(event))} != booking {_fmt(_times(booking))}")
            if booking.fields.get("external_id") != event.id:
                out.append(f"booking linked to {booking.fields.get('external_id')!r}, not {event.id}")
        if _times(booking) not in item.all_times:
            out.append(f"booking at {_fmt(_times(booking))}, a time neither side gave it")
        return out

    def settle_pending(self, seen: Observed) -> None:
        for item in self.items.values():
            if item.booking_id is None and seen.bookings.get(item.key):
                item.booking_id = seen.bookings[item.key][0].id
            if item.pending is not None and not item.conflicted and not self.problems(item, seen):
                item.pending = None

    # -- mutations ------------------------------------------------------------------------------
    def mutate(self, step: int, seen: Observed) -> None:
        kinds = {
            "host create": 14,
            "host create option": 3,
            "host move": 12,
            "host confirm option": 3,
            "host back to option": 2,
            "host cancel": 6,
            "host reconfirm": 2,
            "person create": 14,
            "person move": 12,
            "person cancel": 5,
            "person delete": 5,
        }
        kind = self.rng.choices(list(kinds), weights=list(kinds.values()))[0]
        conflict = self.rng.random() < 0.15
        done = self._mutate(kind, seen, conflict)
        if not done:
            kind = self.rng.choice(("host create", "person create"))
            done = self._mutate(kind, seen, False)
        if done:
            self.figures.mutations[kind] += 1

    def _eligible(self, side: str, conflict: bool, predicate: Callable[[Item], bool]) -> list[Item]:
        """Items this side may change now; for a conflict, preferably those the other side just changed."""
        fits = [i for i in self.items.values() if predicate(i)]
        if conflict:
            racing = [i for i in fits if i.pending not in (None, side)]
            if racing:
                return racing
        return [i for i in fits if i.pending in (None, side)]

    def _touch(self, item: Item, side: str) -> None:
        if item.pending not in (None, side):
            item.conflicted = True
            self.figures.conflicts += 1
        item.pending = side

    def _mutate(self, kind: str, seen: Observed, conflict: bool) -> bool:
        rng, bookings = self.rng, self.host.bookings
        if kind in ("host create", "host create option"):
            times = self.slots.take(rng, rng.random() < 0.1)
            key = len(self.items) + 1
            status = "option" if kind.endswith("option") else "confirmed"
            item = Item(key, "host", times, times, status=status, wants_event=status == "confirmed", all_times={times})
            try:
                booking = bookings.create(
                    object_id=self.rig.room.id,
                    start=times[0],
                    end=times[1],
                    status=status,
                    title=item.title,
                    channel="web",
                    origin=USER,
                    all_day=times[2],
                )
            except BookingConflictError:
                self.figures.refused += 1
                return False
            item.booking_id, item.pending = booking.id, "host"
            self.items[key] = item
            return True
        if kind == "person create":
            times = self.slots.take(rng, rng.random() < 0.1)
            key = len(self.items) + 1
            item = Item(key, "cal", times, times, pending="cal", all_times={times})
            item.person_times.add(times[:2])
            self.items[key] = item
            self.rig.person_create(item.title, *times)
            return True
        if kind.startswith("host"):
            return self._host_change(kind, seen, conflict)
        return self._person_change(kind, seen, conflict)

    def _host_change(self, kind: str, seen: Observed, conflict: bool) -> bool:
        predicates: dict[str, Callable[[Item], bool]] = {
            "host move": lambda i: i.status != "cancelled",
            "host confirm option": lambda i: i.status == "option",
            "host back to option": lambda i: i.status == "confirmed" and i.pending is None and not i.conflicted,
            "host cancel": lambda i: i.status != "cancelled",
            "host reconfirm": lambda i: i.status == "cancelled",
        }
        candidates = self._eligible(
            "host",
            conflict,
            lambda i: i.booking_id is not None and predicates[kind](i) and len(seen.bookings.get(i.key, [])) == 1,
        )
        if not candidates:
            return False
        item = self.rng.choice(candidates)
        assert item.booking_id is not None
        bookings = self.host.bookings
        if kind == "host move":
            times = self.slots.take(self.rng, item.booking_times[2])
            try:
                bookings.update_times(item.booking_id, start=times[0], end=times[1], all_day=times[2], origin=USER)
            except BookingConflictError:
                self.figures.refused += 1
                return False
            item.booking_times = item.event_times = times
            item.all_times.add(times)
        elif kind == "host confirm option":
            bookings.set_status(item.booking_id, "confirmed", origin=USER)
            item.status, item.wants_event = "confirmed", True
        elif kind == "host back to option":
            bookings.set_status(item.booking_id, "option", origin=USER)
            item.status = "option"
        elif kind == "host cancel":
            bookings.set_status(item.booking_id, "cancelled", origin=USER)
            item.status, item.wants_event = "cancelled", False
        else:
            bookings.set_status(item.booking_id, "confirmed", origin=USER)
            item.status, item.wants_event = "confirmed", True
            if not seen.events.get(item.key):  # a new event is made; a still live one is left as it is
                item.event_times = item.booking_times
        self._touch(item, "host")
        return True

    def _person_change(self, kind: str, seen: Observed, conflict: bool) -> bool:
        live = [(self.items[k], events[0]) for k, events in seen.events.items() if k in self.items and len(events) == 1]
        racing = [(i, e) for i, e in live if i.pending not in (None, "cal")] if conflict else []
        candidates = racing or [(i, e) for i, e in live if i.pending in (None, "cal")]
        if not candidates:
            return False
        item, event = self.rng.choice(candidates)
        if kind == "person move":
            times = self.slots.take(self.rng, event.all_day)
            self.rig.person_move(event.id, *times)
            item.event_times = times
            item.person_times.add(times[:2])
            item.all_times.add(times)
            if self.allow_update or item.origin == "cal":
                item.booking_times = times
        else:
            (self.rig.person_cancel if kind == "person cancel" else self.rig.person_delete)(event.id)
            item.status, item.wants_event, item.person_cancelled = "cancelled", False, True
        self._touch(item, "cal")
        return True

    # -- the whole run --------------------------------------------------------------------------
    def run(self, mutations: int) -> None:
        self.faults_on()
        points = sorted(self.crasher.scale)
        every = max(1, mutations // (len(points) + 1))
        for step in range(mutations):
            if step % every == every - 1 and step // every < len(points):
                self.crasher.force(points[step // every])
            seen = self.observe()
            self.settle_pending(seen)
            self.mutate(step, seen)
            roll = self.rng.random()
            if roll < 0.05:
                self.rig.invalidate_cursor()
                self.figures.stale_cursors += 1
            elif roll < 0.08:
                self.rig.expire_access_tokens()
                self.figures.token_expiries += 1
            if self.rng.random() < 0.1:
                self._push_faults(step)
            self.world.advance(self.rng.choice((0, 1, 6, 30, 120)))
            if self.rng.random() < 0.15:
                self.world.tick()
            self.world.wait_for_pushes()  # delivery is asynchronous: waiting keeps a seed's run repeatable
            self.run_worker(self.rng.choice((0, 1, 2, 4, 8, 50)))
        self.faults_off()

    def converge(self, rounds: int = 6) -> int:
        """Faults off: let time pass (polls, backoffs), tick and settle until both sides match the model."""
        for attempt in range(1, rounds + 1):
            self.world.advance(31 * 60)
            self.world.tick()
            self.world.settle()
            seen = self.observe()
            self.settle_pending(seen)
            if not any(
                self.disagreement(i, seen) if i.conflicted else self.problems(i, seen) for i in self.items.values()
            ):
                return attempt
        return rounds


def _key_of(title: str) -> int | None:
    found = _KEY.match(title or "")
    return int(found.group(2)) if found else None


def _times(x: Booking | SeenEvent) -> tuple[datetime, datetime, bool]:
    return (x.start.astimezone(UTC), x.end.astimezone(UTC), x.all_day)


def _fmt(times: tuple[datetime, datetime, bool]) -> str:
    return f"{times[0].isoformat()}..{times[1].isoformat()}{' all-day' if times[2] else ''}"


def _echo_writes(run: Run) -> list[str]:
    """Plugin-origin booking changes that no person's calendar change explains."""
    origin = f"calendar:{run.rig.integration.id}"
    out = []
    for booking, old, new, who in run.recorder.changes:
        if who != origin:
            continue
        item = run.items.get(_key_of(booking.title) or 0)
        if item is None:
            out.append(f"plugin wrote booking {booking.id} ({booking.title!r}) of no item")
        elif old is None:
            if item.origin != "cal":
                out.append(f"plugin created booking {booking.id} for {item.title}, a host booking")
        elif old != new:
            if not (new == "cancelled" and item.person_cancelled):
                out.append(f"plugin set {item.title} {old}->{new}, no person cancelled its event")
        elif (booking.start, booking.end) not in item.person_times and not item.conflicted:
            out.append(f"plugin moved {item.title} to {booking.start.isoformat()}, a time no person gave it")
    return out


def _titles_in(lines: list[str]) -> list[str]:
    return [found.group(0) for line in lines if (found := re.search(r"(host|cal)-\d+", line))]


def _early_retries(run: Run) -> list[str]:
    """Requests sent to the same method and path before a 429/403's ``Retry-After`` had passed."""
    entries = run.rig.app.requests.entries()
    out = []
    for method, path, at, wait in run.figures.retry_after_faults:
        later = [e for e in entries if e.method == method and e.path == path and e.started > at]
        if later and (first := min(later, key=lambda e: e.started)).started - at < timedelta(seconds=wait - 1e-3):
            gap = (first.started - at).total_seconds()
            out.append(f"{method} {path}: next request after {gap:.3f}s, Retry-After {wait:.0f}s")
    return out


def _orphans(run: Run) -> list[str]:
    """Live events and live bookings that belong to no item of the model."""
    out = [f"event {e.id} {e.title!r}" for e in run.rig.events() if e.live and _key_of(e.title) not in run.items]
    out += [
        f"booking {b.id} {b.title!r}"
        for b in run.host.list_bookings(run.rig.room.id)
        if _key_of(b.title) not in run.items
    ]
    return out


def converge_under_faults(
    world: World,
    provider: str,
    monkeypatch: pytest.MonkeyPatch,
    *,
    seed: int,
    mutations: int,
    allow_update: bool,
    crash_rate: float,
    rig_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    rig = make_rig(provider, world, seed=seed, settings={"allow_booking_update": allow_update}, **(rig_options or {}))
    rig.connect()
    run = Run(world, rig, seed, allow_update=allow_update, crash_rate=crash_rate, monkeypatch=monkeypatch)
    started = time.monotonic()
    run.run(mutations)
    settles = run.converge()

    seen = run.observe()
    problems = {i.title: p for i in run.items.values() if not i.conflicted and (p := run.problems(i, seen))}
    clean = [i for i in run.items.values() if not i.conflicted]
    lost = {t: p for t, p in problems.items() if not any(x.startswith("duplicate") for x in p)}
    disagreeing = {i.title: p for i in run.items.values() if i.conflicted and (p := run.disagreement(i, seen))}
    duplicate_bookings = sum(max(0, len(v) - 1) for v in seen.bookings.values())
    duplicate_events = sum(max(0, len(v) - 1) for v in seen.events.values())
    orphans = _orphans(run)
    echoes = _echo_writes(run)
    early = _early_retries(run)

    writes_before = rig.api_writes()
    versions_before = {b.id: b.version for b in world.host.list_bookings()}
    world.advance(31 * 60)
    world.tick()
    world.settle()
    idle_writes = rig.api_writes() - writes_before
    idle_booking_writes = sum(1 for b in world.host.list_bookings() if versions_before.get(b.id) != b.version)

    log = rig.app.requests.entries()
    dropped = rig.app.deliverer.dropped
    faults = Counter(e.fault for e in log if e.fault)
    figures = {
        "provider": provider,
        "seed": seed,
        "allow_booking_update": allow_update,
        "mutations": sum(run.figures.mutations.values()),
        "mutations_by_kind": dict(run.figures.mutations),
        "conflicting_mutations": run.figures.conflicts,
        "items": len(run.items),
        "api_requests": len(log),
        "faults_injected": sum(faults.values()),
        "faults_by_kind": dict(faults),
        "retry_after_faults": len(run.figures.retry_after_faults),
        "stale_sync_tokens": run.figures.stale_cursors,
        "http_410": sum(1 for e in log if e.status == 410),
        # CalDAV's stale token: a sync-collection REPORT refused (valid-sync-token precondition)
        "refused_sync_reports": sum(1 for e in log if e.method == "REPORT" and e.status in (403, 409)),
        "access_token_expiries": run.figures.token_expiries,
        "http_401": sum(1 for e in log if e.status == 401),
        "notifications_sent": run.figures.pushes_sent,
        "notifications_dropped": dropped,
        "notification_copies_delivered": run.figures.push_copies,
        "notification_duplicates": max(0, run.figures.push_copies + dropped - run.figures.pushes_sent),
        "crashes": sum(run.crasher.counts.values()),
        "crashes_by_point": dict(run.crasher.counts),
        "waits_recorded": len(run.sleeper.waits),
        "seconds_waited_on_the_clock": round(run.sleeper.total, 1),
        "jobs_run": run.figures.worker_runs,
        "settles_to_converge": settles,
        "lost_changes": len(lost),
        "duplicate_bookings": duplicate_bookings,
        "duplicate_events": duplicate_events,
        "orphans": len(orphans),
        "conflicted_items_disagreeing": len(disagreeing),
        "echo_writes": len(echoes),
        "retries_before_retry_after": len(early),
        "idle_api_writes": idle_writes,
        "idle_booking_writes": idle_booking_writes,
        "clean_items": len(clean),
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    history = {
        t: [
            f"{who} {old}->{new} {b.start:%m-%d %H:%M}"
            for b, old, new, who in run.recorder.changes
            if _key_of(b.title) == int(t.split("-")[1])
        ]
        for t in [*lost, *disagreeing, *_titles_in(echoes)][:6]
    }
    details = {
        "lost": lost,
        "history": history,
        "disagreeing": disagreeing,
        "orphans": orphans[:20],
        "echoes": echoes[:20],
        "early": early[:20],
    }
    figures["details"] = {k: v for k, v in details.items() if v}
    return figures


def assert_converged(figures: dict[str, Any]) -> None:
    zero = (
        "lost_changes",
        "duplicate_bookings",
        "duplicate_events",
        "orphans",
        "conflicted_items_disagreeing",
        "echo_writes",
        "retries_before_retry_after",
        "idle_api_writes",
        "idle_booking_writes",
    )
    bad = {name: figures[name] for name in zero if figures[name]}
    assert not bad, f"{bad}\n{figures.get('details')}"
    assert figures["faults_injected"] > 0 and figures["crashes"] > 0  # the run really was hostile


@pytest.mark.parametrize("allow_update", [True, False], ids=["allow-update", "no-allow-update"])
def test_converges_under_faults(
    world: World, provider: str, monkeypatch: pytest.MonkeyPatch, long_run: bool, allow_update: bool
) -> None:
    mutations = (1000 if allow_update else 400) if long_run else (220 if allow_update else 100)
    seed = int(os.environ.get("IRESERVE_SEED", "20240611")) + int(allow_update)
    figures = converge_under_faults(
        world, provider, monkeypatch, seed=seed, mutations=mutations, allow_update=allow_update, crash_rate=0.012
    )
    suite = f"convergence-{provider}-{'allow' if allow_update else 'no-allow'}"
    report(suite, figures, long_run=long_run)
    assert_converged(figures)


def test_converges_under_faults_on_caldav(
    world: World, radicale: RadicaleServer, monkeypatch: pytest.MonkeyPatch, long_run: bool
) -> None:
    """The same run on a real CalDAV server (Radicale), the faults injected by a proxy in front of it:
    resets, 429s with and without ``Retry-After``, 500/503s, held requests that land after the client
    gave up, stale sync tokens and worker deaths. (No token expiry and no push: HTTP Basic, polled.)
    A real server answers in tens of milliseconds, so the default run is short."""
    mutations = 300 if long_run else 60
    seed = int(os.environ.get("IRESERVE_SEED", "20240611")) + 7
    with contextlib.ExitStack() as stack:
        figures = converge_under_faults(
            world,
            "caldav",
            monkeypatch,
            seed=seed,
            mutations=mutations,
            allow_update=True,
            crash_rate=0.012,
            rig_options={"radicale": radicale, "stack": stack},
        )
    report("convergence-caldav-allow", figures, long_run=long_run)
    assert_converged(figures)
    # the run really took CalDAV's own hard paths: a refused sync token, writes whose answer was lost
    assert figures["refused_sync_reports"] > 0 and figures["faults_by_kind"].get("lost", 0) > 0, figures
