"""The admin form's buttons: disconnect drops the tokens at once and revokes the grant in a job."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from calendar_emulators.google import DEMO_ROOM
from hookspecs.forms import ACTION_FIELD
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.disconnect import JOB_REVOKE
from ireserve_calendar_plugin.runtime import context_for
from ireserve_lab.world import World


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


def test_disconnect_drops_tokens_now_and_revokes_the_grant_in_a_job(world: tuple[World, Any, Any]) -> None:
    w, google, integration = world
    ctx = context_for(w.host, integration)
    assert ctx is not None and TokenStore(ctx.store).load()[0] is not None
    actions = {a.name for a in w.host.hooks.config_form(integration, None).actions}
    assert "disconnect" in actions
    revokes_before = google.requests.count(method="POST", path=r"/revoke$")

    form = w.host.hooks.config_form(integration, {ACTION_FIELD: "disconnect"})
    assert form.notices and not form.errors and not form.saved
    assert TokenStore(ctx.store).load()[0] is None  # gone at once, before any provider call
    assert google.requests.count(method="POST", path=r"/revoke$") == revokes_before
    assert w.host.jobs.all(state="queued", name=JOB_REVOKE)

    w.settle()
    assert google.requests.count(method="POST", path=r"/revoke$") == revokes_before + 1
    form = w.host.hooks.config_form(integration, None)
    assert "disconnect" not in {a.name for a in form.actions}
    assert any(link.label == "Connect account" for link in form.links)


def test_an_unknown_action_is_an_error_for_the_admin_and_saves_nothing(world: tuple[World, Any, Any]) -> None:
    w, _, integration = world
    form = w.host.hooks.config_form(integration, {ACTION_FIELD: "drop_tables", "client_id": "changed"})
    assert form.errors and not form.saved
    client_id = next(f for f in form.fields if f.name == "client_id")
    assert client_id.value == "demo-client"
