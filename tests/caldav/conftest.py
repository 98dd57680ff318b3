"""The CalDAV rig: one real Radicale per test session (a fault proxy in front), a fresh account per test.

Radicale is started on a free loopback port with a temporary storage folder and plain htpasswd users
(``ireserve_lab.radicale``; the session fixture ``radicale`` lives in ``tests/conftest.py``, shared with
the CalDAV contract and reliability rigs). Each test module starts with :func:`require_caldav_libraries`,
so without the CalDAV libraries the tests skip with the install line instead of failing to import. The plugin talks
to it through :class:`~ireserve_lab.faultproxy.FaultProxy`, which counts requests and injects faults
on demand; the "person" edits the calendar directly with the python-caldav library, as a calendar app
would.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ireserve_lab.faultproxy import FaultProxy
from ireserve_lab.faultproxy import Faults
from ireserve_lab.radicale import RadicaleServer
from ireserve_lab.radicale import caldav_libraries_missing
from ireserve_lab.world import World

_accounts = itertools.count(1)


def require_caldav_libraries() -> None:
    """Skip the calling test module, with the install lines, when a CalDAV library is missing."""
    reason = caldav_libraries_missing()
    if reason:
        pytest.skip(reason, allow_module_level=True)


@pytest.fixture
def proxy(radicale: RadicaleServer) -> Iterator[FaultProxy]:
    with FaultProxy(radicale.url, Faults()) as running:
        yield running


@dataclass
class Account:
    """A Radicale user with one calendar, and a python-caldav client acting as that person."""

    server: RadicaleServer
    user: str
    password: str
    path: str

    def person(self) -> Person:
        import caldav

        client = caldav.DAVClient(url=self.server.url, username=self.user, password=self.password)
        return Person(client.calendar(url=self.server.url + self.path))


class Person:
    """The person's calendar app: python-caldav's calendar, with events written from properties.

    (python-caldav 1.x builds events from keyword properties with an icalendar API that icalendar 7
    dropped, so the person writes the VEVENT with icalendar and lets python-caldav PUT it.)"""

    def __init__(self, calendar: Any) -> None:
        self.calendar = calendar

    def save_event(
        self, *, uid: str, summary: str, dtstart: Any, dtend: Any, rrule: dict[str, Any] | None = None
    ) -> Any:
        from icalendar import Calendar
        from icalendar import Event

        cal = Calendar()
        cal.add("PRODID", "-//a person//their calendar app//EN")
        cal.add("VERSION", "2.0")
        event = Event()
        event.add("UID", uid)
        event.add("DTSTAMP", datetime.now(UTC))
        event.add("SUMMARY", summary)
        event.add("DTSTART", dtstart)
        event.add("DTEND", dtend)
        if rrule:
            event.add("RRULE", rrule)
        cal.add_component(event)
        return self.calendar.save_event(cal.to_ical().decode())

    def events(self) -> list[Any]:
        return list(self.calendar.events())


@pytest.fixture
def account(radicale: RadicaleServer) -> Account:
    user = f"user{next(_accounts)}"
    password = f"{user}-app-password"
    radicale.add_user(user, password)
    return Account(radicale, user, password, radicale.make_calendar(user, "work", "Work"))


def hour(hours_from_now: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours_from_now)


class CalDavStory:
    """Room A (Europe/Amsterdam) <-> the account's "work" calendar, through the fault proxy."""

    def __init__(self, world: World, account: Account, proxy: FaultProxy, **settings: Any) -> None:
        self.world = world
        self.host = world.host
        self.account = account
        self.proxy = proxy
        self.room = self.host.add_object("Room A", timezone="Europe/Amsterdam")
        self.settings = {
            "server_url": proxy.url,
            "username": account.user,
            "app_password": account.password,
            "calendar_mapping": [{"object": str(self.room.id), "calendar_id": account.path}],
            **settings,
        }
        self.integration = world.integration("c1", "caldav", self.settings)

    def book(self, hours_from_now: int = 24, length: int = 1, title: str = "Team") -> Any:
        start = hour(hours_from_now)
        return self.host.bookings.create(
            object_id=self.room.id,
            start=start,
            end=start + timedelta(hours=length),
            status="confirmed",
            title=title,
            channel="web",
            origin="user:1",
        )

    def bookings(self) -> list[Any]:
        return self.host.list_bookings(self.room.id)

    def poll(self) -> int:
        """What cron does when the poll interval has passed: one sync round per calendar."""
        self.world.advance(6 * 60)
        self.world.tick()
        return self.world.settle()

    def log(self) -> list[str]:
        return [e.message for e in self.host.integration_log("c1")]

    def members(self) -> dict[str, str]:
        """The calendar's members as the server has them: name -> iCalendar text."""
        return {Path(str(e.url)).name: e.data for e in self.account.person().events()}


@pytest.fixture
def story(tmp_path: Path, account: Account, proxy: FaultProxy) -> Iterator[CalDavStory]:
    with World(tmp_path / "host.sqlite3") as world:
        made = CalDavStory(world, account, proxy)
        world.settle()  # the discovery job
        yield made
