"""CalDAV on a real Radicale: the initial sync of 10k events (requests, events/s) and an idle poll.

Public API: :func:`run`.

Method: the benchmark starts Radicale (``ireserve_lab.radicale``) on a loopback port and imports N
events into one calendar with a single PUT of the whole calendar (as a calendar app's import does;
Radicale splits and indexes it), then asks Radicale for the listing once, uncounted, so every run
meets the same warm server (the import and that first answer are reported as details). Each run is a
fresh World (reference host on SQLite) whose CalDAV integration reaches Radicale through a counting
proxy (:class:`~ireserve_lab.faultproxy.FaultProxy`, no faults): the admin saves the settings (the
discovery job runs, untimed), cron's first tick queues the initial sync, and that job alone is timed.
Requests are every request the proxy saw during the sync; the minimum a CalDAV server allows is one
``sync-collection`` REPORT carrying every member's etag and data. Events/s is N over the sync job's
wall time, which includes Radicale's own work on the same cores. After the last run one more poll of
the unchanged calendar is counted (requests; bookings the host rewrote).
"""

from __future__ import annotations

import math
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import requests

from benchmarks.harness import Figure
from benchmarks.harness import Options
from benchmarks.harness import median
from benchmarks.worlds import drain_timed

__all__ = ["run"]

FULL_N = 10_000
QUICK_N = 300
USER, PASSWORD = "bench", "bench-app-password"
_SYNC_REPORT = (
    b'<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:" '
    b'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:sync-token/><D:sync-level>1</D:sync-level>'
    b"<D:prop><D:getetag/><C:calendar-data/></D:prop></D:sync-collection>"
)


def _seed(radicale: Any, path: str, n: int) -> tuple[float, float]:
    """Import ``n`` events (10-minute meetings every quarter hour from tomorrow: inside the sync window,
    never overlapping) and ask for the full listing once. Returns (import seconds, first answer seconds)."""
    from ireserve_lab.caldav_person import CalendarApp
    from ireserve_lab.caldav_person import PersonEvent

    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    app = CalendarApp(radicale.url, path, USER, PASSWORD)
    try:
        started = time.monotonic()
        app.upload(
            PersonEvent(
                f"bench-{i}",
                f"Meeting {i}",
                base + timedelta(minutes=15 * i),
                base + timedelta(minutes=15 * i + 10),
            )
            for i in range(n)
        )
        imported = time.monotonic() - started
    finally:
        app.close()
    started = time.monotonic()
    answer = requests.request(
        "REPORT",
        radicale.url + path,
        data=_SYNC_REPORT,
        auth=(USER, PASSWORD),
        headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        timeout=1800,
    )
    answer.raise_for_status()
    return imported, time.monotonic() - started


def _sync_once(radicale: Any, path: str, n: int, opts: Options, *, idle: bool) -> dict[str, Any]:
    from ireserve_lab.faultproxy import FaultProxy
    from ireserve_lab.world import World

    workdir = opts.scratch(f"caldav-{n}")
    with FaultProxy(radicale.url) as proxy, World(workdir / "host.sqlite3") as world:
        room = world.host.add_object("Room A", timezone="Europe/Amsterdam")
        integration = world.integration(
            "c1",
            "caldav",
            {
                "server_url": proxy.url,
                "username": USER,
                "app_password": PASSWORD,
                "calendar_mapping": [{"object": str(room.id), "calendar_id": path}],
            },
        )
        world.settle()  # the discovery job (three PROPFINDs), untimed
        proxy.reset_counts()
        world.tick()  # cron: the calendar was never synced, its first sync is due
        spent = drain_timed(world)
        out: dict[str, Any] = {
            "requests": proxy.count(),
            "by_method": dict(proxy.requests),
            "seconds": spent.get("calendar.sync", math.nan),
            "bookings": len(world.host.list_bookings(room.id)),
        }
        if idle:
            versions = {b.id: b.version for b in world.host.list_bookings()}
            proxy.reset_counts()
            world.advance(6 * 60)  # the poll interval (5 minutes) has passed
            world.tick()
            drain_timed(world)
            out["idle_requests"] = proxy.count()
            out["idle_booking_writes"] = sum(1 for b in world.host.list_bookings() if versions.get(b.id) != b.version)
        del integration
        return out


def run(opts: Options) -> list[Figure]:
    from ireserve_lab.radicale import RadicaleServer
    from ireserve_lab.radicale import caldav_libraries_missing

    n = QUICK_N if opts.quick else FULL_N
    label = f"{n // 1000}k" if n % 1000 == 0 else str(n)
    sync_name = f"initial sync of {label} events, CalDAV on Radicale"
    missing = caldav_libraries_missing()
    if missing:
        return [Figure("caldav.initial_sync.requests", f"{sync_name}: requests", "1", f"n/a: {missing}", None)]
    import radicale as radicale_package

    with RadicaleServer(users={USER: PASSWORD}) as radicale:
        path = radicale.make_calendar(USER, "work", "Work")
        opts.log(f"   importing {n} events into Radicale")
        imported, first_answer = _seed(radicale, path, n)
        runs = []
        for i in range(opts.runs):
            opts.log(f"   caldav initial sync of {n} events, run {i + 1}/{opts.runs}")
            runs.append(_sync_once(radicale, path, n, opts, idle=i == opts.runs - 1))
    version = getattr(radicale_package, "VERSION", "?")
    complete = all(r["bookings"] == n for r in runs)
    requests_median = median(r["requests"] for r in runs)
    seconds = median(r["seconds"] for r in runs)
    rate = n / seconds
    detail = {
        "radicale": version,
        "import_seconds": round(imported, 1),
        "first_answer_after_import_seconds": round(first_answer, 1),
        "sync_seconds": [round(r["seconds"], 2) for r in runs],
        "by_method": [r["by_method"] for r in runs],
        "bookings": [r["bookings"] for r in runs],
    }
    last = runs[-1]
    return [
        Figure(
            "caldav.initial_sync.requests",
            f"{sync_name} {version}: requests",
            "1 (the minimum: one sync-collection REPORT with etags and data)",
            f"{requests_median:.0f}" + ("" if complete else " (bookings missing!)"),
            requests_median <= 1 and complete,
            value=requests_median,
            unit="requests",
            samples=[float(r["requests"]) for r in runs],
            detail=detail,
        ),
        Figure(
            "caldav.initial_sync.throughput",
            f"{sync_name} {version}: events/s into the reference host",
            "-",
            f"{rate:,.0f} events/s (sync {seconds:.1f} s, median of {len(runs)}; Radicale's own answer included)",
            None,
            value=rate,
            unit="events/s",
            samples=[n / r["seconds"] for r in runs],
            detail=detail,
        ),
        Figure(
            "caldav.idle_poll.requests",
            f"idle poll of the unchanged {label}-event CalDAV calendar: requests (host writes to bookings)",
            "1 (0 writes)",
            f"{last['idle_requests']} ({last['idle_booking_writes']} writes)",
            last["idle_requests"] == 1 and last["idle_booking_writes"] == 0,
            value=float(last["idle_requests"]),
            unit="requests",
        ),
    ]
