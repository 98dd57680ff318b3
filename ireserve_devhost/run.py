"""Run the reference host from the command line on a SQLite file.

Public API: :func:`run_host` (what ``ireserve-devhost host`` calls), :func:`main` (``python -m
ireserve_devhost``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from ireserve_devhost.host import ReferenceHost
from ireserve_devhost.server import serve

__all__ = ["main", "run_host"]


def run_host(
    db_path: str,
    port: int,
    public_url: str | None,
    cron_interval: float,
    *,
    workers: int = 1,
    bind: str = "127.0.0.1",
    prefix: str = "/ext",
) -> None:
    """Open (or create) the host database, load the installed plugins and serve until Ctrl-C.

    ``public_url`` defaults to ``http://127.0.0.1:<port>`` (the bind address unless it is a wildcard).
    """
    if public_url is None:
        public_url = f"http://{'127.0.0.1' if bind in ('0.0.0.0', '::', '') else bind}:{port}"
    with ReferenceHost(db_path, public_url=public_url, prefix=prefix) as host:
        serve(host, port, cron_interval, workers, bind=bind)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the host; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m ireserve_devhost", description=__doc__)
    parser.add_argument("--db", default="ireserve-host.db", help="SQLite file (created if missing)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--public-url", default=None, help="externally reachable base URL, without the prefix")
    parser.add_argument("--prefix", default="/ext", help="URL prefix of plugin routes")
    parser.add_argument("--cron-interval", type=float, default=30.0, help="seconds between cron ticks")
    parser.add_argument("--workers", type=int, default=1, help="job worker threads")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_host(
        args.db,
        args.port,
        args.public_url,
        args.cron_interval,
        workers=args.workers,
        bind=args.bind,
        prefix=args.prefix,
    )
    return 0
