"""Initial inbound sync: list calls against the minimum, throughput into the reference host, the engine's
overhead over fetching alone, and (Google) bytes per event with partial responses and gzip.

Public API: :func:`run`, :func:`sync_once`, :class:`SyncRun`.

Method: a fresh World per run, the calendar seeded with N events through the emulator's control API,
then the admin connects; the jobs that queues (the push channel, then the first sync) run one at a
time and only the sync job is timed. List calls are ``GET`` on the listing path in the emulator's
request log; the minimum is ceil(N / the largest page the API allows): 2500 for Google's events.list,
1000 for Graph's calendarView/delta (the ``odata.maxpagesize`` the provider asks for, and what the
emulator honours; Microsoft documents no larger one). "Fetch only" lists the same window through the
provider's own backend (HTTP, JSON, mapping to events) without applying anything. Throughput is N over
the sync job's wall time, so it includes fetching. The timed runs (N = 10k) serve the emulator from its
own process (:mod:`benchmarks.emulator_process`), as the real service would be: the sync and the
fetch-only listing that divides it (engine overhead), measured in the same run, then do not share the
interpreter with the emulator's page rendering (they still share the 2 cores with it).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import requests

from benchmarks.emulator_process import EmulatorProcess
from benchmarks.floor import floor_seconds
from benchmarks.floor import record_pages
from benchmarks.harness import Figure
from benchmarks.harness import Options
from benchmarks.harness import median
from benchmarks.harness import outlook_pending
from benchmarks.worlds import ALEX
from benchmarks.worlds import GOOGLE_LIST
from benchmarks.worlds import GRAPH_LIST
from benchmarks.worlds import TENANT
from benchmarks.worlds import Setup
from benchmarks.worlds import drain_timed
from benchmarks.worlds import google_setup
from benchmarks.worlds import outlook_setup
from calendar_emulators.google import DEMO_ROOM
from calendar_emulators.google import DEMO_USER
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.runtime import engine_for
from ireserve_calendar_plugin.sync.model import Window
from ireserve_lab.world import World

__all__ = ["PAGE", "SyncRun", "run", "sync_once"]

#: a part of each provider's listing URL (the responses the floor replays)
LIST_PATH = {"google": "/events", "outlook": "/calendarView/delta"}
FLOOR_TARGET = 3.0

#: the largest page each API allows (see the module docstring)
PAGE = {"google": 2500, "outlook": 1000}
FULL_SIZES = (1_000, 10_000, 50_000)
QUICK_SIZES = (100, 1_100)
THROUGHPUT_N = 10_000
THROUGHPUT_TARGET = 5_000.0
OVERHEAD_TARGET = 2.0
BYTES_TARGET = 0.5
READ_SCOPE = "https://www.googleapis.com/auth/calendar.readonly"


@dataclass
class SyncRun:
    """What one initial sync of N events did."""

    provider: str
    events: int
    lists: int
    sync_seconds: float
    bookings: int
    fetch_seconds: float | None = None
    floor_seconds: float | None = None
    listed_bytes: int = 0
    bytes_variants: dict[str, int] = field(default_factory=dict)


def _label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def _separate_setup(provider: str, workdir: Path, n: int) -> tuple[Setup, EmulatorProcess]:
    """A World whose provider is an emulator in its own process, seeded with ``n`` events; connected."""
    process = EmulatorProcess(kind="google" if provider == "google" else "graph", calendar_events=n)
    try:
        world = World(workdir / "host.sqlite3")
        room = world.host.add_object("Room A", timezone="Europe/Amsterdam")
        if provider == "google":
            settings = {
                "calendar_mapping": [{"object": str(room.id), "calendar_id": DEMO_ROOM}],
                **World.google_urls(process.url),
            }
        else:
            settings = {"auth_mode": "delegated", "tenant": TENANT, "object_id": str(room.id)}
            settings.update(World.graph_urls(process.url))
        iid = "g1" if provider == "google" else "o1"
        integration = world.integration(
            iid, provider, {"client_id": "demo-client", "client_secret": "demo-secret", **settings}
        )
        world.connect(integration)
    except BaseException:
        process.close()
        raise
    calendar = DEMO_ROOM if provider == "google" else ALEX
    return Setup(world, process, process.url, room, integration, calendar), process


def sync_once(provider: str, n: int, opts: Options, *, fetch: bool, variants: bool, separate: bool = False) -> SyncRun:
    """One fresh world: seed ``n`` events, connect, run the channel and first-sync jobs (sync timed).

    ``separate``: the emulator serves from its own process (so the sync and the fetch-only listing it
    is compared with do not share the interpreter with it)."""
    pattern = GOOGLE_LIST if provider == "google" else GRAPH_LIST
    workdir = opts.scratch(f"inbound-{provider}-{n}")
    process: EmulatorProcess | None = None
    if separate:
        setup, process = _separate_setup(provider, workdir, n)
    else:
        make = google_setup if provider == "google" else outlook_setup
        setup = make(workdir, events=n, settle=False)
    try:
        since = len(setup.app.requests.entries())
        spent = drain_timed(setup.world)
        entries = setup.app.requests.entries()[since:]
        listed = [e for e in entries if e.method == "GET" and _matches(pattern, e.path)]
        result = SyncRun(
            provider=provider,
            events=n,
            lists=len(listed),
            sync_seconds=spent.get("calendar.sync", math.nan),
            bookings=len(setup.host.list_bookings(setup.room.id)),
            listed_bytes=sum(e.bytes_out for e in listed),
        )
        if fetch:
            result.fetch_seconds, result.floor_seconds = _fetch_only(setup, provider)
        if variants and provider == "google":
            result.bytes_variants = _google_variants(setup, listed)
        return result
    finally:
        setup.world.close()
        if process is not None:
            process.close()


def _matches(pattern: str, path: str) -> bool:
    return re.search(pattern, path) is not None


def _fetch_only(setup: Any, provider: str) -> tuple[float, float]:
    """Seconds to list the same window through the provider's backend, mapping every event, applying none;
    and the same run's floor for applying those pages (see :mod:`benchmarks.floor`)."""
    ctx = context_for(setup.host, setup.integration)
    assert ctx is not None
    with engine_for(ctx) as engine, record_pages(LIST_PATH[provider]) as pages:
        calendar = engine.backend.calendars()[0]
        window = Window.around(setup.host.now())
        started = time.monotonic()
        count = sum(len(page.events) for page in engine.backend.list_changes(calendar, None, window))
        elapsed = time.monotonic() - started
    if count == 0:
        raise RuntimeError("fetch-only listing returned no events")
    floor, inserted = floor_seconds(provider, pages)
    if inserted != count:
        raise RuntimeError(f"the floor inserted {inserted} bookings for {count} listed events")
    return elapsed, floor


