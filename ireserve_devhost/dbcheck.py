"""Before a command opens the host's database: is it there, readable, and a reference host database?

Public API: :func:`check_database`, :class:`DatabaseProblem`, :func:`database_error_line`,
:func:`database_errors`, :func:`db_default`.

The commands never create a database by accident: a mistyped ``--db`` used to create an empty database
and key file, after which ``sync`` and ``rotate-keys`` reported success on nothing. Now a missing file is
an error naming the path unless the command was given ``--create``; an unreadable file, a file that is
not SQLite (or is corrupt) and a SQLite file of something else are one-line errors too. The commands
exit 2 on any of them (1 stays "needs attention").

A ``postgresql://`` URL is checked the same way: the server must answer and the database must hold a
reference host's tables, unless ``--create`` (which creates the tables, never the database itself).
Messages name the URL without its password.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ireserve_devhost.dialect import is_database_url

__all__ = ["DB_ENV", "DatabaseProblem", "check_database", "database_error_line", "database_errors", "db_default"]

#: The environment variable naming the host database (a SQLite file or a ``postgresql://`` URL), the
#: default of every command's ``--db`` and what RQ worker processes open.
DB_ENV = "IRESERVE_DEVHOST_DB"

# Tables every reference host database has (from its first schema version on).
_HOST_TABLES = frozenset({"objects", "bookings", "integrations", "config", "jobs", "integration_log"})


class DatabaseProblem(ValueError):
    """The database named on the command line cannot be used; the message says why, naming the path."""


def check_database(path: str | os.PathLike[str], *, create: bool = False) -> None:
    """Raise :class:`DatabaseProblem` unless ``path`` is a readable reference host database (or is
    missing and ``create`` is set, and its folder exists); a ``postgresql://`` URL: see the module docstring."""
    if is_database_url(path):
        _check_postgres(str(path), create)
        return
    db = Path(path)
    if not db.exists():
        if not create:
            raise DatabaseProblem(
                f"no host database at {str(db)!r}; check the path, or give --create to make a new one there"
            )
        if not db.parent.is_dir():
            raise DatabaseProblem(f"cannot create {str(db)!r}: the folder {str(db.parent)!r} does not exist")
        return
    if not db.is_file():
        raise DatabaseProblem(f"{str(db)!r} is not a file")
    if not os.access(db, os.R_OK):
        raise DatabaseProblem(f"cannot read {str(db)!r}: permission denied")
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            conn.execute("PRAGMA quick_check(1)").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        raise DatabaseProblem(database_error_line(db, err)) from err
    if names and not names >= _HOST_TABLES:
        raise DatabaseProblem(
            f"{str(db)!r} is a SQLite database, but not a reference host's (tables missing: "
            f"{', '.join(sorted(_HOST_TABLES - names))})"
        )


def database_error_line(path: str | os.PathLike[str], err: Exception) -> str:
    """One line for a database error on ``path`` (no traceback)."""
    if is_database_url(path):
        from ireserve_devhost.postgres import redact_url

        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return f"cannot use {redact_url(str(path))!r}: {first}"
    return f"cannot use {str(path)!r}: it is not a readable SQLite database or it is damaged ({err})"


def database_errors() -> tuple[type[Exception], ...]:
    """The exceptions a damaged or unreachable database raises: SQLite's, and psycopg's when installed."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.DatabaseError,)
    return (sqlite3.DatabaseError, psycopg.Error)


def db_default(fallback: str) -> str:
    """The ``--db`` default: $IRESERVE_DEVHOST_DB, else ``fallback``."""
    return os.environ.get(DB_ENV) or fallback


def _check_postgres(url: str, create: bool) -> None:
    from ireserve_devhost.postgres import INSTALL_HINT
    from ireserve_devhost.postgres import redact_url

    shown = redact_url(url)
    try:
        import psycopg
    except ImportError as err:
        raise DatabaseProblem(f"{shown!r} is a PostgreSQL database; this needs psycopg 3: {INSTALL_HINT}") from err
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            names = {
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                )
            }
    except psycopg.Error as err:
        raise DatabaseProblem(database_error_line(url, err)) from err
    if not names:
        if not create:
            raise DatabaseProblem(
                f"no host database at {shown!r} (it has no tables); check the URL, or give --create to make them"
            )
        return
    if not names >= _HOST_TABLES:
        raise DatabaseProblem(
            f"{shown!r} is a PostgreSQL database, but not a reference host's (tables missing: "
            f"{', '.join(sorted(_HOST_TABLES - names))})"
        )
