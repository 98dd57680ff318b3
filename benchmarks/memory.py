"""Peak memory of an initial sync: 50k events against 1k events, in a subprocess.

Public API: :func:`run`, :func:`measure`, :func:`child_main`.

Method: this process serves a Google emulator seeded with N events; a child process (``python -m
benchmarks.memory --child``) holds only the reference host and the plugin (a World without emulators),
connects to that emulator over HTTP, runs the connect's jobs (the channel and the initial sync) and
reports its RSS high-water mark (``VmHWM`` in ``/proc/self/status``) before and after the sync. The
emulator's 50k stored events therefore never count; what grows with N is the plugin's and the host's.
The figure is the difference of the two peaks; since pages are streamed (one 2500-event page at a
time), it should stay flat however large the calendar is.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Figure
from benchmarks.harness import Options
from benchmarks.harness import median
from benchmarks.worlds import seed_google
from calendar_emulators.core import EmulatorServer
from calendar_emulators.google import DEMO_ROOM
from calendar_emulators.google import GoogleCalendarEmulator

__all__ = ["child_main", "measure", "run"]

FULL = (1_000, 50_000)
QUICK = (200, 2_000)
TARGET_MB = 50.0
REPO = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    """This process's RSS high-water mark in MB: ``VmHWM`` of ``/proc/self/status``, which starts afresh
    with the process image (``ru_maxrss`` would not: after fork and exec it keeps the parent's peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def measure(n: int, opts: Options) -> dict[str, Any]:
    """Serve an emulator with ``n`` events here, sync it in a child process; returns the child's report."""
    app = GoogleCalendarEmulator(allow_http_push=True, allow_loopback_redirects=True)
    app.seed_demo()
    seed_google(app, DEMO_ROOM, n)
    server = EmulatorServer(app).start()
    workdir = opts.scratch(f"memory-{n}")
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", "--child", server.url, str(workdir / "host.sqlite3"), str(n)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=1800,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"memory child failed ({done.returncode}): {done.stderr[-2000:]}")
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        report["list_calls"] = app.requests.count(method="GET", path=r"/events$")
        return report
    finally:
        server.stop()
        app.close()


def child_main(base: str, db: str, n: int) -> dict[str, Any]:
    """In the child: host + plugin only; connect to the emulator at ``base`` and run the initial sync."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    from ireserve_lab.world import World

    with World(db) as world:
        room = world.host.add_object("Room A", timezone="Europe/Amsterdam")
        integration = world.integration(
            "g1",
            "google",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "calendar_mapping": [{"object": str(room.id), "calendar_id": DEMO_ROOM}],
                **World.google_urls(base),
            },
        )
        world.connect(integration)
        before = _rss_mb()
        started = time.monotonic()
        world.run_jobs()
        seconds = time.monotonic() - started
        after = _rss_mb()
        bookings = len(world.host.list_bookings(room.id))
    if bookings != n:
        raise RuntimeError(f"synced {bookings} bookings of {n}")
    return {
        "events": n,
        "rss_before_mb": round(before, 1),
        "rss_peak_mb": round(after, 1),
        "sync_seconds": round(seconds, 2),
        "bookings": bookings,
    }


def run(opts: Options) -> list[Figure]:
    small, large = QUICK if opts.quick else FULL
    reports: dict[int, list[dict[str, Any]]] = {small: [], large: []}
    repeat = 1  # a high-water mark of a deterministic workload: one run each (the 50k sync takes ~40 s)
    for i in range(repeat):
        for n in (small, large):
            opts.log(f"   memory: sync of {n} events in a subprocess, run {i + 1}/{repeat}")
            reports[n].append(measure(n, opts))
    peak_small = median(r["rss_peak_mb"] for r in reports[small])
    peak_large = median(r["rss_peak_mb"] for r in reports[large])
    growth = peak_large - peak_small
    label = f"{large // 1000}k-event sync minus {small // 1000 or small}{'k' if small >= 1000 else ''}-event sync"
    return [
        Figure(
            "memory.peak_growth",
            f"peak memory (RSS high-water, subprocess), {label}",
            f"< {TARGET_MB:.0f} MB",
            f"{growth:+.1f} MB ({peak_large:.1f} vs {peak_small:.1f} MB peak)",
            growth < TARGET_MB,
            value=growth,
            unit="MB",
            samples=[r["rss_peak_mb"] for r in reports[large]],
            detail={"small": reports[small], "large": reports[large]},
        )
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--child", nargs=3, metavar=("BASE_URL", "DB", "EVENTS"), required=True)
    args = parser.parse_args()
    print(json.dumps(child_main(args.child[0], args.child[1], int(args.child[2]))))
