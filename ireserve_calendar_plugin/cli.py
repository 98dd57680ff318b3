"""The ``ireserve-calendar`` command: run the reference host, an emulator, the demo, health, keys and benchmarks.

Public API: :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ireserve-calendar", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    host = sub.add_parser("host", help="run the reference host (HTTP routes, cron, job worker) on a SQLite file")
    host.add_argument("--db", default="ireserve-devhost.sqlite3", help="SQLite file (created if missing)")
    host.add_argument("--port", type=int, default=8080)
    host.add_argument("--public-url", default=None, help="public base URL (default http://127.0.0.1:PORT)")
    host.add_argument("--cron-interval", type=float, default=30.0, help="seconds between cron ticks")

    emu = sub.add_parser("emulator", help="run a local emulator of Google Calendar or Microsoft Graph")
    emu.add_argument("kind", choices=["google", "graph"])
    emu.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    emu.add_argument("--empty", action="store_true", help="start without the demo client, users and calendars")

    demo = sub.add_parser("demo", help="offline round trip: reference host + plugin + emulators, step by step")
    demo.add_argument("--provider", choices=["all", "google", "outlook"], default="all")

    status = sub.add_parser(
        "status",
        help="print every integration's status and calendar health; exit 1 when one needs attention",
        description="Open the reference host's SQLite file and print each integration's status line and health "
        "rows (as its admin form reports them). Exit status: 0 all healthy, 1 an enabled integration needs "
        "attention (needs reconnect, not ready, a calendar error, an expired push channel), 2 no database.",
    )
    status.add_argument("--db", default="ireserve-devhost.sqlite3", help="the host's SQLite file")
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")

    sync = sub.add_parser("sync", help="run one cron tick and every due job now, with progress")
    sync.add_argument("--db", default="ireserve-devhost.sqlite3", help="the host's SQLite file")

    rotate = sub.add_parser("rotate-keys", help="make a new encryption key current and re-encrypt everything")
    rotate.add_argument("--db", default="ireserve-devhost.sqlite3", help="the host's SQLite file")
    rotate.add_argument("--drop-old", action="store_true", help="remove the old keys once nothing uses them")

    bench = sub.add_parser(
        "bench", help="run the benchmarks on the emulators and the reference host (from a source checkout)",
        description="Same as python -m benchmarks: prints the table of figures and targets and writes JSON.",
    )
    bench.add_argument("--quick", action="store_true", help="small sizes, one run: a smoke test")
    bench.add_argument("--only", action="append", default=[], metavar="NAME", help="one group or figure id")
    bench.add_argument("--runs", type=int, default=None, metavar="K", help="repetitions of timed figures")
    bench.add_argument("--json", default=None, metavar="PATH", help="where to write the results")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    if args.command == "host":
        from ireserve_calendar_plugin.devhost.run import run_host

        run_host(args.db, args.port, args.public_url, args.cron_interval)
        return 0
    if args.command == "emulator":
        from ireserve_calendar_plugin.emulators.serve import serve

        serve(args.kind, args.port, seed_demo=not args.empty)
        return 0
    if args.command == "demo":
        from ireserve_calendar_plugin.demo import run_demo

        return run_demo(args.provider)
    if args.command == "status":
        from ireserve_calendar_plugin.status import run_status

        return run_status(args.db, as_json=args.json)
    if args.command == "sync":
        from ireserve_calendar_plugin.operations import sync_now

        return sync_now(args.db)
    if args.command == "rotate-keys":
        from ireserve_calendar_plugin.operations import rotate_keys

        return rotate_keys(args.db, drop_old=args.drop_old)
    if args.command == "bench":
        return _bench(args)
    return 2  # pragma: no cover - argparse enforces the choices


def _bench(args: argparse.Namespace) -> int:
    """Hand over to the ``benchmarks`` package of the source tree (it is not part of the installed plugin):
    the current directory's, or the checkout this package is installed from (an editable install)."""
    for root in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (root / "benchmarks" / "__main__.py").is_file():
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            break
    try:
        from benchmarks.__main__ import main as run_benchmarks
    except ImportError:
        print("ireserve-calendar bench: the benchmarks live in the source checkout; run it from there "
              "(or python -m benchmarks).", file=sys.stderr)
        return 2
    argv = ["--quick"] if args.quick else []
    argv += [f"--only={name}" for name in args.only]
    if args.runs is not None:
        argv.append(f"--runs={args.runs}")
    if args.json:
        argv.append(f"--json={args.json}")
    return run_benchmarks(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
