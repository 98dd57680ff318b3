"""Pure decisions: the seeds' inbound rules 1-4 and the outbound rules by status.

Public API: :func:`match_booking`, :func:`plan_inbound`, :func:`plan_outbound`, :func:`title_suffix_id`,
and the action classes :class:`Skip`, :class:`CreateBooking`, :class:`MoveBooking`, :class:`CancelBooking`,
:class:`UnlinkBooking`, :class:`NoChange`, :class:`CreateEvent`, :class:`UpdateEvent`, :class:`DeleteEvent`.

Nothing here does I/O: callers look up bookings, links and customers, and execute the returned
actions (:mod:`.inbound`, :mod:`.outbound`). Every rule is therefore a unit test.

Inbound (calendar -> booking), per changed event:

1. Match: the booking whose ``ires_field`` holds the event id; else the booking id the event carries
   in its own metadata; else a ``[booking_id]`` suffix of the title. The fallbacks only match a
   booking that is not linked to another event and whose object this calendar serves (the seed
   admits that a reused title could hit the wrong booking; these checks close that hole). A deleted
   event is matched only through the field: the fallbacks adopt live events whose link was lost, but
   a deleted event still carrying a booking id may be our own deletion of a booking's old event.
2. Deleted or cancelled event: the booking gets the cancel status and is unlinked, unless it is
   in a lock status, or the event is one we were deleting ourselves (then it is only unlinked).
3. Existing booking: only its times follow the event, its status stays; allowed when the booking
   was created through this integration or "allow booking update" is on. A change that is only the
   echo of our own last write (same etag) is skipped.
4. New event: a booking on the calendar's inbound object, channel ``external/<provider>``, title
   and description as a plain-text remark, in the inbound status (or the "status with customer"
   when the organiser is a known customer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hookspecs.types import Booking
from hookspecs.types import Customer
from ireserve_calendar_plugin.sync.conflicts import ConflictKind
from ireserve_calendar_plugin.sync.links import Link
from ireserve_calendar_plugin.sync.links import LinkState
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import RemoteEvent
from ireserve_calendar_plugin.sync.model import SyncOptions
from ireserve_calendar_plugin.sync.model import Window

__all__ = [
    "CancelBooking",
    "CreateBooking",
    "CreateEvent",
    "DeleteEvent",
    "InboundAction",
    "MoveBooking",
    "NoChange",
    "OutboundAction",
    "Skip",
    "UnlinkBooking",
    "UpdateEvent",
    "match_booking",
    "plan_inbound",
    "plan_outbound",
    "title_suffix_id",
]

_SUFFIX = re.compile(r"\[(\d{1,18})\]\s*$")


# --------------------------------------------------------------------------- inbound actions


@dataclass(frozen=True)
class Skip:
    """Do nothing; ``reason`` is logged and counted. ``conflict`` is set when the calendar wants a change the
    host's state refuses (the change goes to the review queue, :mod:`.conflicts`)."""

    reason: str
    conflict: ConflictKind | None = None


@dataclass(frozen=True)
class NoChange:
    """The booking already matches the event; only remember the event's etag."""

    booking_id: int


@dataclass(frozen=True)
class CreateBooking:
    """Rule 4: a new booking for a new event."""

    object_id: int
    start: datetime
    end: datetime
    all_day: bool
    title: str
    remark: str
    status: str
    customer_id: int | None
    ignore_validation: bool


@dataclass(frozen=True)
class MoveBooking:
    """Rule 3: the booking's times follow the event (status unchanged)."""

    booking_id: int
    start: datetime
    end: datetime
    all_day: bool
    ignore_validation: bool


@dataclass(frozen=True)
class CancelBooking:
    """Rule 2: the booking gets the cancel status and is unlinked."""

    booking_id: int
    status: str


@dataclass(frozen=True)
class UnlinkBooking:
    """Rule 2 for a booking that is cancelled already: only forget the event."""

    booking_id: int


InboundAction = Skip | NoChange | CreateBooking | MoveBooking | CancelBooking | UnlinkBooking


# --------------------------------------------------------------------------- matching


def title_suffix_id(title: str) -> int | None:
    """The booking id of a ``... [123]`` title suffix, or None."""
    found = _SUFFIX.search(title or "")
    return int(found.group(1)) if found else None


def _linkable(booking: Booking | None, event_id: str, options: SyncOptions, objects: frozenset[int]) -> bool:
    if booking is None:
        return False
    linked_to = booking.fields.get(options.ires_field, "")
    return linked_to in ("", event_id) and booking.object_id in objects


