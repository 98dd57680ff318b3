"""The benchmark harness: figures, options, statistics, the printed table and the JSON file.

Public API: :class:`Figure`, :class:`Options`, :data:`GROUPS`, :func:`run_groups`, :func:`render_table`,
:func:`write_json`, :func:`median`, :func:`percentile`, :func:`outlook_pending`, :data:`PENDING_OUTLOOK`.

A benchmark group is a module of this package with a ``run(opts) -> list[Figure]`` function. Each
:class:`Figure` is one row of the issue's table: what was measured, its target, the measured value
and whether the target was met (``None`` when it could not be measured, e.g. a provider that is not
finished). Counts come from the emulators' request logs; times from ``time.monotonic()``, over
``opts.runs`` runs, as medians.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "GROUPS",
    "PENDING_OUTLOOK",
    "Figure",
    "Options",
    "machine",
    "median",
    "outlook_pending",
    "percentile",
    "render_table",
    "run_groups",
    "write_json",
]

#: The groups, in the order they run and print: (module name, what it measures).
GROUPS: tuple[tuple[str, str], ...] = (
    ("inbound", "initial inbound sync: list calls, throughput, engine overhead, bytes per event"),
    ("memory", "peak memory of a 50k-event sync over a 1k-event one (subprocess)"),
    ("push", "list calls per pushed change and per burst; webhook route latency"),
    ("outbound", "API calls of booking create / update / delete"),
    ("idle", "API calls per hour of an idle calendar; cron tick cost"),
    ("application", "Outlook application mode: token requests, concurrency"),
    ("pacing", "peak requests per rolling minute while 200 calendars sync"),
    ("rooms", "500 discovered rooms per provider: discovery, initial sync, tokens, writes, cron tick"),
    ("scale", "200 rooms' initial sync on 1 vs 4 RQ worker processes (needs redis-server)"),
    ("caldav", "CalDAV on a real Radicale: initial sync of 10k events (requests, events/s), idle poll"),
    ("postgres", "initial inbound sync throughput with the reference host on PostgreSQL (needs postgresql)"),
)

PENDING_OUTLOOK = "pending: Outlook provider"


@dataclass
class Figure:
    """One row of the table. ``met`` is None when the figure could not be measured (see ``measured``)."""

    id: str
    figure: str
    target: str
    measured: str
    met: bool | None
    value: float | None = None
    unit: str = ""
    samples: list[float] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "pending" if self.measured.startswith("pending") else "n/a"
        return "met" if self.met else "MISSED"


@dataclass(frozen=True)
class Options:
    """How a run is configured: ``quick`` (small N, a smoke test), ``runs`` (timed repetitions, medians
    reported), ``workdir`` (scratch space for SQLite files) and ``log`` (progress lines, to stderr)."""

    quick: bool = False
    runs: int = 3
    workdir: Path = Path(".")
    log: Callable[[str], None] = lambda _line: None

    def scratch(self, name: str) -> Path:
        """A fresh private directory under the work directory."""
        path = self.workdir / f"{name}-{time.monotonic_ns()}"
        path.mkdir(parents=True, mode=0o700)  # private: the reference host keeps its key file beside the database
        return path


def median(values: Iterable[float]) -> float:
    data = list(values)
    return float(statistics.median(data)) if data else math.nan


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (nearest rank) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[rank - 1])


def outlook_pending() -> str | None:
    """None when the Outlook provider can build a backend; else why its rows are pending."""
    try:
        from ireserve_calendar_plugin.providers.base import CalendarProvider
        from ireserve_calendar_plugin.providers.outlook import OutlookProvider
    except ImportError as exc:  # pragma: no cover - depends on the provider's progress
        return f"{PENDING_OUTLOOK} ({exc})"
    if OutlookProvider.backend is CalendarProvider.backend:  # pragma: no cover
        return PENDING_OUTLOOK
    return None


def _group_failed(name: str, exc: BaseException) -> Figure:
    return Figure(
        id=f"{name}.error",
        figure=f"group {name}",
        target="runs",
        measured=f"error: {exc!r}"[:200],
        met=False,
        note=traceback.format_exc(limit=8),
    )


def run_groups(names: Sequence[str], opts: Options, only: Sequence[str] = ()) -> list[Figure]:
    """Run the named groups (all when empty). ``only`` may also name figure ids or id prefixes, which
    selects their groups and then keeps just those figures."""
    known = [name for name, _ in GROUPS]
    wanted_groups: list[str] = []
    id_filters: list[str] = []
    for item in only:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            group = part.split(".", 1)[0]
            if group not in known:
                raise SystemExit(f"unknown benchmark {part!r}; groups: {', '.join(known)}")
            if group not in wanted_groups:
                wanted_groups.append(group)
            if part != group:
                id_filters.append(part)
    selected = [n for n in known if n in (wanted_groups or names or known)]
    figures: list[Figure] = []
    for name in selected:
        opts.log(f"== {name}")
        started = time.monotonic()
        module = importlib.import_module(f"benchmarks.{name}")
        try:
            got = module.run(opts)
        except Exception as exc:  # one broken group must not hide the others' figures
            opts.log(traceback.format_exc())
            got = [_group_failed(name, exc)]
        if id_filters:
            got = [f for f in got if any(f.id == p or f.id.startswith(p + ".") for p in id_filters)] or got
        figures.extend(got)
        opts.log(f"   {name}: {len(got)} figure(s) in {time.monotonic() - started:.1f} s")
    return figures


def render_table(figures: Sequence[Figure]) -> str:
    """A Markdown table: figure | target | measured | met?"""
    rows = [("figure", "target", "measured", "met?")]
    rows += [(f.figure, f.target, f.measured, f.verdict) for f in figures]
    lines = ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    lines.insert(1, "|---|---|---|---|")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (math.nan, math.nan, math.nan)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": [round(x, 2) for x in load],
    }


def write_json(path: Path, figures: Sequence[Figure], opts: Options, elapsed: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "machine": machine(),
        "options": {"quick": opts.quick, "runs": opts.runs},
        "elapsed_seconds": round(elapsed, 1),
        "figures": [asdict(f) | {"verdict": f.verdict} for f in figures],
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
