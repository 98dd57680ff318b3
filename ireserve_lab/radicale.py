"""A real CalDAV server for tests, the demo and benchmarks: Radicale on a free loopback port.

Public API: :class:`RadicaleServer`, :func:`radicale_installed`, :data:`INSTALL_HINT`.

Started as its own process (``python -m radicale``) with a temporary storage folder and an htpasswd
file of plain-text test users, stopped by its PID. Nothing here is mocked: the plugin talks CalDAV
to it over a socket on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

__all__ = ["INSTALL_HINT", "RadicaleServer", "caldav_libraries_missing", "radicale_installed"]

INSTALL_HINT = "Radicale is not installed: pip install radicale (it comes with the test extra)"

#: what the CalDAV tests import, and the install line that brings it
_CALDAV_TEST_LIBRARIES = {
    "icalendar": "pip install 'ireserve-calendar-plugin[caldav]'",
    "recurring_ical_events": "pip install 'ireserve-calendar-plugin[caldav]'",
    "caldav": "pip install 'ireserve-calendar-plugin[test]'",
    "radicale": "pip install 'ireserve-calendar-plugin[test]'",
}


def radicale_installed() -> bool:
    return importlib.util.find_spec("radicale") is not None


def caldav_libraries_missing() -> str:
    """Why the CalDAV tests cannot run here, with the install lines (or "" when they can)."""
    missing = [name for name in _CALDAV_TEST_LIBRARIES if importlib.util.find_spec(name) is None]
    if not missing:
        return ""
    lines = sorted({_CALDAV_TEST_LIBRARIES[name] for name in missing})
    return f"the CalDAV tests need {', '.join(missing)}: " + " and ".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RadicaleServer:
    """One Radicale process. ``users`` maps user name -> password (htpasswd, plain)."""

    def __init__(self, users: dict[str, str] | None = None, folder: str | Path | None = None) -> None:
        self._own_folder = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="radicale-"))
        self.storage = self.folder / "storage"
        self.htpasswd = self.folder / "users"
        self.users = dict(users or {"alice": "alice-app-password"})
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._write_users()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_users(self) -> None:
        self.htpasswd.write_text("".join(f"{u}:{p}\n" for u, p in self.users.items()))

    def add_user(self, name: str, password: str) -> None:
        """Add or change a user (Radicale reads the file on every request: no restart)."""
        self.users[name] = password
        self._write_users()

    def start(self, timeout: float = 20.0) -> RadicaleServer:
        self.port = self.port or free_port()
        args = [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{self.port}",
            "--storage-filesystem-folder",
            str(self.storage),
            "--auth-type",
            "htpasswd",
            "--auth-htpasswd-filename",
            str(self.htpasswd),
            "--auth-htpasswd-encryption",
            "plain",
            "--rights-type",
            "owner_only",
            "--logging-level",
            "error",
            "--auth-delay",
            "0",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"radicale exited with {self.process.returncode}: {err[-1000:]}")
            try:
                requests.request("OPTIONS", self.url + "/", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("radicale did not start in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port with the same storage (a server that was down)."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def make_calendar(self, user: str, name: str, display: str = "") -> str:
        """Create a calendar collection (MKCALENDAR) as ``user``; returns its path."""
        path = f"/{user}/{name}/"
        body = (
            '<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
            f"<D:displayname>{display or name}</D:displayname></D:prop></D:set></C:mkcalendar>"
        )
        response = requests.request(
            "MKCALENDAR", self.url + path, data=body.encode(), auth=(user, self.users[user]), timeout=10
        )
        if response.status_code not in (201, 405):
            raise RuntimeError(f"MKCALENDAR {path}: HTTP {response.status_code}")
        return path

    def collection_folder(self, path: str) -> Path:
        """Where Radicale keeps a collection on disk."""
        return self.storage / "collection-root" / path.strip("/")

    def forget_sync_tokens(self, path: str) -> None:
        """Make every sync token of a collection invalid, as a server that pruned its history does."""
        cache = self.collection_folder(path) / ".Radicale.cache"
        for sub in ("sync-token", "history"):
            shutil.rmtree(cache / sub, ignore_errors=True)

    def __enter__(self) -> RadicaleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
