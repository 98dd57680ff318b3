"""The ``ireserve-lab`` command: the offline demo, and the benchmarks of a source checkout.

Public API: :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ireserve-lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="offline round trip: reference host + plugin + emulators, step by step")
    demo.add_argument("--provider", choices=["all", "google", "outlook", "caldav"], default="all")
    bench = sub.add_parser(
        "bench",
        help="run the benchmarks on the emulators and the reference host (from a source checkout)",
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
    if args.command == "demo":
        from ireserve_lab.demo import run_demo

        return run_demo(args.provider)
    return _bench(args)


def _bench(args: argparse.Namespace) -> int:
    """Hand over to the ``benchmarks`` package of the source tree (it is not installed): the current
    directory's, or the checkout this package is installed from (an editable install)."""
    for root in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (root / "benchmarks" / "__main__.py").is_file():
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            break
    try:
        from benchmarks.__main__ import main as run_benchmarks
    except ImportError:
        print(
            "ireserve-lab bench: the benchmarks live in the source checkout; run it from there "
            "(or python -m benchmarks).",
            file=sys.stderr,
        )
        return 2
    argv = ["--quick"] if args.quick else []
    argv += [f"--only={name}" for name in args.only]
    if args.runs is not None:
        argv.append(f"--runs={args.runs}")
    if args.json:
        argv.append(f"--json={args.json}")
    return int(run_benchmarks(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
