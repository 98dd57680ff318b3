"""An emulator served from its own process, for figures where it must not share the host's interpreter.

Public API: :class:`EmulatorProcess`, :class:`RemoteLog`, :func:`main`.

The in-process emulators of a World run on the benchmark's own Python interpreter, so their work (say,
rendering a page, or a Graph subscription's validation handshake) competes with the plugin for the
interpreter lock. Where the figure is about overlapping waits (concurrency), the emulator therefore runs
here instead, like the real service would: elsewhere. It is seeded before it serves (through its Python
control API, in its own process) and read back through its HTTP control API (``/_emulator/requests``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from benchmarks.worlds import ALEX
from benchmarks.worlds import TENANT
from benchmarks.worlds import seed_google
from benchmarks.worlds import seed_graph
from benchmarks.worlds import spread
from calendar_emulators.core import EmulatorServer
from calendar_emulators.core import LoggedRequest
from calendar_emulators.serve import build_emulator

__all__ = ["EmulatorProcess", "RemoteLog", "main"]

REPO = Path(__file__).resolve().parent.parent


class EmulatorProcess:
    """An emulator in a child process: Graph with ``rooms`` room mailboxes of ``events`` events each, or
    (``calendar_events``) one calendar of that many events: Google's demo room calendar (``kind="google"``)
    or alex's Outlook calendar (``kind="graph"``), seeded as :mod:`benchmarks.worlds` seeds them.
    ``token`` is a read token for the Google demo user, issued by the child (for replaying listings)."""

    def __init__(
        self, *, rooms: int = 0, events: int = 0, latency: float = 0.0, kind: str = "graph", calendar_events: int = 0
    ) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.emulator_process",
                "--rooms",
                str(rooms),
                "--events",
                str(events),
                "--latency",
                str(latency),
                "--kind",
                kind,
                "--calendar-events",
                str(calendar_events),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError("the emulator process did not start")
        started = json.loads(line)
        self.url: str = started["url"]
        self.token: str = started.get("token", "")
        self._http = requests.Session()
        self.requests = RemoteLog(self)

    def entries(self) -> list[dict[str, Any]]:
        """The request log, oldest first; ``started`` as a datetime."""
        answer = self._http.get(f"{self.url}/_emulator/requests", timeout=60)
        answer.raise_for_status()
        items: list[dict[str, Any]] = answer.json()
        for item in items:
            item["started"] = datetime.fromisoformat(item["started"])
        return items

    def log_length(self) -> int:
        """How many requests the log holds (to take the entries after a point)."""
        return len(self.entries())

    def flush_notifications(self) -> None:
        self._http.post(f"{self.url}/_emulator/notifications/flush", json={}, timeout=60).raise_for_status()

    def close(self) -> None:
        if hasattr(self, "_http"):
            self._http.close()
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()  # the child serves until its stdin closes
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=15)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class RemoteLog:
    """The child's request log as :class:`~calendar_emulators.core.LoggedRequest` items (like ``app.requests``)."""

    def __init__(self, process: EmulatorProcess) -> None:
        self._process = process

    def entries(self) -> list[LoggedRequest]:
        return [
            LoggedRequest(
                e["method"],
                e["path"],
                {k: tuple(v) for k, v in e["query"].items()},
                e["status"],
                e["started"],
                e["duration"],
                e["bytes_out"],
                e["fault"],
            )
            for e in self._process.entries()
        ]


def main(argv: Sequence[str] | None = None) -> None:
    """In the child: build, seed and serve the Graph emulator until stdin closes."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emulator_process")
    parser.add_argument("--rooms", type=int, default=0)
    parser.add_argument("--events", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--kind", choices=("graph", "google"), default="graph")
    parser.add_argument("--calendar-events", type=int, default=0)
    args = parser.parse_args(argv)
    app: Any = build_emulator(args.kind)
    server = EmulatorServer(app)
    started: dict[str, str] = {"url": server.url}
    if args.kind == "google":
        from calendar_emulators.google import DEMO_ROOM
        from calendar_emulators.google import DEMO_USER

        seed_google(app, DEMO_ROOM, args.calendar_events)
        scope = "https://www.googleapis.com/auth/calendar.readonly"
        started["token"] = app.issue_tokens(DEMO_USER, "demo-client", [scope])["access_token"]
    else:
        app.configure(graph_root=server.url)
        seed_graph(app, ALEX, args.calendar_events)
        app.add_rooms(TENANT, args.rooms)
        for n in range(1, args.rooms + 1):
            for i, (start, end) in enumerate(spread(args.events)):
                app.person_create_event(f"room-{n:03d}@{TENANT}", f"Meeting {i}", start, end, location=f"Room {n:03d}")
    app.latency = args.latency
    server.start()
    print(json.dumps(started), flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
        app.close()


if __name__ == "__main__":
    main()
