"""Each safety rule of the engine proven on its own, end to end (reference host + plugin + Google emulator).

Every test here fails when its rule is removed while the other rules stay; ``tests/mutation`` removes
them one at a time and checks that:

- the hook ignores the integration's own writes by origin (cross-process echo: a write made by another
  worker process reaches the hook with the origin ``calendar:<id>`` but outside any inbound round);
- the in-process outbound suppression: while an inbound change is applied, the hook queues no outbound
  job of that integration whatever origin the host reports;
- the mass-deletion guard: a full listing that comes back empty holds back the cancellations it would
  cause (and only an empty one: a listing with events still cancels what it misses);
- a create repeated after its worker died reuses its idempotency key (one event, not two);
- outbound jobs end every error of ours with a log line (the catch-all inbound jobs have too).

The pure rule "our own deletion only unlinks" is a unit test (``tests/unit/test_plan.py``) and a
story (``test_regressions.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hookspecs.types import Job
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.services import enqueue
from ireserve_calendar_plugin.sync.echo import applying_inbound
from ireserve_calendar_plugin.sync.echo import outbound_suppressed
from ireserve_calendar_plugin.sync.engine import sync_job
from ireserve_calendar_plugin.sync.inbound import MASS_DELETE_GUARD
from ireserve_calendar_plugin.sync.state import Leases
from ireserve_lab.world import World
from tests.reliability.conftest import USER
from tests.reliability.conftest import Crash
from tests.reliability.conftest import GoogleRig
from tests.reliability.conftest import hour_after
from tests.reliability.conftest import install_clock_sleep


@pytest.fixture
def rig(world: World, monkeypatch: pytest.MonkeyPatch) -> GoogleRig:
    rig = GoogleRig(world)
    rig.connect()
    install_clock_sleep(monkeypatch, world)
    return rig


def _book(rig: GoogleRig, hours: float = 24) -> Any:
    start = hour_after(rig.world.clock(), hours)
    return rig.host.bookings.create(
        object_id=rig.room.id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="Team",
        channel="web",
        origin=USER,
    )


def _queued_outbound(rig: GoogleRig, booking_id: int) -> int:
    return len(
        [
            j
            for j in rig.host.jobs.all(state="queued", name="calendar.outbound")
            if j.payload.get("booking") == str(booking_id)
        ]
    )


def _synced_booking(rig: GoogleRig) -> Any:
    booking = _book(rig)
    rig.world.settle()
    assert _queued_outbound(rig, booking.id) == 0
    return booking


# --------------------------------------------------------------------------- echo


def test_own_writes_from_another_process_queue_no_outbound_job(rig: GoogleRig) -> None:
    booking = _synced_booking(rig)
    # what another worker's inbound round looks like to this process's hook: its origin, no round here
    rig.host.bookings.set_status(booking.id, "option", origin=f"calendar:{rig.integration.id}")
    rig.host.bookings.set_field(booking.id, "note", "from the calendar", origin=f"calendar:{rig.integration.id}")
    assert _queued_outbound(rig, booking.id) == 0
    # the same change by a person is work
    rig.host.bookings.set_status(booking.id, "confirmed", origin=USER)
    assert _queued_outbound(rig, booking.id) == 1


def test_changes_applied_by_an_inbound_round_queue_no_outbound_job_whatever_the_origin(rig: GoogleRig) -> None:
    booking = _synced_booking(rig)
    # a host that reports another origin for the write (or calls the hook from inside the write): only the
    # in-process suppression can tell it is the round's own change
    with applying_inbound(rig.integration.id):
        rig.host.bookings.set_status(booking.id, "option", origin=USER)
    assert _queued_outbound(rig, booking.id) == 0
    with applying_inbound("another-integration"):
        rig.host.bookings.set_status(booking.id, "confirmed", origin=USER)
    assert _queued_outbound(rig, booking.id) == 1


def test_an_inbound_round_applies_its_changes_with_outbound_suppressed(
    rig: GoogleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ireserve_calendar_plugin import services

    during: list[tuple[str, bool]] = []
    hook = services.booking_changed

    def observed(host: Any, booking: Any, origin: str) -> None:
        during.append((origin, outbound_suppressed(rig.integration.id)))
        hook(host, booking, origin)

    monkeypatch.setattr(services, "booking_changed", observed)
    start = hour_after(rig.world.clock(), 30)
    rig.person_create("From the calendar", start, start + timedelta(hours=1))
    _sync(rig)
    own = [suppressed for origin, suppressed in during if origin == f"calendar:{rig.integration.id}"]
    assert own and all(own), during


# --------------------------------------------------------------------------- mass deletion


def _book_many(rig: GoogleRig, count: int) -> list[Any]:
    bookings = [_book(rig, hours=24 + 2 * i) for i in range(count)]
    rig.world.settle()
    assert len([e for e in rig.events() if e.live]) == count
    return bookings


def _wipe_calendar(rig: GoogleRig, keep: int = 0) -> None:
    """The calendar loses its events without tombstones (restored from an old backup, replaced, emptied by
    an admin tool), and the sync token with them: the next round is a full listing."""
    with rig.app.lock:
        events = rig.app.store.calendars[rig.calendar_id].events
        for event_id in sorted(events, key=lambda i: events[i].order)[keep:]:
            del events[event_id]
    rig.invalidate_cursor()


def _sync(rig: GoogleRig) -> None:
    enqueue(rig.host, sync_job(rig.integration.id, rig.calendar_key()))
    rig.world.settle()


def _statuses(rig: GoogleRig, bookings: list[Any]) -> list[str]:
    return [rig.host.bookings.get(b.id).status for b in bookings]


def test_an_empty_full_listing_cancels_nothing(rig: GoogleRig) -> None:
    bookings = _book_many(rig, MASS_DELETE_GUARD + 1)
    _wipe_calendar(rig)
    _sync(rig)
    assert _statuses(rig, bookings) == ["confirmed"] * len(bookings)
    errors = [e.message for e in rig.host.integration_log(rig.integration.id) if e.level == "error"]
    assert any("listed no events at all" in m and "nothing was cancelled" in m for m in errors), errors


def test_a_full_listing_with_events_still_cancels_what_it_misses(rig: GoogleRig) -> None:
    bookings = _book_many(rig, MASS_DELETE_GUARD + 2)
    _wipe_calendar(rig, keep=1)
    _sync(rig)
    assert _statuses(rig, bookings) == ["confirmed"] + ["cancelled"] * (len(bookings) - 1)


# --------------------------------------------------------------------------- idempotent create


def test_a_create_repeated_after_the_worker_died_makes_one_event(
    rig: GoogleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ireserve_calendar_plugin.providers.google.backend import GoogleBackend

    original = GoogleBackend.create_event

    def create_then_die(self: GoogleBackend, *args: Any, **kwargs: Any) -> Any:
        original(self, *args, **kwargs)
        raise Crash("after the create, before any record")

    with monkeypatch.context() as patch:
        patch.setattr(GoogleBackend, "create_event", create_then_die)
        patch.setattr(Leases, "release", lambda self, lease: None)  # a dead worker releases nothing
        booking = _book(rig)
        with pytest.raises(Crash):
            rig.world.run_jobs()
    rig.world.advance(301)  # the dead worker's leases expire; its job runs again
    rig.world.settle()
    (event,) = [e for e in rig.events() if e.live]
    assert rig.host.bookings.get(booking.id).fields["external_id"] == event.id


# --------------------------------------------------------------------------- outbound catch-all


def test_an_outbound_job_ends_any_error_of_ours_with_a_log_line(
    rig: GoogleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ireserve_calendar_plugin.providers.google.backend import GoogleBackend

    def broken(self: GoogleBackend, *args: Any, **kwargs: Any) -> Any:
        raise CalendarPluginError("something of ours went wrong")

    monkeypatch.setattr(GoogleBackend, "create_event", broken)
    booking = _book(rig)
    (job,) = rig.host.jobs.all(state="queued", name="calendar.outbound")
    assert rig.host.hooks.job(Job(str(job.id), job.name, dict(job.payload))) is True
    errors = [e.message for e in rig.host.integration_log(rig.integration.id) if e.level == "error"]
    # one line in the admin's words, with the technical detail (our error's type) kept at its end
    assert any(f"Booking {booking.id} could not be written: " in m and "CalendarPluginError" in m for m in errors), (
        errors
    )
