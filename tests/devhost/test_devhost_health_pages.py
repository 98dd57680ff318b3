"""The admin pages tell what the plugin reports: typed health with local times and a 24-hour strip,
the conflicts queue with its buttons, booking notices, typed values kept after a refused save, object
renames and duplicates, deleting an integration."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pluggy
import pytest
from werkzeug.test import Client

from hookspecs import ConfigForm
from hookspecs import FormField
from hookspecs import Integration
from hookspecs import hookimpl
from hookspecs.forms import ACTION_FIELD
from hookspecs.forms import TARGET_FIELD
from hookspecs.forms import ActivityHour
from hookspecs.forms import ChannelState
from hookspecs.forms import Conflict
from hookspecs.forms import FormAction
from hookspecs.forms import HealthRow
from hookspecs.forms import HealthState
from ireserve_devhost import HostApp
from ireserve_devhost import ReferenceHost
from ireserve_devhost.form_data import CSRF_FIELD
from tests.devhost.test_devhost_admin import dom

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)  # the conftest clock: 10:00 in Amsterdam
STORED_SECRET = "stored-secret-value"


def typed_form(integration: Integration) -> ConfigForm:
    hours = tuple(
        ActivityHour(
            T0 - timedelta(hours=24 - i),
            rounds=2 if i < 20 else 0,
            changes=1 if i == 3 else 0,
            failures=1 if i >= 21 else 0,
        )
        for i in range(24)
    )
    rows = (
        HealthRow(
            "Room <A>",
            HealthState.OK,
            last_success=T0 - timedelta(minutes=5),
            timezone="Europe/Amsterdam",
            channel=ChannelState.ACTIVE,
            channel_expires=T0 + timedelta(days=3),
            activity=hours,
        ),
        HealthRow(
            "Board room",
            HealthState.ERROR,
            message="Google Calendar does not answer.",
            next_step="Nothing to do: it is retried at 10:45.",
            last_success=None,
            last_failure=T0 - timedelta(minutes=2),
            pending_writes=2,
            conflicts=1,
            timezone="Europe/Amsterdam",
        ),
    )
    conflict = Conflict(
        "c1",
        "Room <A>",
        "The event overlaps booking 7.",
        "May 01 11:00-12:00",
        "Stand-up 11:00",
        7,
        T0 - timedelta(hours=1),
        actions=(FormAction("conflict.apply", "Apply anyway", "c1"), FormAction("conflict.dismiss", "Dismiss", "c1")),
    )
    return ConfigForm(
        integration_id=integration.id,
        title="Typed",
        state=HealthState.ERROR,
        status="One calendar fails.",
        next_step="Look at Board room.",
        rows=rows,
        conflicts=(conflict,),
        actions=(FormAction("disconnect", "Disconnect account", kind="danger", confirm="Disconnect <really>?"),),
        fields=(
            FormField("client_id", "Client id", "text", "stored-id", required=True, section="connection"),
            FormField("client_secret", "Client secret", "secret", STORED_SECRET, section="connection"),
            FormField("redirect", "Redirect URI", "readonly", "https://host/ext/cb", section="connection"),
            FormField("rooms", "Rooms", "textarea", ["a@x", "b@x"], section="mapping"),
            FormField("minutes", "Minutes", "integer", 10, section="options", advanced=True),
        ),
    )


class TypedPlugin:
    def __init__(self) -> None:
        self.received: list[Mapping[str, object] | None] = []

    @hookimpl
    def on_config_form(self, host: Any, integration: Integration, submitted: Mapping[str, object] | None) -> Any:
        self.received.append(submitted)
        form = typed_form(integration)
        if submitted is None:
            return form
        if ACTION_FIELD in submitted:
            return replace(form, notices=(f"Ran {submitted[ACTION_FIELD]} on {submitted[TARGET_FIELD]!r}.",))
        # refuse the save and echo the *stored* values (a plugin may): the host keeps what was typed
        fields = tuple(replace(f, error="Too many.") if f.name == "minutes" else f for f in form.fields)
        return replace(form, fields=fields)


@pytest.fixture
def typed(pm: pluggy.PluginManager) -> Iterator[TypedPlugin]:
    plugin = TypedPlugin()
    pm.register(plugin, name="typed")
    yield plugin
    pm.unregister(plugin)


@pytest.fixture
def client(host: ReferenceHost, typed: TypedPlugin) -> Client:
    host.add_integration("t1", provider="typed", name="Typed one")
    return Client(HostApp(host))


def _token(client: Client, path: str = "/admin/integrations/t1") -> str:
    return dom(client.get(path)).find_all("input", name=CSRF_FIELD)[0].attrs["value"] or ""


def test_the_integration_page_shows_typed_health_in_words_local_times_and_a_strip(client: Client) -> None:
    page = dom(client.get("/admin/integrations/t1"))
    assert page.by_id("state").text == "Failing" and page.by_id("status").text == "One calendar fails."
    assert page.by_id("next-step").text == "Look at Board room."
    ok, bad = page.by_id("calendar-1"), page.by_id("calendar-2")
    cells = {(td.attrs["class"] or "").removeprefix("col-"): td.text for td in ok.find_all("td")}
    assert cells["name"] == "Room <A>" and cells["state"] == "Working"
    assert cells["last_success"] == "09:55 CEST" and cells["last_failure"] == "never"  # local, not UTC ISO
    assert cells["channel"].startswith("active") and "May 04 10:00 CEST" in cells["channel"]
    bars = ok.find("svg", class_="activity").find_all("rect")
    assert len(bars) == 24
    assert [b.attrs["class"] for b in bars[19:22]] == ["bar-round", "bar-idle", "bar-fail"]
    assert bars[3].attrs["class"] == "bar-change"
    assert "1 failure" in bars[23].find("title").text
    assert "Google Calendar does not answer." in bad.text and "retried at 10:45" in bad.text
    assert {(td.attrs["class"] or ""): td.text for td in bad.find_all("td")}["col-pending_writes"] == "2"


def test_the_conflicts_queue_runs_the_offered_buttons_only(client: Client, typed: TypedPlugin) -> None:
    row = dom(client.get("/admin/integrations/t1")).by_id("conflict-c1")
    assert "The event overlaps booking 7." in row.text and "May 01 11:00-12:00" in row.text
    assert [b.text for b in row.find_all("button")] == ["Apply anyway", "Dismiss"]
    response = client.post(
        "/admin/integrations/t1/action",
        data={CSRF_FIELD: _token(client), ACTION_FIELD: "conflict.apply", TARGET_FIELD: "c1"},
    )
    assert response.status_code == 200
    assert dom(response).by_id("notices").text == "Ran conflict.apply on 'c1'."
    assert typed.received[-1] == {ACTION_FIELD: "conflict.apply", TARGET_FIELD: "c1"}
    calls = len(typed.received)
    response = client.post(
        "/admin/integrations/t1/action",
        data={CSRF_FIELD: _token(client), ACTION_FIELD: "conflict.apply", TARGET_FIELD: "gone"},
    )
    assert response.status_code == 409 and "no longer offered" in dom(response).by_id("banner").text
    assert all(s is None for s in typed.received[calls:])  # the plugin was never asked to run it


def test_a_button_with_a_question_asks_first(client: Client, typed: TypedPlugin) -> None:
    data = {CSRF_FIELD: _token(client), ACTION_FIELD: "disconnect", TARGET_FIELD: ""}
    page = dom(client.post("/admin/integrations/t1/action", data=data))
    assert page.by_id("question").text == "Disconnect <really>?"
    assert all(s is None or ACTION_FIELD not in s for s in typed.received)
    confirm = page.by_id("confirm-form")
    fields = {i.attrs["name"]: i.attrs["value"] for i in confirm.find_all("input")}
    assert fields["confirmed"] == "yes" and fields[ACTION_FIELD] == "disconnect"
    response = client.post("/admin/integrations/t1/action", data=fields)
    assert dom(response).by_id("notices").text == "Ran disconnect on ''."


def test_a_refused_save_keeps_every_typed_value_but_no_secret(client: Client) -> None:
    response = client.post(
        "/admin/integrations/t1",
        data={
            CSRF_FIELD: _token(client),
            "client_id": "typed-id",
            "client_secret": "typed-secret",
            "rooms": "c@x\nd@x",
            "minutes": "99999",
            "redirect": "https://evil.example/",
        },
    )
    assert response.status_code == 422
    page = dom(response)
    assert page.find("input", name="client_id").attrs["value"] == "typed-id"
    assert page.find("textarea", name="rooms").text == "c@x\nd@x"
    assert page.find("input", name="minutes").attrs["value"] == "99999"
    assert "open" in page.by_id("advanced").attrs  # an error inside opens "Advanced"
    html = response.get_data(as_text=True)
    assert "typed-secret" not in html and STORED_SECRET not in html and "evil.example" not in html


def test_the_form_puts_connection_first_and_advanced_fields_collapsed(client: Client) -> None:
    page = dom(client.get("/admin/integrations/t1"))
    form = page.find("form", class_="config")
    legends = [legend.text for legend in form.find_all("legend")]
    assert legends == ["Connection", "Calendars and rooms", "Options"]
    assert page.by_id("advanced").find("input", name="minutes") is not None
    assert "open" not in page.by_id("advanced").attrs
    redirect = page.by_id("field-redirect").find("input")
    assert "readonly" in redirect.attrs and "name" not in redirect.attrs


def test_the_index_shows_the_worst_state_in_words(host: ReferenceHost, client: Client) -> None:
    host.add_integration("t2", provider="typed", name="Off", enabled=False)
    page = dom(client.get("/admin/"))
    assert page.by_id("integration-t1").find("span", class_="state state-error").text == "Failing"
    assert page.by_id("integration-t1").find("p", class_="next-step").text == "Look at Board room."
    assert page.by_id("integration-t2").find("span", class_="state state-disabled").text == "Disabled"


def test_a_booking_notice_shows_on_its_row(host: ReferenceHost, client: Client, room: int) -> None:
    booking = host.bookings.create(
        object_id=room,
        start=T0,
        end=T0 + timedelta(hours=1),
        status="confirmed",
        title="Late",
        channel="web",
        origin="user:1",
    )
    host.bookings.set_field(
        booking.id, "notice:gcal", "Not in Google Calendar yet: <down>; retrying at 10:45.", origin="calendar:gcal"
    )
    row = dom(client.get("/admin/bookings")).by_id(f"booking-{booking.id}")
    assert row.find("p", class_="notice").text == "Not in Google Calendar yet: <down>; retrying at 10:45."
    assert "notice:gcal" not in row.find("td", class_="col-fields").text
    host.bookings.set_field(booking.id, "notice:gcal", None, origin="calendar:gcal")
    assert dom(client.get("/admin/bookings")).by_id(f"booking-{booking.id}").find_all("p", class_="notice") == []


def test_objects_are_renamed_and_duplicate_names_refused(host: ReferenceHost, client: Client, room: int) -> None:
    other = host.add_object("Desk", "UTC").id
    token = _token(client, "/admin/")
    response = client.post("/admin/objects", data={CSRF_FIELD: token, "name": " room 1 ", "timezone": "UTC"})
    assert response.status_code == 400 and "already called 'Room 1'" in dom(response).by_id("objects-error").text
    response = client.post(f"/admin/objects/{other}/name", data={CSRF_FIELD: token, "name": "ROOM 1"})
    assert response.status_code == 400
    assert dom(response).by_id(f"object-{other}").find("input", name="name").attrs["value"] == "ROOM 1"
    response = client.post(f"/admin/objects/{other}/name", data={CSRF_FIELD: token, "name": "Desk <2>"})
    assert response.status_code == 303
    assert [o.name for o in host.objects.all()] == ["Room 1", "Desk <2>"]
    assert client.post(f"/admin/objects/{other}/name", data={"name": "x"}).status_code == 403
    assert client.post("/admin/objects/999/name", data={CSRF_FIELD: token, "name": "x"}).status_code == 404


def test_an_integration_is_deleted_after_a_confirmation(host: ReferenceHost, client: Client) -> None:
    host.config.put("t1", "tokens", "sealed", expected_version=None)
    host.integrations.log("t1", "info", "something")
    token = _token(client)
    page = dom(client.post("/admin/integrations/t1/delete", data={CSRF_FIELD: token}))
    assert "Delete the integration Typed one?" in page.by_id("question").text
    assert host.integrations.get("t1") is not None
    response = client.post("/admin/integrations/t1/delete", data={CSRF_FIELD: token, "confirmed": "yes"})
    assert response.status_code == 303 and response.headers["Location"] == "/admin/"
    assert host.integrations.get("t1") is None and host.config.keys("t1") == []
    assert host.integration_log("t1") == []
    host.add_integration("t1", provider="typed")  # the id may be used again; old config versions never repeat
    assert host.config.get("t1", "tokens").value is None
    assert host.config.put("t1", "tokens", "stale", expected_version=1) is False