def match_booking(
    event: RemoteEvent,
    *,
    by_field: Sequence[Booking],
    by_embedded_id: Booking | None,
    by_title_suffix: Booking | None,
    options: SyncOptions,
    calendar_objects: frozenset[int],
) -> Booking | None:
    """Rule 1. ``by_field`` are the bookings whose ``ires_field`` equals the event id; the other two are
    the bookings named by the event's embedded booking id and by its title suffix (None when absent)."""
    if by_field:
        live = [b for b in by_field if b.status != options.cancel_status]
        return min(live or by_field, key=lambda b: b.id)
    if event.deleted:
        return None  # the fallbacks never cancel: the booking may have moved on to a new event
    for candidate in (by_embedded_id, by_title_suffix):
        if _linkable(candidate, event.id, options, calendar_objects):
            return candidate
    return None


# --------------------------------------------------------------------------- inbound rules


def plan_inbound(
    event: RemoteEvent,
    booking: Booking | None,
    link: Link | None,
    *,
    calendar: CalendarRef,
    options: SyncOptions,
    window: Window,
    customer: Customer | None = None,
) -> InboundAction:
    """Decide what one changed event means for the host (rules 2-4; rule 1 is :func:`match_booking`)."""
    if event.deleted:
        if booking is None:
            return Skip("deleted event was never linked")
        if booking.status in options.lock_statuses:
            return Skip(f"booking {booking.id} is in lock status {booking.status!r}", ConflictKind.LOCKED)
        if booking.status == options.cancel_status or (
            link is not None and link.state == LinkState.DELETING and link.event_id == event.id
        ):
            return UnlinkBooking(booking.id)  # cancelled already, or the deletion was our own
        return CancelBooking(booking.id, options.cancel_status)

    if event.start is None or event.end is None or event.end <= event.start:
        return Skip("event has no usable start and end")

    if booking is None:
        if calendar.inbound_object_id is None:
            return Skip("calendar has no object for new bookings")
        if not window.overlaps(event.start, event.end):
            return Skip("new event outside the sync window")
        status = options.inbound_status
        if customer is not None and options.status_with_customer:
            status = options.status_with_customer
        return CreateBooking(
            object_id=calendar.inbound_object_id,
            start=event.start,
            end=event.end,
            all_day=event.all_day,
            title=event.title,
            remark=inbound_remark(event),
            status=status,
            customer_id=customer.id if customer else None,
            ignore_validation=options.ignore_validation_errors,
        )

    if link is not None and link.etag and link.etag == event.etag:
        return Skip("echo of our own last write")
    if booking.status == options.cancel_status:
        return Skip(f"booking {booking.id} is cancelled")
    if booking.start == event.start and booking.end == event.end and booking.all_day == event.all_day:
        return NoChange(booking.id)
    if booking.channel != options.channel and not options.allow_booking_update:
        return Skip(
            f"booking {booking.id} was not created through this integration and updates are off",
            ConflictKind.UPDATES_OFF,
        )
    return MoveBooking(booking.id, event.start, event.end, event.all_day, options.ignore_validation_errors)


def inbound_remark(event: RemoteEvent) -> str:
    """The plain-text remark of an inbound booking: title, then description (markup stays text)."""
    parts = [p.strip() for p in (event.title, event.description) if p and p.strip()]
    return "\n\n".join(parts)[:4000]


# --------------------------------------------------------------------------- outbound


@dataclass(frozen=True)
class CreateEvent:
    """Create the booking's event on ``calendar_key``."""

    calendar_key: str


@dataclass(frozen=True)
class UpdateEvent:
    """Patch the linked event (times, title, attendees); meeting links are preserved."""

    calendar_key: str
    event_id: str


@dataclass(frozen=True)
class DeleteEvent:
    """Delete the linked event (404/410 count as done) and forget the link."""

    calendar_key: str
    event_id: str


OutboundAction = CreateEvent | UpdateEvent | DeleteEvent


def plan_outbound(
    booking: Booking,
    link: Link | None,
    calendar: CalendarRef | None,
    *,
    options: SyncOptions,
    draft_fingerprint: str,
) -> list[OutboundAction]:
    """Decide the calendar writes for a booking as it is now.

    ``link`` is what we know of its event (None: no event); ``calendar`` is where its object's
    events go (None: the object is not mapped). Returns the writes in order (a booking moved to an
    object of another calendar gets a delete there and a create here).
    """
    delete_status = booking.status == options.cancel_status or booking.status in options.delete_on_statuses
    actions: list[OutboundAction] = []
    state = link.state if link is not None else None
    if link is not None:
        moved_away = calendar is None or link.calendar_key != calendar.key
        if moved_away or delete_status or calendar is None or not calendar.outbound or state == LinkState.DELETING:
            # an unresolved create (CREATING) is undone too: the executor first resolves its event id;
            # an unfinished delete (DELETING) is finished first, even when the booking came back
            actions.append(DeleteEvent(link.calendar_key, link.event_id))
            state = None
    if calendar is None or not calendar.outbound or delete_status:
        return actions
    if link is not None and state == LinkState.LINKED:
        if link.content_hash != draft_fingerprint:
            actions.append(UpdateEvent(calendar.key, link.event_id))
    elif state == LinkState.CREATING or booking.status in options.create_on_statuses:
        actions.append(CreateEvent(calendar.key))
    return actions
