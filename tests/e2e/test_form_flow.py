"""The form's order and flow: connection first, mapping next, options collapsed; the redirect URI to
register; Microsoft's admin-consent link in application mode; mapping rows pasted as a list."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hookspecs.forms import SECTIONS
from ireserve_lab.world import World


@pytest.fixture
def world(tmp_path: Any) -> Iterator[World]:
    with World(tmp_path / "host.sqlite3") as world:
        yield world


def google(world: World) -> Any:
    room = world.host.add_object("Room A")
    return world.integration(
        "g1",
        "google",
        {
            "client_id": "id",
            "client_secret": "secret",
            "calendar_mapping": [{"object": str(room.id), "calendar_id": "a@group.calendar.google.com"}],
        },
    )


def test_connection_first_then_mapping_then_options_collapsed(world: World) -> None:
    form = world.host.hooks.config_form(google(world), None)
    sections = [f.section for f in form.fields]
    assert sections == sorted(sections, key=SECTIONS.index) and sections[0] == "connection"
    assert {f.name for f in form.fields if f.section == "connection"} >= {"client_id", "client_secret", "redirect_uri"}
    assert all(f.advanced for f in form.fields if f.section == "options")
    assert not any(f.advanced for f in form.fields if f.section != "options")
    redirect = next(f for f in form.fields if f.name == "redirect_uri")
    assert redirect.kind == "readonly" and redirect.value == world.host.url_for("/calendar/oauth/callback")
    assert "Authorized redirect URIs" in redirect.help


def test_application_mode_offers_the_admin_consent_link(world: World) -> None:
    room = world.host.add_object("Room 1")
    integration = world.integration(
        "o1",
        "outlook",
        {
            "client_id": "app-id",
            "client_secret": "s",
            "tenant": "contoso.onmicrosoft.com",
            "auth_mode": "application",
            "rooms": [{"upn": "room1@contoso.onmicrosoft.com", "object": str(room.id)}],
        },
    )
    (link,) = world.host.hooks.config_form(integration, None).links
    assert link.url.startswith(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=app-id"
    )
    page = world.http.get(world.host.url_for("/calendar/oauth/callback") + "?admin_consent=True&tenant=x", timeout=10)
    assert page.status_code == 200 and "granted" in page.text


def test_mapping_rows_can_be_pasted_as_a_list_and_a_bad_line_saves_nothing(world: World) -> None:
    integration = google(world)
    world.host.add_object("Room B")
    world.host.add_object("Room C")
    form = world.host.hooks.config_form(
        integration, {"bulk_mapping": "Room B, b@group.calendar.google.com\nroom c ; c@group.calendar.google.com\n"}
    )
    assert form.saved, form.errors
    rows = next(f for f in form.fields if f.name == "calendar_mapping").value
    assert [r["calendar_id"] for r in rows] == [
        "a@group.calendar.google.com",
        "b@group.calendar.google.com",
        "c@group.calendar.google.com",
    ]

    pasted = "Room D, d@group.calendar.google.com"
    form = world.host.hooks.config_form(integration, {"bulk_mapping": pasted, "client_id": "changed"})
    assert not form.saved
    bulk = next(f for f in form.fields if f.name == "bulk_mapping")
    assert "no object is called 'Room D'" in bulk.error and bulk.value == pasted
    assert next(f for f in form.fields if f.name == "client_id").value == "changed"  # what was typed stays
    stored = world.host.hooks.config_form(integration, None)
    assert next(f for f in stored.fields if f.name == "client_id").value == "id"
