"""Renewal two days before the channel's expiry, and the 30-minute polling fallback, on an injected clock.

The host and the emulator share one clock that the test moves forward; nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from calendar_emulators.google import DEMO_ROOM
from ireserve_lab.world import World

MINUTE = 60
DAY = 24 * 3600


@pytest.fixture
def world(tmp_path: Any) -> Iterator[tuple[World, Any]]:
    with World(tmp_path / "host.sqlite3") as world:
        google, base = world.google()
        room = world.host.add_object("Room A")
        integration = world.integration(
            "g1",
            "google",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "calendar_mapping": [{"object": str(room.id), "calendar_id": DEMO_ROOM}],
                **World.google_urls(base),
            },
        )
        world.connect(integration)
        world.settle()
        yield world, google


def _lists(google: Any) -> int:
    return google.requests.count(method="GET", path=r"/events$")


def _watches(google: Any) -> int:
    return google.requests.count(method="POST", path=r"/watch$")


def _cycle(world: World) -> None:
    world.tick()
    world.settle()


def test_idle_calendar_is_polled_after_30_minutes_and_not_before(world: tuple[World, Any]) -> None:
    w, google = world
    before = _lists(google)
    w.advance(29 * MINUTE)
    _cycle(w)
    assert _lists(google) == before
    w.advance(2 * MINUTE)
    _cycle(w)
    assert _lists(google) == before + 1
    w.advance(10 * MINUTE)  # just polled: quiet again
    _cycle(w)
    assert _lists(google) == before + 1


def test_channel_is_renewed_two_days_before_its_expiry_new_one_first(world: tuple[World, Any]) -> None:
    w, google = world
    (first,) = google.channels(DEMO_ROOM)
    expires = datetime.fromtimestamp(int(first["expiration"]) / 1000, tz=w.clock().tzinfo)
    assert _watches(google) == 1
    w.advance((expires - w.clock()).total_seconds() - 2 * DAY - 10 * MINUTE)  # just before the renewal point
    _cycle(w)
    assert _watches(google) == 1
    w.advance(20 * MINUTE)  # now inside the last two days
    _cycle(w)
    assert _watches(google) == 2
    assert google.requests.count(method="POST", path=r"/channels/stop$") == 1
    live = [c for c in google.channels(DEMO_ROOM) if not c["stopped"] and not c["expired"]]
    assert [c["id"] for c in live] != [first["id"]] and len(live) == 1
    # the new channel works: a change is pushed, accepted and synced
    lists = _lists(google)
    start = w.clock().replace(microsecond=0) + timedelta(days=1)
    google.create_event(DEMO_ROOM, summary="After renewal", start=start, end=start + timedelta(hours=1))
    w.settle()
    assert _lists(google) == lists + 1
    assert any(b.title == "After renewal" for b in w.host.list_bookings())
