"""One inbound round for one calendar: page through changes, apply them, then move the cursor.

Public API: :class:`InboundRound`, :class:`RoundResult`, :class:`Applied`, :data:`BOOKING_CHANGES`,
:data:`UNIT_EVENTS`, :class:`CalendarBusyError`, :class:`LeaseLostError`.

A round (see the Google and Graph sync guides: developers.google.com/workspace/calendar/api/guides/sync,
learn.microsoft.com/graph/delta-query-events):

1. takes the calendar's lease (one round per calendar at a time, across workers);
2. lists changes since the stored cursor, or the whole window when there is none (first run,
   a cursor the provider declared invalid, or a window that must be re-baselined);
3. applies each change as soon as its page arrives (pages are streamed, never all held) through the
   pure rules of :mod:`.plan`, writing with this integration's origin and with outbound suppressed: the
   page is matched with batch reads, then written in units of work of up to :data:`UNIT_EVENTS` events
   with a savepoint per event when the host offers them (:mod:`.page`), else through the per-call API;
4. after a full listing, treats every linked booking of the window whose event did not appear as
   deleted (so deletions made while the cursor was stale are not lost), unless that would cancel
   everything linked at once (mass-deletion guard);
5. only then commits the new cursor, by compare-and-set and after checking it still holds the lease.

A crash anywhere before 5 leaves the old cursor, and the repeated round is harmless: every change is
applied idempotently (bookings are matched by the event id stored in them).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from hookspecs.types import Booking
from hookspecs.types import BookingConflictError
from hookspecs.types import BookingNotFoundError
from hookspecs.types import Customer
from hookspecs.types import HostError
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import StaleStateError
from ireserve_calendar_plugin.errors import SyncTokenInvalidError
from ireserve_calendar_plugin.sync import plan
from ireserve_calendar_plugin.sync.conflicts import ConflictBook
from ireserve_calendar_plugin.sync.conflicts import ConflictEntry
from ireserve_calendar_plugin.sync.conflicts import ConflictKind
from ireserve_calendar_plugin.sync.conflicts import Wanted
from ireserve_calendar_plugin.sync.conflicts import conflict_id
from ireserve_calendar_plugin.sync.conflicts import merge
from ireserve_calendar_plugin.sync.echo import applying_inbound
from ireserve_calendar_plugin.sync.links import Link
from ireserve_calendar_plugin.sync.links import LinkState
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import RemoteEvent
from ireserve_calendar_plugin.sync.model import Window
from ireserve_calendar_plugin.sync.page import PageIndex
from ireserve_calendar_plugin.sync.page import Writes
from ireserve_calendar_plugin.sync.page import page_writes
from ireserve_calendar_plugin.sync.scope import IntegrationScoped
from ireserve_calendar_plugin.sync.state import CalendarState
from ireserve_calendar_plugin.sync.state import Lease
from ireserve_calendar_plugin.sync.state import Schedule
from ireserve_calendar_plugin.sync.state import StateStore

__all__ = [
    "BOOKING_CHANGES",
    "UNIT_EVENTS",
    "Applied",
    "CalendarBusyError",
    "InboundRound",
    "LeaseLostError",
    "RoundResult",
]

log = logging.getLogger("ireserve_calendar_plugin.sync")

#: A full listing is repeated when the window it was taken with has slid this far, so the -90/+365
#: window stays around today (Graph fixes the window inside the delta token).
REBASELINE_AFTER = timedelta(days=1)
#: A full listing that would cancel more than this many linked bookings, while listing no event at
#: all, is held back and reported instead (vdirsyncer's "storage empty" guard).
MASS_DELETE_GUARD = 10
#: A page's events are applied in units of work of at most this many events: the per-transaction cost is
#: spread over hundreds of events, and a unit holds the host's write lock (SQLite) for a short while only.
UNIT_EVENTS = 500
#: Long rounds (an initial sync of thousands of events) log their progress every this many pages.
PROGRESS_EVERY = 5


def _ignore(booking: Booking) -> None:
    """What a write outside a page tells no index."""


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing applied yet"


class CalendarBusyError(CalendarPluginError):
    """Another worker runs a round of this calendar now; try again shortly."""


class LeaseLostError(CalendarPluginError):
    """The round ran past its lease and another worker may have taken over; nothing was committed."""


class Applied(StrEnum):
    """What applying one change did: the names a round counts (its value is the counter's name)."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CANCELLED = "cancelled"
    UNLINKED = "unlinked"
    SKIPPED = "skipped"
    CONFLICTS = "conflicts"
    #: the host refused the event's data
    REJECTED = "rejected"
    #: the mass-deletion guard held a listing's cancellations back
    HELD_BACK_DELETIONS = "held_back_deletions"


#: the counters that are changes to bookings
BOOKING_CHANGES = frozenset({Applied.CREATED, Applied.UPDATED, Applied.CANCELLED, Applied.UNLINKED})


@dataclass
class RoundResult:
    """What a round did, for logs, health and benchmarks."""

    calendar_key: str
    full: bool = False
    pages: int = 0
    events: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    resync_reason: str = ""

    def count(self, name: Applied) -> None:
        self.counts[name.value] = self.counts.get(name.value, 0) + 1

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items())) or "no changes"
        kind = f"full ({self.resync_reason})" if self.full else "incremental"
        return f"{kind} round: {self.pages} page(s), {self.events} event(s): {parts}"