def _google_variants(setup: Any, plugin_calls: list[Any]) -> dict[str, int]:
    """Response bytes of the plugin's listing, and of the same listing without ``fields=`` and/or gzip."""
    first = plugin_calls[0]
    query = {k: v[0] for k, v in first.query.items() if k not in ("fields", "pageToken")}
    if isinstance(setup.app, EmulatorProcess):
        token = setup.app.token  # issued by the emulator's own process
    else:
        token = setup.app.issue_tokens(DEMO_USER, "demo-client", [READ_SCOPE])["access_token"]
    url = f"{setup.base}{first.path}"
    out = {"fields+gzip": sum(e.bytes_out for e in plugin_calls)}
    for name, with_fields, gzip in (("none", False, False), ("fields only", True, False), ("gzip only", False, True)):
        session = requests.Session()
        session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept-Encoding": "gzip" if gzip else "identity",
                "User-Agent": "benchmark (gzip)" if gzip else "benchmark",
            }
        )
        params = dict(query)
        if with_fields:
            params["fields"] = first.query["fields"][0]
        since = len(setup.app.requests.entries())
        page_token = None
        while True:
            answer = session.get(
                url, params={**params, **({"pageToken": page_token} if page_token else {})}, timeout=60
            )
            answer.raise_for_status()
            page_token = answer.json().get("nextPageToken")
            if not page_token:
                break
        session.close()
        out[name] = sum(e.bytes_out for e in setup.app.requests.entries()[since:])
    return out


