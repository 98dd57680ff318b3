"""``python -m benchmarks [--quick] [--only NAME] [--runs K] [--json PATH]``: run, print the table, write JSON.

Exit status 0 when the run completed (missed targets are reported in the table, not as a failure),
1 when a group failed with an error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import GROUPS
from benchmarks.harness import Options
from benchmarks.harness import machine
from benchmarks.harness import render_table
from benchmarks.harness import run_groups
from benchmarks.harness import stderr_log
from benchmarks.harness import write_json

__all__ = ["DEFAULT_JSON", "main", "parser"]

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"


def parser() -> argparse.ArgumentParser:
    groups = "\n".join(f"  {name:<12} {what}" for name, what in GROUPS)
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Benchmarks of the calendar plugin on the emulators and the reference host.",
        epilog=f"groups:\n{groups}",
    )
    p.add_argument("--quick", action="store_true", help="small sizes, one run: a smoke test of the harness")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this group (or figure id, e.g. inbound.google.10k.list_calls); repeatable",
    )
    p.add_argument(
        "--runs",
        type=int,
        default=None,
        metavar="K",
        help="repetitions of timed figures, medians reported (default 3, or 1 with --quick)",
    )
    p.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help=f"where to write the results (default {DEFAULT_JSON})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    if runs < 1:
        raise SystemExit("--runs must be at least 1")
    # the plugin logs every round at INFO; a benchmark wants only problems
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ireserve-bench-") as scratch:
        opts = Options(
            quick=args.quick, runs=runs, workdir=Path(scratch), log=(lambda _line: None) if args.quiet else stderr_log
        )
        figures = run_groups((), opts, args.only)
    elapsed = time.monotonic() - started
    info = machine()
    print(
        f"benchmarks {'(quick) ' if args.quick else ''}on {info['nproc']} x {info['cpu']}, "
        f"Python {info['python']}, {info['date']}, {runs} run(s), {elapsed:.0f} s"
    )
    print(render_table(figures))
    write_json(args.json, figures, opts, elapsed)
    print(f"written to {args.json}")
    return 1 if any(f.id.endswith(".error") for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
