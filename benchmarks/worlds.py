"""Set-ups the benchmarks share: a World with a connected Google or Outlook integration, seeded calendars,
and counting helpers over the emulators' request logs.

Public API: :class:`Setup`, :func:`google_setup`, :func:`outlook_setup`, :func:`seed_google`,
:func:`seed_graph`, :func:`drain_timed`, :func:`api_calls`, :func:`list_calls`, :data:`GOOGLE_LIST`,
:data:`GRAPH_LIST`, :data:`ALEX`, :data:`TENANT`.

Seeding goes through the emulators' Python control APIs (a person editing a calendar), never through
HTTP, so the request logs hold only the plugin's own calls. Seeded events are spread evenly over the
sync window (90 days back, 365 ahead), never overlapping, each with a title, a description, a location
and two attendees, like ordinary meetings.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from calendar_emulators.core import LoggedRequest
from calendar_emulators.google import DEMO_ROOM
from ireserve_lab.world import World

__all__ = [
    "ALEX",
    "GOOGLE_API",
    "GOOGLE_LIST",
    "GRAPH_API",
    "GRAPH_LIST",
    "TENANT",
    "Setup",
    "api_calls",
    "drain_timed",
    "google_setup",
    "list_calls",
    "outlook_setup",
    "seed_google",
    "seed_graph",
    "spread",
]

ALEX = "alex@contoso.onmicrosoft.com"
TENANT = "contoso.onmicrosoft.com"
#: the list calls of each API (a full listing page or an incremental one)
GOOGLE_LIST = r"/calendars/[^/]+/events$"
GRAPH_LIST = r"/calendarView/delta$"
#: Calendar / Graph API calls, as opposed to the identity endpoints
GOOGLE_API = r"^/calendar/v3/"
GRAPH_API = r"^/v1\.0/"


@dataclass
class Setup:
    """A world with one integration: its emulator app, the mapped object and the integration."""

    world: World
    app: Any
    base: str
    room: Any
    integration: Any
    calendar_id: str

    @property
    def host(self) -> Any:
        return self.world.host


def spread(n: int, *, now: datetime | None = None) -> Iterable[tuple[datetime, datetime]]:
    """``n`` non-overlapping (start, end) pairs evenly over the sync window around ``now``."""
    origin = (now or datetime.now(UTC)).replace(second=0, microsecond=0) - timedelta(days=88)
    step = timedelta(days=450) / max(n, 1)
    length = min(step * 0.75, timedelta(hours=2))
    for i in range(n):
        start = (origin + step * i).replace(microsecond=0)
        yield start, start + max(length, timedelta(minutes=1))


def seed_google(app: Any, calendar_id: str, n: int, *, prefix: str = "Meeting") -> None:
    """A person creates ``n`` ordinary events in a Google calendar (no push: seed before watching)."""
    for i, (start, end) in enumerate(spread(n)):
        app.create_event(
            calendar_id,
            summary=f"{prefix} {i}",
            start=start,
            end=end,
            time_zone="Europe/Amsterdam",
            description=f"Agenda for {prefix.lower()} {i}: status, planning, any other business.",
            location="Room A, 2nd floor",
            attendees=[{"email": f"guest{i % 97}@example.com"}, {"email": "team@example.com"}],
        )


def seed_graph(app: Any, mailbox: str, n: int, *, prefix: str = "Meeting") -> None:
    """A person creates ``n`` ordinary events in an Outlook mailbox."""
    for i, (start, end) in enumerate(spread(n)):
        app.person_create_event(
            mailbox,
            f"{prefix} {i}",
            start,
            end,
            body=f"Agenda for {prefix.lower()} {i}: status, planning, any other business.",
            location="Room A, 2nd floor",
            attendees=[f"guest{i % 97}@example.com", "team@example.com"],
        )


def google_setup(
    workdir: Path,
    *,
    events: int = 0,
    connect: bool = True,
    settle: bool = True,
    virtual_sleep: bool = False,
    database: str | None = None,
    **settings: Any,
) -> Setup:
    """A World with the Google emulator, Room A mapped to the demo room calendar holding ``events`` events.

    With ``connect`` the admin connects the account (which queues the channel and the first sync);
    with ``settle`` those jobs run too. The host's database is a SQLite file in ``workdir``, or
    ``database`` (a ``postgresql://`` URL) with its key file in ``workdir``."""
    world = _world(workdir, database, virtual_sleep=virtual_sleep)
    app, base = world.google()
    seed_google(app, DEMO_ROOM, events)
    room = world.host.add_object("Room A", timezone="Europe/Amsterdam")
    integration = world.integration(
        "g1",
        "google",
        {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "calendar_mapping": [{"object": str(room.id), "calendar_id": DEMO_ROOM}],
            **World.google_urls(base),
            **settings,
        },
    )
    setup = Setup(world, app, base, room, integration, DEMO_ROOM)
    if connect:
        world.connect(integration)
        if settle:
            world.settle()
    return setup


def outlook_setup(
    workdir: Path,
    *,
    events: int = 0,
    connect: bool = True,
    settle: bool = True,
    database: str | None = None,
    **settings: Any,
) -> Setup:
    """A World with the Graph emulator: delegated mode, alex's calendar <-> Room A, ``events`` events
    (the database as for :func:`google_setup`)."""
    world = _world(workdir, database)
    app, base = world.graph()
    seed_graph(app, ALEX, events)
    room = world.host.add_object("Room A", timezone="Europe/Amsterdam")
    integration = world.integration(
        "o1",
        "outlook",
        {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "auth_mode": "delegated",
            "tenant": TENANT,
            "object_id": str(room.id),
            **World.graph_urls(base),
            **settings,
        },
    )
    setup = Setup(world, app, base, room, integration, ALEX)
    if connect:
        world.connect(integration)
        if settle:
            world.settle()
    return setup


def _world(workdir: Path, database: str | None, *, virtual_sleep: bool = False) -> World:
    if database is None:
        return World(workdir / "host.sqlite3", virtual_sleep=virtual_sleep)
    return World(database, key_file=workdir / "host.keys.json", virtual_sleep=virtual_sleep)


def drain_timed(world: World, *, include_future: bool = False) -> dict[str, float]:
    """Run the due jobs one at a time; returns the seconds spent per job name (``time.monotonic``)."""
    spent: dict[str, float] = defaultdict(float)
    while True:
        now = world.host.now()
        queued = [j for j in world.host.jobs.all(state="queued") if include_future or j.run_at <= now]
        if not queued:
            return dict(spent)
        name = min(queued, key=lambda j: (j.run_at, int(j.id))).name
        started = time.monotonic()
        if not world.worker.run_once(include_future=include_future):
            return dict(spent)
        spent[name] += time.monotonic() - started


def _entries(app: Any, since: int = 0) -> list[LoggedRequest]:
    return app.requests.entries()[since:]


def api_calls(app: Any, pattern: str, since: int = 0) -> int:
    """Calls whose path matches ``pattern`` in the log after the first ``since`` entries."""
    found = re.compile(pattern)
    return sum(1 for e in _entries(app, since) if found.search(e.path))


def list_calls(app: Any, pattern: str, since: int = 0) -> int:
    """List calls (``GET`` on the listing path) in the log after the first ``since`` entries."""
    found = re.compile(pattern)
    return sum(1 for e in _entries(app, since) if e.method == "GET" and found.search(e.path))
