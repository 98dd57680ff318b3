"""What a host hands to its plugins: plain dataclasses and typed Protocols.

Public API: :class:`Booking`, :class:`Customer`, :class:`BookableObject`, :class:`Integration`,
:class:`HttpRequest`, :class:`HttpResponse`, :class:`ResultPage`, :class:`ConfigEntry`, :class:`KeyRing`, :class:`Job`,
the host-side errors :class:`HostError`, :class:`BookingConflictError`, :class:`BookingNotFoundError`,
and the protocols :class:`BookingApi`, :class:`CustomerApi`, :class:`ObjectApi`, :class:`IntegrationApi`,
:class:`ConfigApi`, :class:`JobQueue`, :class:`HostApi`, and the optional capabilities :class:`SleepingHost`,
:class:`BatchBookingReads` and :class:`UnitOfWorkHost` (with its :class:`UnitOfWork`).

Terminology
-----------
ORIGIN
    A short string naming who made a change: ``"user:<id>"``, ``"system"``, or for a plugin
    ``"calendar:<integration id>"``. Every write a plugin makes carries its origin, and the host hands
    the origin back in ``on_booking_status_changed`` so a plugin can ignore its own writes even when
    they come back through another process.
TIMES
    Every datetime crossing this contract is timezone-aware. A host must reject naive datetimes.
    All-day bookings are expressed as local midnight to local midnight in the object's time zone,
    with ``all_day=True``.

This module imports nothing from any plugin.
"""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Protocol
from typing import runtime_checkable

__all__ = [
    "BatchBookingReads",
    "BookableObject",
    "Booking",
    "BookingApi",
    "BookingConflictError",
    "BookingNotFoundError",
    "ConfigApi",
    "ConfigEntry",
    "Customer",
    "CustomerApi",
    "HostApi",
    "HostError",
    "HttpRequest",
    "HttpResponse",
    "Integration",
    "IntegrationApi",
    "Job",
    "JobQueue",
    "KeyRing",
    "ObjectApi",
    "ResultPage",
    "SleepingHost",
    "UnitOfWork",
    "UnitOfWorkHost",
]


# --------------------------------------------------------------------------- errors raised by a host


class HostError(Exception):
    """Root of the errors a host raises back at a plugin through this contract."""


class BookingNotFoundError(HostError, LookupError):
    """The booking id does not exist (or was removed)."""


