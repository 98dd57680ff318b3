"""The provider-neutral vocabulary of the sync engine: frozen dataclasses only, no I/O.

Public API: :class:`CalendarRef`, :class:`RemoteEvent`, :class:`EventDraft`, :class:`ChangePage`,
:class:`Channel`, :class:`SyncOptions`, :class:`Window`, :func:`content_hash`.

Terminology
-----------
CALENDAR
    One remote calendar the integration keeps in step with the host: a Google calendar id, the
    delegated user's Outlook calendar (``me``) or a room mailbox. ``key`` is the stable name the
    engine stores its state and links under.
LINK
    The engine's memory of one booking <-> event pair (see :mod:`.links`).
CURSOR
    The provider's incremental-sync position (a Google sync token, a Graph delta link). Opaque to the
    engine; it moves forward only after every change it covers is committed in the host.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any

__all__ = [
    "CalendarRef",
    "ChangePage",
    "Channel",
    "EventDraft",
    "RemoteEvent",
    "SyncOptions",
    "Window",
    "content_hash",
]


@dataclass(frozen=True)
class CalendarRef:
    """A remote calendar and the host object(s) it serves.

    ``inbound_object_id`` is the object new bookings from this calendar are created on (None: this
    calendar only keeps already linked bookings in step). ``outbound`` says whether bookings are
    written to it (False for Outlook application mode).
    """

    key: str
    remote_id: str
    inbound_object_id: int | None
    outbound: bool = True
    label: str = ""


@dataclass(frozen=True)
class Window:
    """The time window a full sync covers: ``start`` <= event end and event start < ``end``."""

    start: datetime
    end: datetime

    @classmethod
    def around(cls, now: datetime, past_days: int = 90, future_days: int = 365) -> Window:
        # whole seconds: providers take the bounds in seconds, and a bound they truncated would leave out
        # an event the engine counts as inside (a full resync would then cancel its booking)
        now = now.replace(microsecond=0)
        return cls(now - timedelta(days=past_days), now + timedelta(days=future_days))

    def overlaps(self, start: datetime | None, end: datetime | None) -> bool:
        if start is None or end is None:
            return False
        return end > self.start and start < self.end


@dataclass(frozen=True)
class RemoteEvent:
    """One event as a provider reported it, already mapped out of the wire format.

    ``deleted`` is True for a tombstone (Google ``status: cancelled``, Graph ``@removed`` or
    ``isCancelled``); then only ``id`` is guaranteed. Times are timezone-aware; for all-day events
    ``start``/``end`` are midnights in ``timezone`` (or the object's zone when the provider gives none)
    and ``all_day`` is True. ``booking_id`` is the booking id the event carries in its own metadata
    (a private extended property), when the provider can deliver it.
    """

    id: str
    etag: str = ""
    deleted: bool = False
    title: str = ""
    description: str = ""
    start: datetime | None = None
    end: datetime | None = None
    all_day: bool = False
    timezone: str = ""
    booking_id: int | None = None
    organizer_email: str = ""
    join_url: str = ""
    series_id: str = ""


@dataclass(frozen=True)
class EventDraft:
    """What the engine wants an event to look like, derived from a booking (provider-neutral)."""

    booking_id: int
    title: str
    description: str
    start: datetime
    end: datetime
    all_day: bool
    timezone: str
    attendee_emails: tuple[str, ...] = ()
    meeting_link: bool = False
    popup_reminder_minutes: int | None = None
    email_reminder_minutes: int | None = None

    def fingerprint(self) -> str:
        """A hash of the content, to skip writes that would change nothing."""
        return content_hash(
            {
                "t": self.title,
                "d": self.description,
                "s": self.start.isoformat(),
                "e": self.end.isoformat(),
                "a": self.all_day,
                "z": self.timezone,
                "p": list(self.attendee_emails),
                "m": self.meeting_link,
                "r": [self.popup_reminder_minutes, self.email_reminder_minutes],
            }
        )


@dataclass(frozen=True)
class ChangePage:
    """One page of changes. ``cursor`` is set only on the last page of a round (the new position)."""

    events: tuple[RemoteEvent, ...]
    cursor: str | None = None


@dataclass(frozen=True)
class Channel:
    """A push registration (Google watch channel, Graph subscription).

    ``secret`` is our random per-channel token (Google channel token / Graph ``clientState``);
    ``expires`` is the expiry the provider returned; ``extra`` carries provider bookkeeping
    (Google ``resourceId``); ``resource`` is the id of the watched resource that every notification of
    the channel repeats (Google's ``X-Goog-Resource-ID``), checked on each one when not empty.
    """

    id: str
    secret: str
    expires: datetime
    extra: Mapping[str, str] = field(default_factory=dict)
    resource: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "secret": self.secret,
            "expires": self.expires.isoformat(),
            "extra": dict(self.extra),
            "resource": self.resource,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Channel:
        return cls(
            data["id"],
            data["secret"],
            datetime.fromisoformat(data["expires"]),
            dict(data.get("extra", {})),
            str(data.get("resource") or ""),
        )


@dataclass(frozen=True)
class SyncOptions:
    """The seeds' sync switches, as the engine reads them (see ``config.schemas.SyncOptionsSchema``)."""

    provider: str
    create_on_statuses: frozenset[str] = frozenset({"confirmed"})
    delete_on_statuses: frozenset[str] = frozenset()
    cancel_status: str = "cancelled"
    inbound_status: str = "confirmed"
    status_with_customer: str = ""
    lock_statuses: frozenset[str] = frozenset()
    allow_booking_update: bool = False
    ignore_validation_errors: bool = False
    ires_field: str = "external_id"
    meeting_link: bool = False
    meeting_url_field: str = "meeting_url"
    popup_reminder_minutes: int | None = None
    email_reminder_minutes: int | None = None
    customer_as_attendee: bool = False
    #: how often cron polls a calendar (the seeds' 30 minutes, a fallback beside push; a provider without push
    #: offers the setting ``poll_interval_minutes``)
    poll_interval: timedelta = timedelta(minutes=30)

    @property
    def channel(self) -> str:
        """The booking channel of bookings created through this integration."""
        return f"external/{self.provider}"

    @classmethod
    def from_settings(cls, provider: str, settings: Mapping[str, Any]) -> SyncOptions:
        return cls(
            provider=provider,
            create_on_statuses=frozenset(settings.get("create_on_statuses", ["confirmed"])),
            delete_on_statuses=frozenset(settings.get("delete_on_statuses", [])),
            cancel_status=settings.get("cancel_status", "cancelled"),
            inbound_status=settings.get("inbound_status", "confirmed"),
            status_with_customer=settings.get("status_with_customer", "") or "",
            lock_statuses=frozenset(settings.get("lock_statuses", [])),
            allow_booking_update=bool(settings.get("allow_booking_update", False)),
            ignore_validation_errors=bool(settings.get("ignore_validation_errors", False)),
            ires_field=settings.get("ires_field", "external_id"),
            meeting_link=bool(settings.get("meeting_link", False)),
            meeting_url_field=settings.get("meeting_url_field", "meeting_url"),
            popup_reminder_minutes=settings.get("popup_reminder_minutes"),
            email_reminder_minutes=settings.get("email_reminder_minutes"),
            customer_as_attendee=bool(settings.get("customer_as_attendee", False)),
            poll_interval=timedelta(minutes=int(settings.get("poll_interval_minutes") or 30)),
        )


def content_hash(data: Any) -> str:
    """A short stable hash of JSON-able data."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:32]
