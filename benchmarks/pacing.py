"""Request pacing: the busiest rolling minute while one account's 200 calendars sync for the first time.

Public API: :func:`run`, :func:`rolling_peak`.

Method: one Google integration mapping 200 calendars of one account (10 events each) at the default
pace (``requests_per_minute`` 300). The admin connects, which queues a channel and a first sync per
calendar (about 400 calls, more than a minute's budget), and the World drains the queue. Pacing waits
are real sleeps in production; here the World is built with ``virtual_sleep``: the host offers a
``sleep`` that moves the World's clock (the host's and the emulator's together) instead of waiting,
so the minutes of pacing pass in a few seconds. Every request the emulator logs carries its start on
the emulator's (shifted) clock, so the busiest minute is computed in that virtual time: the largest
number of Calendar API requests whose starts fall in any window [t, t + 60 s).
"""

from __future__ import annotations

import bisect
import re
import time
from datetime import datetime
from datetime import timedelta
from typing import Any

from benchmarks.harness import Figure
from benchmarks.harness import Options
from benchmarks.harness import median
from benchmarks.worlds import GOOGLE_API
from benchmarks.worlds import seed_google
from calendar_emulators.google import DEMO_USER
from ireserve_lab.world import World

__all__ = ["rolling_peak", "run"]

PACE = 300
QUICK_PACE = 30
WINDOW = timedelta(seconds=60)


def rolling_peak(starts: list[datetime], window: timedelta = WINDOW) -> int:
    """The most starts inside any half-open window [t, t + ``window``) (t ranging over the starts)."""
    ordered = sorted(starts)
    return max((bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0)


def _once(opts: Options, calendars: int, events: int, pace: int) -> dict[str, Any]:
    api = re.compile(GOOGLE_API)
    with World(opts.scratch(f"pacing-{calendars}") / "host.sqlite3", virtual_sleep=True) as world:
        app, base = world.google()
        rows = []
        for n in range(1, calendars + 1):
            calendar_id = f"team-{n:03d}@group.calendar.google.com"
            app.add_calendar(calendar_id, summary=f"Team {n:03d}", time_zone="Europe/Amsterdam")
            app.share_calendar(calendar_id, DEMO_USER, "owner")
            seed_google(app, calendar_id, events)
            obj = world.host.add_object(f"Team {n:03d}", timezone="Europe/Amsterdam")
            rows.append({"object": str(obj.id), "calendar_id": calendar_id})
        integration = world.integration(
            "g1",
            "google",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "calendar_mapping": rows,
                "requests_per_minute": pace,
                **World.google_urls(base),
            },
        )
        since = len(app.requests.entries())
        virtual_start = world.clock()
        started = time.monotonic()
        world.connect(integration)
        world.settle(rounds=200)
        real = time.monotonic() - started
        made = [e for e in app.requests.entries()[since:] if api.search(e.path)]
        starts = [e.started for e in made]
        synced = sum(1 for c in app.channels() if not c["stopped"])
        bookings = len(world.host.list_bookings())
        return {
            "calendars": calendars,
            "requests": len(made),
            "peak": rolling_peak(starts),
            "virtual_seconds": round((world.clock() - virtual_start).total_seconds(), 1),
            "real_seconds": round(real, 1),
            "channels": synced,
            "bookings": bookings,
            "throttled": sum(1 for e in made if e.status in (403, 429)),
        }


def run(opts: Options) -> list[Figure]:
    # --quick: fewer calendars at a tenth of the pace, so pacing still has to hold requests back
    calendars, events, pace = (40, 3, QUICK_PACE) if opts.quick else (200, 10, PACE)
    repeat = 1 if opts.quick else opts.runs
    runs = []
    for i in range(repeat):
        opts.log(f"   initial sync of {calendars} calendars at {pace}/min (virtual time), run {i + 1}/{repeat}")
        runs.append(_once(opts, calendars, events, pace))
    peak = max(int(r["peak"]) for r in runs)
    complete = all(r["bookings"] == calendars * events and r["channels"] == calendars for r in runs)
    virtual = median(float(r["virtual_seconds"]) for r in runs)
    return [
        Figure(
            "pacing.rolling_minute",
            f"initial sync of {calendars} Google calendars of one user: peak requests per rolling minute",
            f"<= the configured pace ({pace})",
            f"{peak} (worst of {len(runs)}; {runs[0]['requests']} requests over {virtual / 60:.1f} virtual minutes)"
            + ("" if complete else " (sync incomplete!)"),
            peak <= pace and complete,
            value=peak,
            unit="requests/min",
            samples=[float(r["peak"]) for r in runs],
            detail={"runs": runs},
        )
    ]
