"""Conflicts become a review queue: one entry per refused event (not a log line per event per round),
resolved by an admin's decision or by itself when the calendar side changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from calendar_emulators.google import DEMO_ROOM
from hookspecs.forms import ACTION_FIELD
from hookspecs.forms import TARGET_FIELD
from hookspecs.forms import HealthState
from ireserve_lab.world import World

USER = "user:1"


class Story:
    def __init__(self, world: World, **settings: Any) -> None:
        self.world, self.host = world, world.host
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
        world.connect(self.integration)
        world.settle()
        self.base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)

    def form(self, submitted: dict[str, str] | None = None) -> Any:
        form = self.host.hooks.config_form(self.integration, submitted)
        assert form is not None
        return form

    def act(self, name: str, target: str) -> Any:
        return self.form({ACTION_FIELD: name, TARGET_FIELD: target})

    def book(self, hours: int, status: str = "confirmed") -> Any:
        start = self.base + timedelta(hours=hours)
        return self.host.bookings.create(
            object_id=self.room.id,
            start=start,
            end=start + timedelta(hours=1),
            status=status,
            title="Board",
            channel="web",
            origin=USER,
        )

    def person_adds(self, hours: int, title: str) -> dict[str, Any]:
        start = self.base + timedelta(hours=hours)
        return self.google.create_event(DEMO_ROOM, summary=title, start=start, end=start + timedelta(hours=1))

    def log_lines(self) -> list[str]:
        return [e.message for e in self.host.integration_log("g1", 1000)]

    def resync(self) -> None:
        self.google.invalidate_sync_tokens(DEMO_ROOM)
        self.world.advance(3600)
        self.world.tick()
        self.world.settle()


@pytest.fixture
def story(tmp_path: Any) -> Iterator[Story]:
    with World(tmp_path / "host.sqlite3") as world:
        yield Story(world, lock_statuses="locked")


def test_overlapping_events_are_one_entry_each_and_one_log_line_per_round(story: Story) -> None:
    story.book(0)
    story.world.settle()
    for n in range(5):
        story.person_adds(0, f"Clash {n}")
    before = len(story.log_lines())
    story.world.settle()
    form = story.form()
    assert len(form.conflicts) == 5 and form.state is HealthState.WARNING
    assert form.rows[0].conflicts == 5
    entry = form.conflicts[0]
    assert entry.calendar == "Room A" and entry.booking_id is None
    assert "\u201cClash" in entry.calendar_wants and "No booking" in entry.host_has
    assert {a.name for a in entry.actions} == {"conflict.apply", "conflict.keep", "conflict.dismiss"}
    new_lines = story.log_lines()[: len(story.log_lines()) - before]
    assert len(new_lines) == 1 and "5 conflicts" in new_lines[0]

    story.resync()  # a full listing meets all five again: still five entries, and the same line is folded
    assert len(story.form().conflicts) == 5
    assert len(story.log_lines()) == before + 1


def test_apply_anyway_books_it_and_the_next_rounds_stay_quiet(story: Story) -> None:
    story.book(0)
    story.world.settle()
    event = story.person_adds(0, "Must happen")
    story.world.settle()
    (entry,) = story.form().conflicts
    form = story.act("conflict.apply", entry.id)
    assert form.notices and not form.errors and not form.conflicts
    made = story.host.bookings.find_by_field("external_id", event["id"])
    assert len(made) == 1 and made[0].start == story.base
    story.resync()
    assert not story.form().conflicts and len(story.host.bookings.find_by_field("external_id", event["id"])) == 1


def test_an_entry_resolves_itself_when_the_calendar_side_changes(story: Story) -> None:
    story.book(0)
    story.world.settle()
    event = story.person_adds(0, "Moves later")
    story.world.settle()
    assert len(story.form().conflicts) == 1
    story.google.move_event(DEMO_ROOM, event["id"], story.base + timedelta(hours=5), story.base + timedelta(hours=6))
    story.world.settle()
    assert not story.form().conflicts
    assert len(story.host.bookings.find_by_field("external_id", event["id"])) == 1


def test_keep_leaves_a_foreign_event_alone_and_dismiss_hides_until_it_changes(story: Story) -> None:
    story.book(0)
    story.world.settle()
    story.person_adds(0, "Foreign")
    story.person_adds(0, "Other")
    story.world.settle()
    first, second = story.form().conflicts
    story.act("conflict.keep", first.id)
    story.act("conflict.dismiss", second.id)
    assert not story.form().conflicts
    story.resync()
    assert not story.form().conflicts  # neither asked again while nothing changed


def test_keep_puts_our_moved_event_back(story: Story) -> None:
    ours = story.book(0)
    story.book(3)
    story.world.settle()
    event_id = story.host.bookings.get(ours.id).fields["external_id"]
    story.google.move_event(DEMO_ROOM, event_id, story.base + timedelta(hours=3), story.base + timedelta(hours=4))
    story.world.settle()
    (entry,) = story.form().conflicts
    assert entry.booking_id == ours.id and "Booking" in entry.host_has
    keep = next(a for a in entry.actions if a.name == "conflict.keep")
    assert "put the event back" in keep.label
    story.act("conflict.keep", entry.id)
    story.world.settle()
    event = next(e for e in story.google.events(DEMO_ROOM, include_cancelled=False) if e["id"] == event_id)
    assert datetime.fromisoformat(event["start"]["dateTime"]) == story.base
    assert story.host.bookings.get(ours.id).start == story.base and not story.form().conflicts


def test_a_deleted_event_of_a_locked_booking_is_an_entry_and_apply_cancels_it(story: Story) -> None:
    locked = story.book(0)
    story.world.settle()
    story.host.bookings.set_status(locked.id, "locked", origin=USER)
    story.world.settle()
    event_id = story.host.bookings.get(locked.id).fields["external_id"]
    story.google.delete_event(DEMO_ROOM, event_id)
    story.world.settle()
    (entry,) = story.form().conflicts
    assert "lock status" in entry.summary and entry.calendar_wants == "Delete the event"
    story.act("conflict.apply", entry.id)
    assert story.host.bookings.get(locked.id).status == "cancelled"
