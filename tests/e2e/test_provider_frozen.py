"""No page, hook or route waits on a provider: with Google frozen, the admin form, the index, ``status``
and the form's buttons answer at once; a click that must call the provider gives up within seconds.

The emulator is frozen by a latency far longer than any budget here (every request sleeps first), so
a page that calls the provider takes at least that long.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from calendar_emulators.google import DEMO_ROOM
from hookspecs.forms import ACTION_FIELD
from ireserve_calendar_plugin import runtime
from ireserve_calendar_plugin.choices import JOB_CHOICES
from ireserve_calendar_plugin.runtime import CLICK_TIMEOUT
from ireserve_calendar_plugin.web import routes
from ireserve_devhost.status import collect
from ireserve_lab.world import World

FROZEN = 12.0  # seconds each provider request hangs


@pytest.fixture
def world(tmp_path: Any) -> Iterator[tuple[World, Any, Any]]:
    with World(tmp_path / "host.sqlite3") as world:
        google, base = world.google()
        room = world.host.add_object("Room A", timezone="Europe/Amsterdam")
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
        yield world, google, integration
        google.latency = 0.0


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_form_index_and_status_answer_at_once_with_the_provider_frozen(world: tuple[World, Any, Any]) -> None:
    w, google, integration = world
    form = w.host.hooks.config_form(integration, None)
    assert form is not None
    mapping = next(f for f in form.fields if f.name == "calendar_mapping")
    assert "Calendars as of" in mapping.help  # listed by the job, with its time
    google.latency = FROZEN

    form, took = timed(lambda: w.host.hooks.config_form(integration, None))
    assert took < 1.0, f"the form waited {took:.1f}s on the provider"
    column = next(
        c for c in next(f for f in form.fields if f.name == "calendar_mapping").columns if c.name == "calendar_id"
    )
    assert DEMO_ROOM in {value for value, _ in column.choices}  # still offered, from the cache

    reports, took = timed(lambda: collect(w.host))
    assert took < 1.0 and reports
    page, took = timed(lambda: w.http.get(w.server.url + "/admin/", timeout=FROZEN / 2))
    assert page.status_code == 200 and took < 1.0, f"the index took {took:.1f}s"

    # the refresh button queues a job instead of calling the provider
    form, took = timed(lambda: w.host.hooks.config_form(integration, {ACTION_FIELD: "refresh_choices"}))
    assert took < 1.0 and form.notices and not form.errors
    assert w.host.jobs.all(state="queued", name=JOB_CHOICES)


def test_a_click_that_must_call_the_provider_gives_up_within_seconds_and_says_so(
    world: tuple[World, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    w, google, integration = world
    budget = 1.5  # the production budget is CLICK_TIMEOUT; a shorter one keeps the test quick
    monkeypatch.setattr(runtime, "CLICK_TIMEOUT", budget)
    monkeypatch.setattr(routes, "CLICK_TIMEOUT", budget)
    form = w.host.hooks.config_form(integration, None)
    url = form.links[0].url
    host_netloc = urlsplit(w.server.url).netloc
    for _ in range(5):  # follow the consent until it points back at the host's callback
        response = w.http.get(url, allow_redirects=False, timeout=10)
        url = response.headers["Location"]
        if urlsplit(url).netloc == host_netloc:
            break
    google.latency = FROZEN
    response, took = timed(lambda: w.http.get(url, allow_redirects=False, timeout=FROZEN * 3))
    assert budget <= took < budget + 2.0, f"the callback waited {took:.1f}s"
    assert response.status_code == 504
    assert f"did not answer within {budget:g} seconds" in response.text
    assert CLICK_TIMEOUT <= 5.0
