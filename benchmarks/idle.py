"""Quiet calendars: API calls per hour when nothing changes, and what a cron tick costs when nothing is due.

Public API: :func:`run`, :func:`simulate`, :func:`tick_cost`.

Method (calls per hour): a connected, settled integration; the World's clock (host and emulator
together) then moves forward one minute at a time, with a cron tick and a settle after every minute,
for six simulated days (three hours with ``--quick``), which includes a push-channel renewal. Calendar
API calls (and, separately, token-endpoint calls) in the emulator's log are divided by the simulated
hours. "Synced within 30 minutes": the same, but a person changes the calendar every 20 minutes; the
change is pushed and synced, and only calls made in the tick phases (the fallback polls) are counted.

Method (cron tick): one Google integration with K calendars of one account (K objects, K mapping rows),
connected and settled (push channels open, first syncs done; request pacing passes on the World's
clock). Then ``host.cron_tick()`` (the hook, through the host's plugin manager) is timed with
``time.monotonic()``, many times, and the median taken; every tick must queue no job and make no call.
Linearity: the median at 100, 300 and 1,000 calendars.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from benchmarks.harness import Figure
from benchmarks.harness import Options
from benchmarks.harness import median
from benchmarks.harness import outlook_pending
from benchmarks.worlds import ALEX
from benchmarks.worlds import GOOGLE_API
from benchmarks.worlds import GRAPH_API
from benchmarks.worlds import Setup
from benchmarks.worlds import google_setup
from benchmarks.worlds import outlook_setup
from calendar_emulators.google import DEMO_ROOM
from calendar_emulators.google import DEMO_USER
from ireserve_lab.world import World

__all__ = ["run", "simulate", "tick_cost"]

MINUTE = 60.0
IDLE_TARGET = 2.1
TICK_TARGET_MS = 50.0
FULL_CALENDARS = (100, 300, 1_000)
QUICK_CALENDARS = (20, 60, 200)
TOKEN_PATH = re.compile(r"(^/token$|/oauth2/v2\.0/token$)")


def _settle(setup: Setup, provider: str) -> None:
    if provider == "outlook":
        setup.app.flush_notifications()
    setup.world.settle()


def _change(setup: Setup, provider: str, i: int) -> None:
    start = (setup.world.clock() + timedelta(days=1, hours=i % 500)).replace(minute=0, second=0, microsecond=0)
    if provider == "google":
        setup.app.create_event(DEMO_ROOM, summary=f"Change {i}", start=start, end=start + timedelta(minutes=30))
    else:
        setup.app.person_create_event(ALEX, f"Change {i}", start, start + timedelta(minutes=30))


def simulate(provider: str, opts: Options, *, hours: float, change_every: int | None) -> dict[str, Any]:
    """Minute by minute for ``hours``: tick + settle; with ``change_every`` a pushed change every so many
    minutes. Returns the API and token calls made in the tick phases, and in total."""
    make = google_setup if provider == "google" else outlook_setup
    api = re.compile(GOOGLE_API if provider == "google" else GRAPH_API)
    setup = make(opts.scratch(f"idle-{provider}"))
    try:
        world = setup.world
        world.tick()  # the first tick's local housekeeping (re-encryption marker), before counting
        _settle(setup, provider)
        tick_api = tick_tokens = pushed = 0
        since = len(setup.app.requests.entries())
        for minute in range(1, int(hours * 60) + 1):
            world.advance(MINUTE)
            if change_every and minute % change_every == 0:
                _change(setup, provider, minute)
                _settle(setup, provider)
                pushed += 1
            before = len(setup.app.requests.entries())
            world.tick()
            _settle(setup, provider)
            made = setup.app.requests.entries()[before:]
            tick_api += sum(1 for e in made if api.search(e.path))
            tick_tokens += sum(1 for e in made if TOKEN_PATH.search(e.path))
        made = setup.app.requests.entries()[since:]
        return {
            "hours": hours,
            "pushed_changes": pushed,
            "tick_api_calls": tick_api,
            "tick_token_calls": tick_tokens,
            "api_calls": sum(1 for e in made if api.search(e.path)),
            "token_calls": sum(1 for e in made if TOKEN_PATH.search(e.path)),
            "paths": sorted({f"{e.method} {e.path}" for e in made if api.search(e.path)}),
        }
    finally:
        setup.world.close()


def _many_calendars(opts: Options, count: int) -> Setup:
    """One Google integration syncing ``count`` calendars of the demo account, connected and settled."""
    world = World(opts.scratch(f"cron-{count}") / "host.sqlite3", virtual_sleep=True)
    app, base = world.google()
    rows = []
    for n in range(1, count + 1):
        calendar_id = f"room-{n:04d}@group.calendar.google.com"
        app.add_calendar(calendar_id, summary=f"Room {n:04d}", time_zone="Europe/Amsterdam")
        app.share_calendar(calendar_id, DEMO_USER, "owner")
        obj = world.host.add_object(f"Room {n:04d}", timezone="Europe/Amsterdam")
        rows.append({"object": str(obj.id), "calendar_id": calendar_id})
    integration = world.integration(
        "g1",
        "google",
        {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "calendar_mapping": rows,
            "requests_per_minute": 600,
            **World.google_urls(base),
        },
    )
    world.connect(integration)
    world.settle()
    world.tick()  # first tick: local housekeeping only
    world.settle()
    return Setup(world, app, base, None, integration, rows[0]["calendar_id"])


def tick_cost(opts: Options, count: int, ticks: int) -> dict[str, Any]:
    """Median wall time (ms) of a cron tick over ``count`` healthy calendars with nothing due."""
    started = time.monotonic()
    setup = _many_calendars(opts, count)
    setup_seconds = time.monotonic() - started
    try:
        host = setup.host
        channels = sum(1 for c in setup.app.channels() if not c["stopped"] and not c["expired"])
        since = len(setup.app.requests.entries())
        jobs_before = len(host.jobs.all())
        samples = []
        for _ in range(ticks):
            started = time.monotonic()
            setup.world.tick()
            samples.append((time.monotonic() - started) * 1000)
        return {
            "calendars": count,
            "channels": channels,
            "median_ms": median(samples),
            "samples_ms": samples,
            "api_calls": len(setup.app.requests.entries()) - since,
            "jobs_queued": len(host.jobs.all()) - jobs_before,
            "setup_seconds": round(setup_seconds, 1),
        }
    finally:
        setup.world.close()


def run(opts: Options) -> list[Figure]:
    figures: list[Figure] = []
    idle_hours = 2.0 if opts.quick else 6 * 24.0
    busy_hours = 1.0 if opts.quick else 6.0
    for provider in ("google", "outlook"):
        title = "Google" if provider == "google" else "Outlook"
        pending = outlook_pending() if provider == "outlook" else None
        if pending:
            figures += [
                Figure(
                    f"idle.{provider}.calls_per_hour",
                    f"idle calendar, {title}: API calls per hour",
                    f"<= {IDLE_TARGET}",
                    pending,
                    None,
                ),
                Figure(
                    f"idle.{provider}.synced_recently",
                    f"calendar synced within 30 minutes, {title}: fallback API calls per hour",
                    "0",
                    pending,
                    None,
                ),
            ]
            continue
        opts.log(f"   {provider}: idle calendar for {idle_hours:.0f} simulated hours")
        idle = simulate(provider, opts, hours=idle_hours, change_every=None)
        rate = idle["api_calls"] / idle["hours"]
        tokens = idle["token_calls"] / idle["hours"]
        figures.append(
            Figure(
                f"idle.{provider}.calls_per_hour",
                f"idle calendar, {title}: API calls per hour ({idle_hours:.0f} h simulated)",
                f"<= {IDLE_TARGET}",
                f"{rate:.2f} API calls/h (+ {tokens:.2f} token refreshes/h at the token endpoint)",
                rate <= IDLE_TARGET,
                value=rate,
                unit="calls/h",
                detail=idle,
            )
        )
        opts.log(f"   {provider}: calendar changed every 20 minutes for {busy_hours:.0f} simulated hours")
        busy = simulate(provider, opts, hours=busy_hours, change_every=20)
        polls = busy["tick_api_calls"] / busy["hours"]
        figures.append(
            Figure(
                f"idle.{provider}.synced_recently",
                f"calendar synced within 30 minutes (a pushed change every 20 min), {title}: "
                "fallback API calls per hour",
                "0",
                f"{polls:.2f} calls/h from cron ({busy['api_calls'] - busy['tick_api_calls']} calls for "
                f"{busy['pushed_changes']} pushed changes)",
                polls == 0,
                value=polls,
                unit="calls/h",
                detail=busy,
            )
        )
    sizes = QUICK_CALENDARS if opts.quick else FULL_CALENDARS
    ticks = 5 if opts.quick else 10 * opts.runs  # one set-up per size (1,000 calendars take ~30 s), many ticks
    costs = []
    for count in sizes:
        opts.log(f"   cron tick over {count} healthy calendars")
        costs.append(tick_cost(opts, count, ticks))
    small, large = costs[0], costs[-1]
    growth = large["median_ms"] / small["median_ms"]
    scale = large["calendars"] / small["calendars"]
    quiet = all(c["api_calls"] == 0 and c["jobs_queued"] == 0 for c in costs)
    healthy = all(c["channels"] == c["calendars"] for c in costs)
    per = ", ".join(f"{c['calendars']}: {c['median_ms']:.1f} ms" for c in costs)
    figures.append(
        Figure(
            "idle.cron_tick",
            f"cron tick, {large['calendars']:,} healthy calendars, nothing due",
            f"< {TICK_TARGET_MS:.0f} ms, 0 API calls, linear from {small['calendars']} to {large['calendars']:,}",
            f"{large['median_ms']:.1f} ms, {large['api_calls']} API calls, {large['jobs_queued']} jobs; "
            f"x{growth:.1f} for x{scale:.0f} calendars ({per})",
            large["median_ms"] < TICK_TARGET_MS and quiet and healthy and growth <= scale * 1.25,
            value=large["median_ms"],
            unit="ms",
            samples=large["samples_ms"],
            detail={"sizes": costs},
            note="linear: the tick's cost grows no faster than the number of calendars (<= 1.25 x their ratio)",
        )
    )
    return figures
