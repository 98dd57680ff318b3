"""Run an emulator from the command line: ``calendar-emulator google|graph --port N``.

Public API: :func:`build_emulator`, :func:`serve`, :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from calendar_emulators.core import EmulatorApp
from calendar_emulators.core import EmulatorServer

__all__ = ["build_emulator", "main", "serve"]


def build_emulator(kind: str, *, seed_demo: bool = True) -> EmulatorApp:
    """Build the emulator ``kind`` (``google`` or ``graph``) set up for local use (loopback http allowed)."""
    if kind == "google":
        from calendar_emulators.google import GoogleCalendarEmulator

        google = GoogleCalendarEmulator(allow_http_push=True, allow_loopback_redirects=True)
        if seed_demo:
            google.seed_demo()
        return google
    if kind == "graph":
        from calendar_emulators.graph import GraphEmulator

        graph = GraphEmulator(allow_http_notifications=True, allow_loopback_redirects=True)
        if seed_demo:
            graph.seed_demo()
        return graph
    raise ValueError(f"unknown emulator {kind!r}; choose google or graph")


def serve(kind: str, port: int, *, seed_demo: bool = True) -> None:
    """Serve one emulator on 127.0.0.1 until interrupted."""
    app = build_emulator(kind, seed_demo=seed_demo)
    server = EmulatorServer(app, port=port)
    if kind == "graph":
        # tokens are issued for this emulator's own Graph root (what an integration's graph_base_url names)
        app.configure(graph_root=server.url)  # type: ignore[attr-defined]
    print(f"{kind} emulator listening on {server.url}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``calendar-emulator`` console script."""
    parser = argparse.ArgumentParser(
        prog="calendar-emulator",
        description="Serve a local emulator of Google "
        "Calendar v3 or Microsoft Graph (with its OAuth endpoints) on 127.0.0.1.",
    )
    parser.add_argument("kind", choices=["google", "graph"])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--empty", action="store_true", help="start without the demo client, users and calendars")
    args = parser.parse_args(argv)
    serve(args.kind, args.port, seed_demo=not args.empty)
    return 0
