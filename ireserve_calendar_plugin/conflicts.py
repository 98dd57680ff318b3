"""The conflicts review queue on the admin form: entries in words, and the admin's decisions carried out.

Public API: :func:`open_conflicts`, :func:`counts_by_calendar`, :func:`form_conflicts`, :func:`decide`,
:data:`MAX_SHOWN`.

Entries come from inbound rounds (:mod:`.sync.conflicts`). The decisions only touch host storage and the
job queue (never the provider): "apply anyway" writes the booking with the host's validation overridden
for this one change; "keep the booking" puts an event this integration wrote back (by queueing its
outbound write), or leaves a foreign event alone and stops asking; "dismiss" hides the entry until the
event changes again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from hookspecs.forms import Conflict
from hookspecs.forms import FormAction
from hookspecs.types import HostError
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.runtime import engine_for
from ireserve_calendar_plugin.services import enqueue
from ireserve_calendar_plugin.sync.conflicts import Choice
from ireserve_calendar_plugin.sync.conflicts import ConflictBook
from ireserve_calendar_plugin.sync.conflicts import ConflictEntry
from ireserve_calendar_plugin.sync.conflicts import ConflictKind
from ireserve_calendar_plugin.sync.conflicts import ConflictStatus
from ireserve_calendar_plugin.sync.conflicts import Resolution
from ireserve_calendar_plugin.sync.conflicts import resolve
from ireserve_calendar_plugin.sync.engine import outbound_job
from ireserve_calendar_plugin.sync.links import Link
from ireserve_calendar_plugin.sync.links import LinkStore

__all__ = ["MAX_SHOWN", "Outcome", "counts_by_calendar", "decide", "form_conflicts", "open_conflicts"]

#: The form lists at most this many entries (the newest); health rows count them all.
MAX_SHOWN = 100


@dataclass(frozen=True)
class Outcome:
    """What a decision did (``notice``) or why it did nothing (``error``)."""

    notice: str = ""
    error: str = ""


def open_conflicts(ctx: IntegrationContext) -> list[ConflictEntry]:
    """Every open entry of the integration, newest first."""
    book = ConflictBook(ctx.store)
    entries = [e for key in book.calendar_keys() for e in book.entries(key).values() if e.is_open]
    return sorted(entries, key=lambda e: e.detected, reverse=True)


def counts_by_calendar(entries: list[ConflictEntry]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.calendar_key] = counts.get(entry.calendar_key, 0) + 1
    return counts


def _span(start: datetime | None, end: datetime | None, zone: str, all_day: bool = False) -> str:
    if start is None or end is None:
        return "no usable time"
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    a, b = start.astimezone(tz), end.astimezone(tz)
    if all_day:
        return f"{a:%a %b %d} (all day)"
    until = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%a %b %d %H:%M}"
    return f"{a:%a %b %d %H:%M}-{until} {a.tzname() or ''}".strip()


def _words(entry: ConflictEntry, zone: str) -> tuple[str, str, str]:
    """(summary, what the calendar wants, what the host has)."""
    w = entry.wanted
    title = w.title or "(no title)"
    wants = "Delete the event" if w.deleted else f"\u201c{title}\u201d {_span(w.start, w.end, zone, w.all_day)}"
    if entry.booking_id is None:
        has = f"No booking: the host refused one ({entry.reason})" if entry.reason else "No booking"
    else:
        has = f"Booking {entry.booking_id}: {_span(entry.has_start, entry.has_end, zone)}, {entry.has_status}"
    summary = {
        ConflictKind.OVERLAP: (
            f"A new event could not be booked: {entry.reason}"
            if entry.booking_id is None
            else f"Booking {entry.booking_id} could not follow its event: {entry.reason}"
        ),
        ConflictKind.LOCKED: (
            f"The event was deleted, but booking {entry.booking_id} is {entry.has_status!r} "
            "(a lock status), so it was not cancelled"
        ),
        ConflictKind.UPDATES_OFF: (
            f"The event of booking {entry.booking_id} changed, but this integration may not "
            "change bookings made elsewhere (allow booking update is off)"
        ),
        ConflictKind.REJECTED: f"The host refused the event: {entry.reason}",
    }[entry.kind]
    return summary.rstrip(".") + ".", wants, has


def _actions(entry: ConflictEntry, ours: bool) -> tuple[FormAction, ...]:
    out = []
    if entry.kind is not ConflictKind.REJECTED:
        out.append(
            FormAction(
                "conflict.apply",
                "Apply anyway",
                entry.id,
                kind="primary",
                confirm="Apply the calendar's change even though the host refused it?",
            )
        )
    keep = (
        "Keep the booking (put the event back)"
        if ours and entry.booking_id is not None
        else "Leave it (stop asking about this event)"
    )
    out.append(FormAction("conflict.keep", keep, entry.id))
    out.append(FormAction("conflict.dismiss", "Dismiss", entry.id))
    return tuple(out)


def form_conflicts(
    ctx: IntegrationContext, entries: list[ConflictEntry], calendars: Mapping[str, tuple[str, str]]
) -> tuple[Conflict, ...]:
    """The newest :data:`MAX_SHOWN` open entries for the form. ``calendars`` maps a calendar key to its
    (display name, time zone)."""
    links = LinkStore(ctx.store)
    out = []
    for entry in entries[:MAX_SHOWN]:
        name, zone = calendars.get(entry.calendar_key, ("a calendar no longer mapped", "UTC"))
        ours = entry.booking_id is not None and links.get(entry.calendar_key, entry.booking_id) is not None
        summary, wants, has = _words(entry, zone)
        out.append(
            Conflict(
                id=entry.id,
                calendar=name,
                summary=summary,
                calendar_wants=wants,
                host_has=has,
                booking_id=entry.booking_id,
                detected=entry.detected,
                actions=_actions(entry, ours),
            )
        )
    return tuple(out)


def decide(ctx: IntegrationContext, choice: Choice, entry_id: str) -> Outcome:
    """Carry out an admin's decision on one entry (host storage and the job queue only)."""
    book = ConflictBook(ctx.store)
    entry = book.get(entry_id)
    if entry is None or not entry.is_open:
        return Outcome(error="This conflict was resolved meanwhile; nothing was done.")
    try:
        with engine_for(ctx) as engine:
            options = engine.options
    except CalendarPluginError:
        return Outcome(error="The integration is not set up; nothing was done.")
    links = LinkStore(ctx.store)
    link = links.get(entry.calendar_key, entry.booking_id) if entry.booking_id is not None else None
    resolution = resolve(entry, choice, ours=link is not None)
    bookings, origin, w = ctx.host.bookings, ctx.origin, entry.wanted
    try:
        if resolution is Resolution.CREATE_BOOKING:
            if w.object_id is None or w.start is None or w.end is None:
                return Outcome(error="This event carries no booking to make; dismiss it instead.")
            created = bookings.create(
                object_id=w.object_id,
                start=w.start,
                end=w.end,
                status=w.status,
                title=w.title,
                channel=options.channel,
                origin=origin,
                customer_id=w.customer_id,
                all_day=w.all_day,
                fields={options.ires_field: entry.event_id},
                ignore_validation=True,
                remark=w.remark,
            )
            links.save(Link(created.id, entry.calendar_key, event_id=entry.event_id, etag=entry.etag))
            notice = f"Booking {created.id} was made from the event, overriding the host's check this once."
        elif resolution is Resolution.MOVE_BOOKING:
            assert entry.booking_id is not None and w.start is not None and w.end is not None
            bookings.update_times(
                entry.booking_id, start=w.start, end=w.end, all_day=w.all_day, origin=origin, ignore_validation=True
            )
            if link is not None:
                links.save(link.but(etag=entry.etag, event_id=entry.event_id))
            notice = f"Booking {entry.booking_id} now follows its event, overriding the host's check this once."
        elif resolution is Resolution.CANCEL_BOOKING:
            assert entry.booking_id is not None
            bookings.set_status(entry.booking_id, options.cancel_status, origin=origin)
            bookings.set_field(entry.booking_id, options.ires_field, None, origin=origin)
            links.delete(entry.calendar_key, entry.booking_id)
            notice = f"Booking {entry.booking_id} was cancelled, as its event was deleted."
        elif resolution is Resolution.PUT_EVENT_BACK:
            assert entry.booking_id is not None and link is not None
            links.save(link.but(content_hash=""))  # makes the next outbound write rewrite the event
            enqueue(ctx.host, outbound_job(ctx.integration.id, entry.booking_id))
            notice = f"Booking {entry.booking_id} stays; its event is being put back in the calendar."
        elif resolution is Resolution.RECREATE_EVENT:
            assert entry.booking_id is not None
            links.delete(entry.calendar_key, entry.booking_id)
            bookings.set_field(entry.booking_id, options.ires_field, None, origin=origin)
            enqueue(ctx.host, outbound_job(ctx.integration.id, entry.booking_id))
            notice = f"Booking {entry.booking_id} stays; its event is being written to the calendar again."
        elif resolution is Resolution.IGNORE:
            book.set_status(entry.id, ConflictStatus.IGNORED)
            return Outcome(notice="The event is left as it is; this integration will not ask about it again.")
        else:
            book.set_status(entry.id, ConflictStatus.DISMISSED)
            return Outcome(notice="Dismissed; it comes back only if the event changes and still conflicts.")
    except (ValueError, HostError) as exc:
        return Outcome(error=f"The host refused it: {str(exc)[:200]}. Nothing was changed.")
    book.remove(entry.id)
    return Outcome(notice=notice)
