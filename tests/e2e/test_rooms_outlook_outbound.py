"""Outlook application mode writing to room mailboxes, end to end over HTTP (host + plugin + Graph emulator).

The seed's default (rooms inbound only) is covered by ``test_outlook_stories``; here the admin turns on
"Write bookings to the room mailboxes": bookings become events in ``users/{room}/events`` with the room
as organiser, exactly one write per change, and a room the app may only read says so in words while
every room's inbound sync goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from ireserve_calendar_plugin.providers.outlook.settings import ROOM_TEAMS_MESSAGE
from ireserve_lab.world import World

USER = "user:1"
TENANT = "contoso.onmicrosoft.com"
ROOMS = [f"room-00{n}@{TENANT}" for n in (1, 2, 3)]


def hour(hours_from_now: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours_from_now)


class RoomStory:
    """Three room mailboxes mapped to three objects, application mode, ``room_outbound`` on."""

    def __init__(self, world: World, roles: tuple[str, ...] = ("Calendars.ReadWrite",), **settings: Any) -> None:
        self.world = world
        self.host = world.host
        self.graph, base = world.graph()
        self.graph.set_app_roles("demo-client", list(roles))
        self.objects = [self.host.add_object(f"Room {n}", timezone="Europe/Amsterdam") for n in (1, 2, 3)]
        self.integration = world.integration(
            "rooms",
            "outlook",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "auth_mode": "application",
                "tenant": TENANT,
                "room_outbound": True,
                "rooms": [{"upn": upn, "object": obj.id} for upn, obj in zip(ROOMS, self.objects, strict=True)],
                **World.graph_urls(base),
                **settings,
            },
        )
        world.tick()
        world.settle()

    def book(self, room: int = 0, hours_from_now: int = 24, title: str = "Team") -> Any:
        start = hour(hours_from_now)
        return self.host.bookings.create(
            object_id=self.objects[room].id,
            start=start,
            end=start + timedelta(hours=1),
            status="confirmed",
            title=title,
            channel="web",
            origin=USER,
        )

    def count(self, method: str | None = None, path: str | None = None, status: int | None = None) -> int:
        return int(self.graph.requests.count(method=method, path=path, status=status))

    def writes(self) -> int:
        return sum(self.count(method=m, path=r"/users/[^/]+/events") for m in ("POST", "PATCH", "DELETE"))

    def health(self) -> dict[str, dict[str, str]]:
        form = self.host.hooks.config_form(self.integration, None)
        assert form is not None
        return {row["calendar"]: row for row in form.health}

    def status(self) -> str:
        form = self.host.hooks.config_form(self.integration, None)
        assert form is not None
        return form.status


@pytest.fixture
def story(tmp_path: Any) -> Iterator[RoomStory]:
    with World(tmp_path / "host.sqlite3") as world:
        yield RoomStory(world)


def test_a_booking_becomes_one_event_in_the_room_organised_by_the_room(story: RoomStory) -> None:
    story.graph.requests.clear()
    booking = story.book(room=1)
    story.world.settle()
    (event,) = story.graph.events(ROOMS[1])
    assert event["subject"] == f"Team [{booking.id}]" and event["transactionId"]
    assert event["organizer"]["emailAddress"]["address"] == ROOMS[1]
    assert not event.get("isOnlineMeeting") and not event.get("onlineMeeting")
    assert story.host.bookings.get(booking.id).fields["external_id"] == event["id"]
    assert story.count(method="POST", path=f"/users/{ROOMS[1]}/events$") == 1
    assert story.writes() == 1  # the notification of our own create wrote nothing back
    assert story.graph.events(ROOMS[0]) == [] and story.graph.events(ROOMS[2]) == []
    assert story.health()[ROOMS[1]]["writes"] == "ok"

    # move: one PATCH; cancel: one DELETE; each change exactly one write
    story.graph.requests.clear()
    story.host.bookings.update_times(
        booking.id, start=booking.start + timedelta(hours=2), end=booking.end + timedelta(hours=2), origin=USER
    )
    story.world.settle()
    assert story.count(method="PATCH", path=f"/users/{ROOMS[1]}/events/") == 1 and story.writes() == 1
    story.graph.requests.clear()
    story.host.bookings.set_status(booking.id, "cancelled", origin=USER)
    story.world.settle()
    assert story.count(method="DELETE", path=f"/users/{ROOMS[1]}/events/") == 1 and story.writes() == 1
    assert story.graph.events(ROOMS[1]) == []
    assert story.host.bookings.get(booking.id).status == "cancelled"


def test_a_lost_create_answer_is_retried_with_the_same_transaction_id(story: RoomStory) -> None:
    story.graph.fail_next_event_post(status=504)  # stored, then the answer is lost
    booking = story.book(room=2)
    story.world.settle()
    (event,) = story.graph.events(ROOMS[2])
    assert story.host.bookings.get(booking.id).fields["external_id"] == event["id"]
    assert story.count(method="POST", path=f"/users/{ROOMS[2]}/events$") == 2


def test_a_person_booking_the_room_in_outlook_becomes_a_booking(story: RoomStory) -> None:
    start = hour(50)
    made = story.graph.person_create_event(ROOMS[0], "Walk-in", start, start + timedelta(hours=1), "UTC")
    story.graph.requests.clear()
    story.world.settle()
    (booking,) = story.host.list_bookings(story.objects[0].id)
    assert (booking.title, booking.start, booking.fields["external_id"]) == ("Walk-in", start, made["id"])
    assert story.writes() == 0  # a booking that came from the room is not written back


def test_an_event_deleted_in_the_room_is_left_to_inbound(story: RoomStory) -> None:
    booking = story.book(room=0)
    story.world.settle()
    (event,) = story.graph.events(ROOMS[0])
    story.graph.person_delete_event(ROOMS[0], event["id"])
    story.world.settle()
    assert story.host.bookings.get(booking.id).status == "cancelled"
    assert story.graph.events(ROOMS[0]) == []
    assert story.count(method="POST", path=f"/users/{ROOMS[0]}/events$") == 1  # not recreated


def test_teams_links_are_refused_for_rooms_on_the_form(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        graph, base = world.graph()
        obj = world.host.add_object("Room 1")
        integration = world.host.add_integration("rooms", "outlook", name="rooms")
        settings = {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "auth_mode": "application",
            "tenant": TENANT,
            "rooms": [{"upn": ROOMS[0], "object": obj.id}],
            **World.graph_urls(base),
            "room_outbound": True,
            "meeting_link": True,
        }
        form = world.host.hooks.config_form(integration, settings)
        assert form is not None and not form.saved
        assert form.field_errors["meeting_link"] == ROOM_TEAMS_MESSAGE
        # either alone is fine: inbound-only rooms never write, so a meeting link there is moot
        form = world.host.hooks.config_form(integration, {**settings, "room_outbound": False})
        assert form is not None and form.saved


# --------------------------------------------------------------------------- read but not write


def test_with_only_calendars_read_each_room_says_so_and_reads_go_on(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        story = RoomStory(world, roles=("Calendars.Read",))
        story.graph.requests.clear()
        first = story.book(room=0)
        story.world.settle()
        assert story.count(method="POST", path="/events$", status=403) == 1
        story.world.tick()
        story.world.settle()
        story.world.advance(3600)
        story.world.tick()
        story.world.settle()
        assert story.count(method="POST", path="/events$") == 1  # never retried
        row = story.health()[ROOMS[0]]
        assert row["writes"].startswith(
            f"This app may read but not write room {ROOMS[0]}: grant "
            "Calendars.ReadWrite (application) and admin-consent"
        )
        assert row["last_error"] == "" and story.health()[ROOMS[1]]["writes"] == "ok"
        assert "1 calendar may be read but not written" in story.status()
        # a second booking of the same room: one more attempt (one per change), no second admin alert
        story.book(room=0, hours_from_now=30)
        story.world.settle()
        assert story.count(method="POST", path="/events$") == 2
        alerts = [e for e in story.host.integration_log("rooms") if e.level == "error" and "may read" in e.message]
        assert len(alerts) == 1
        # reads go on: a person's booking in the room still arrives
        start = hour(60)
        story.graph.person_create_event(ROOMS[0], "Walk-in", start, start + timedelta(hours=1), "UTC")
        story.world.settle()
        assert "Walk-in" in [b.title for b in story.host.list_bookings(story.objects[0].id)]
        assert story.host.bookings.get(first.id).fields.get("external_id") in (None, "")

        # the admin grants Calendars.ReadWrite: the next change goes through and the message clears
        story.graph.set_app_roles("demo-client", ["Calendars.ReadWrite"])
        story.graph.expire_access_tokens()
        story.host.bookings.update_times(
            first.id, start=first.start + timedelta(hours=1), end=first.end + timedelta(hours=1), origin=USER
        )
        story.world.settle()
        assert [e["subject"] for e in story.graph.events(ROOMS[0]) if e["subject"].startswith("Team")] == [
            f"Team [{first.id}]"
        ]
        assert story.health()[ROOMS[0]]["writes"] == "ok"
        assert "read but not written" not in story.status()


def test_a_policy_keeping_writes_out_of_one_room_leaves_the_others_syncing(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        story = RoomStory(world)
        story.graph.set_writable_mailboxes("demo-client", [ROOMS[0], ROOMS[2]])
        blocked = story.book(room=1)
        fine = [story.book(room=0), story.book(room=2)]
        story.world.settle()
        assert story.graph.events(ROOMS[1]) == []
        assert [len(story.graph.events(r)) for r in (ROOMS[0], ROOMS[2])] == [1, 1]
        assert all(story.host.bookings.get(b.id).fields["external_id"] for b in fine)
        assert not story.host.bookings.get(blocked.id).fields.get("external_id")
        health = story.health()
        assert health[ROOMS[1]]["writes"].startswith(f"This app may read but not write room {ROOMS[1]}")
        assert health[ROOMS[0]]["writes"] == "ok" and health[ROOMS[2]]["writes"] == "ok"
        assert all(row["state"] == "incremental" and row["last_error"] == "" for row in health.values())
