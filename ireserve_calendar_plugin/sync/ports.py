"""What the engine needs from a calendar provider: the :class:`CalendarBackend` protocol.

Public API: :class:`CalendarBackend`.

Providers implement it (``providers/google``, ``providers/outlook``); the engine depends only on this
protocol and :mod:`.model`, never on a provider. Errors are raised as the plugin's own types
(:mod:`ireserve_calendar_plugin.errors`): :class:`SyncTokenInvalidError` for a dead cursor,
:class:`AuthExpiredError` for a lost grant, :class:`RetryableError` subclasses for what may be retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import ChangePage
from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.model import EventDraft
from ireserve_calendar_plugin.sync.model import RemoteEvent
from ireserve_calendar_plugin.sync.model import Window

__all__ = ["CalendarBackend"]


class CalendarBackend(Protocol):
    """One integration's connection to its calendar service."""

    def calendars(self) -> list[CalendarRef]:
        """Every calendar this integration syncs, from its settings (no I/O)."""
        ...

    def calendar_for_object(self, object_id: int) -> CalendarRef | None:
        """Where bookings of ``object_id`` go outbound, or None when the object is not mapped."""
        ...

    def list_changes(self, calendar: CalendarRef, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        """Yield pages of changes since ``cursor`` (a full listing of ``window`` when None).

        Pages are fetched lazily, one at a time. Only the last page carries the new cursor.
        Raises :class:`SyncTokenInvalidError` when ``cursor`` is no longer valid.
        """
        ...

    #: True when the provider reports events that merely left the sync window as removals (Graph's
    #: calendarView delta does); the engine then re-checks a linked event's removal before cancelling.
    ambiguous_removals: bool

    def recheck_removed(self, calendar: CalendarRef, event_id: str) -> RemoteEvent | None:
        """The event if it still exists (a reported or apparent removal only meant it left the window),
        None when it is really gone (deleted or cancelled)."""
        ...

    def new_idempotency_key(self) -> str:
        """A fresh key for one create, usable by :meth:`create_event` on retries."""
        ...

    def create_event(self, calendar: CalendarRef, draft: EventDraft, idempotency_key: str) -> RemoteEvent:
        """Create the event. Called again with the same key after a failure, it returns the event the
        first call made instead of making a second one."""
        ...

    def update_event(self, calendar: CalendarRef, event_id: str, draft: EventDraft) -> RemoteEvent:
        """Patch times, title, description, attendees and reminders; keep any meeting link."""
        ...

    def delete_event(self, calendar: CalendarRef, event_id: str) -> bool | None:
        """Delete the event; an event that is already gone counts as deleted. Returns False when it was
        already gone (404/410), True when this call deleted it (None: the backend cannot tell)."""
        ...

    def watch(self, calendar: CalendarRef, address: str) -> Channel:
        """Register push notifications for ``calendar`` to ``address``; returns the new channel."""
        ...

    def renew(self, calendar: CalendarRef, channel: Channel, address: str) -> Channel:
        """Extend or replace ``channel``; returns the channel to use from now on."""
        ...

    def unwatch(self, calendar: CalendarRef, channel: Channel) -> None:
        """Stop ``channel``; one that is already gone counts as stopped."""
        ...

    def close(self) -> None:
        """Release connections (the engine calls it when a job or hook is done)."""
        ...