class BookingConflictError(HostError):
    """A booking write broke the host's validation (for example an overlap on the same object).

    Nothing was written. ``reason`` is a human-readable explanation that a plugin may store as a remark.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- plain data


@dataclass(frozen=True)
class BookableObject:
    """A thing that can be booked (a room, a desk, a car). ``timezone`` is an IANA zone name."""

    id: int
    name: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class Customer:
    """A customer of the host, found by e-mail for attendee lists and organiser matching."""

    id: int
    name: str
    email: str


@dataclass(frozen=True)
class Booking:
    """A snapshot of one booking. Plugins never mutate it; they call :class:`BookingApi`.

    ``fields`` holds the host's free booking fields (for example ``external_id`` or a meeting join URL);
    ``channel`` says through which channel it was created (``"web"``, ``"external/google"``, ...).
    """

    id: int
    object_id: int
    start: datetime
    end: datetime
    status: str
    title: str = ""
    customer_id: int | None = None
    channel: str = "web"
    all_day: bool = False
    fields: Mapping[str, str] = field(default_factory=dict)
    remarks: tuple[str, ...] = ()
    version: int = 0


@dataclass(frozen=True)
class Integration:
    """One configured integration: which provider it uses and whether an admin enabled it."""

    id: str
    provider: str
    enabled: bool = True
    name: str = ""


@dataclass(frozen=True)
class ConfigEntry:
    """A stored config value with its version, for compare-and-set. ``version`` 0 means absent."""

    value: str | None
    version: int


@dataclass(frozen=True)
class KeyRing:
    """Key material for encrypting what a plugin stores: the current key plus older ones.

    ``keys`` maps a key id to 32 random bytes. New values are written with ``current``; any key
    still in ``keys`` can decrypt. A host rotates by adding a key and making it current; plugins notice
    the new current key on their next ``on_cron_tick`` and re-encrypt what they stored (in a job). The
    host removes the old key once its plugins report that nothing is sealed with it any more.
    """

    current: str
    keys: Mapping[str, bytes]


@dataclass(frozen=True)
class Job:
    """A queued unit of work: a ``name`` owned by one plugin and a payload of plain ids.

    ``attempt`` counts from 1. ``id`` is the host's identifier for logging.
    """

    id: str
    name: str
    payload: Mapping[str, str]
    attempt: int = 1


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request under the plugin's URL prefix.

    ``path`` is relative to the prefix and starts with ``/`` (``/google/push``). ``query`` maps each
    parameter to its values in order; ``headers`` keys are lower-case.
    """

    method: str
    path: str
    query: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    remote_addr: str = ""

    def header(self, name: str, default: str = "") -> str:
        """Return one header by case-insensitive name."""
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str = "") -> str:
        """Return the first value of one query parameter."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass(frozen=True)
class ResultPage:
    """A short page a plugin asks the host to show in the host's own admin style, for example the result
    of an OAuth sign-in: a ``title``, a ``message`` of one or two sentences, whether it went well
    (``ok``), and the ``integration_id`` it is about ("" when unknown), which the host links back to.
    All of it is plain text; a host escapes it."""

    title: str
    message: str
    ok: bool = True
    integration_id: str = ""


@dataclass(frozen=True)
class HttpResponse:
    """What a plugin answers. ``headers`` must include a ``Content-Type`` when ``body`` is not empty.

    With ``page`` set, a host that knows it shows that :class:`ResultPage` in its own style (with a link
    back to the integration's settings) and the ``status``, instead of ``body``; a host that does not
    sends ``body``, which must therefore stand on its own.
    """

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    page: ResultPage | None = None


# --------------------------------------------------------------------------- host services


@runtime_checkable
class BookingApi(Protocol):
    """Read and write bookings. Every write takes the ``origin`` the host reports back in hooks.

    Writes that change status, times or object fire ``on_booking_status_changed`` with that origin;
    a write that changes nothing fires nothing. Bookings occupy the half-open interval
    ``[start, end)``. Invalid arguments (naive datetimes, ``end <= start``, unknown object) raise
    ``ValueError``; :class:`BookingConflictError` is only for the host's validation rules.
    """

    def get(self, booking_id: int) -> Booking:
        """Return the booking or raise :class:`BookingNotFoundError`."""
        ...

    def find_by_field(self, field_name: str, value: str) -> list[Booking]:
        """Return bookings whose free field ``field_name`` equals ``value`` (may be several)."""
        ...

    def create(
        self,
        *,
        object_id: int,
        start: datetime,
        end: datetime,
        status: str,
        title: str,
        channel: str,
        origin: str,
        customer_id: int | None = None,
        all_day: bool = False,
        fields: Mapping[str, str] | None = None,
        ignore_validation: bool = False,
        remark: str = "",
    ) -> Booking:
        """Create a booking, with its free ``fields`` and an optional first plain-text ``remark``, in one
        transaction (all of it or nothing). Raises :class:`BookingConflictError` unless ``ignore_validation``."""
        ...

    def update_times(
        self,
        booking_id: int,
        *,
        start: datetime,
        end: datetime,
        origin: str,
        all_day: bool = False,
        ignore_validation: bool = False,
    ) -> Booking:
        """Move a booking. Raises :class:`BookingConflictError` (nothing written) on a validation error
        unless ``ignore_validation``."""
        ...

    def set_status(self, booking_id: int, status: str, *, origin: str) -> Booking:
        """Change the status of a booking."""
        ...

    def set_field(self, booking_id: int, field_name: str, value: str | None, *, origin: str) -> Booking:
        """Set (or with ``None`` clear) one free field. Does not fire ``on_booking_status_changed``."""
        ...

    def add_remark(self, booking_id: int, text: str, *, origin: str) -> Booking:
        """Append a plain-text remark. Hosts must render remarks as text, never as markup."""
        ...


class CustomerApi(Protocol):
    """Look up customers."""

    def get(self, customer_id: int) -> Customer | None:
        """Return the customer, or None."""
        ...

    def find_by_email(self, email: str) -> Customer | None:
        """Return the customer with this e-mail (case-insensitive), or None."""
        ...


class ObjectApi(Protocol):
    """Look up bookable objects."""

    def get(self, object_id: int) -> BookableObject | None:
        """Return the object, or None."""
        ...

    def all(self) -> list[BookableObject]:
        """Return every object (for admin forms)."""
        ...


class IntegrationApi(Protocol):
    """The integrations an admin configured, and their admin-visible log."""

    def get(self, integration_id: str) -> Integration | None:
        """Return one integration, or None."""
        ...

    def all(self) -> list[Integration]:
        """Return every integration (enabled or not)."""
        ...

    def log(self, integration_id: str, level: str, message: str) -> None:
        """Append a line to the integration's admin-visible log. ``level`` is info, warning or error.

        Never pass secrets: the host shows this log to admins as is.
        """
        ...


class ConfigApi(Protocol):
    """A per-integration store of raw strings with compare-and-set.

    The host stores values as given; a plugin that needs secrecy encrypts before writing.
    """

    def get(self, integration_id: str, key: str) -> ConfigEntry:
        """Return the value and its version (``ConfigEntry(None, 0)`` when absent)."""
        ...

    def put(self, integration_id: str, key: str, value: str | None, *, expected_version: int | None) -> bool:
        """Write ``value`` (``None`` deletes). With ``expected_version`` write only if the stored
        version still equals it (0 = must be absent) and return whether it was written; with
        ``None`` write unconditionally and return True."""
        ...

    def keys(self, integration_id: str, prefix: str = "") -> list[str]:
        """Return the keys of an integration that start with ``prefix``, sorted."""
        ...


class JobQueue(Protocol):
    """A durable queue the host runs jobs from, delivering each job at least once.

    The host hands a job back to plugins through ``on_job``. A job that raises is retried with backoff.
    """

    def enqueue(
        self,
        name: str,
        payload: Mapping[str, str],
        *,
        dedupe_key: str | None = None,
        run_at: datetime | None = None,
    ) -> bool:
        """Queue a job. Dedupe keys are global across job names (plugins prefix their own).

        With a ``dedupe_key``, a job with the same key that is queued and not yet
        started absorbs this one (its ``run_at`` moves to the earlier of the two) and False is
        returned; a job with that key that is already running does not absorb it, so a change that
        arrives during a run always causes one more run. Returns True when a new job was queued."""
        ...


class HostApi(Protocol):
    """Everything a host hands to a plugin, passed as ``host`` to every hook."""

    bookings: BookingApi
    customers: CustomerApi
    objects: ObjectApi
    integrations: IntegrationApi
    config: ConfigApi
    jobs: JobQueue
    keyring: KeyRing

    def url_for(self, path: str) -> str:
        """Return the public absolute URL of a plugin route (``path`` relative to the plugin prefix)."""
        ...

    def now(self) -> datetime:
        """Return the host's current time, timezone-aware (tests freeze or inject it)."""
        ...


@runtime_checkable
class SleepingHost(Protocol):
    """An optional capability: a host MAY offer ``sleep`` beside :meth:`HostApi.now`.

    A plugin that has to wait (retry backoff, request pacing, a token lease) waits with the host's
    ``sleep`` when the host offers one, else with ``time.sleep``. A host whose clock is not the wall
    clock (a simulation, a test world) offers one that moves its clock instead of waiting, so the waits
    pass on the same clock as ``now``. Check with ``isinstance(host, SleepingHost)``.
    """

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the host's clock."""
        ...


@runtime_checkable
class BatchBookingReads(Protocol):
    """An optional capability of ``host.bookings``: many bookings in one read instead of one read each.

    A plugin that matches a page of calendar events to bookings asks once per page. Each method returns
    exactly what the per-call read would, for every argument at once. Check with
    ``isinstance(host.bookings, BatchBookingReads)``; without it a plugin calls :meth:`BookingApi.get` and
    :meth:`BookingApi.find_by_field` once per value.
    """

    def get_many(self, booking_ids: Collection[int]) -> dict[int, Booking]:
        """Return the existing bookings among ``booking_ids`` by id; ids that do not exist are absent."""
        ...

    def find_by_field_values(self, field_name: str, values: Collection[str]) -> dict[str, list[Booking]]:
        """Return, for each of ``values`` that some booking's free field ``field_name`` equals, those bookings
        (as :meth:`BookingApi.find_by_field` orders them); values no booking has are absent."""
        ...


class UnitOfWork(Protocol):
    """One open host transaction, handed out by :meth:`UnitOfWorkHost.unit_of_work`.

    ``bookings`` and ``config`` are the usual :class:`BookingApi` and :class:`ConfigApi`, bound to this
    transaction: their reads see the unit's own writes, and compare-and-set compares with what the unit
    sees. Every rule of the per-call API still holds for each write, one booking at a time (the host's
    overlap validation, ``ValueError`` for bad arguments), and each write is atomic on its own: a write
    that raises wrote nothing and the unit stays usable. Nothing is visible to others before the commit.
    """

    bookings: BookingApi
    config: ConfigApi

    def savepoint(self) -> AbstractContextManager[None]:
        """Group writes (typically the writes for one booking). When the block raises, every write made in
        it is undone and its hook notifications dropped, the exception propagates, and the unit goes on
        with the writes made before the block; when the block ends normally its writes stay in the unit."""
        ...


@runtime_checkable
class UnitOfWorkHost(Protocol):
    """An optional capability: a host MAY apply many writes in one transaction (a plugin's page of changes).

    ``with host.unit_of_work() as unit:`` opens one transaction; the plugin writes through ``unit.bookings``
    and ``unit.config`` (see :class:`UnitOfWork`). The contract:

    - when the block ends normally, all of the unit's writes commit together; when it raises, all of them
      roll back and the exception propagates;
    - ``on_booking_status_changed`` fires for the unit's writes only **after** the commit, once per
      notifying write (as the per-call API would notify), in write order, each with its write's
      ``origin``; a write undone by a :meth:`UnitOfWork.savepoint` or by the rollback fires nothing;
    - units do not nest, and while one is open its thread uses only the unit's objects (the host's
      per-call API may refuse or wait: the reference host raises ``RuntimeError``); the unit's objects are
      unusable after the block;
    - a unit may hold the host's write lock until it ends: a plugin keeps it to one page and makes no
      network call inside it.

    Check with ``isinstance(host, UnitOfWorkHost)``; a host without it is used through the per-call API,
    one transaction per write, with the same outcome. ``docs/host-integration.md`` shows how the reference
    host implements it (one SQLite transaction, a SAVEPOINT per write and per group, hooks queued).
    """

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """Open a unit of work (see the class docstring)."""
        ...
