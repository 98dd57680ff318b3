"""An emulator served from its own process, for figures where it must not share the host's interpreter.

Public API: :class:`EmulatorProcess`, :func:`main`.

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

from benchmarks.worlds import TENANT
from benchmarks.worlds import spread
from calendar_emulators.core import EmulatorServer
from calendar_emulators.serve import build_emulator

__all__ = ["EmulatorProcess", "main"]

REPO = Path(__file__).resolve().parent.parent


class EmulatorProcess:
    """A Graph emulator with ``rooms`` room mailboxes of ``events`` events each, in a child process."""

    def __init__(self, *, rooms: int, events: int, latency: float = 0.0) -> None:
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
        self.url: str = json.loads(line)["url"]
        self._http = requests.Session()

    def entries(self) -> list[dict[str, Any]]:
        """The request log, oldest first; ``started`` as a datetime."""
        answer = self._http.get(f"{self.url}/_emulator/requests", timeout=60)
        answer.raise_for_status()
        items: list[dict[str, Any]] = answer.json()
        for item in items:
            item["started"] = datetime.fromisoformat(item["started"])
        return items

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


def main(argv: Sequence[str] | None = None) -> None:
    """In the child: build, seed and serve the Graph emulator until stdin closes."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.emulator_process")
    parser.add_argument("--rooms", type=int, default=0)
    parser.add_argument("--events", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    app: Any = build_emulator("graph")
    server = EmulatorServer(app)
    app.configure(graph_root=server.url)
    app.add_rooms(TENANT, args.rooms)
    for n in range(1, args.rooms + 1):
        for i, (start, end) in enumerate(spread(args.events)):
            app.person_create_event(f"room-{n:03d}@{TENANT}", f"Meeting {i}", start, end, location=f"Room {n:03d}")
    app.latency = args.latency
    server.start()
    print(json.dumps({"url": server.url}), flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()
        app.close()


if __name__ == "__main__":
    main()
