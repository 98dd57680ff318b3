"""The ``ireserve-devhost`` command: run the reference host, and its operator commands (health, sync, keys).

Public API: :func:`main`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ireserve_devhost.dbcheck import DatabaseProblem
from ireserve_devhost.dbcheck import check_database
from ireserve_devhost.dbcheck import database_error_line
from ireserve_devhost.dbcheck import database_errors
from ireserve_devhost.dbcheck import db_default
from ireserve_devhost.keyring import KeyFileError
from ireserve_devhost.run import add_key_file_argument
from ireserve_devhost.run import add_serve_arguments

__all__ = ["main"]

_DESCRIPTION = (
    "Run the reference booking host (admin pages, plugin routes, cron and job workers) on a SQLite "
    "file or a PostgreSQL database (--db postgresql://..., with --key-file), and its operator commands: "
    "status, sync, rotate-keys. Every command needs an existing "
    "database (host --create makes a new one). Exit status: 0 fine, 1 status found something that needs "
    "attention, 2 the database or key file cannot be used, or the command line is wrong."
)


_DB_HELP = "the host's SQLite file or postgresql:// URL (default $IRESERVE_DEVHOST_DB, else %(default)s)"


def _parser() -> argparse.ArgumentParser:
    db = db_default("ireserve-devhost.sqlite3")
    parser = argparse.ArgumentParser(prog="ireserve-devhost", description=_DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    host = sub.add_parser("host", help="run the reference host (HTTP routes, cron, job worker) on a SQLite file")
    host.add_argument("--db", default=db, help=f"{_DB_HELP} (must exist, unless --create)")
    host.add_argument("--create", action="store_true", help="create the database (and its key file) if missing")
    host.add_argument("--port", type=int, default=8080)
    host.add_argument("--public-url", default=None, help="public base URL (default http://127.0.0.1:PORT)")
    host.add_argument("--cron-interval", type=float, default=30.0, help="seconds between cron ticks")
    add_serve_arguments(host)

    status = sub.add_parser(
        "status",
        help="print every integration's status and calendar health; exit 1 when one needs attention",
        description="Open the reference host's database and print each integration's status line and health "
        "rows (as its admin form reports them). Exit status: 0 all healthy, 1 an enabled integration needs "
        "attention (needs reconnect, not ready, a calendar error, an expired push channel), 2 no database.",
    )
    status.add_argument("--db", default=db, help=_DB_HELP)
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")

    sync = sub.add_parser("sync", help="run one cron tick and every due job now, with progress")
    sync.add_argument("--db", default=db, help=_DB_HELP)

    rotate = sub.add_parser("rotate-keys", help="make a new encryption key current and re-encrypt everything")
    rotate.add_argument("--db", default=db, help=_DB_HELP)
    rotate.add_argument("--drop-old", action="store_true", help="remove the old keys once nothing uses them")
    rotate.add_argument(
        "--wait", type=float, default=300.0, help="seconds to wait for re-encryption by this and running hosts"
    )
    rotate.add_argument(
        "--settle",
        type=float,
        default=10.0,
        help="with --drop-old: how old the rotation must be before old keys go (writes in flight land first)",
    )

    for command in (host, status, sync, rotate):
        add_key_file_argument(command)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    try:
        return version("ireserve-devhost")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without an install
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        check_database(args.db, create=getattr(args, "create", False))
        return _run(parser, args)
    except (KeyFileError, DatabaseProblem) as err:
        print(f"ireserve-devhost {args.command}: {err}", file=sys.stderr)
        return 2
    except database_errors() as err:  # damaged past what the check reads: still one line, not a traceback
        print(f"ireserve-devhost {args.command}: {database_error_line(args.db, err)}", file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "host":
        from ireserve_devhost.run import limits_from
        from ireserve_devhost.run import run_host

        try:
            limits = limits_from(args)
        except ValueError as err:
            parser.error(str(err))
        run_host(
            args.db,
            args.port,
            args.public_url,
            args.cron_interval,
            limits=limits,
            allowed_hosts=args.allowed_host,
            key_file=args.key_file,
        )
        return 0
    if args.command == "status":
        from ireserve_devhost.status import run_status

        return run_status(args.db, as_json=args.json, key_file=args.key_file)
    if args.command == "sync":
        from ireserve_devhost.operations import sync_now

        return sync_now(args.db, key_file=args.key_file)
    if args.command == "rotate-keys":
        from ireserve_devhost.operations import rotate_keys

        return rotate_keys(args.db, drop_old=args.drop_old, key_file=args.key_file, wait=args.wait, settle=args.settle)
    return 2  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
