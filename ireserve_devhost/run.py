"""Run the reference host from the command line on a SQLite file or a PostgreSQL database.

Public API: :func:`run_host` (what ``ireserve-devhost host`` calls), :func:`add_serve_arguments` (the
HTTP settings both commands share), :func:`limits_from`, :func:`main` (``python -m ireserve_devhost``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterable
from collections.abc import Sequence

from ireserve_devhost.dbcheck import DatabaseProblem
from ireserve_devhost.dbcheck import check_database
from ireserve_devhost.dbcheck import database_error_line
from ireserve_devhost.dbcheck import database_errors
from ireserve_devhost.dbcheck import db_default
from ireserve_devhost.door import host_names_from_env
from ireserve_devhost.host import ReferenceHost
from ireserve_devhost.http_server import ServerLimits
from ireserve_devhost.keyring import KEY_FILE_ENV
from ireserve_devhost.keyring import KeyFileError
from ireserve_devhost.server import serve

__all__ = ["add_key_file_argument", "add_serve_arguments", "limits_from", "main", "run_host"]

_DEFAULTS = ServerLimits()


def add_key_file_argument(parser: argparse.ArgumentParser) -> None:
    """``--key-file``: where the encryption keys live (default: beside the database)."""
    parser.add_argument(
        "--key-file",
        default=None,
        help=f"the encryption key file (default ${KEY_FILE_ENV}, else DB.keys.json beside the database, "
        "which must then sit in a folder others cannot read)",
    )


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The HTTP server's door and limits, shared by ``ireserve-devhost host`` and ``python -m ireserve_devhost``."""
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another Host name to answer for, beside loopback and the public URL's host (repeatable; "
        "also IRESERVE_DEVHOST_ALLOWED_HOSTS, comma-separated)",
    )
    parser.add_argument("--threads", type=int, default=_DEFAULTS.threads, help="HTTP request threads")
    parser.add_argument(
        "--connection-limit", type=int, default=_DEFAULTS.connection_limit, help="open HTTP connections at most"
    )
    parser.add_argument(
        "--channel-timeout",
        type=int,
        default=_DEFAULTS.channel_timeout,
        help="seconds an HTTP connection may stay silent before it is closed",
    )
    parser.add_argument(
        "--request-timeout",
        type=int,
        default=_DEFAULTS.request_timeout,
        help="seconds a request may take to arrive completely (slow clients are closed after it)",
    )


def limits_from(args: argparse.Namespace) -> ServerLimits:
    """The :class:`ServerLimits` of parsed :func:`add_serve_arguments` options."""
    return ServerLimits(
        threads=args.threads,
        connection_limit=args.connection_limit,
        channel_timeout=args.channel_timeout,
        request_timeout=args.request_timeout,
    )


def run_host(
    db_path: str,
    port: int,
    public_url: str | None,
    cron_interval: float,
    *,
    workers: int = 1,
    bind: str = "127.0.0.1",
    prefix: str = "/ext",
    limits: ServerLimits | None = None,
    allowed_hosts: Iterable[str] = (),
    key_file: str | os.PathLike[str] | None = None,
) -> None:
    """Open (or create) the host database, load the installed plugins and serve until Ctrl-C.

    ``public_url`` defaults to ``http://127.0.0.1:<port>`` (the bind address unless it is a wildcard).
    The host answers for loopback names, the public URL's host, ``allowed_hosts`` and the names in
    ``IRESERVE_DEVHOST_ALLOWED_HOSTS``.
    """
    if public_url is None:
        public_url = f"http://{'127.0.0.1' if bind in ('0.0.0.0', '::', '') else bind}:{port}"
    names = [*allowed_hosts, *host_names_from_env()]
    with ReferenceHost(db_path, public_url=public_url, prefix=prefix, key_file=key_file) as host:
        serve(host, port, cron_interval, workers, bind=bind, limits=limits, allowed_hosts=names)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the host; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m ireserve_devhost",
        description="Run the reference booking host (admin pages, plugin routes, cron, job workers) on a SQLite "
        "file or a PostgreSQL database. The database must exist unless --create is given.",
    )
    parser.add_argument(
        "--db",
        default=db_default("ireserve-host.db"),
        help="SQLite file or postgresql:// URL (default $IRESERVE_DEVHOST_DB, else %(default)s; must exist, "
        "unless --create)",
    )
    parser.add_argument("--create", action="store_true", help="create the database (and its key file) if missing")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--public-url", default=None, help="externally reachable base URL, without the prefix")
    parser.add_argument("--prefix", default="/ext", help="URL prefix of plugin routes")
    parser.add_argument("--cron-interval", type=float, default=30.0, help="seconds between cron ticks")
    parser.add_argument("--workers", type=int, default=1, help="job worker threads")
    parser.add_argument("--log-level", default="INFO")
    add_key_file_argument(parser)
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        limits = limits_from(args)
    except ValueError as err:
        parser.error(str(err))
    try:
        check_database(args.db, create=args.create)
        run_host(
            args.db,
            args.port,
            args.public_url,
            args.cron_interval,
            workers=args.workers,
            bind=args.bind,
            prefix=args.prefix,
            limits=limits,
            allowed_hosts=args.allowed_host,
            key_file=args.key_file,
        )
    except (KeyFileError, DatabaseProblem) as err:
        print(f"{parser.prog}: {err}", file=sys.stderr)
        return 2
    except database_errors() as err:
        print(f"{parser.prog}: {database_error_line(args.db, err)}", file=sys.stderr)
        return 2
    return 0
