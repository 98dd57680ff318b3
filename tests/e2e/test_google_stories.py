"""Google end to end, over real HTTP: reference host + plugin (by entry point) + Google emulator.

Each test reads as a story: an admin configures and connects, people change bookings and calendar
events, and the host's cron, routes and jobs keep both sides in step.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calendar_emulators.google import DEMO_ROOM
from calendar_emulators.google import DEMO_USER
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.runtime import engine_for
from ireserve_calendar_plugin.services import enqueue
from ireserve_calendar_plugin.sync.engine import sync_job
from ireserve_lab.world import World

USER = "user:1"


class GoogleStory:
    def __init__(self, world: World, **settings: Any) -> None:
        self.world = world
        self.host = world.host
        self.google, base = world.google()
        self.room = self.host.add_object("Room A", timezone="Europe/Amsterdam")
        self.integration = world.integration(
            "g1",
            "google",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "calendar_mapping": [{"object": str(self.room.id), "calendar_id": DEMO_ROOM}],
                **World.google_urls(base),
                **settings,
            },
        )
        self.page = world.connect(self.integration)
        world.settle()

    def book(self, hours_from_now: int = 24, length: int = 1, status: str = "confirmed", title: str = "Team") -> Any:
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours_from_now)
        return self.host.bookings.create(
            object_id=self.room.id,
            start=start,
            end=start + timedelta(hours=length),
            status=status,
            title=title,
            channel="web",
            origin=USER,
        )

    def live_events(self) -> list[dict[str, Any]]:
        return list(self.google.events(DEMO_ROOM, include_cancelled=False))

    def calendar_key(self) -> str:
        ctx = context_for(self.host, self.integration)
        assert ctx is not None
        return engine_for(ctx).backend.calendars()[0].key

    def list_calls(self) -> int:
        return self.google.requests.count(method="GET", path=r"/events$")


@pytest.fixture
def story(tmp_path: Any) -> Iterator[GoogleStory]:
    with World(tmp_path / "host.sqlite3") as world:
        yield GoogleStory(world)


def test_connecting_does_a_first_sync_and_opens_a_channel(story: GoogleStory) -> None:
    assert "connected" in story.page.lower()
    form = story.host.hooks.config_form(story.integration, None)
    assert form is not None and form.status.startswith("Connected")
    (row,) = form.health
    assert row["state"] == "incremental" and row["last_sync"] != "never" and row["channel_expires"] != "none"
    assert len(story.google.channels(DEMO_ROOM)) == 1
    # once connected, the form offers the account's calendars for the mapping
    mapping = next(f for f in form.fields if f.name == "calendar_mapping")
    calendar_column = next(c for c in mapping.columns if c.name == "calendar_id")
    assert calendar_column.kind == "select" and DEMO_ROOM in {value for value, _ in calendar_column.choices}


def test_booking_becomes_one_event_and_the_echo_changes_nothing(story: GoogleStory) -> None:
    booking = story.book()
    story.world.settle()
    (event,) = story.live_events()
    assert event["summary"] == f"Team [{booking.id}]"
    assert event["extendedProperties"]["private"]["ireserveBookingId"] == str(booking.id)
    stored = story.host.bookings.get(booking.id)
    assert stored.fields["external_id"] == event["id"]
    assert datetime.fromisoformat(event["start"]["dateTime"]) == booking.start
    writes = story.google.requests.count(method="POST", path=r"/events$")
    assert writes == 1
    # the push about our own insert triggers a sync that must not touch the booking
    assert story.host.bookings.get(booking.id).version == stored.version


def test_event_moved_in_the_calendar_moves_the_booking(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        _moved_event_moves_the_booking(GoogleStory(world, allow_booking_update=True))


def test_without_allow_booking_update_a_web_booking_stays_put(story: GoogleStory) -> None:
    booking = story.book()
    story.world.settle()
    event_id = story.host.bookings.get(booking.id).fields["external_id"]
    story.google.move_event(DEMO_ROOM, event_id, booking.start + timedelta(hours=3), booking.end + timedelta(hours=3))
    story.world.settle()
    assert story.host.bookings.get(booking.id).start == booking.start


def test_a_booking_created_from_the_calendar_always_follows_it(story: GoogleStory) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    created = story.google.create_event(DEMO_ROOM, summary="Ext", start=start, end=start + timedelta(hours=1))
    story.world.settle()
    story.google.move_event(DEMO_ROOM, created["id"], start + timedelta(hours=5), start + timedelta(hours=6))
    story.world.settle()
    (booking,) = story.host.list_bookings(story.room.id)
    assert booking.start == start + timedelta(hours=5)


def _moved_event_moves_the_booking(story: GoogleStory) -> None:
    booking = story.book()
    story.world.settle()
    event_id = story.host.bookings.get(booking.id).fields["external_id"]
    new_start = booking.start + timedelta(hours=3)
    story.google.move_event(DEMO_ROOM, event_id, new_start, new_start + timedelta(hours=2))
    story.world.settle()
    moved = story.host.bookings.get(booking.id)
    assert (moved.start, moved.end, moved.status) == (new_start, new_start + timedelta(hours=2), "confirmed")
    # the move came in, so nothing went back out
    assert story.google.requests.count(method="PATCH") == 0


def test_event_deleted_in_the_calendar_cancels_the_booking(story: GoogleStory) -> None:
    booking = story.book()
    story.world.settle()
    event_id = story.host.bookings.get(booking.id).fields["external_id"]
    story.google.delete_event(DEMO_ROOM, event_id)
    story.world.settle()
    cancelled = story.host.bookings.get(booking.id)
    assert cancelled.status == "cancelled"
    assert "external_id" not in cancelled.fields or not cancelled.fields["external_id"]
    assert story.google.requests.count(method="DELETE") == 0


def test_new_event_becomes_a_booking_with_a_plain_text_remark(story: GoogleStory) -> None:
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    story.google.create_event(
        DEMO_ROOM,
        summary="Board <b>meeting</b>",
        description="<script>x</script>",
        start=start,
        end=start + timedelta(hours=1),
    )
    story.world.settle()
    (booking,) = story.host.list_bookings(story.room.id)
    assert (booking.start, booking.status, booking.channel) == (start, "confirmed", "external/google")
    assert "<script>x</script>" in booking.remarks[0]  # stored verbatim as text, never interpreted


def test_one_push_is_one_list_call(story: GoogleStory) -> None:
    before = story.list_calls()
    start = datetime.now(UTC) + timedelta(days=3)
    story.google.create_event(DEMO_ROOM, summary="A", start=start, end=start + timedelta(hours=1))
    story.world.settle()
    assert story.list_calls() - before == 1


def test_burst_of_changes_is_one_round(story: GoogleStory) -> None:
    story.google.deliverer.configure(type(story.google.deliverer.faults)(hold=True))
    start = datetime.now(UTC) + timedelta(days=3)
    for i in range(50):
        story.google.create_event(
            DEMO_ROOM, summary=f"E{i}", start=start + timedelta(hours=i), end=start + timedelta(hours=i, minutes=30)
        )
    story.google.deliverer.configure(type(story.google.deliverer.faults)())
    story.google.deliverer.release()
    before = story.list_calls()
    story.world.settle()
    assert story.list_calls() - before == 1
    assert len(story.host.list_bookings(story.room.id)) == 50


def test_stale_sync_token_resyncs_without_duplicates_or_lost_deletions(story: GoogleStory) -> None:
    keep, gone = story.book(), story.book(hours_from_now=48)
    story.world.settle()
    gone_event = story.host.bookings.get(gone.id).fields["external_id"]
    story.google.deliverer.configure(type(story.google.deliverer.faults)(drop=1.0))  # notifications lost
    story.google.delete_event(DEMO_ROOM, gone_event)
    story.google.invalidate_sync_tokens(DEMO_ROOM)
    enqueue(story.host, sync_job("g1", story.calendar_key()))  # what the 30-minute poll would queue
    story.world.settle()
    assert story.host.bookings.get(gone.id).status == "cancelled"
    assert story.host.bookings.get(keep.id).status == "confirmed"
    assert len(story.host.list_bookings(story.room.id)) == 2  # nothing duplicated by the full listing


def test_revoked_grant_needs_reconnect_and_loses_nothing(story: GoogleStory) -> None:
    story.google.revoke_user_tokens(DEMO_USER)
    story.google.expire_access_tokens(DEMO_USER)
    booking = story.book()
    story.world.settle()
    form = story.host.hooks.config_form(story.integration, None)
    assert form is not None and form.status.startswith("Needs reconnect")
    alerts = [e for e in story.host.integration_log("g1") if e.level == "error" and "Reconnect" in e.message]
    assert len(alerts) == 1
    assert story.live_events() == []
    token_calls = story.google.requests.count(method="POST", path=r"^/token$")
    story.world.settle()
    assert story.google.requests.count(method="POST", path=r"^/token$") == token_calls  # no retries after invalid_grant
    story.world.connect(story.integration)
    story.world.settle()
    (event,) = story.live_events()
    assert story.host.bookings.get(booking.id).fields["external_id"] == event["id"]


def test_a_create_whose_answer_was_lost_makes_one_event(story: GoogleStory) -> None:
    story.google.lose_next_insert(status=503)
    booking = story.book()
    story.world.settle()
    (event,) = story.live_events()
    assert story.host.bookings.get(booking.id).fields["external_id"] == event["id"]
    assert story.google.requests.count(method="POST", path=r"/events$") >= 2


def test_cancelling_the_booking_deletes_the_event(story: GoogleStory) -> None:
    booking = story.book()
    story.world.settle()
    story.host.bookings.set_status(booking.id, "cancelled", origin=USER)
    story.world.settle()
    assert story.live_events() == []
    assert story.google.requests.count(method="DELETE") == 1


def test_a_weekly_series_across_dst_becomes_one_booking_per_instance(story: GoogleStory) -> None:
    # Europe/Amsterdam leaves summer time on the last Sunday of October; a 09:00 series keeps 09:00 local
    zone = ZoneInfo("Europe/Amsterdam")
    first = datetime.now(zone).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)
    story.google.create_recurring_event(
        DEMO_ROOM,
        summary="Weekly",
        start=first,
        end=first + timedelta(hours=1),
        rrule="FREQ=WEEKLY;COUNT=20",
        time_zone="Europe/Amsterdam",
    )
    story.world.settle()
    bookings = sorted(story.host.list_bookings(story.room.id), key=lambda b: b.start)
    assert len(bookings) == 20
    assert {b.start.astimezone(zone).hour for b in bookings} == {9}
    assert len({b.fields["external_id"] for b in bookings}) == 20


def test_all_day_events_are_all_day_bookings_in_the_objects_zone(story: GoogleStory) -> None:
    day = (datetime.now(UTC) + timedelta(days=5)).date()
    story.google.create_event(DEMO_ROOM, summary="Closed", start=day, end=day + timedelta(days=2))
    story.world.settle()
    (booking,) = story.host.list_bookings(story.room.id)
    zone = ZoneInfo("Europe/Amsterdam")
    assert booking.all_day
    assert booking.start.astimezone(zone) == datetime.combine(day, time(0), zone)
    assert booking.end.astimezone(zone) == datetime.combine(day + timedelta(days=2), time(0), zone)


def test_an_all_day_booking_becomes_an_all_day_event(story: GoogleStory) -> None:
    zone = ZoneInfo("Europe/Amsterdam")
    day = (datetime.now(zone) + timedelta(days=3)).date()
    start = datetime.combine(day, time(0), zone)
    booking = story.host.bookings.create(
        object_id=story.room.id,
        start=start,
        end=start + timedelta(days=1),
        status="confirmed",
        title="Offsite",
        channel="web",
        origin=USER,
        all_day=True,
    )
    story.world.settle()
    (event,) = story.live_events()
    assert event["start"] == {"date": day.isoformat()}
    assert event["end"] == {"date": (day + timedelta(days=1)).isoformat()}
    assert story.host.bookings.get(booking.id).all_day


def test_an_event_moved_far_ahead_while_the_token_was_stale_is_not_cancelled(story: GoogleStory) -> None:
    """A full resync lists only the window; a linked event missing from it is re-checked before its
    booking is cancelled (it may only have moved beyond +365 days)."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    made = story.google.create_event(DEMO_ROOM, summary="Ext", start=start, end=start + timedelta(hours=1))
    story.world.settle()
    story.google.deliverer.configure(type(story.google.deliverer.faults)(drop=1.0))
    far = start + timedelta(days=500)
    story.google.move_event(DEMO_ROOM, made["id"], far, far + timedelta(hours=1))
    story.google.invalidate_sync_tokens(DEMO_ROOM)
    enqueue(story.host, sync_job("g1", story.calendar_key()))
    story.world.settle()
    (booking,) = story.host.list_bookings(story.room.id)
    assert booking.status == "confirmed" and booking.start == far
