"""The reference host: one object that is the ``host`` every hook receives.

Public API: :class:`ReferenceHost`.

:class:`ReferenceHost` implements :class:`hookspecs.types.HostApi` on one SQLite database (a file or
``":memory:"``), or on PostgreSQL when given a ``postgresql://`` URL (:mod:`.postgres`), and loads
its plugins through entry points, as a production host does::

    host = ReferenceHost("host.db", public_url="https://booking.example")
    room = host.add_object("Room 1", "Europe/Amsterdam")
    host.add_integration("gcal", provider="google", name="Team calendar")
    host.bookings.create(object_id=room.id, start=..., end=..., status="confirmed", title="Stand-up",
                         channel="web", origin="user:1")     # fires on_booking_status_changed
    Worker(host).run_until_idle()                             # runs queued jobs through on_job
    host.cron_tick()                                          # fires on_cron_tick

:mod:`.server` serves it over HTTP with a cron thread and job workers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from typing import Any

import pluggy

from hookspecs.types import BookableObject
from hookspecs.types import Booking
from hookspecs.types import Customer
from hookspecs.types import Integration
from hookspecs.types import JobQueue
from hookspecs.types import KeyRing
from ireserve_devhost.bookings import DEFAULT_CANCELLED_STATUSES
from ireserve_devhost.bookings import BookingStore
from ireserve_devhost.config_store import ConfigStore
from ireserve_devhost.db import MEMORY
from ireserve_devhost.db import open_database
from ireserve_devhost.db import require_aware
from ireserve_devhost.directory import CustomerStore
from ireserve_devhost.directory import IntegrationStore
from ireserve_devhost.directory import LogEntry
from ireserve_devhost.directory import ObjectStore
from ireserve_devhost.health import ProcessHealth
from ireserve_devhost.hooks import HostHooks
from ireserve_devhost.hooks import get_plugin_manager
from ireserve_devhost.jobs import JobStore
from ireserve_devhost.keyring import KeyStore
from ireserve_devhost.keyring import check_key_file_place
from ireserve_devhost.keyring import key_file_for
from ireserve_devhost.unit_of_work import SqliteUnitOfWork
from ireserve_devhost.unit_of_work import open_unit

__all__ = ["ReferenceHost"]


def _system_clock() -> datetime:
    return datetime.now(UTC)  # looked up at call time, so freezegun's patched datetime applies


class ReferenceHost:
    """A small, real booking host implementing :class:`hookspecs.types.HostApi`.

    :param db_path: the SQLite file, ``":memory:"``, or a ``postgresql://`` URL (the ``postgres`` extra;
        then the keys come from ``key_file`` or $IRESERVE_DEVHOST_KEY_FILE, or ``keyring``).
    :param public_url: the externally reachable base URL (scheme, host, port), without the prefix.
    :param prefix: where plugin routes live under ``public_url``.
    :param keyring: fixed key material; by default the key file (created if missing, see
        :func:`.keyring.key_file_for`), or a random in-memory key for ``":memory:"``.
    :param key_file: where the key file is (default: $IRESERVE_DEVHOST_KEY_FILE, else beside ``db_path``
        in a folder others cannot read; :class:`.keyring.KeyFileError` otherwise).
    :param clock: returns the host's now (timezone-aware); default ``datetime.now(UTC)``.
    :param sleep: waits on the host's clock (:attr:`sleep`); default ``time.sleep``. A simulation whose
        clock is not the wall clock passes one that moves its clock instead of waiting.
    :param plugin_manager: the plugins; by default :func:`.hooks.get_plugin_manager` (entry points).
    :param cancelled_statuses: booking statuses that free their slot (never conflict).
    :param job_queue: another queue backend (for example :class:`.rq_queue.RedisJobQueue`); by default
        the durable queue in the same SQLite database, run by :class:`.jobs.Worker`.
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] = MEMORY,
        *,
        public_url: str = "http://127.0.0.1:8080",
        prefix: str = "/ext",
        keyring: KeyRing | None = None,
        key_file: str | os.PathLike[str] | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
        cancelled_statuses: Collection[str] = DEFAULT_CANCELLED_STATUSES,
        job_queue: JobQueue | None = None,
    ) -> None:
        if len(prefix) < 2 or not prefix.startswith("/") or prefix.endswith("/"):
            raise ValueError(f"prefix must look like '/ext' (a leading '/', no trailing one), not {prefix!r}")
        self.public_url = public_url.rstrip("/")
        self.prefix = prefix
        self._clock = clock or _system_clock
        #: How this host waits (an optional capability beside ``now``; plugins may use it for pacing
        #: and retry waits, so those pass on the host's clock).
        self.sleep: Callable[[float], None] = sleep or time.sleep
        # Everything that can fail comes before the database opens, so a failed start leaks nothing.
        self.pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
        self.hooks = HostHooks(self.pm, self)
        path = os.fspath(db_path)
        if keyring is None and path != MEMORY:
            key_path = key_file_for(path, key_file)
            check_key_file_place(key_path, path)
            self._keys = KeyStore(key_path)
        else:
            self._keys = KeyStore(keyring=keyring)
        self.db = open_database(path)
        self._cancelled = frozenset(cancelled_statuses)
        self.bookings = BookingStore(
            self.db,
            self.now,
            cancelled_statuses=cancelled_statuses,
            listener=self.hooks.booking_status_changed,
        )
        self.customers = CustomerStore(self.db)
        self.objects = ObjectStore(self.db)
        self.integrations = IntegrationStore(self.db, self.now)
        self.config = ConfigStore(self.db)
        self.jobs: Any = job_queue if job_queue is not None else JobStore(self.db, self.now)
        #: This process's heartbeat, key state and plugin failures, for ``status`` and the admin page.
        self.health = ProcessHealth(self.db, self._keys)

    # ------------------------------------------------------------------ HostApi

    def url_for(self, path: str) -> str:
        """Return ``public_url + prefix + path``; ``path`` must start with ``/``."""
        if not path.startswith("/"):
            raise ValueError(f"a plugin path starts with '/', not {path!r}")
        return f"{self.public_url}{self.prefix}{path}"

    def now(self) -> datetime:
        """Return the host's current time (timezone-aware)."""
        return require_aware(self._clock(), "the host clock's time")

    @contextmanager
    def unit_of_work(self) -> Iterator[SqliteUnitOfWork]:
        """The optional :class:`hookspecs.types.UnitOfWorkHost` capability: the block's writes through
        ``unit.bookings`` / ``unit.config`` commit together, and their ``on_booking_status_changed`` fire
        after the commit (see :mod:`.unit_of_work`)."""
        with open_unit(self.db, self.now, self._cancelled, self.hooks.booking_status_changed) as unit:
            yield unit

    # ------------------------------------------------------------------ keys

    @property
    def keyring(self) -> KeyRing:
        """The key ring plugins seal with: always the key file's latest (:class:`.keyring.LiveKeyRing`)."""
        return self._keys.keyring

    @property
    def key_store(self) -> KeyStore:
        """Where the keys come from (its ``load_error`` says when the key file could not be re-read)."""
        return self._keys

    def rotate_key(self) -> str:
        """Add a new current key (old ones stay for decryption); return its id."""
        return self._keys.rotate()

    def drop_key(self, kid: str) -> None:
        """Remove an old key once nothing is encrypted with it any more."""
        self._keys.drop(kid)

    # ------------------------------------------------------------------ host-side helpers (admins, tests)

    def add_object(self, name: str, timezone: str = "UTC") -> BookableObject:
        """Create a bookable object."""
        return self.objects.add(name, timezone)

    def add_customer(self, name: str, email: str) -> Customer:
        """Create a customer."""
        return self.customers.add(name, email)

    def add_integration(self, integration_id: str, provider: str, name: str = "", enabled: bool = True) -> Integration:
        """Create an integration (same as ``integrations.add_integration``)."""
        return self.integrations.add_integration(integration_id, provider, name, enabled)

    def list_bookings(self, object_id: int | None = None) -> list[Booking]:
        """Return all bookings (of one object), ordered by start."""
        return self.bookings.all(object_id)

    def integration_log(self, integration_id: str, limit: int = 200) -> list[LogEntry]:
        """Return an integration's log entries, newest first."""
        return self.integrations.entries(integration_id, limit)

    def cron_tick(self, now: datetime | None = None) -> None:
        """Fire ``on_cron_tick`` once, at ``now`` (default: the host's now)."""
        self.hooks.cron_tick(require_aware(now, "now") if now is not None else self.now())

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def __enter__(self) -> ReferenceHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
