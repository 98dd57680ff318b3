"""The initial inbound sync of 10k events with the reference host on PostgreSQL instead of SQLite.

Public API: :func:`run`.

Method: as :mod:`benchmarks.inbound`'s throughput rows, on the other storage backend: a PostgreSQL
server started for the group from the machine's binaries (:class:`ireserve_lab.postgres_server.PostgresServer`,
loopback, fsync off, as the test suite runs it), a fresh empty schema per run, the calendar seeded with N
events, the admin connects, and the sync job's wall time is timed; throughput is N over it (fetching and
the emulator's own work on the same 2 cores included, as on SQLite). The PostgreSQL server shares the
machine: what this row adds over the SQLite row is each statement's round trip to another process.
Each PostgreSQL run is followed by the same sync on a SQLite file, so the ratio of the two is measured
under the same conditions (the machine's load moves both). Skipped, with the install line, when
PostgreSQL's binaries or psycopg are missing.
"""

from __future__ import annotations

import math

from benchmarks.harness import Figure
from benchmarks.harness import Options
from benchmarks.harness import median
from benchmarks.harness import outlook_pending
from benchmarks.worlds import drain_timed
from benchmarks.worlds import google_setup
from benchmarks.worlds import outlook_setup
from ireserve_lab.postgres_server import PostgresServer
from ireserve_lab.postgres_server import postgres_unavailable

__all__ = ["run"]

THROUGHPUT_N = 10_000
QUICK_N = 1_100


def _label(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def _figure_id(provider: str) -> str:
    return f"postgres.{provider}.throughput"


def _title(provider: str, n: int) -> str:
    name = "Google" if provider == "google" else "Outlook"
    return f"inbound throughput into the reference host on PostgreSQL, {_label(n)} events, {name}"


TARGET = "reported (no target; the SQLite rows' is >= 5,000 events/s)"


def _sync_seconds(server: PostgresServer | None, provider: str, n: int, opts: Options) -> tuple[float, int]:
    """One fresh schema (or, without ``server``, a SQLite file) and world: seed ``n`` events, connect, time
    the first sync job; (seconds, bookings)."""
    make = google_setup if provider == "google" else outlook_setup
    workdir = opts.scratch(f"postgres-{provider}-{n}")
    setup = make(workdir, events=n, settle=False, database=server.new_database() if server else None)
    try:
        spent = drain_timed(setup.world)
        return spent.get("calendar.sync", math.nan), len(setup.host.list_bookings(setup.room.id))
    finally:
        setup.world.close()


def run(opts: Options) -> list[Figure]:
    n = QUICK_N if opts.quick else THROUGHPUT_N
    providers = ("google", "outlook")
    why = postgres_unavailable()
    if why is not None:
        return [Figure(_figure_id(p), _title(p, n), TARGET, f"skipped: {why}", None) for p in providers]
    figures: list[Figure] = []
    with PostgresServer() as server:
        version = server.server_version
        for provider in providers:
            pending = outlook_pending() if provider == "outlook" else None
            if pending:
                figures.append(Figure(_figure_id(provider), _title(provider, n), TARGET, pending, None))
                continue
            runs, lite = [], []
            for i in range(opts.runs):
                opts.log(f"   {provider} initial sync of {n} events on PostgreSQL {version}, run {i + 1}/{opts.runs}")
                runs.append(_sync_seconds(server, provider, n, opts))
                opts.log(f"   {provider} the same on SQLite, run {i + 1}/{opts.runs}")
                lite.append(_sync_seconds(None, provider, n, opts))
            seconds = median(s for s, _ in runs)
            complete = all(bookings == n for _, bookings in runs)
            rate = n / seconds
            figures.append(
                Figure(
                    _figure_id(provider),
                    _title(provider, n),
                    TARGET,
                    f"{rate:,.0f} events/s (sync {seconds:.2f} s, median of {len(runs)})"
                    + ("" if complete else " (bookings missing!)"),
                    None if complete else False,
                    value=rate,
                    unit="events/s",
                    samples=[n / s for s, _ in runs],
                    detail={"server_version": version, "bookings": [b for _, b in runs]},
                    note="PostgreSQL on the same machine, loopback TCP, fsync off (benchmarks/postgres.py)",
                )
            )
            ratios = [lite_s / pg_s for (pg_s, _), (lite_s, _) in zip(runs, lite, strict=True)]
            lite_seconds = median(s for s, _ in lite)
            figures.append(
                Figure(
                    f"postgres.{provider}.vs_sqlite",
                    f"the same on PostgreSQL / on SQLite, throughput, {_label(n)} events, "
                    f"{'Google' if provider == 'google' else 'Outlook'} (each PostgreSQL run next to a SQLite run)",
                    "reported (no target)",
                    f"{median(ratios):.2f} (PostgreSQL {seconds:.1f} s, SQLite {lite_seconds:.1f} s, medians of "
                    f"{len(runs)})",
                    None,
                    value=median(ratios),
                    unit="ratio",
                    samples=ratios,
                )
            )
    return figures
