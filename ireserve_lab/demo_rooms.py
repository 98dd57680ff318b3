"""The demo's fourth story: rooms both ways, discovered, on Microsoft 365 and Google Workspace at once.

Public API: :func:`rooms_story`.

20 room mailboxes (Graph ``places``) and 20 resource calendars (Admin SDK) are discovered and matched
by name to the host's 20 room objects; a booking made in the host shows up in the room's calendar on
both providers; meetings people book in a room in Outlook or Google Calendar become bookings; and one
room the Entra app may read but not write shows its message while the other rooms sync.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from typing import Protocol

from ireserve_lab.world import World

__all__ = ["rooms_story"]

TENANT = "contoso.onmicrosoft.com"
DOMAIN = "example.com"
ADMIN = f"admin@{DOMAIN}"
SERVICE_ACCOUNT = "rooms-sync@demo-project.iam.gserviceaccount.com"
CALENDAR_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
)
DIRECTORY_SCOPE = "https://www.googleapis.com/auth/admin.directory.resource.calendar.readonly"
ROOMS = 20


class Printer(Protocol):
    def title(self, text: str) -> None: ...
    def say(self, text: str) -> None: ...
    def detail(self, text: str) -> None: ...
    def check(self, ok: bool, text: str) -> bool: ...


def _pick_all(world: World, integration: Any) -> int:
    """Show the form (which queues discovery), run the job, pick every room; returns rooms mapped."""
    world.host.hooks.config_form(integration, None)
    world.run_jobs()
    form = world.host.hooks.config_form(integration, {"discover_pick": "all"})
    assert form is not None and form.saved, form.field_errors if form else "no form"
    table = next(f for f in form.fields if f.name in ("rooms", "calendar_mapping"))
    return len(table.value)


def _outlook(world: World, p: Printer) -> tuple[Any, list[str], Any]:
    graph, base = world.graph()
    graph.set_app_roles("demo-client", ["Calendars.ReadWrite", "Place.Read.All"])
    rooms = graph.add_rooms(TENANT, ROOMS)
    for n, room in enumerate(rooms, start=1):
        graph.add_place(room.upn, capacity=4 + n % 8, building="HQ" if n <= 10 else "Annex", floor=n % 4)
    graph.add_room_list(TENANT, f"hq@{TENANT}", "HQ rooms", [r.upn for r in rooms[:10]])
    graph.add_room_list(TENANT, f"annex@{TENANT}", "Annex rooms", [r.upn for r in rooms[10:]])
    upns = [r.upn for r in rooms]
    graph.set_writable_mailboxes("demo-client", upns[:-1])  # RBAC for Applications leaves the last room out
    integration = world.integration(
        "rooms-m365",
        "outlook",
        {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "auth_mode": "application",
            "tenant": TENANT,
            "room_outbound": True,
            "rooms": [],
            **World.graph_urls(base),
        },
    )
    mapped = _pick_all(world, integration)
    p.say(f"Microsoft 365: {mapped} rooms discovered through Graph places (2 room lists) and matched by name")
    return graph, upns, integration


def _google(world: World, p: Printer) -> tuple[Any, list[str], Any]:
    google, base = world.google()
    google.set_workspace(DOMAIN, admins=[ADMIN])
    key = google.add_service_account(SERVICE_ACCOUNT, f"{base}/token")
    google.delegate(SERVICE_ACCOUNT, (*CALENDAR_SCOPES, DIRECTORY_SCOPE))
    resources = [
        google.add_resource(
            f"Room {n:03d}", capacity=4 + n % 8, building="HQ" if n <= 10 else "Annex", floor=str(n % 4)
        )
        for n in range(1, ROOMS + 1)
    ]
    integration = world.integration(
        "rooms-google",
        "google",
        {
            "auth_mode": "service_account",
            "service_account_key": json.dumps(key),
            "subject": ADMIN,
            "ires_field": "google_event_id",
            **World.google_urls(base),
            "directory_base_url": base,
        },
    )
    mapped = _pick_all(world, integration)
    p.say(f"Google Workspace: {mapped} resource calendars discovered through the Admin SDK and matched by name")
    return google, [r.email for r in resources], integration


def rooms_story(world: World, p: Printer, hour: Callable[..., datetime], user: str) -> bool:
    """Run the story; True when every check held."""
    p.title("Rooms both ways, discovered: Microsoft 365 room mailboxes and Google Workspace resource calendars")
    objects = [world.host.add_object(f"Room {n:03d}", timezone="Europe/Amsterdam") for n in range(1, ROOMS + 1)]
    p.say(f"The host manages {len(objects)} rooms (objects 'Room 001' .. 'Room {ROOMS:03d}')")
    graph, upns, m365 = _outlook(world, p)
    google, calendars, _ = _google(world, p)
    world.tick()
    world.settle()
    ok = p.check(
        len(graph.list_subscriptions()) == ROOMS and len(google.channels()) == ROOMS,
        f"push on every room: {len(graph.list_subscriptions())} Graph subscriptions, "
        f"{len(google.channels())} Google channels",
    )

    start = hour(2, 9)
    booking = world.host.bookings.create(
        object_id=objects[2].id,
        start=start,
        end=hour(2, 10),
        status="confirmed",
        title="Board meeting",
        channel="web",
        origin=user,
    )
    p.say(f"Someone books Room 003 in the host: 'Board meeting' (booking {booking.id})")
    world.settle()
    in_m365 = [e for e in graph.events(upns[2]) if e["subject"].startswith("Board meeting")]
    in_google = [e for e in google.events(calendars[2], include_cancelled=False) if e["summary"].startswith("Board")]
    ok &= p.check(
        len(in_m365) == 1 and in_m365[0]["organizer"]["emailAddress"]["address"] == upns[2],
        f"it is in {upns[2]}'s calendar, organised by the room",
    )
    ok &= p.check(len(in_google) == 1, f"and in the resource calendar {calendars[2]}")

    graph.person_create_event(upns[6], "Walk-in (Outlook)", hour(3, 11), hour(3, 12), "UTC")
    google.create_event(calendars[8], summary="Walk-in (Google)", start=hour(3, 14), end=hour(3, 15), actor=ADMIN)
    p.say("People book Room 007 in Outlook and Room 009 in Google Calendar")
    world.settle()
    titles7 = [b.title for b in world.host.list_bookings(objects[6].id)]
    titles9 = [b.title for b in world.host.list_bookings(objects[8].id)]
    ok &= p.check("Walk-in (Outlook)" in titles7, f"Room 007 has the booking {titles7}")
    ok &= p.check("Walk-in (Google)" in titles9, f"Room 009 has the booking {titles9}")

    last = world.host.bookings.create(
        object_id=objects[-1].id,
        start=hour(4, 9),
        end=hour(4, 10),
        status="confirmed",
        title="Training",
        channel="web",
        origin=user,
    )
    p.say(f"Someone books Room {ROOMS:03d}, which the Entra app may read but not write")
    world.settle()
    form = world.host.hooks.config_form(m365, None)
    row = next(r for r in form.health if r["calendar"] == upns[-1]) if form else {}
    p.detail(f"health of {upns[-1]}: {row.get('writes', '')}")
    ok &= p.check(
        row.get("writes", "").startswith(f"This app may read but not write room {upns[-1]}"),
        "its health row says what to grant",
    )
    ok &= p.check(
        bool(world.host.bookings.get(last.id).fields.get("google_event_id")), "the booking still reached Google"
    )
    healthy = [r for r in (form.health if form else ()) if r.get("writes") == "ok"]
    ok &= p.check(len(healthy) == ROOMS - 1, f"the other {len(healthy)} Microsoft 365 rooms write normally")
    tokens = graph.token_request_count(TENANT), google.requests.count(method="POST", path=r"/token$")
    ok &= p.check(
        tokens == (1, 2), f"token requests: Graph {tokens[0]} (all rooms), Google {tokens[1]} (calendars + directory)"
    )
    return ok
