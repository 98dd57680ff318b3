"""Outbound: make a booking's calendar event match the booking as it is now.

Public API: :class:`OutboundSync`, :func:`draft_for`.

Run as a job per booking (the hook only queues it, deduplicated, so a burst of changes to one booking
is one job that reads the booking's latest state). The writes (:func:`.plan.plan_outbound`) run under
the calendar's lease, so they never interleave with an inbound round of the same calendar.

Creates are idempotent: before calling the provider the link is stored in state ``creating`` with a
fresh idempotency key; a retry after a crash or a lost response reuses that key, and the provider
returns the event the first attempt made (Google: client-chosen event id; Graph: ``transactionId``).
Deletes are marked the same way (state ``deleting``) before the provider is called, so the tombstone of
a delete whose outcome was lost is recognised as our own and never cancels the booking.

An update answered 404/410 or with a tombstone (Google keeps deleted events as ``cancelled``), or a
first delete answered 404/410, means the event was deleted at the provider and its notification was
lost (or is late): the calendar's inbound round is queued at once (``on_event_gone``,
given by the engine) and one log line tells the admin, instead of waiting silently for the next poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hookspecs.types import Booking
from hookspecs.types import BookingNotFoundError
from hookspecs.types import HostApi
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import StaleStateError
from ireserve_calendar_plugin.errors import WriteDeniedError
from ireserve_calendar_plugin.sync import plan
from ireserve_calendar_plugin.sync.denials import WriteDenials
from ireserve_calendar_plugin.sync.inbound import CalendarBusyError
from ireserve_calendar_plugin.sync.links import Link
from ireserve_calendar_plugin.sync.links import LinkState
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import EventDraft
from ireserve_calendar_plugin.sync.model import SyncOptions
from ireserve_calendar_plugin.sync.scope import IntegrationScoped

__all__ = ["OutboundSync", "draft_for"]

log = logging.getLogger("ireserve_calendar_plugin.sync")


def draft_for(host: HostApi, booking: Booking, options: SyncOptions) -> EventDraft:
    """The event a booking should have. The title ends in ``[booking id]`` (the seeds' fallback match)."""
    obj = host.objects.get(booking.object_id)
    attendees: tuple[str, ...] = ()
    if options.customer_as_attendee and booking.customer_id is not None:
        customer = host.customers.get(booking.customer_id)
        if customer is not None and customer.email:
            attendees = (customer.email,)
    title = (booking.title or (obj.name if obj else "Booking")).strip()
    return EventDraft(
        booking_id=booking.id,
        title=f"{title} [{booking.id}]",
        description=f"i-Reserve booking {booking.id}" + (f" on {obj.name}" if obj else ""),
        start=booking.start,
        end=booking.end,
        all_day=booking.all_day,
        timezone=obj.timezone if obj else "UTC",
        attendee_emails=attendees,
        meeting_link=options.meeting_link,
        popup_reminder_minutes=options.popup_reminder_minutes,
        email_reminder_minutes=options.email_reminder_minutes,
    )


class OutboundSync(IntegrationScoped):
    """Pushes bookings of one integration to its calendars. ``on_event_gone(calendar key)`` is called when a
    write finds the booking's event deleted at the provider (the engine queues that calendar's sync)."""

    on_event_gone: Callable[[str], object] | None = None

    def push(self, booking_id: int) -> list[str]:
        """Bring the booking's event in line with the booking; returns the names of the writes made."""
        try:
            booking = self.host.bookings.get(booking_id)
        except BookingNotFoundError:
            return []
        calendars = {c.key: c for c in self.backend.calendars()}
        calendar = self.backend.calendar_for_object(booking.object_id)
        link = self.links.find(booking.id, [calendar.key] if calendar else list(calendars))
        draft = draft_for(self.host, booking, self.options)
        actions = plan.plan_outbound(
            booking, link, calendar, options=self.options, draft_fingerprint=draft.fingerprint()
        )
        planned = {link.calendar_key: link.version} if link is not None else {}
        done = []
        for action in actions:
            target = calendars.get(action.calendar_key)
            if target is None:  # a calendar removed from the mapping: its link is all we can drop
                self.links.delete(action.calendar_key, booking.id)
                continue
            lease = self.leases.acquire(target.key, self.now(), self.lease_ttl)
            if lease is None:
                raise CalendarBusyError(f"calendar {target.key} is busy; booking {booking.id} will be retried")
            try:
                link = self.links.get(target.key, booking.id)
                if (link.version if link is not None else 0) != planned.get(target.key, 0):
                    # another worker wrote (or inbound moved) this booking's event between our plan and
                    # the lease: the plan is stale (a second create would make a duplicate event)
                    raise StaleStateError(f"link of booking {booking.id} changed while planning; re-planning")
                self._write(action, target, booking, draft, link)
            finally:
                self.leases.release(lease)
            done.append(type(action).__name__)
        return done

    def _write(
        self, action: plan.OutboundAction, target: CalendarRef, booking: Booking, draft: EventDraft, link: Link | None
    ) -> None:
        """One planned write; a refusal to write this calendar is remembered on it (once) and re-raised."""
        denials = WriteDenials(self.store)
        try:
            if isinstance(action, plan.CreateEvent):
                self._create(target, booking, draft, link)
            elif isinstance(action, plan.UpdateEvent):
                self._update(target, booking, draft, link)
            else:
                self._delete(target, booking, draft, link)
        except WriteDeniedError as exc:
            if denials.record(target.key, str(exc), self.now()):
                self.host.integrations.log(self.integration_id, "error", str(exc))
            raise
        denials.clear(target.key)

    def _event_gone(self, calendar: CalendarRef, booking: Booking, write: str) -> None:
        """The booking's event was deleted at the provider and no notification told us: sync now, say so."""
        where = calendar.label or calendar.key
        queued = self.on_event_gone(calendar.key) if self.on_event_gone is not None else None
        sync = "was queued now" if queued is not False else "is already queued"
        if write == "update":
            text = (
                f"Booking {booking.id} could not be updated in {where}: its event was deleted there and the "
                f"change notification was lost or is late. A sync of that calendar {sync}; it applies the "
                "deletion (the booking is cancelled unless its status is locked)."
            )
        else:
            text = (
                f"The event of booking {booking.id} in {where} was already deleted there, and the change "
                f"notification was lost or is late. A sync of that calendar {sync} to catch up."
            )
        self.host.integrations.log(self.integration_id, "warning", text)

    # -- the three writes -----------------------------------------------------------------------
    def _create(self, calendar: CalendarRef, booking: Booking, draft: EventDraft, link: Link | None) -> None:
        if link is None or link.state != LinkState.CREATING:
            link = Link(
                booking.id,
                calendar.key,
                state=LinkState.CREATING,
                idempotency_key=self.backend.new_idempotency_key(),
                version=link.version if link else 0,
            )
            if not self.links.save(link):
                raise StaleStateError(f"link of booking {booking.id} changed meanwhile")
            link = self.links.get(calendar.key, booking.id)
            assert link is not None
        event = self.backend.create_event(calendar, draft, link.idempotency_key)
        fields = self.host.bookings
        fields.set_field(booking.id, self.options.ires_field, event.id, origin=self.origin)
        if self.options.meeting_link and event.join_url:
            fields.set_field(booking.id, self.options.meeting_url_field, event.join_url, origin=self.origin)
        linked = link.but(
            event_id=event.id,
            etag=event.etag,
            content_hash=draft.fingerprint(),
            state=LinkState.LINKED,
            join_url=event.join_url,
        )
        if not self.links.save(linked):
            raise StaleStateError(f"link of booking {booking.id} changed meanwhile")

    def _update(self, calendar: CalendarRef, booking: Booking, draft: EventDraft, link: Link | None) -> None:
        assert link is not None
        try:
            event = self.backend.update_event(calendar, link.event_id, draft)
        except PermanentError as exc:
            if exc.status not in (404, 410):
                raise
            # deleted in the calendar meanwhile: inbound cancels the booking (seed rule 2); do not recreate
            self._event_gone(calendar, booking, "update")
            return
        if event.deleted:  # Google answers a patch of a deleted event with its tombstone: gone all the same
            self._event_gone(calendar, booking, "update")
            return
        if self.options.meeting_link and event.join_url and not booking.fields.get(self.options.meeting_url_field):
            self.host.bookings.set_field(booking.id, self.options.meeting_url_field, event.join_url, origin=self.origin)
        if not self.links.save(
            link.but(etag=event.etag, content_hash=draft.fingerprint(), join_url=event.join_url or link.join_url)
        ):
            raise StaleStateError(f"link of booking {booking.id} changed meanwhile")

    def _delete(self, calendar: CalendarRef, booking: Booking, draft: EventDraft, link: Link | None) -> None:
        if link is None:
            return
        event_id = link.event_id
        if link.state == LinkState.CREATING:
            # a create whose outcome we never learned: repeat it (idempotent) to learn the id, then delete
            event_id = self.backend.create_event(calendar, draft, link.idempotency_key).id
        # remember the deletion is ours before making it: if its outcome is lost, the tombstone that
        # inbound meets must only unlink, never cancel a booking that was confirmed again meanwhile
        marked = link.but(event_id=event_id, state=LinkState.DELETING, idempotency_key="")
        if event_id and link.state != LinkState.DELETING and not self.links.save(marked):
            raise StaleStateError(f"link of booking {booking.id} changed meanwhile")
        if event_id:
            existed = self.backend.delete_event(calendar, event_id)
            if existed is False and link.state == "linked":  # a retried delete of ours meets its own 404
                self._event_gone(calendar, booking, "delete")
        if booking.fields.get(self.options.ires_field) in (event_id, link.event_id) and booking.fields.get(
            self.options.ires_field
        ):
            self.host.bookings.set_field(booking.id, self.options.ires_field, None, origin=self.origin)
        self.links.delete(calendar.key, booking.id)
