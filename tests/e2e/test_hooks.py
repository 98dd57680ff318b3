"""Each hook of the plugin, called by the reference host with the documented arguments."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
import requests

from calendar_emulators.google import DEMO_ROOM
from hookspecs import HttpRequest
from hookspecs import Job
from ireserve_lab.world import World

SECRET = "demo-secret"


@pytest.fixture
def world(tmp_path: Any) -> Iterator[World]:
    with World(tmp_path / "host.sqlite3") as w:
        yield w


def _google(world: World) -> Any:
    _, base = world.google()
    room = world.host.add_object("Room A", timezone="Europe/Amsterdam")
    integration = world.integration(
        "g1",
        "google",
        {
            "client_id": "demo-client",
            "client_secret": SECRET,
            "calendar_mapping": [{"object": str(room.id), "calendar_id": DEMO_ROOM}],
            **World.google_urls(base),
        },
    )
    return room, integration


def test_hook_on_config_form(world: World, tmp_path: Any) -> None:
    room, integration = _google(world)
    form = world.host.hooks.config_form(integration, None)
    assert form is not None and form.title.startswith("Google Calendar")
    assert {f.name: f.value for f in form.fields}["client_secret"] == "********"
    assert form.links and "/calendar/oauth/start/g1?t=" in form.links[0].url
    bad = world.host.hooks.config_form(integration, {"popup_reminder_minutes": "99999"})
    assert bad is not None and not bad.saved and "popup_reminder_minutes" in bad.field_errors
    # nothing secret in the host database in plain text
    raw = b"".join(
        str(row).encode() for row in sqlite3.connect(tmp_path / "host.sqlite3").execute("select * from config")
    )
    assert raw and SECRET.encode() not in raw and b"demo-client" not in raw
    # a provider this plugin does not know is not ours to answer
    other = world.host.add_integration("x1", "exchange")
    assert world.host.hooks.config_form(other, None) is None


def test_hook_on_http_route(world: World) -> None:
    _google(world)
    base = world.host.url_for("/calendar/x")[: -len("/calendar/x")]
    assert requests.get(base + "/calendar/nothing-here", timeout=5).status_code == 404
    assert requests.get(base + "/not-ours", timeout=5).status_code == 404
    forged = requests.post(
        base + "/calendar/push/google/g1",
        headers={"X-Goog-Channel-ID": "made-up", "X-Goog-Channel-Token": "guess", "X-Goog-Resource-State": "exists"},
        timeout=5,
    )
    assert forged.status_code == 403
    assert requests.post(base + "/calendar/push/google/nope", timeout=5).status_code == 404
    assert requests.get(base + "/calendar/oauth/start/g1?t=forged", timeout=5, allow_redirects=False).status_code == 403
    assert world.host.jobs.all() == []
    # the hook answers None for paths outside /calendar/, so other plugins can have them
    assert world.host.hooks.http_route(HttpRequest("GET", "/elsewhere")) is None


def test_hook_on_cron_tick(world: World) -> None:
    _, integration = _google(world)
    world.connect(integration)
    world.settle()
    google = world._emulators[0][0]
    calls = len(google.requests.entries())
    world.tick()  # everything just synced and the channel is fresh: no API call is due
    world.run_jobs()
    assert len(google.requests.entries()) == calls
    assert google.requests.count(method="GET", path=r"/events$") == 1


def test_hook_on_booking_status_changed(world: World) -> None:
    room, integration = _google(world)
    world.connect(integration)
    world.settle()
    start = datetime.now(UTC) + timedelta(days=1)
    booking = world.host.bookings.create(
        object_id=room.id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="T",
        channel="web",
        origin="user:7",
    )
    outbound = [j for j in world.host.jobs.all() if j.name == "calendar.outbound"]
    assert [j.payload["booking"] for j in outbound] == [str(booking.id)]
    # the integration's own writes are its echo: no job
    world.host.bookings.set_status(booking.id, "option", origin="calendar:g1")
    assert len([j for j in world.host.jobs.all() if j.name == "calendar.outbound" and j.state == "queued"]) == 1


def test_hook_on_job(world: World) -> None:
    _google(world)
    assert world.host.hooks.job(Job("1", "someone.else", {})) is None
    assert world.host.hooks.job(Job("2", "calendar.sync", {"integration": "gone", "calendar": "c"})) is True


def test_two_integrations_cannot_share_the_booking_field_for_event_ids(world: World) -> None:
    _google(world)
    second = world.host.add_integration("g2", "google")
    base = {"client_id": "c", "client_secret": "s"}
    clash = world.host.hooks.config_form(second, base)
    assert clash is not None and not clash.saved and "ires_field" in clash.field_errors
    fine = world.host.hooks.config_form(second, {**base, "ires_field": "google2_event"})
    assert fine is not None and fine.saved
