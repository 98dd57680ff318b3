"""Google Workspace resource calendars through a service account with domain-wide delegation, end to end
over HTTP: the JWT-bearer grant, resource discovery (Admin SDK Directory), both-way sync, and the errors
in words (key checks on save, delegation not granted, subject not a user / not an admin, calendar gone)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from calendar_emulators.google_workspace import SCOPE_RESOURCES_READONLY
from hookspecs.forms import ConfigForm
from ireserve_calendar_plugin.config.schemas import SECRET_MASK
from ireserve_calendar_plugin.providers.google.auth import SCOPES
from ireserve_lab.world import World

USER = "user:1"
DOMAIN = "example.com"
ADMIN = f"admin@{DOMAIN}"
SA = "rooms-sync@emulated-project.iam.gserviceaccount.com"
TOKEN = r"/token$"


def hour(hours_from_now: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours_from_now)


def field(form: ConfigForm | None, name: str) -> Any:
    assert form is not None
    return next(f for f in form.fields if f.name == name)


class Workspace:
    """A domain with 20 resource calendars (HQ: 1-12, Annex: 13-20) and objects for 18 of them."""

    def __init__(
        self,
        world: World,
        *,
        delegated: tuple[str, ...] = (*SCOPES, SCOPE_RESOURCES_READONLY),
        subject: str = ADMIN,
        rooms: int = 20,
    ) -> None:
        self.world = world
        self.host = world.host
        self.google, self.base = world.google()
        self.google.set_workspace(DOMAIN, admins=[ADMIN])
        self.key = self.google.add_service_account(SA, f"{self.base}/token")
        self.google.delegate(SA, delegated)
        self.resources = [
            self.google.add_resource(
                f"Room {n:03d}",
                capacity=4 + n,
                building="HQ" if n <= 12 else "Annex",
                floor=str(n % 3),
                time_zone="Europe/Amsterdam",
            )
            for n in range(1, rooms + 1)
        ]
        self.objects = [
            self.host.add_object(f"room {n:03d}", timezone="Europe/Amsterdam") for n in range(1, min(rooms, 18) + 1)
        ]
        self.settings = {
            "auth_mode": "service_account",
            "service_account_key": json.dumps(self.key),
            "subject": subject,
            **World.google_urls(self.base),
            "directory_base_url": self.base,
        }
        self.integration = world.integration("gsa", "google", self.settings)

    def form(self, submitted: dict[str, Any] | None = None) -> ConfigForm:
        form = self.host.hooks.config_form(self.integration, submitted)
        assert form is not None
        return form

    def discover_and_pick(self, pick: str = "all") -> ConfigForm:
        self.form()
        self.world.run_jobs()
        form = self.form({"discover_pick": pick})
        assert form.saved, form.field_errors
        return form

    def tokens(self) -> int:
        return int(self.google.requests.count(method="POST", path=TOKEN))


@pytest.fixture
def ws(tmp_path: Any) -> Iterator[Workspace]:
    with World(tmp_path / "host.sqlite3") as world:
        yield Workspace(world)


def test_resource_calendars_are_discovered_matched_and_synced_both_ways(ws: Workspace) -> None:
    form = ws.form()
    assert form.links == ()  # nothing to connect: the key is the credential
    assert field(form, "service_account_key").value == SECRET_MASK  # never shown again
    assert "being listed in the background" in field(form, "discover_pick").help
    ws.world.run_jobs()
    assert ws.google.requests.count(path="/resources/calendars$") == 1  # 20 rooms, pages of 500
    choices = dict(field(ws.form(), "discover_pick").choices)
    assert choices["all"] == "All rooms (20)"
    assert choices["group:building:HQ"] == "Room list: Building HQ (12 rooms)"
    assert choices[f"room:{ws.resources[0].email}"] == "Room: Room 001 (5 seats, HQ, floor 1)"
    form = ws.form({"discover_pick": "all"})
    assert form.saved
    mapping = {row["calendar_id"]: int(row["object"]) for row in field(form, "calendar_mapping").value}
    assert len(mapping) == 18 and mapping[ws.resources[0].email] == ws.objects[0].id
    assert "No matching object: Room 019, Room 020." in field(form, "discover_pick").help

    ws.world.tick()
    ws.world.settle()
    assert len(ws.google.channels()) == 18
    # one calendar token for 18 calendars and their calls, one directory token for the listing
    assert ws.tokens() == 2

    # a booking in the host appears in the room's calendar; the echo writes nothing back
    start = hour(24)
    booking = ws.host.bookings.create(
        object_id=ws.objects[2].id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="Board",
        channel="web",
        origin=USER,
    )
    ws.world.settle()
    (event,) = ws.google.events(ws.resources[2].email, include_cancelled=False)
    assert event["summary"] == f"Board [{booking.id}]"
    assert ws.host.bookings.get(booking.id).fields["external_id"] == event["id"]
    assert ws.google.requests.count(method="POST", path="/events$") == 1
    assert ws.google.requests.count(method="PATCH") == 0

    # a person books room 5 in Google Calendar: it becomes a booking
    ws.google.create_event(ws.resources[4].email, summary="Walk-in", start=hour(30), end=hour(31), actor=ADMIN)
    ws.world.settle()
    (walk_in,) = ws.host.list_bookings(ws.objects[4].id)
    assert (walk_in.title, walk_in.start, walk_in.channel) == ("Walk-in", hour(30), "external/google")

    # an hour later the token is renewed before it expires: one more request, not one per calendar
    ws.world.advance(3600)
    ws.world.tick()
    ws.world.settle()
    assert ws.tokens() == 3


def test_the_key_is_checked_on_save_and_never_echoed(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        google, base = world.google()
        key = google.add_service_account(SA, f"{base}/token")
        integration = world.host.add_integration("gsa", "google", name="gsa")
        settings = {"auth_mode": "service_account", "subject": ADMIN, **World.google_urls(base)}
        cases = {
            "{not json": "This is not a JSON key file",
            json.dumps({**key, "type": "authorized_user"}): "not a service account key",
            json.dumps({k: v for k, v in key.items() if k != "private_key"}): "holds no private key",
            json.dumps(
                {**key, "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}
            ): "cannot be read",
        }
        for raw, words in cases.items():
            form = world.host.hooks.config_form(integration, {**settings, "service_account_key": raw})
            assert form is not None and not form.saved
            assert words in form.field_errors["service_account_key"]
            assert "PRIVATE KEY" not in json.dumps(form.field_errors) and "AAAA" not in str(form)
        form = world.host.hooks.config_form(
            integration, {**settings, "service_account_key": json.dumps(key), "subject": "not an address"}
        )
        assert form is not None and "subject" in form.field_errors
        form = world.host.hooks.config_form(integration, {**settings, "service_account_key": json.dumps(key)})
        assert form is not None and form.saved
        assert key["private_key"] not in str(form) and field(form, "service_account_key").value == SECRET_MASK


def test_delegation_not_granted_is_said_in_words_and_not_retried_per_calendar(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        ws = Workspace(world, delegated=(SCOPE_RESOURCES_READONLY,), rooms=4)
        ws.discover_and_pick()
        ws.world.tick()
        ws.world.settle()
        form = ws.form()
        assert len(form.rows) == 4
        for row in form.rows:
            assert "no domain-wide delegation for the scopes it needs (unauthorized_client)" in row.message
            assert "Domain-wide delegation" in row.next_step and "calendar.events" in row.next_step
        # the log names the client id to authorise
        assert any(
            ws.key["client_id"] in e.message and "authorise client id" in e.message
            for e in ws.host.integration_log("gsa")
        )
        # refused once, remembered: four calendars (and their channels) did not each ask again
        assert ws.google.requests.count(method="POST", path=TOKEN, status=401) == 1
        # the admin adds the scopes: after the memo's five minutes and the backoff, everything syncs
        ws.google.delegate(SA, (*SCOPES, SCOPE_RESOURCES_READONLY))
        ws.world.advance(7200)
        ws.world.tick()
        ws.world.settle()
        assert all(row["state"] == "incremental" for row in ws.form().health)


def test_discovery_without_the_directory_scope_names_what_to_grant(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        ws = Workspace(world, delegated=SCOPES, rooms=2)
        ws.form()
        ws.world.run_jobs()
        note = field(ws.form(), "discover_pick").help
        assert "domain-wide delegation is not granted" in note and SCOPE_RESOURCES_READONLY in note
        assert field(ws.form(), "calendar_mapping").kind == "table"  # mapping by hand stays


def test_a_subject_who_is_not_an_admin_cannot_list_rooms(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        ws = _with_plain_user_subject(world)
        ws.form()
        ws.world.run_jobs()
        note = field(ws.form(), "discover_pick").help
        assert f"the subject bob@{DOMAIN} is not a Workspace admin" in note


def _with_plain_user_subject(world: World) -> Workspace:
    ws = Workspace.__new__(Workspace)
    ws.world, ws.host = world, world.host
    ws.google, ws.base = world.google()
    ws.google.set_workspace(DOMAIN, admins=[ADMIN])
    ws.google.add_user(f"bob@{DOMAIN}")
    ws.key = ws.google.add_service_account(SA, f"{ws.base}/token")
    ws.google.delegate(SA, (*SCOPES, SCOPE_RESOURCES_READONLY))
    ws.resources = [ws.google.add_resource("Room 001")]
    ws.objects = []
    ws.settings = {
        "auth_mode": "service_account",
        "service_account_key": json.dumps(ws.key),
        "subject": f"bob@{DOMAIN}",
        **World.google_urls(ws.base),
        "directory_base_url": ws.base,
    }
    ws.integration = world.integration("gsa", "google", ws.settings)
    return ws


def test_a_subject_outside_the_domain_and_a_missing_resource_calendar(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        ws = Workspace(world, rooms=1, subject=f"ghost@{DOMAIN}")
        obj = ws.objects[0]
        form = ws.form({"calendar_mapping": [{"object": str(obj.id), "calendar_id": ws.resources[0].email}]})
        assert form.saved
        ws.world.tick()
        ws.world.settle()
        (row,) = ws.form().rows
        assert "(the subject) is not a user of the Workspace domain" in row.message
        assert f"the subject ghost@{DOMAIN} is not a user" in str(ws.host.integration_log("gsa"))

        form = ws.form(
            {
                "subject": ADMIN,
                "calendar_mapping": [
                    {"object": str(obj.id), "calendar_id": "c_gone00001@resource.calendar.google.com"}
                ],
            }
        )
        assert form.saved
        ws.world.advance(7200)
        ws.world.tick()
        ws.world.settle()
        (row,) = ws.form().rows
        assert "does not know the calendar c_gone00001@resource.calendar.google.com" in row.message
        assert "resource calendar c_gone00001@resource.calendar.google.com was not found" in str(
            ws.host.integration_log("gsa")
        )


def test_a_replaced_key_is_refused_by_its_signature(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        ws = Workspace(world, rooms=1)
        ws.form({"calendar_mapping": [{"object": str(ws.objects[0].id), "calendar_id": ws.resources[0].email}]})
        ws.google.add_service_account(SA, f"{ws.base}/token")  # a new key pair: the pasted key is stale
        ws.world.tick()
        ws.world.settle()
        (row,) = ws.form().rows
        assert "Google does not accept the service account key" in row.message
        # refused once for the calendar token and once for the directory one (discovery), then remembered
        assert ws.google.requests.count(method="POST", path=TOKEN, status=400) == 2