def anchor_all_day(event: RemoteEvent, timezone: str) -> RemoteEvent:
    """Put an all-day event's dates at local midnight of the object's zone (dates keep their day).

    The instants are returned in UTC: a local midnight that a DST change skips or repeats is a
    datetime whose ``==`` with any other zone's datetime is always False (PEP 495), so the booking it
    already matches would look changed on every round."""
    if not event.all_day or event.start is None or event.end is None:
        return event
    zone = ZoneInfo(event.timezone or timezone)
    start = datetime.combine(event.start.date(), time(0), zone).astimezone(UTC)
    end = datetime.combine(event.end.date(), time(0), zone).astimezone(UTC)
    return RemoteEvent(**{**event.__dict__, "start": start, "end": end})


class InboundRound(IntegrationScoped):
    """Runs inbound rounds of one integration's calendars (see the module docstring)."""

    def __init__(self, **scope: Any) -> None:
        super().__init__(**scope)
        self.states = StateStore(self.store)
        self.schedule = Schedule(self.store)
        self._objects_of: dict[str, frozenset[int]] = {}
        # per round: organisers already looked up, and bookings whose link this round confirmed
        self._customers: dict[str, Customer | None] = {}
        self._confirmed: set[int] = set()
        # per round: the calendar's stored conflicts, and what this round found (None: resolved)
        self.conflicts = ConflictBook(self.store)
        self._stored_conflicts: dict[str, ConflictEntry] = {}
        self._found: dict[str, ConflictEntry | None] = {}
        # per page: the provider's answer for removals of matched events (event id -> event, None: gone)
        self._rechecked: dict[str, RemoteEvent | None] = {}

    # -- the round ------------------------------------------------------------------------------
    def run(self, calendar: CalendarRef) -> RoundResult:
        lease = self.leases.acquire(calendar.key, self.now(), self.lease_ttl)
        if lease is None:
            raise CalendarBusyError(f"calendar {calendar.key} is being synced by another worker")
        try:
            state = self.states.load(calendar.key)
            result = RoundResult(calendar.key)
            try:
                cursor, window = self._start(state, result)
                new_cursor = self._pages(calendar, cursor, window, result, lease)
            except SyncTokenInvalidError:
                log.info("integration %s calendar %s: cursor invalid, full resync", self.integration_id, calendar.key)
                result = RoundResult(calendar.key, full=True, resync_reason="sync token no longer valid")
                window = Window.around(self.now())
                new_cursor = self._pages(calendar, None, window, result, lease)
            # the review queue moves with the round, before the cursor that covers it
            self.conflicts.apply(calendar.key, self._found)
            if not self.leases.holds(lease, self.now()):
                raise LeaseLostError(f"lease on calendar {calendar.key} lost before commit")
            done = self.now()
            committed = state.but(
                cursor=new_cursor,
                window_start=window.start,
                window_end=window.end,
                resync_reason="",
                last_sync=done,
                last_attempt=done,
                last_error="",
                error_count=0,
                counts=dict(result.counts),
            )
            if not self.states.commit(calendar.key, committed):
                raise StaleStateError(f"state of calendar {calendar.key} changed during the round")
            self.schedule.next_sync(calendar.key, done + self.options.poll_interval)
            log.info("integration %s calendar %s: %s", self.integration_id, calendar.key, result.summary())
            self._admin_summary(calendar, result)
            return result
        finally:
            self.leases.release(lease)

    def _start(self, state: CalendarState, result: RoundResult) -> tuple[str | None, Window]:
        now = self.now()
        if (
            state.cursor
            and state.window_start
            and state.window_end
            and now - (state.window_start + timedelta(days=90)) < REBASELINE_AFTER
        ):
            return state.cursor, Window(state.window_start, state.window_end)
        result.full = True
        result.resync_reason = state.resync_reason or ("window re-baseline" if state.cursor else "initial")
        return None, Window.around(now)

    def _pages(
        self, calendar: CalendarRef, cursor: str | None, window: Window, result: RoundResult, lease: Lease
    ) -> str:
        seen: set[str] | None = set() if cursor is None else None
        new_cursor: str | None = None
        self._customers = {}
        self._confirmed = set()
        self._stored_conflicts = self.conflicts.entries(calendar.key)
        self._found = {}
        timezone = self._object_timezone(calendar)
        alone = not any(i.enabled and i.id != self.integration_id for i in self.host.integrations.all())
        with applying_inbound(self.integration_id, alone=alone):
            for page in self.backend.list_changes(calendar, cursor, window):
                result.pages += 1
                events = [anchor_all_day(event, timezone) for event in page.events]
                if seen is not None:
                    seen.update(event.id for event in events if not event.deleted)
                self._apply_page(calendar, events, window, result)
                if page.cursor is not None:
                    new_cursor = page.cursor
                if result.pages % PROGRESS_EVERY == 0:
                    log.info(
                        "integration %s calendar %s: page %d, %d events so far (%s)",
                        self.integration_id,
                        calendar.key,
                        result.pages,
                        result.events,
                        _counts(result.counts),
                    )
                if self.leases.extend(lease, self.now(), self.lease_ttl) is None:
                    raise LeaseLostError(f"lease on calendar {calendar.key} lost mid-round")
            if new_cursor is None:
                raise CalendarPluginError(f"calendar {calendar.key}: the last page carried no cursor")
            if seen is not None:
                self._deletions_since_stale_cursor(calendar, seen, window, result)
        return new_cursor

    def _apply_page(
        self, calendar: CalendarRef, events: list[RemoteEvent], window: Window, result: RoundResult
    ) -> None:
        """Read what the page's events need (batch matching, organisers, provider re-checks: no host write
        and no network call happens inside a unit), then apply its events in units of work of at most
        :data:`UNIT_EVENTS` events."""
        index = self._index(calendar, events)
        for at in range(0, len(events), UNIT_EVENTS):
            self._apply_unit(calendar, events[at : at + UNIT_EVENTS], window, result, index)

    def _apply_unit(
        self, calendar: CalendarRef, events: list[RemoteEvent], window: Window, result: RoundResult, index: PageIndex
    ) -> None:
        """Apply ``events`` in one unit of work (when the host offers one), each in its own savepoint: an
        event the host refuses is undone and queued for review, the others commit together."""
        with page_writes(self.host, self.links) as writes:
            index.read_through(writes.bookings)
            for event in events:
                result.events += 1
                try:
                    with writes.savepoint():
                        self.apply(calendar, event, window, result, index=index, writes=writes)
                except (ValueError, HostError) as exc:
                    index.forget()  # what the undone writes taught it is wrong now
                    self._refused(calendar, event, exc, result)

    def _refused(self, calendar: CalendarRef, event: RemoteEvent, exc: Exception, result: RoundResult) -> None:
        """The host refused this one event's data: queue it for review, do not block the calendar."""
        log.info(
            "integration %s calendar %s: event %s refused by the host: %s: %s",
            self.integration_id,
            calendar.key,
            event.id[:64],
            type(exc).__name__,
            str(exc)[:200],
        )
        result.count(Applied.REJECTED)
        self._conflict(
            calendar,
            event,
            ConflictKind.REJECTED,
            None,
            str(exc)[:200],
            self._wanted(event),
            result,
            counted=True,
        )

    def _index(self, calendar: CalendarRef, events: list[RemoteEvent]) -> PageIndex:
        """The page's matching reads, done before its unit of work: bookings by event id (one query), by the
        ``[id]`` fallbacks of events no booking carries (one query), organisers, and the provider's re-check
        of removals that may only mean "moved out of the window"."""
        index = PageIndex(self.host.bookings, self.options.ires_field)
        index.load_values(event.id for event in events)
        self._rechecked = {}
        fallback: set[int] = set()
        # Only an earlier event with the same id can undo a match within the page; then every event's
        # fallback and organiser are read now, as nothing but bookings and links can be read inside a unit.
        repeats = len({event.id for event in events}) != len(events)
        for event in events:
            matched = index.batched and bool(index.by_field(event.id))
            if event.deleted and self.backend.ambiguous_removals and (matched or index.by_field(event.id)):
                self._rechecked[event.id] = self.backend.recheck_removed(calendar, event.id)
            if matched and not repeats:
                continue
            fallback.update(i for i in (event.booking_id, plan.title_suffix_id(event.title)) if i is not None)
            if event.organizer_email and not event.deleted:
                self._customer(event.organizer_email)
        if fallback:
            index.load_ids(fallback)
            self._calendar_objects(calendar)
        return index

    # -- one change -----------------------------------------------------------------------------
    def apply(
        self,
        calendar: CalendarRef,
        event: RemoteEvent,
        window: Window,
        result: RoundResult,
        *,
        index: PageIndex | None = None,
        writes: Writes | None = None,
    ) -> str:
        """Match, plan and execute one changed event; returns the action's name. Without ``index`` and
        ``writes`` it reads and writes through the host's per-call API."""
        index = index or PageIndex(self.host.bookings, self.options.ires_field)
        writes = writes or self._per_call
        booking = self._match(calendar, event, index)
        link = writes.links.get(calendar.key, booking.id) if booking else None
        if event.deleted and booking is not None and self.backend.ambiguous_removals:
            # "removed" may only mean "moved out of the window": never cancel a booking for that
            if event.id in self._rechecked:
                event = self._rechecked[event.id] or event
            else:
                event = self.backend.recheck_removed(calendar, event.id) or event
        customer = None
        if booking is None and event.organizer_email and not event.deleted:
            customer = self._customer(event.organizer_email)
        action = plan.plan_inbound(
            event, booking, link, calendar=calendar, options=self.options, window=window, customer=customer
        )
        name = type(action).__name__
        if self._stored_conflicts:
            cid = conflict_id(calendar.key, event.id)
            if cid in self._stored_conflicts:
                self._found[cid] = None  # resolved, unless executing it meets the conflict again
        self._execute(calendar, event, action, booking, link, result, writes=writes, index=index)
        return name

    @property
    def _per_call(self) -> Writes:
        return Writes(self.host.bookings, self.links, contextlib.nullcontext)

    def _match(self, calendar: CalendarRef, event: RemoteEvent, index: PageIndex) -> Booking | None:
        by_field = index.by_field(event.id)
        if by_field:
            return plan.match_booking(
                event,
                by_field=by_field,
                by_embedded_id=None,
                by_title_suffix=None,
                options=self.options,
                calendar_objects=frozenset(),
            )
        by_embedded_id = index.get(event.booking_id)
        by_title_suffix = index.get(plan.title_suffix_id(event.title))
        if by_embedded_id is None and by_title_suffix is None:
            return None  # nothing to check against the calendar's objects (the usual case for a new event)
        return plan.match_booking(
            event,
            by_field=(),
            by_embedded_id=by_embedded_id,
            by_title_suffix=by_title_suffix,
            options=self.options,
            calendar_objects=self._calendar_objects(calendar),
        )

    def _execute(
        self,
        calendar: CalendarRef,
        event: RemoteEvent,
        action: plan.InboundAction,
        booking: Booking | None,
        link: Link | None,
        result: RoundResult,
        *,
        writes: Writes,
        index: PageIndex | None = None,
    ) -> None:
        bookings = writes.bookings
        wrote = index.wrote if index is not None else _ignore
        field_name = self.options.ires_field
        if isinstance(action, plan.Skip):
            if action.conflict is not None:
                self._conflict(calendar, event, action.conflict, booking, action.reason, self._wanted(event), result)
                return
            result.count(Applied.SKIPPED)
            log.debug("skip event %s: %s", event.id, action.reason)
            return
        if isinstance(action, plan.CreateBooking):
            try:
                created = bookings.create(
                    object_id=action.object_id,
                    start=action.start,
                    end=action.end,
                    status=action.status,
                    title=action.title[:200],
                    channel=self.options.channel,
                    origin=self.origin,
                    customer_id=action.customer_id,
                    all_day=action.all_day,
                    fields={field_name: event.id},
                    ignore_validation=action.ignore_validation,
                    remark=action.remark,
                )
            except BookingConflictError as exc:
                wanted = Wanted(
                    start=action.start,
                    end=action.end,
                    all_day=action.all_day,
                    title=action.title[:200],
                    object_id=action.object_id,
                    status=action.status,
                    customer_id=action.customer_id,
                    remark=action.remark[:1000],
                )
                self._conflict(calendar, event, ConflictKind.OVERLAP, None, exc.reason[:300], wanted, result)
                return
            wrote(created)
            self._remember(calendar, created.id, event, None, writes)
            result.count(Applied.CREATED)
            return
        if booking is None:  # the planner only returns the actions below for a matched booking
            raise CalendarPluginError(f"{type(action).__name__} for event {event.id} without a booking")
        if isinstance(action, plan.MoveBooking):
            try:
                booking = bookings.update_times(
                    action.booking_id,
                    start=action.start,
                    end=action.end,
                    all_day=action.all_day,
                    origin=self.origin,
                    ignore_validation=action.ignore_validation,
                )
                wrote(booking)
                result.count(Applied.UPDATED)
            except BookingConflictError as exc:
                self._conflict(
                    calendar, event, ConflictKind.OVERLAP, booking, exc.reason[:300], self._wanted(event), result
                )
            self._ensure_field(booking, event.id, writes, wrote)
            self._remember(calendar, action.booking_id, event, link, writes)
            return
        if isinstance(action, plan.NoChange):
            self._ensure_field(booking, event.id, writes, wrote)
            self._remember(calendar, action.booking_id, event, link, writes)
            result.count(Applied.UNCHANGED)
            return
        if isinstance(action, plan.CancelBooking):
            booking = bookings.set_status(action.booking_id, action.status, origin=self.origin)
            wrote(booking)
            result.count(Applied.CANCELLED)
        else:
            result.count(Applied.UNLINKED)
        if booking.fields.get(field_name):
            wrote(bookings.set_field(booking.id, field_name, None, origin=self.origin))
        writes.links.delete(calendar.key, booking.id)
        if link is not None and link.calendar_key != calendar.key:
            writes.links.delete(link.calendar_key, booking.id)

    # -- the review queue -----------------------------------------------------------------------
    @staticmethod
    def _wanted(event: RemoteEvent) -> Wanted:
        return Wanted(
            deleted=event.deleted,
            start=event.start,
            end=event.end,
            all_day=event.all_day,
            title=(event.title or "")[:200],
        )

    def _conflict(
        self,
        calendar: CalendarRef,
        event: RemoteEvent,
        kind: ConflictKind,
        booking: Booking | None,
        reason: str,
        wanted: Wanted,
        result: RoundResult,
        *,
        counted: bool = False,
    ) -> None:
        """Queue one event the host refused for review (one entry per event, however many rounds meet it)."""
        cid = conflict_id(calendar.key, event.id)
        fresh = ConflictEntry(
            id=cid,
            calendar_key=calendar.key,
            event_id=event.id,
            etag=event.etag or "",
            kind=kind,
            wanted=wanted,
            reason=reason,
            detected=self.now(),
            booking_id=booking.id if booking else None,
            has_start=booking.start if booking else None,
            has_end=booking.end if booking else None,
            has_status=booking.status if booking else "",
        )
        self._found[cid] = fresh
        if not counted:
            open_ = merge(self._stored_conflicts.get(cid), fresh).is_open
            result.count(Applied.CONFLICTS if open_ else Applied.SKIPPED)

    def _admin_summary(self, calendar: CalendarRef, result: RoundResult) -> None:
        """One line per round in the admin's log, only when something happened, and not again when a round
        finds exactly what the previous one did (repeated lines are folded)."""
        c = result.counts
        moved = c.get("updated", 0)
        numbers = (c.get("created", 0), moved, c.get("cancelled", 0), c.get("conflicts", 0), c.get("rejected", 0))
        if not any(numbers):
            return
        line = (
            f"Calendar {calendar.label or calendar.key}: {numbers[0]} created, {numbers[1]} moved, "
            f"{numbers[2]} cancelled, {numbers[3]} conflicts, {numbers[4]} errors."
        )
        key = f"roundlog/{calendar.key}"
        if self.store.load(key).data == line:
            return
        self.store.save(key, line, expected_version=None)
        level = "warning" if numbers[3] or numbers[4] else "info"
        self.host.integrations.log(self.integration_id, level, line)

    # -- helpers --------------------------------------------------------------------------------
    def _remember(
        self, calendar: CalendarRef, booking_id: int, event: RemoteEvent, link: Link | None, writes: Writes
    ) -> None:
        if link is not None and (link.etag, link.event_id, link.state) == (event.etag, event.id, LinkState.LINKED):
            self._confirmed.add(booking_id)
            return
        if link is None:  # a new pair (every event of an initial sync): built directly, no copy
            fresh = Link(booking_id, calendar.key, event_id=event.id, etag=event.etag, join_url=event.join_url or "")
        else:
            fresh = link.but(
                event_id=event.id,
                etag=event.etag,
                state=LinkState.LINKED,
                idempotency_key="",
                join_url=event.join_url or link.join_url,
            )
        if writes.links.save(fresh):
            self._confirmed.add(booking_id)
        else:
            log.debug("link of booking %s changed meanwhile; kept the other writer's", booking_id)

    def _customer(self, email: str) -> Customer | None:
        """The customer with this e-mail address, looked up once per round (organisers repeat)."""
        if email not in self._customers:
            self._customers[email] = self.host.customers.find_by_email(email)
        return self._customers[email]

    def _ensure_field(self, booking: Booking, event_id: str, writes: Writes, wrote: Callable[[Booking], None]) -> None:
        if booking.fields.get(self.options.ires_field) != event_id:
            wrote(writes.bookings.set_field(booking.id, self.options.ires_field, event_id, origin=self.origin))

    def _booking_or_none(self, booking_id: int | None) -> Booking | None:
        if booking_id is None:
            return None
        try:
            return self.host.bookings.get(booking_id)
        except BookingNotFoundError:
            return None

    def _calendar_objects(self, calendar: CalendarRef) -> frozenset[int]:
        """The objects whose bookings live on ``calendar`` (computed once per calendar and round)."""
        if calendar.key not in self._objects_of:
            objects = {o.id for o in self.host.objects.all() if self.backend.calendar_for_object(o.id) == calendar}
            if calendar.inbound_object_id is not None:
                objects.add(calendar.inbound_object_id)
            self._objects_of[calendar.key] = frozenset(objects)
        return self._objects_of[calendar.key]

    def _object_timezone(self, calendar: CalendarRef) -> str:
        if calendar.inbound_object_id is not None:
            obj = self.host.objects.get(calendar.inbound_object_id)
            if obj is not None:
                return obj.timezone
        return "UTC"

    def _deletions_since_stale_cursor(
        self, calendar: CalendarRef, seen: set[str], window: Window, result: RoundResult
    ) -> None:
        missing: list[tuple[Booking, Link]] = []
        for booking_id in self.links.booking_ids(calendar.key):
            if booking_id in self._confirmed:
                continue  # linked in this round to an event it listed: not missing, no need to read it again
            link = self.links.get(calendar.key, booking_id)
            if link is None or link.state != LinkState.LINKED or link.event_id in seen:
                continue
            booking = self._booking_or_none(booking_id)
            if booking is None or not window.overlaps(booking.start, booking.end):
                continue
            missing.append((booking, link))
        if not seen and len(missing) > MASS_DELETE_GUARD:
            result.count(Applied.HELD_BACK_DELETIONS)
            self.host.integrations.log(
                self.integration_id,
                "error",
                f"Calendar {calendar.label or calendar.key} listed no events at all, which would cancel "
                f"{len(missing)} linked bookings; nothing was cancelled. Check the calendar, then resync.",
            )
            return
        for booking, link in missing:
            # absent from the listing may mean deleted, or moved out of the window: ask once
            event = self.backend.recheck_removed(calendar, link.event_id) or RemoteEvent(id=link.event_id, deleted=True)
            if not event.deleted:
                event = anchor_all_day(event, self._object_timezone(calendar))
            action = plan.plan_inbound(event, booking, link, calendar=calendar, options=self.options, window=window)
            self._execute(calendar, event, action, booking, link, result, writes=self._per_call)