def run(opts: Options) -> list[Figure]:
    figures: list[Figure] = []
    sizes = QUICK_SIZES if opts.quick else FULL_SIZES
    timed_n = sizes[-1] if opts.quick else THROUGHPUT_N
    for provider in ("google", "outlook"):
        title = "Google" if provider == "google" else "Outlook"
        pending = outlook_pending() if provider == "outlook" else None
        runs_by_n: dict[int, list[SyncRun]] = {}
        for n in sizes:
            if pending:
                break
            repeat = opts.runs if n == timed_n else 1
            runs_by_n[n] = []
            for i in range(repeat):
                opts.log(f"   {provider} initial sync of {n} events, run {i + 1}/{repeat}")
                timed_run = n == timed_n
                runs_by_n[n].append(
                    sync_once(provider, n, opts, fetch=timed_run, variants=timed_run and i == 0, separate=timed_run)
                )
        for n in sizes:
            minimum = math.ceil(n / PAGE[provider])
            name = f"initial inbound sync of {_label(n)} events, {title}: list calls"
            target = f"<= {minimum + 1} (minimum ceil({n}/{PAGE[provider]}) = {minimum}, + 1)"
            fid = f"inbound.{provider}.{_label(n)}.list_calls"
            if pending:
                figures.append(Figure(fid, name, target, pending, None))
                continue
            got = runs_by_n[n]
            lists = median(r.lists for r in got)
            complete = all(r.bookings == n for r in got)
            figures.append(
                Figure(
                    fid,
                    name,
                    target,
                    f"{lists:.0f}" + ("" if complete else " (bookings missing!)"),
                    lists <= minimum + 1 and complete,
                    value=lists,
                    unit="calls",
                    samples=[r.lists for r in got],
                    detail={
                        "minimum": minimum,
                        "bookings": [r.bookings for r in got],
                        "sync_seconds": [round(r.sync_seconds, 3) for r in got],
                    },
                )
            )
        timed_title = f"{_label(timed_n)} events"
        if pending:
            figures.append(
                Figure(
                    f"inbound.{provider}.throughput",
                    f"inbound throughput into the reference host (SQLite), {timed_title}, {title}",
                    f">= {THROUGHPUT_TARGET:,.0f} events/s on 2 cores",
                    pending,
                    None,
                )
            )
            figures.append(
                Figure(
                    f"inbound.{provider}.engine_overhead",
                    f"engine overhead, {title}: full inbound sync / fetch and parse only",
                    f"<= {OVERHEAD_TARGET}",
                    pending,
                    None,
                )
            )
            continue
        timed = runs_by_n[timed_n]
        seconds = median(r.sync_seconds for r in timed)
        rate = timed_n / seconds
        figures.append(
            Figure(
                f"inbound.{provider}.throughput",
                f"inbound throughput into the reference host (SQLite), {timed_title}, {title}",
                f">= {THROUGHPUT_TARGET:,.0f} events/s on 2 cores",
                f"{rate:,.0f} events/s (sync {seconds:.2f} s, median of {len(timed)})",
                rate >= THROUGHPUT_TARGET,
                value=rate,
                unit="events/s",
                samples=[timed_n / r.sync_seconds for r in timed],
            )
        )
        ratios = [r.sync_seconds / r.fetch_seconds for r in timed if r.fetch_seconds]
        ratio = median(ratios)
        fetch = median(r.fetch_seconds or math.nan for r in timed)
        figures.append(
            Figure(
                f"inbound.{provider}.engine_overhead",
                f"engine overhead, {title}: full inbound sync / fetch and parse only ({timed_title})",
                f"<= {OVERHEAD_TARGET}",
                f"{ratio:.1f} (sync {seconds:.2f} s / fetch {fetch:.2f} s)",
                ratio <= OVERHEAD_TARGET,
                value=ratio,
                unit="ratio",
                samples=ratios,
            )
        )
        floors = [r for r in timed if r.fetch_seconds and r.floor_seconds]
        apply_ratios = [(r.sync_seconds - (r.fetch_seconds or 0)) / (r.floor_seconds or math.nan) for r in floors]
        apply_ratio = median(apply_ratios)
        floor = median(r.floor_seconds or math.nan for r in floors)
        applied = median(r.sync_seconds - (r.fetch_seconds or 0) for r in floors)
        figures.append(
            Figure(
                f"inbound.{provider}.apply_vs_floor",
                f"apply time / the host's floor, {title} ({timed_title}): sync minus fetch, over parse + map + insert "
                "of the same pages in one transaction each",
                f"<= {FLOOR_TARGET:.0f}x",
                f"{apply_ratio:.1f}x (apply {applied:.2f} s = {applied / timed_n * 1e6:.0f} us/event; floor "
                f"{floor:.2f} s = {floor / timed_n * 1e6:.0f} us/event)",
                apply_ratio <= FLOOR_TARGET,
                value=apply_ratio,
                unit="ratio",
                samples=apply_ratios,
                note="floor measured in the same run on the same pages (benchmarks/floor.py)",
            )
        )
        if provider == "google":
            variants = timed[0].bytes_variants
            with_both, without = variants["fields+gzip"], variants["none"]
            saved = 1 - with_both / without
            figures.append(
                Figure(
                    "inbound.google.bytes_per_event",
                    "bytes transferred per event, Google, partial responses + gzip vs. without",
                    f">= {BYTES_TARGET:.0%} fewer",
                    f"{with_both / timed_n:.0f} vs {without / timed_n:.0f} B/event: {saved:.0%} fewer",
                    saved >= BYTES_TARGET,
                    value=saved,
                    unit="fraction saved",
                    detail={k: round(v / timed_n, 1) for k, v in variants.items()},
                    note="response body bytes per listed event, from the emulator's log",
                )
            )
    return figures
