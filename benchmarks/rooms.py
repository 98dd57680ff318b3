"""Rooms discovered and synced both ways: Outlook application mode with room writes, and Google Workspace
resource calendars through a service account.

Public API: :func:`run`, :func:`measure`.

Method: one integration per provider with N rooms (500; 40 with ``--quick``), each room seeded in the
emulator with its place facts (Graph ``places``, two room lists of N/2; Admin SDK resources) and an
object of the same name in the host. The admin form is shown (it queues the discovery job), the job
runs, the admin picks "all rooms" and saves. Counted from the emulators' request logs:

- discovery list calls, against ceil(N / page size) per listing (Graph places pages hold 100; the
  Admin SDK's ``resources.calendars.list`` 500);
- then a cron tick and a settle (N channels or subscriptions, N first syncs): list calls per room
  (empty calendars: the minimum is 1), and token requests (one per integration and purpose);
- the World's clock moves an hour, a tick and a settle (every room is polled twice): token requests
  in that hour;
- a booking created, moved and cancelled in the host: event writes per step (exactly 1 each);
- cron tick cost with every room healthy: API calls (0) and the median wall time of 10 ticks.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from benchmarks.harness import Figure
from benchmarks.harness import Options
from benchmarks.harness import median
from benchmarks.worlds import TENANT
from ireserve_lab.world import World

__all__ = ["measure", "run"]

GRAPH_PAGE = 100
DIRECTORY_PAGE = 500
DOMAIN = "example.com"
ADMIN = f"admin@{DOMAIN}"
SA = "rooms-bench@bench.iam.gserviceaccount.com"
SCOPES = (
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.readonly",
    "https://www.googleapis.com/auth/admin.directory.resource.calendar.readonly",
)


def _hour(hours: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)


def _seed_outlook(world: World, rooms: int) -> tuple[Any, Any, list[str]]:
    graph, base = world.graph()
    graph.set_app_roles("demo-client", ["Calendars.ReadWrite", "Place.Read.All"])
    users = graph.add_rooms(TENANT, rooms)
    for n, user in enumerate(users, start=1):
        graph.add_place(user.upn, capacity=4 + n % 10, building="A" if n <= rooms // 2 else "B", floor=n % 5)
    upns = [u.upn for u in users]
    graph.add_room_list(TENANT, f"list-a@{TENANT}", "A", upns[: rooms // 2])
    graph.add_room_list(TENANT, f"list-b@{TENANT}", "B", upns[rooms // 2 :])
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
    return graph, integration, upns


def _seed_google(world: World, rooms: int) -> tuple[Any, Any, list[str]]:
    google, base = world.google()
    google.set_workspace(DOMAIN, admins=[ADMIN])
    key = google.add_service_account(SA, f"{base}/token")
    google.delegate(SA, SCOPES)
    emails = [
        google.add_resource(
            f"Room {n:03d}", capacity=4 + n % 10, building="A" if n <= rooms // 2 else "B", floor=str(n % 5)
        ).email
        for n in range(1, rooms + 1)
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
    return google, integration, emails


def measure(opts: Options, provider: str, rooms: int) -> dict[str, Any]:
    """Every count of one provider with ``rooms`` rooms (see the module docstring)."""
    with World(opts.scratch(f"rooms-{provider}-{rooms}") / "host.sqlite3") as world:
        objects = [world.host.add_object(f"Room {n:03d}", timezone="Europe/Amsterdam") for n in range(1, rooms + 1)]
        if provider == "outlook":
            app, integration, _ = _seed_outlook(world, rooms)
            list_path, writes, tokens = r"/places/", r"/users/[^/]+/events", r"/oauth2/v2\.0/token$"
            listing = r"/calendarView/delta$"
        else:
            app, integration, _ = _seed_google(world, rooms)
            list_path, writes, tokens = r"/resources/calendars$", r"/calendars/[^/]+/events", r"/token$"
            listing = r"/events$"
        app.requests.clear()
        world.host.hooks.config_form(integration, None)
        world.run_jobs()
        discovery = app.requests.count(path=list_path)
        form = world.host.hooks.config_form(integration, {"discover_pick": "all"})
        mapped = len(next(f for f in form.fields if f.name in ("rooms", "calendar_mapping")).value) if form else 0
        lists_before = app.requests.count(method="GET", path=listing)
        world.tick()
        world.settle()
        lists = app.requests.count(method="GET", path=listing) - lists_before
        first_tokens = app.requests.count(method="POST", path=tokens)  # discovery and initial sync together
        app.requests.clear()
        world.advance(3600)
        world.tick()
        world.settle()
        hour_tokens = app.requests.count(method="POST", path=tokens)
        steps = []
        booking = world.host.bookings.create(
            object_id=objects[0].id,
            start=_hour(30),
            end=_hour(31),
            status="confirmed",
            title="Bench",
            channel="web",
            origin="user:1",
        )
        for change in ("create", "update", "delete"):
            app.requests.clear()
            if change == "update":
                world.host.bookings.update_times(booking.id, start=_hour(32), end=_hour(33), origin="user:1")
            elif change == "delete":
                world.host.bookings.set_status(booking.id, "cancelled", origin="user:1")
            world.settle()
            steps.append(sum(app.requests.count(method=m, path=writes) for m in ("POST", "PATCH", "DELETE")))
        app.requests.clear()
        times = []
        for _ in range(10):
            started = time.monotonic()
            world.host.cron_tick()
            times.append(time.monotonic() - started)
        world.settle()
        return {
            "rooms": rooms,
            "mapped": mapped,
            "discovery_calls": discovery,
            "list_calls": lists,
            "tokens_initial": first_tokens,
            "tokens_hour": hour_tokens,
            "writes": steps,
            "tick_calls": app.requests.count(),
            "tick_ms": median(times) * 1000,
        }


def _figures(provider: str, title: str, got: dict[str, Any]) -> list[Figure]:
    n = got["rooms"]
    if provider == "outlook":
        page_target = math.ceil(n / GRAPH_PAGE) + 1 + 2 * math.ceil((n // 2) / GRAPH_PAGE)
        page_note = f"ceil({n}/{GRAPH_PAGE}) rooms + 1 room-list page + ceil({n // 2}/{GRAPH_PAGE}) per each of 2 lists"
        token_target = 1
    else:
        page_target = math.ceil(n / DIRECTORY_PAGE)
        page_note = f"ceil({n}/{DIRECTORY_PAGE})"
        token_target = 2  # one directory token (discovery), one calendar token
    prefix = f"rooms.{provider}"
    return [
        Figure(
            f"{prefix}.discovery",
            f"discovery of {n} rooms, {title}: list calls",
            f"= {page_target} ({page_note})",
            f"{got['discovery_calls']} ({got['mapped']} rooms mapped by name)",
            got["discovery_calls"] == page_target and got["mapped"] == n,
            got["discovery_calls"],
            "calls",
            detail=got,
        ),
        Figure(
            f"{prefix}.initial",
            f"initial sync of {n} discovered rooms, {title}: list calls per room",
            "1 (empty rooms: the minimum)",
            f"{got['list_calls'] / n:.2f} ({got['list_calls']} calls)",
            got["list_calls"] == n,
            got["list_calls"] / n,
            "calls/room",
        ),
        Figure(
            f"{prefix}.tokens",
            f"token requests, {title}, {n} rooms",
            f"{token_target} for discovery and the initial sync, 1 in the next hour",
            f"{got['tokens_initial']} initial, {got['tokens_hour']} in the hour",
            got["tokens_initial"] == token_target and got["tokens_hour"] <= 1,
            got["tokens_hour"],
            "tokens/h",
        ),
        Figure(
            f"{prefix}.writes",
            f"outbound to a room, {title}: event writes per change",
            "exactly 1 each (create, update, delete)",
            " / ".join(map(str, got["writes"])),
            got["writes"] == [1, 1, 1],
            None,
        ),
        Figure(
            f"{prefix}.tick",
            f"cron tick with {n} healthy rooms, {title}",
            "0 API calls (O(due), not O(rooms))",
            f"{got['tick_calls']} calls, {got['tick_ms']:.0f} ms (median of 10)",
            got["tick_calls"] == 0,
            got["tick_ms"],
            "ms",
        ),
    ]


def run(opts: Options) -> list[Figure]:
    rooms = 40 if opts.quick else 500
    figures: list[Figure] = []
    for provider, title in (("outlook", "Outlook application + room writes"), ("google", "Google service account")):
        opts.log(f"   rooms: {provider} with {rooms} rooms")
        figures += _figures(provider, title, measure(opts, provider, rooms))
    return figures
