"""Before a command opens the host's database: is it there, readable, and a reference host database?

Public API: :func:`check_database`, :class:`DatabaseProblem`, :func:`database_error_line`.

The commands never create a database by accident: a mistyped ``--db`` used to create an empty database
and key file, after which ``sync`` and ``rotate-keys`` reported success on nothing. Now a missing file is
an error naming the path unless the command was given ``--create``; an unreadable file, a file that is
not SQLite (or is corrupt) and a SQLite file of something else are one-line errors too. The commands
exit 2 on any of them (1 stays "needs attention").
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

__all__ = ["DatabaseProblem", "check_database", "database_error_line"]

# Tables every reference host database has (from its first schema version on).
_HOST_TABLES = frozenset({"objects", "bookings", "integrations", "config", "jobs", "integration_log"})


class DatabaseProblem(ValueError):
    """The database named on the command line cannot be used; the message says why, naming the path."""


def check_database(path: str | os.PathLike[str], *, create: bool = False) -> None:
    """Raise :class:`DatabaseProblem` unless ``path`` is a readable reference host database (or is
    missing and ``create`` is set, and its folder exists)."""
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


def database_error_line(path: str | os.PathLike[str], err: sqlite3.Error) -> str:
    """One line for a SQLite error on ``path`` (no traceback)."""
    return f"cannot use {str(path)!r}: it is not a readable SQLite database or it is damaged ({err})"
