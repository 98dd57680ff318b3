"""``ireserve-lab demo``: an offline round trip on the emulators, printed step by step.

Public API: :func:`run_demo`.

Everything runs for real on 127.0.0.1: the reference host (SQLite in a temporary folder) serves the
plugin's routes, the plugin is loaded through its entry point, the emulators push notifications to
the host, and jobs run through the host's queue. Nothing reaches the internet.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from ireserve_lab.demo_caldav import caldav_story
from ireserve_lab.demo_rooms import rooms_story
from ireserve_lab.world import World

__all__ = ["run_demo"]

USER = "user:admin"


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.step = 0

    def title(self, text: str) -> None:
        print(f"\n=== {text} ===", file=self.out, flush=True)

    def say(self, text: str) -> None:
        self.step += 1
        print(f"[{self.step:2d}] {text}", file=self.out, flush=True)

    def detail(self, text: str) -> None:
        print(f"     {text}", file=self.out, flush=True)

    def check(self, ok: bool, text: str) -> bool:
        print(f"     {'ok ' if ok else 'FAILED'}: {text}", file=self.out, flush=True)
        return ok


def _hour(days: int = 1, hour: int = 10) -> datetime:
    base = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return base + timedelta(days=days)


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%a %d %b %H:%M UTC")


def _google_story(world: World, p: _Printer) -> bool:
    from calendar_emulators.google import DEMO_ROOM

    p.title("Google Calendar")
    google, base = world.google()
    p.say(f"Google Calendar emulator on {base}; reference host on {world.server.url}")
    room = world.host.add_object("Room A", timezone="Europe/Amsterdam")
    integration = world.integration(
        "google-demo",
        "google",
        {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "allow_booking_update": True,
            "calendar_mapping": [{"object": str(room.id), "calendar_id": DEMO_ROOM}],
            **World.google_urls(base),
        },
    )
    p.say(f"Admin saved the settings: object '{room.name}' -> calendar {DEMO_ROOM} (stored encrypted)")
    page = world.connect(integration)
    p.say(f"Admin clicked 'Connect account' and consented: \"{page[:80]}\"")
    world.settle()
    form = world.host.hooks.config_form(integration, None)
    assert form is not None
    row = form.health[0] if form.health else {}
    p.say(
        f"First sync done: {form.status}; calendar state {row.get('state')}, push channel until "
        f"{row.get('channel_expires')}"
    )
    ok = True

    start = _hour(1, 9)
    booking = world.host.bookings.create(
        object_id=room.id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="Project kick-off",
        channel="web",
        origin=USER,
    )
    p.say(f"A user booked '{booking.title}' on {_when(start)} (booking {booking.id})")
    world.settle()
    events = google.events(DEMO_ROOM, include_cancelled=False)
    ok &= p.check(len(events) == 1, f"Google now has the event: {events[0]['summary'] if events else '-'}")
    event_id = world.host.bookings.get(booking.id).fields.get("external_id", "")
    ok &= p.check(bool(event_id), f"the booking remembers event id {event_id[:16]}...")

    new_start = start + timedelta(hours=2)
    google.move_event(DEMO_ROOM, event_id, new_start, new_start + timedelta(hours=1))
    p.say(f"Someone moved the event in Google Calendar to {_when(new_start)}; Google pushed a notification")
    world.settle()
    moved = world.host.bookings.get(booking.id)
    ok &= p.check(moved.start == new_start, f"the booking followed: now {_when(moved.start)}, still {moved.status}")

    ext_start = _hour(2, 14)
    google.create_event(
        DEMO_ROOM,
        summary="Supplier visit",
        description="Bring the <b>contracts</b>",
        start=ext_start,
        end=ext_start + timedelta(hours=2),
    )
    p.say(f"Someone created 'Supplier visit' in Google Calendar for {_when(ext_start)}")
    world.settle()
    created = [b for b in world.host.list_bookings(room.id) if b.channel == "external/google"]
    ok &= p.check(
        len(created) == 1,
        f"a booking was created from it (channel external/google, status {created[0].status if created else '-'})",
    )
    if created:
        google.delete_event(DEMO_ROOM, created[0].fields.get("external_id", ""))
        p.say("Someone deleted that event in Google Calendar")
        world.settle()
        ok &= p.check(world.host.bookings.get(created[0].id).status == "cancelled", "its booking was cancelled")

    world.host.bookings.set_status(booking.id, "cancelled", origin=USER)
    p.say(f"A user cancelled booking {booking.id} in the booking system")
    world.settle()
    ok &= p.check(not google.events(DEMO_ROOM, include_cancelled=False), "its Google event was deleted")

    log = google.requests
    p.say("API calls made to Google in this story:")
    p.detail(
        f"list {log.count(method='GET', path=r'/events$')}, insert {log.count(method='POST', path=r'/events$')}, "
        f"patch {log.count(method='PATCH')}, delete {log.count(method='DELETE')}, "
        f"watch {log.count(path=r'/watch$')}, token {log.count(path=r'^/token$')}"
    )
    return ok


def _outlook_delegated_story(world: World, p: _Printer) -> bool:
    alex, tenant = "alex@contoso.onmicrosoft.com", "contoso.onmicrosoft.com"
    p.title("Outlook / Microsoft 365, delegated (one user's calendar, both ways)")
    graph, base = world.graph()
    p.say(f"Microsoft Graph + identity emulator on {base}; reference host on {world.server.url}")
    room = world.host.add_object("Board room", timezone="Europe/Amsterdam")
    integration = world.integration(
        "outlook-demo",
        "outlook",
        {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "auth_mode": "delegated",
            "tenant": tenant,
            "object_id": str(room.id),
            "meeting_link": True,
            **World.graph_urls(base),
        },
    )
    p.say(f"Admin saved the settings: delegated mode, object '{room.name}', Teams links on")
    page = world.connect(integration)
    p.say(f'Admin connected {alex}: "{page[:60]}"')
    world.settle()
    form = world.host.hooks.config_form(integration, None)
    assert form is not None
    p.say(
        f"First delta round done: {form.status}; subscription until "
        f"{form.health[0].get('channel_expires') if form.health else '-'}"
    )
    ok = True

    start = _hour(1, 13)
    booking = world.host.bookings.create(
        object_id=room.id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="Quarterly review",
        channel="web",
        origin=USER,
    )
    p.say(f"A user booked '{booking.title}' on {_when(start)} (booking {booking.id})")
    world.settle()
    stored = world.host.bookings.get(booking.id)
    events = graph.events(alex)
    ok &= p.check(len(events) == 1, f"Outlook now has the event: {events[0]['subject'] if events else '-'}")
    ok &= p.check(
        bool(stored.fields.get("meeting_url")),
        f"the Teams join URL was stored: {stored.fields.get('meeting_url', '')[:48]}...",
    )

    made = graph.person_create_event(
        alex, "Client lunch", _hour(2, 11), _hour(2, 12), "UTC", organizer="pat@fabrikam.com"
    )
    p.say("Someone created 'Client lunch' in Outlook; Graph notified the host's webhook")
    world.settle()
    created = [b for b in world.host.list_bookings(room.id) if b.channel == "external/outlook"]
    ok &= p.check(len(created) == 1, "a booking was created from it (channel external/outlook)")
    moved_start = _hour(2, 15)
    graph.person_move_event(alex, made["id"], moved_start, moved_start + timedelta(hours=1), "UTC")
    p.say(f"Someone moved it in Outlook to {_when(moved_start)}")
    world.settle()
    if created:
        now_booking = world.host.bookings.get(created[0].id)
        ok &= p.check(now_booking.start == moved_start, f"the booking followed: {_when(now_booking.start)}")
    graph.person_cancel_event(alex, made["id"])
    p.say("The organiser cancelled it")
    world.settle()
    if created:
        ok &= p.check(world.host.bookings.get(created[0].id).status == "cancelled", "its booking was cancelled")

    world.host.bookings.set_status(booking.id, "cancelled", origin=USER)
    p.say(f"A user cancelled booking {booking.id}")
    world.settle()
    ok &= p.check(
        not [e for e in graph.events(alex) if e["id"] == stored.fields.get("external_id")],
        "its Outlook event was deleted",
    )
    return ok


def _outlook_application_story(world: World, p: _Printer) -> bool:
    tenant = "contoso.onmicrosoft.com"
    p.title("Outlook / Microsoft 365, application mode (room mailboxes, inbound only)")
    graph, base = world.graph()
    rooms = [f"room-00{i}@{tenant}" for i in range(1, 6)]
    objects = [world.host.add_object(f"Room {i}", timezone="Europe/Amsterdam") for i in range(1, 6)]
    for upn in rooms[:3]:
        at = _hour(1, 10)
        graph.person_create_event(upn, f"Meeting in {upn.split('@')[0]}", at, at + timedelta(hours=1), "UTC")
    world.integration(
        "rooms-demo",
        "outlook",
        {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "auth_mode": "application",
            "tenant": tenant,
            "rooms": [{"upn": upn, "object": obj.id} for upn, obj in zip(rooms, objects, strict=True)],
            **World.graph_urls(base),
        },
    )
    p.say(f"Admin mapped {len(rooms)} room mailboxes to {len(objects)} objects (application mode: no sign-in)")
    world.tick()
    world.settle()
    ok = p.check(
        len(graph.list_subscriptions()) == len(rooms), f"one subscription per room: {len(graph.list_subscriptions())}"
    )
    imported = sum(len(world.host.list_bookings(o.id)) for o in objects)
    ok &= p.check(imported == 3, f"the rooms' existing meetings became {imported} bookings")
    at = _hour(3, 9)
    graph.person_create_event(rooms[4], "Workshop", at, at + timedelta(hours=2), "UTC")
    before = {upn: graph.requests.count(method="GET", path=f"/users/{upn}/calendarView/delta") for upn in rooms}
    p.say(f"Someone booked 'Workshop' in {rooms[4]}; Graph notified the host")
    world.settle()
    after = {upn: graph.requests.count(method="GET", path=f"/users/{upn}/calendarView/delta") for upn in rooms}
    synced = [upn for upn in rooms if after[upn] != before[upn]]
    ok &= p.check(synced == [rooms[4]], f"exactly that room was synced: {', '.join(synced) or '-'}")
    ok &= p.check(len(world.host.list_bookings(objects[4].id)) == 1, "its booking exists")
    booking = world.host.bookings.create(
        object_id=objects[0].id,
        start=_hour(4, 9),
        end=_hour(4, 10),
        status="confirmed",
        title="Walk-in",
        channel="web",
        origin=USER,
    )
    world.settle()
    logged = any(
        str(booking.id) in e.message and "inbound only" in e.message for e in world.host.integration_log("rooms-demo")
    )
    ok &= p.check(logged, "a booking made in the host was not written to the room (inbound only) and was logged")
    tokens = graph.token_request_count(tenant)
    ok &= p.check(tokens == 1, f"token requests for all rooms: {tokens}")
    return ok


def _rooms_story(world: World, p: _Printer) -> bool:
    return rooms_story(world, p, _hour, USER)


def _caldav_story(world: World, p: _Printer) -> bool:
    return caldav_story(world, p, _hour, USER)


_STORIES: dict[str, Callable[[World, _Printer], bool]] = {
    "google": _google_story,
    "outlook": _outlook_delegated_story,
    "outlook-rooms": _outlook_application_story,
    "rooms": _rooms_story,
    "caldav": _caldav_story,
}


def run_demo(provider: str = "all", *, out: TextIO | None = None, folder: str | None = None) -> int:
    """Run the demo story (or stories); returns a process exit code (0 when every check held)."""
    printer = _Printer(out or sys.stdout)
    names = list(_STORIES) if provider == "all" else [n for n in _STORIES if n.split("-")[0] == provider]
    ok = True
    with tempfile.TemporaryDirectory(prefix="ireserve-demo-") as tmp:
        for name in names:
            story = _STORIES.get(name)
            if story is None:
                printer.title(f"{name}: not available yet")
                ok = False
                continue
            db = Path(folder or tmp) / f"demo-{name}.sqlite3"
            with World(db) as world:
                ok &= story(world, printer)
    printer.title("all checks held" if ok else "some checks FAILED")
    return 0 if ok else 1
