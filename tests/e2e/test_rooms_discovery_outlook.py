"""Outlook room discovery end to end: Graph ``places`` listed by a job, offered on the form, picked and
matched to host objects by name; without ``Place.Read.All`` the form says which permission is missing."""

from __future__ import annotations

from typing import Any

from hookspecs.forms import ConfigForm
from ireserve_calendar_plugin.providers.outlook.places import NOT_PERMITTED
from ireserve_lab.world import World

TENANT = "contoso.onmicrosoft.com"
HQ = f"hq-rooms@{TENANT}"
ANNEX = f"annex-rooms@{TENANT}"
#: object names as a host might spell them: case and spaces differ from the rooms' display names
OBJECT_NAMES = ["ROOM 001", "room001x", "Room002", "room  003"] + [f"Room {n:03d}" for n in range(4, 19)]


def seed_places(graph: Any, count: int = 20) -> list[str]:
    rooms = graph.add_rooms(TENANT, count)
    for n, room in enumerate(rooms, start=1):
        graph.add_place(room.upn, capacity=4 + n, building="HQ" if n <= 12 else "Annex", floor=n % 3)
    graph.add_room_list(TENANT, HQ, "HQ rooms", [r.upn for r in rooms[:12]])
    graph.add_room_list(TENANT, ANNEX, "Annex rooms", [r.upn for r in rooms[12:]])
    return [r.upn for r in rooms]


def pick_field(form: ConfigForm | None) -> Any:
    assert form is not None
    return next(f for f in form.fields if f.name == "discover_pick")


def start(world: World, roles: list[str]) -> tuple[Any, Any]:
    graph, base = world.graph()
    graph.set_app_roles("demo-client", roles)
    integration = world.integration(
        "rooms",
        "outlook",
        {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "auth_mode": "application",
            "tenant": TENANT,
            "rooms": [],
            **World.graph_urls(base),
        },
    )
    return graph, integration


def test_rooms_are_discovered_in_a_job_picked_by_list_and_matched_by_name(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        host = world.host
        objects = {name: host.add_object(name) for name in OBJECT_NAMES}
        graph, integration = start(world, ["Calendars.Read", "Place.Read.All"])
        upns = seed_places(graph)
        graph.requests.clear()
        field = pick_field(host.hooks.config_form(integration, None))
        assert "being listed in the background" in field.help
        assert graph.requests.count() == 0  # rendering the form asked Graph nothing
        world.run_jobs()
        # all rooms (1 page) + the room lists (1 page) + each list's rooms (1 page each)
        assert graph.requests.count(path="/places/") == 4
        graph.requests.clear()
        field = pick_field(host.hooks.config_form(integration, None))
        assert graph.requests.count() == 0
        labels = dict(field.choices)
        assert labels["all"] == "All rooms (20)"
        assert labels[f"group:{HQ}"] == "Room list: HQ rooms (12 rooms)"
        assert labels[f"room:{upns[12]}"] == "Room: Room 013 (17 seats, Annex, floor 1)"
        assert "20 rooms in 2 room lists" in field.help

        form = host.hooks.config_form(integration, {"discover_pick": f"group:{HQ}"})
        assert form is not None and form.saved, form.field_errors
        rooms = {row["upn"]: row["object"] for row in next(f for f in form.fields if f.name == "rooms").value}
        assert len(rooms) == 12
        assert rooms[upns[0]] == objects["ROOM 001"].id  # case-insensitive
        assert rooms[upns[2]] == objects["room  003"].id and rooms[upns[1]] == objects["Room002"].id  # spaces
        assert rooms[upns[11]] == objects["Room 012"].id

        form = host.hooks.config_form(integration, {"discover_pick": "all"})
        assert form is not None and form.saved
        rooms = {row["upn"]: row["object"] for row in next(f for f in form.fields if f.name == "rooms").value}
        assert len(rooms) == 18 and upns[18] not in rooms and upns[19] not in rooms
        assert "No matching object: Room 019, Room 020." in pick_field(form).help

        # the discovered rooms sync like typed ones
        world.tick()
        world.settle()
        assert len(graph.list_subscriptions()) == 18


def test_room_lists_are_paged_and_followed(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        graph, integration = start(world, ["Calendars.Read", "Place.Read.All"])
        seed_places(graph, count=250)
        graph.requests.clear()
        world.host.hooks.config_form(integration, None)
        world.run_jobs()
        assert graph.requests.count(path="/places/microsoft.graph.room$") == 3  # ceil(250 / 100)
        assert graph.requests.count(path=f"/places/{ANNEX}/microsoft.graph.roomlist/rooms$") == 3  # 238 rooms
        choices = dict(pick_field(world.host.hooks.config_form(integration, None)).choices)
        assert choices["all"] == "All rooms (250)"
        assert choices[f"group:{ANNEX}"] == "Room list: Annex rooms (238 rooms)"


def test_without_place_read_all_the_form_names_the_permission_and_the_table_stays(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        obj = world.host.add_object("Room 001")
        graph, integration = start(world, ["Calendars.Read"])
        seed_places(graph, count=3)
        world.host.hooks.config_form(integration, None)
        world.run_jobs()
        assert graph.requests.count(path="/places/", status=403) == 1
        form = world.host.hooks.config_form(integration, None)
        field = pick_field(form)
        assert NOT_PERMITTED in field.help and "Place.Read.All" in field.help
        assert form is not None and next(f for f in form.fields if f.name == "rooms").kind == "table"
        # not asked again on every page view
        world.host.hooks.config_form(integration, None)
        world.run_jobs()
        assert graph.requests.count(path="/places/") == 1
        # typing the room by hand still works
        form = world.host.hooks.config_form(integration, {"rooms": [{"upn": f"room-001@{TENANT}", "object": obj.id}]})
        assert form is not None and form.saved
