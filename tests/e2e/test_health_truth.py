"""Health tells the truth: a booking that could not be written says so on the booking and in the form,
a calendar answering 404 is an error, and the integration never reads "Connected" over a failure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from calendar_emulators.core import Fault
from calendar_emulators.google import DEMO_ROOM
from hookspecs.forms import BOOKING_NOTICE_PREFIX
from hookspecs.forms import HealthState
from ireserve_devhost.status import collect
from ireserve_lab.world import World

NOTICE = f"{BOOKING_NOTICE_PREFIX}calendar:g1"


class Story:
    def __init__(self, world: World, calendars: list[str]) -> None:
        self.world, self.host = world, world.host
        self.google, base = world.google()
        zone = "Europe/Amsterdam"
        rooms = [self.host.add_object(f"Room {chr(65 + i)}", timezone=zone) for i in range(len(calendars))]
        self.room = rooms[0]
        self.integration = world.integration(
            "g1",
            "google",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "calendar_mapping": [
                    {"object": str(r.id), "calendar_id": c} for r, c in zip(rooms, calendars, strict=True)
                ],
                **World.google_urls(base),
            },
        )
        world.connect(self.integration)
        world.settle()

    def form(self) -> Any:
        form = self.host.hooks.config_form(self.integration, None)
        assert form is not None
        return form

    def book(self) -> Any:
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
        return self.host.bookings.create(
            object_id=self.room.id,
            start=start,
            end=start + timedelta(hours=1),
            status="confirmed",
            title="Board",
            channel="web",
            origin="user:1",
        )


@pytest.fixture
def story(tmp_path: Any) -> Iterator[Story]:
    with World(tmp_path / "host.sqlite3", virtual_sleep=True) as world:
        yield Story(world, [DEMO_ROOM])


def test_a_booking_written_while_google_is_down_says_so_until_it_is_written(story: Story) -> None:
    assert story.form().state is HealthState.OK
    story.google.faults.add(Fault(status=503, method="POST", path=r"/events$", times=None))
    booking = story.book()
    story.world.run_jobs()

    notice = story.host.bookings.get(booking.id).fields.get(NOTICE, "")
    assert notice.startswith("Not in Google Calendar yet: Google Calendar did not answer; retrying at ")
    assert "+00:00" not in notice and "503" not in notice
    form = story.form()
    (row,) = form.rows
    assert row.pending_writes == 1 and row.last_failure is not None and row.name == "Room A"
    assert form.state is HealthState.WARNING and not form.status.startswith("Connected")
    assert row.activity[-1].failures >= 1 and len(row.activity) == 24

    story.google.faults.clear()
    story.world.advance(3600)
    story.world.run_jobs(include_future=True)
    assert NOTICE not in story.host.bookings.get(booking.id).fields
    form = story.form()
    assert form.rows[0].pending_writes == 0 and form.state is HealthState.OK
    assert form.status.startswith("Connected")


def test_a_calendar_answering_404_is_an_error_named_by_its_name(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3", virtual_sleep=True) as world:
        story = Story(world, [DEMO_ROOM, "gone@group.calendar.google.com"])
        form = story.form()
        assert form.state is HealthState.ERROR
        assert form.status.startswith("Error: 1 of 2 calendars need attention")
        bad = next(r for r in form.rows if r.state is HealthState.ERROR)
        good = next(r for r in form.rows if r is not bad)
        assert good.state is HealthState.OK and good.last_success is not None
        assert bad.name == "gone@group.calendar.google.com" and bad.last_success is None
        assert "does not know the calendar gone@group.calendar.google.com" in bad.message
        assert bad.next_step and "404" not in bad.message and "notFound" not in bad.message
        assert bad.last_failure is not None and bad.timezone == "Europe/Amsterdam"
        (report,) = collect(story.host)
        assert report.needs_attention

        def lines() -> list[str]:
            return [e.message for e in story.host.integration_log("g1", 1000) if "gone@group" in e.message]

        first = lines()
        assert first and all(line.startswith("Google Calendar does not know the calendar") for line in first)
        story.world.advance(7200)  # the next attempts fail the same way: no new lines in the admin's log
        story.world.tick()
        story.world.settle()
        failing = next(r for r in story.form().rows if r.state is HealthState.ERROR)
        assert sum(h.failures for h in failing.activity) >= 3  # several failed attempts ...
        assert lines() == first  # ... and the same lines, folded


def test_activity_counts_rounds_and_changes_per_hour(story: Story) -> None:
    story.book()
    story.world.settle()
    (row,) = story.form().rows
    now = row.activity[-1]
    assert now.rounds >= 2 and now.changes >= 1 and now.failures == 0
    assert row.activity[0].start == now.start - timedelta(hours=23)


def test_settings_that_no_longer_decrypt_are_an_error_in_words_not_a_crash(story: Story) -> None:
    with story.host.db.transaction() as conn:
        (value,) = conn.execute("SELECT value FROM config WHERE integration_id = 'g1' AND key = 'settings'").fetchone()
        middle = len(value) // 2 + 7
        flipped = value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]
        conn.execute("UPDATE config SET value = ? WHERE integration_id = 'g1' AND key = 'settings'", (flipped,))
    form = story.form()
    assert form.state is HealthState.ERROR and "can no longer be decrypted" in form.status
    assert form.next_step and "InvalidTag" not in form.status and "settings'" not in form.status
