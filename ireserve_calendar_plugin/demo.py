"""``ireserve-calendar demo``: an offline round trip on the emulators, printed step by step.

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

from ireserve_calendar_plugin.world import World

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
    from ireserve_calendar_plugin.emulators.google import DEMO_ROOM

    p.title("Google Calendar")
    google, base = world.google()
    p.say(f"Google Calendar emulator on {base}; reference host on {world.server.url}")
    room = world.host.add_object("Room A", timezone="Europe/Amsterdam")
    integration = world.integration("google-demo", "google", {
        "client_id": "demo-client", "client_secret": "demo-secret", "allow_booking_update": True,
        "calendar_mapping": [{"object": str(room.id), "calendar_id": DEMO_ROOM}], **World.google_urls(base),
    })
    p.say(f"Admin saved the settings: object '{room.name}' -> calendar {DEMO_ROOM} (stored encrypted)")
    page = world.connect(integration)
    p.say(f"Admin clicked 'Connect account' and consented: \"{page[:80]}\"")
    world.settle()
    form = world.host.hooks.config_form(integration, None)
    assert form is not None
    row = form.health[0] if form.health else {}
    p.say(f"First sync done: {form.status}; calendar state {row.get('state')}, push channel until "
          f"{row.get('channel_expires')}")
    ok = True

    start = _hour(1, 9)
    booking = world.host.bookings.create(object_id=room.id, start=start, end=start + timedelta(hours=1),
                                         status="confirmed", title="Project kick-off", channel="web", origin=USER)
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
    google.create_event(DEMO_ROOM, summary="Supplier visit", description="Bring the <b>contracts</b>",
                        start=ext_start, end=ext_start + timedelta(hours=2))
    p.say(f"Someone created 'Supplier visit' in Google Calendar for {_when(ext_start)}")
    world.settle()
    created = [b for b in world.host.list_bookings(room.id) if b.channel == "external/google"]
    ok &= p.check(len(created) == 1, f"a booking was created from it (channel external/google, status "
                  f"{created[0].status if created else '-'})")
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
    p.detail(f"list {log.count(method='GET', path=r'/events$')}, insert {log.count(method='POST', path=r'/events$')}, "
             f"patch {log.count(method='PATCH')}, delete {log.count(method='DELETE')}, "
             f"watch {log.count(path=r'/watch$')}, token {log.count(path=r'^/token$')}")
    return ok


_STORIES: dict[str, Callable[[World, _Printer], bool]] = {"google": _google_story}


def run_demo(provider: str = "all", *, out: TextIO | None = None, folder: str | None = None) -> int:
    """Run the demo story (or stories); returns a process exit code (0 when every check held)."""
    printer = _Printer(out or sys.stdout)
    names = list(_STORIES) if provider == "all" else [provider]
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
