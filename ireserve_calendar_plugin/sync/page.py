"""How one page of inbound changes reaches the host: matched in batch reads, written in one unit of work.

Public API: :class:`PageIndex`, :class:`Writes`, :func:`page_writes`.

:class:`PageIndex` answers the two reads matching needs (bookings by the event-id field; bookings by id for
the ``[id]`` fallbacks) for a whole page with one query each when the host offers
:class:`hookspecs.types.BatchBookingReads`, and keeps those answers current with the round's own writes
(:meth:`PageIndex.wrote`); what it was not asked in advance, or after a refused event undid its writes,
it reads through the page's own reader (per call, as a host without batch reads is always read).

:func:`page_writes` opens the page's :class:`Writes`: a unit of work when the host offers one
(:class:`hookspecs.types.UnitOfWorkHost`: one transaction, a savepoint per event, hooks after the commit),
else the host's per-call API (each write its own transaction, ``savepoint`` a no-op), with the same
outcome for every event the host accepts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from hookspecs.types import BatchBookingReads
from hookspecs.types import Booking
from hookspecs.types import BookingApi
from hookspecs.types import BookingNotFoundError
from hookspecs.types import HostApi
from hookspecs.types import UnitOfWorkHost
from ireserve_calendar_plugin.sync.links import LinkStore

__all__ = ["PageIndex", "Writes", "page_writes"]


@dataclass(frozen=True)
class Writes:
    """Where one page's writes go: ``bookings`` and ``links``; ``savepoint()`` wraps one event's writes
    (undone together when the event is refused, where the host can)."""

    bookings: BookingApi
    links: LinkStore
    savepoint: Callable[[], AbstractContextManager[None]]
    #: True inside a host's unit of work
    in_unit: bool = False


@contextlib.contextmanager
def page_writes(host: HostApi, links: LinkStore) -> Iterator[Writes]:
    """One page's :class:`Writes`: a unit of work committed at the block's end when the host offers it."""
    if isinstance(host, UnitOfWorkHost):
        with host.unit_of_work() as unit:
            yield Writes(unit.bookings, links.within(unit.config), unit.savepoint, in_unit=True)
        return
    yield Writes(host.bookings, links, contextlib.nullcontext)


class PageIndex:
    """The bookings one page's events may match (see the module docstring)."""

    def __init__(self, reader: BookingApi, field_name: str) -> None:
        self._reader = reader
        self._field = field_name
        #: the host answers many values in one read (checked once: a Protocol isinstance is not cheap)
        self.batched = isinstance(reader, BatchBookingReads)
        #: event-id field value -> ids of the bookings carrying it, for the values read in advance
        self._by_value: dict[str, list[int]] = {}
        #: booking id -> booking (None: known not to exist)
        self._by_id: dict[int, Booking | None] = {}
        #: booking id -> the field value it is listed under in ``_by_value``
        self._value_of: dict[int, str] = {}

    def load_values(self, values: Iterable[str]) -> None:
        """Read the bookings of every event id in ``values`` at once (when the host can)."""
        if not self.batched:
            return
        assert isinstance(self._reader, BatchBookingReads)
        wanted = [v for v in set(values) if v not in self._by_value]
        found = self._reader.find_by_field_values(self._field, wanted) if wanted else {}
        for value in wanted:
            self._by_value[value] = []
            for booking in found.get(value, ()):
                self._keep(booking)

    def load_ids(self, booking_ids: Iterable[int]) -> None:
        """Read the bookings of every id in ``booking_ids`` at once (when the host can)."""
        if not self.batched:
            return
        assert isinstance(self._reader, BatchBookingReads)
        wanted = [i for i in set(booking_ids) if i not in self._by_id]
        found = self._reader.get_many(wanted) if wanted else {}
        for booking_id in wanted:
            booking = found.get(booking_id)
            if booking is None:
                self._by_id[booking_id] = None
            else:
                self._keep(booking)

    def read_through(self, reader: BookingApi) -> None:
        """Read what the index does not know through ``reader`` from now on (a unit of work's bookings)."""
        self._reader = reader

    def by_field(self, value: str) -> list[Booking]:
        """The bookings whose event-id field is ``value``."""
        ids = self._by_value.get(value)
        if ids is None:
            return self._reader.find_by_field(self._field, value)
        return [b for b in (self._by_id[i] for i in ids) if b is not None]

    def get(self, booking_id: int | None) -> Booking | None:
        """The booking with this id, or None."""
        if booking_id is None:
            return None
        if booking_id in self._by_id:
            return self._by_id[booking_id]
        try:
            return self._reader.get(booking_id)
        except BookingNotFoundError:
            return None

    def wrote(self, booking: Booking) -> None:
        """The round wrote ``booking`` (the snapshot its write returned): answer with it from now on."""
        self._keep(booking)

    def forget(self) -> None:
        """Drop everything: an event's writes were undone, so what they taught the index is wrong."""
        self._by_value.clear()
        self._by_id.clear()
        self._value_of.clear()

    def _keep(self, booking: Booking) -> None:
        self._by_id[booking.id] = booking
        old = self._value_of.pop(booking.id, None)
        if old is not None:
            self._by_value[old].remove(booking.id)
        new = booking.fields.get(self._field)
        if new is not None and new in self._by_value:
            self._by_value[new].append(booking.id)
            self._value_of[booking.id] = new
