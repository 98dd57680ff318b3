"""The demo's CalDAV story: a real CalDAV server (Radicale, started by the demo), bookings both ways.

Public API: :func:`caldav_story`.

Radicale runs on a free loopback port with a temporary folder; the plugin reaches it through a counting
proxy (:class:`~ireserve_lab.faultproxy.FaultProxy`, no faults) so the story can show what a poll costs.
The person is "Dana", who edits her calendar with the python-caldav library as her calendar app would.
CalDAV has no push: the story lets the poll interval pass on the World's clock and runs cron.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING

from ireserve_lab.demo_rooms import Printer
from ireserve_lab.world import World

if TYPE_CHECKING:
    from ireserve_lab.caldav_person import CalendarApp
    from ireserve_lab.faultproxy import FaultProxy

__all__ = ["caldav_story"]

USER, PASSWORD = "dana", "dana-app-password"


def _poll(world: World) -> None:
    """The poll interval (5 minutes) passes; cron queues the sync; the worker runs it."""
    world.advance(6 * 60)
    world.tick()
    world.settle()


def caldav_story(world: World, p: Printer, hour: Callable[[int, int], datetime], user: str) -> bool:
    """Run the story; True when every check held (also when the CalDAV libraries are missing: then it
    says what to install and is skipped)."""
    from ireserve_lab.radicale import RadicaleServer
    from ireserve_lab.radicale import caldav_libraries_missing

    p.title("CalDAV (Nextcloud, Fastmail, iCloud, SOGo, Radicale): a real Radicale, polled")
    missing = caldav_libraries_missing()
    if missing:
        p.say(f"skipped: {missing}")
        return True
    from ireserve_lab.caldav_person import CalendarApp
    from ireserve_lab.faultproxy import FaultProxy

    with RadicaleServer(users={USER: PASSWORD}) as radicale, FaultProxy(radicale.url) as proxy:
        path = radicale.make_calendar(USER, "work", "Dana's work")
        dana = CalendarApp(radicale.url, path, USER, PASSWORD)
        try:
            p.say(f"Radicale (a real CalDAV server) on {radicale.url}; the plugin reaches it via {proxy.url}")
            return _story(world, p, hour, user, proxy, path, dana)
        finally:
            dana.close()


def _story(
    world: World,
    p: Printer,
    hour: Callable[[int, int], datetime],
    user: str,
    proxy: FaultProxy,
    path: str,
    dana: CalendarApp,
) -> bool:
    from ireserve_lab.caldav_person import PersonEvent

    room = world.host.add_object("Studio", timezone="Europe/Amsterdam")
    integration = world.integration(
        "caldav-demo",
        "caldav",
        {
            "server_url": proxy.url,
            "username": USER,
            "app_password": PASSWORD,
            "allow_booking_update": True,
            "calendar_mapping": [{"object": str(room.id), "calendar_id": path}],
        },
    )
    p.say(f"Admin saved the settings: server, username, app password (stored encrypted), '{room.name}' -> {path}")
    world.settle()
    form = world.host.hooks.config_form(integration, None)
    assert form is not None
    offered = [c for f in form.fields if f.name == "calendar_mapping" for c in f.columns[1].choices]
    ok = p.check(
        form.status.startswith("Connected") and (path, "Dana's work") in offered,
        f"the discovery job found Dana's calendars: {form.status}; offered {[label for _, label in offered]}",
    )
    _poll(world)

    start = hour(1, 11)
    booking = world.host.bookings.create(
        object_id=room.id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="Photo shoot",
        channel="web",
        origin=user,
    )
    p.say(f"A user booked '{booking.title}' on {start:%a %d %b %H:%M} UTC (booking {booking.id})")
    world.settle()
    name = world.host.bookings.get(booking.id).fields.get("external_id", "")
    members = dana.members()
    ok &= p.check(
        name in members and f"Photo shoot [{booking.id}]" in members.get(name, ""),
        f"Dana's calendar has it: {name} (PUT with If-None-Match: *, a VTIMEZONE for Europe/Amsterdam)",
    )

    later = start + timedelta(hours=3)
    dana.move(name, later, later + timedelta(hours=1))
    p.say(f"Dana moved it in her calendar app (python-caldav) to {later:%H:%M} UTC; CalDAV has no push")
    _poll(world)
    moved = world.host.bookings.get(booking.id)
    ok &= p.check(moved.start == later, f"the next poll moved the booking: now {moved.start:%H:%M} UTC")

    visit = hour(2, 15)
    made = dana.create(PersonEvent("dentist", "Dentist", visit, visit + timedelta(hours=1)))
    p.say(f"Dana added 'Dentist' on {visit:%a %d %b %H:%M} UTC")
    _poll(world)
    created = [b for b in world.host.list_bookings(room.id) if b.channel == "external/caldav"]
    ok &= p.check(len(created) == 1, "a booking was created from it (channel external/caldav)")
    dana.delete(made)
    p.say("Dana deleted 'Dentist'")
    _poll(world)
    if created:
        ok &= p.check(world.host.bookings.get(created[0].id).status == "cancelled", "its booking was cancelled")

    versions = {b.id: b.version for b in world.host.list_bookings()}
    proxy.reset_counts()
    _poll(world)
    unchanged = {b.id: b.version for b in world.host.list_bookings()} == versions
    ok &= p.check(
        proxy.count() == 1 and unchanged,
        f"a poll of the unchanged calendar: {proxy.count()} request ({dict(proxy.requests)}), no booking written",
    )

    world.host.bookings.set_status(booking.id, "cancelled", origin=user)
    p.say(f"A user cancelled booking {booking.id} in the booking system")
    world.settle()
    ok &= p.check(name not in dana.members(), "its event was deleted from Dana's calendar (DELETE with If-Match)")
    return ok
