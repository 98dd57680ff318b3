"""A write that meets an event deleted at the provider whose notification was lost (issue 12).

Story, per provider: a booking's event is deleted in the calendar while the provider's notification
to the host is lost; then an admin moves (or cancels) the booking. The outbound write gets 404. Today
nothing happened until the 30-minute poll silently cancelled the booking. Wanted: the 404 queues an
inbound round of that calendar at once (no cron tick, no time passing) and one log line tells the
admin what happened.
"""

from __future__ import annotations

from datetime import timedelta

from calendar_emulators.core import PushFaults
from ireserve_lab.world import World
from tests.reliability.conftest import USER
from tests.reliability.conftest import hour_after
from tests.reliability.conftest import make_rig


def _story(world: World, provider: str) -> tuple[object, int, str]:
    rig = make_rig(provider, world)
    rig.connect()
    start = hour_after(world.clock())
    booking = world.host.bookings.create(
        object_id=rig.room.id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="Board",
        channel="web",
        origin=USER,
    )
    world.settle()
    event_id = str(world.host.bookings.get(booking.id).fields["external_id"])
    rig.app.deliverer.configure(PushFaults(drop=1.0))  # the provider's notifications are lost from here on
    rig.person_delete(event_id)
    world.wait_for_pushes()
    assert world.run_jobs() == 0  # nothing told the host
    return rig, booking.id, event_id


def _lines(world: World, rig: object, text: str) -> list[str]:
    return [e.message for e in world.host.integrations.entries(rig.integration.id) if text in e.message]  # type: ignore[attr-defined]


def test_a_404_on_update_syncs_the_calendar_at_once(world: World, provider: str) -> None:
    rig, booking_id, _ = _story(world, provider)
    booking = world.host.bookings.get(booking_id)
    world.host.bookings.update_times(
        booking_id, start=booking.start + timedelta(hours=2), end=booking.end + timedelta(hours=2), origin=USER
    )
    world.run_jobs()  # the outbound write, then the round it queued: no tick, no time passing
    assert world.host.bookings.get(booking_id).status == "cancelled"
    lines = _lines(world, rig, f"Booking {booking_id} could not be updated")
    assert len(lines) == 1 and "deleted there" in lines[0] and "queued now" in lines[0], lines
    assert not [e for e in rig.events() if e.live and e.booking_id == booking_id]  # not recreated


def test_a_404_on_delete_is_told_and_syncs_the_calendar(world: World, provider: str) -> None:
    rig, booking_id, _ = _story(world, provider)
    other = rig.person_create("Walk-in", hour_after(world.clock(), 30), hour_after(world.clock(), 31))
    world.host.bookings.set_status(booking_id, "cancelled", origin=USER)
    world.run_jobs()
    lines = _lines(world, rig, f"The event of booking {booking_id}")
    assert len(lines) == 1 and "already deleted" in lines[0], lines
    # the round it queued also caught up on what else the lost notifications did not tell
    assert world.host.bookings.find_by_field("external_id", other), "the walk-in was not imported"
