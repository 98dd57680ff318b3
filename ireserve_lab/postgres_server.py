"""A throwaway PostgreSQL server for tests and benchmarks, from the machine's Debian binaries.

Public API: :class:`PostgresServer`, :func:`find_pg_bin`, :func:`postgres_unavailable`, :data:`INSTALL_LINE`.

::

    with PostgresServer() as server:          # initdb in a temp folder, start on a free loopback port
        url = server.new_database()           # a fresh, empty schema: its own URL (cheap)
        host = ReferenceHost(url, keyring=...)

The server listens on 127.0.0.1 only, keeps its socket in its own folder, runs without fsync (a test
server loses nothing it needs on a crash) and trusts local connections. PostgreSQL refuses to run as
root, so as root (CI) it runs as ``nobody`` through ``runuser``, in a folder handed to that user.
:meth:`PostgresServer.stop` stops it by the PID it wrote and removes the folder.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["INSTALL_LINE", "PostgresServer", "find_pg_bin", "postgres_unavailable"]

#: What to install when PostgreSQL or psycopg is missing.
INSTALL_LINE = "apt-get install postgresql && pip install 'ireserve-devhost[postgres]'"

_RUN_AS = "nobody"


def find_pg_bin() -> Path | None:
    """The folder of the newest installed PostgreSQL server binaries (Debian's ``/usr/lib/postgresql/N/bin``,
    else ``initdb`` on PATH), or None."""
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(Path(path).parent.parent.name)
    )
    if versions:
        return Path(versions[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def postgres_unavailable() -> str | None:
    """Why a PostgreSQL test server cannot run here (with the install line), or None when it can."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return f"psycopg 3 is not installed ({INSTALL_LINE})"
    if find_pg_bin() is None:
        return f"no PostgreSQL server binaries ({INSTALL_LINE})"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL refuses to run as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One PostgreSQL server in a temporary folder on a free loopback port (see the module docstring).

    :param max_connections: the server's connection limit (every host opens a few).
    """

    def __init__(self, *, max_connections: int = 300) -> None:
        why = postgres_unavailable()
        if why is not None:
            raise RuntimeError(why)
        bin_dir = find_pg_bin()
        assert bin_dir is not None
        self.bin = bin_dir
        self.max_connections = max_connections
        self.port = 0
        self.pid: int | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="ireserve-pg-"))
        self.data = self.folder / "data"
        self._names = itertools.count(1)
        self._admin: object = None

    # -------------------------------------------------------------------- life

    def start(self, timeout: float = 60.0) -> PostgresServer:
        """initdb, start the server and wait until it accepts connections; return self."""
        as_root = os.geteuid() == 0
        if as_root:
            shutil.chown(self.folder, _RUN_AS)
        self._run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "test", "--auth=trust"]
            + ["--encoding=UTF8", "--locale=C", "--no-sync"],
            timeout=timeout,
        )
        self.port = _free_port()
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
            f" -c synchronous_commit=off -c full_page_writes=off -c max_connections={self.max_connections}"
        )
        self._run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log")]
            + ["-o", options, "-w", "-t", str(int(timeout)), "start"],
            timeout=timeout + 5,
        )
        self.pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        atexit.register(self.stop)  # an interpreter that ends without stop() still stops its server
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server by its PID (immediate shutdown: nothing in it is kept) and remove its folder."""
        if self._admin is not None:
            self._admin.close()  # type: ignore[attr-defined]
            self._admin = None
        pid, self.pid = self.pid, None
        atexit.unregister(self.stop)
        if pid is not None:
            _signal_and_wait(pid, signal.SIGQUIT, timeout) or _signal_and_wait(pid, signal.SIGKILL, 10)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------------- databases

    def url(self, dbname: str = "postgres", schema: str | None = None) -> str:
        """A URL for ``dbname`` (and, with ``schema``, with that schema first on the search path)."""
        base = f"postgresql://test@127.0.0.1:{self.port}/{dbname}"
        return f"{base}?options=-csearch_path%3D{schema}" if schema else base

    def new_database(self) -> str:
        """A fresh, empty place for one host: a new schema in the ``postgres`` database; return its URL."""
        name = f"t{next(self._names)}"
        self.execute(f"CREATE SCHEMA {name}")
        return self.url(schema=name)

    def create_database(self, name: str) -> str:
        """Create a whole database (``CREATE DATABASE``); return its URL."""
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def execute(self, sql: str) -> list[tuple[object, ...]]:
        """Run one statement as the superuser on the ``postgres`` database; return its rows (if any)."""
        import psycopg

        if self._admin is None:
            self._admin = psycopg.connect(self.url(), autocommit=True)
        cursor = self._admin.execute(sql)  # type: ignore[attr-defined]
        return cursor.fetchall() if cursor.description else []

    @property
    def server_version(self) -> str:
        """What the running server says it is (``SHOW server_version``)."""
        return str(self.execute("SHOW server_version")[0][0])

    # -------------------------------------------------------------------- helpers

    def _run(self, argv: list[str], timeout: float) -> None:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", _RUN_AS, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.folder, check=False)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{Path(argv[-1]).name} failed ({done.returncode}): {done.stderr[-2000:]}{tail}")


def _signal_and_wait(pid: int, sig: int, timeout: float) -> bool:
    """Send ``sig`` to ``pid`` and wait until it is gone; whether it went."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
