"""Google Calendar v3 Event JSON <-> the engine's model. Pure functions, no I/O.

Public API: :func:`event_from_json`, :func:`insert_body`, :func:`patch_body`, :func:`undelete_body`,
:func:`same_content`, :func:`is_cancelled`, :func:`conference_pending`, :func:`new_event_id`,
:func:`event_id_for`, :func:`is_valid_event_id`, :class:`EventsPage`, :func:`events_page`,
:func:`watch_body`, :func:`stop_body`, :func:`channel_from_json`, :func:`calendar_entry`,
:data:`BOOKING_ID_PROPERTY`,
:data:`RESOURCE_ID`, :data:`EVENT_FIELDS`, :data:`LIST_FIELDS`, :data:`WRITE_FIELDS`.

This is the only module that knows Google's resource wire names (Event, events.list pages, Channel,
calendarList entries; protocol doc sections 4-7); :mod:`.client` knows the URLs and query parameters. Rules:

- ``status: cancelled`` is a tombstone (``deleted=True``); often only ``id`` is present.
- ``start.date`` (all-day) maps to UTC midnights of those dates with ``all_day=True`` and no
  ``timezone``: the engine re-anchors the dates to the object's zone. A ``dateTime`` at midnight is
  never turned into an all-day event.
- A draft's all-day dates are computed in the draft's own zone, ``end`` exclusive; timed drafts are
  sent as RFC 3339 with offset plus ``timeZone``.
- Reminders: ``{"useDefault": false, "overrides": [...]}`` when minutes are configured, else
  ``{"useDefault": true, "overrides": []}`` (the empty list matters for PATCH: objects merge, so a
  bare ``useDefault: true`` onto stored overrides would be refused with
  ``cannotUseDefaultRemindersAndSpecifyOverride``).
- Only an insert may carry ``conferenceData.createRequest``; a patch never sends ``conferenceData``,
  so an existing Meet link is kept.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.model import EventDraft
from ireserve_calendar_plugin.sync.model import RemoteEvent

__all__ = [
    "BOOKING_ID_PROPERTY",
    "EVENT_FIELDS",
    "LIST_FIELDS",
    "RESOURCE_ID",
    "WRITE_FIELDS",
    "EventsPage",
    "calendar_entry",
    "channel_from_json",
    "conference_pending",
    "event_from_json",
    "events_page",
    "event_id_for",
    "insert_body",
    "is_cancelled",
    "is_valid_event_id",
    "new_event_id",
    "patch_body",
    "same_content",
    "stop_body",
    "undelete_body",
    "watch_body",
]

#: the private extended property that carries the booking id on events we write
BOOKING_ID_PROPERTY = "ireserveBookingId"

#: the key of a channel's Google ``resourceId`` in :attr:`Channel.extra`
RESOURCE_ID = "resource_id"
#: what :func:`event_from_json` reads of one event (a ``fields=`` selection)
EVENT_FIELDS = (
    "id,etag,status,summary,description,start,end,extendedProperties,organizer(email),hangoutLink,"
    "conferenceData(entryPoints),recurringEventId"
)
#: the ``fields=`` selector of events.list
LIST_FIELDS = f"items({EVENT_FIELDS}),nextPageToken,nextSyncToken"
#: the ``fields=`` selector of single-event calls; also reads whether a Meet link is still being made
WRITE_FIELDS = EVENT_FIELDS.replace("conferenceData(entryPoints)", "conferenceData(entryPoints,createRequest(status))")

_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
_MIDNIGHT = time(0)


# --------------------------------------------------------------------------- ids


def _b32hex(raw: bytes) -> str:
    return base64.b32hexencode(raw).decode("ascii").rstrip("=").lower()


def new_event_id() -> str:
    """A fresh client-chosen event id: 26 base32hex characters from a UUID4 (valid for Google)."""
    return _b32hex(uuid.uuid4().bytes)


def is_valid_event_id(value: str) -> bool:
    """Whether Google accepts ``value`` as a client-chosen event id (``[a-v0-9]{5,1024}``)."""
    return bool(_EVENT_ID.match(value))


def event_id_for(idempotency_key: str) -> str:
    """The event id to insert under: the key itself when valid, else a stable id derived from it."""
    if is_valid_event_id(idempotency_key):
        return idempotency_key
    return _b32hex(hashlib.sha256(idempotency_key.encode("utf-8")).digest()[:20])


# --------------------------------------------------------------------------- Event JSON -> RemoteEvent


def _zone(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _parse_datetime(value: Any, zone_name: str) -> datetime | None:
    """An RFC 3339 ``dateTime`` as an aware datetime (a missing offset uses ``zone_name``, else UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_zone(zone_name) or UTC)
    return parsed


def _time_of(value: Any) -> tuple[datetime | None, bool, str]:
    """``(moment, all_day, zone)`` of an EventDateTime."""
    if not isinstance(value, Mapping):
        return None, False, ""
    zone_name = value.get("timeZone") or ""
    zone_name = zone_name if isinstance(zone_name, str) else ""
    if value.get("date"):
        day = _parse_date(value.get("date"))
        return (datetime.combine(day, _MIDNIGHT, UTC) if day else None), True, ""
    return _parse_datetime(value.get("dateTime"), zone_name), False, zone_name


def _booking_id(data: Mapping[str, Any]) -> int | None:
    props = data.get("extendedProperties")
    private = props.get("private") if isinstance(props, Mapping) else None
    raw = private.get(BOOKING_ID_PROPERTY) if isinstance(private, Mapping) else None
    if isinstance(raw, str) and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None


def _join_url(data: Mapping[str, Any]) -> str:
    link = data.get("hangoutLink")
    if isinstance(link, str) and link:
        return link
    conference = data.get("conferenceData")
    points = conference.get("entryPoints") if isinstance(conference, Mapping) else None
    for point in points if isinstance(points, list) else []:
        if isinstance(point, Mapping) and point.get("entryPointType") == "video" and point.get("uri"):
            return str(point["uri"])
    return ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def is_cancelled(data: Mapping[str, Any]) -> bool:
    """Whether an Event JSON is a cancelled event (a tombstone)."""
    return data.get("status") == "cancelled"


def conference_pending(data: Mapping[str, Any]) -> bool:
    """Whether Google is still creating the event's Meet conference (``createRequest`` ``pending``)."""
    conference = data.get("conferenceData")
    request = conference.get("createRequest") if isinstance(conference, Mapping) else None
    status = request.get("status") if isinstance(request, Mapping) else None
    return isinstance(status, Mapping) and status.get("statusCode") == "pending"


def event_from_json(data: Mapping[str, Any]) -> RemoteEvent:
    """Map one Event JSON object to a :class:`RemoteEvent` (``id`` must be present)."""
    start, all_day, zone_name = _time_of(data.get("start"))
    end, end_all_day, _ = _time_of(data.get("end"))
    organizer = data.get("organizer")
    return RemoteEvent(
        id=str(data["id"]),
        etag=_text(data.get("etag")),
        deleted=is_cancelled(data),
        title=_text(data.get("summary")),
        description=_text(data.get("description")),
        start=start,
        end=end,
        all_day=all_day and end_all_day,
        timezone="" if all_day else zone_name,
        booking_id=_booking_id(data),
        organizer_email=_text(organizer.get("email")) if isinstance(organizer, Mapping) else "",
        join_url=_join_url(data),
        series_id=_text(data.get("recurringEventId")),
    )


# --------------------------------------------------------------------------- EventDraft -> bodies


def _draft_zone(draft: EventDraft) -> tzinfo:
    return _zone(draft.timezone) or draft.start.tzinfo or UTC


def _starts_its_day(local: datetime, zone: tzinfo) -> bool:
    """Whether ``local`` is the first instant of its local day. Not always 00:00: where a DST change
    skips midnight (America/Santiago, America/Havana ...) the day starts at the jump, at 01:00."""
    return local.astimezone(UTC) == datetime.combine(local.date(), _MIDNIGHT, zone).astimezone(UTC)


def _event_times(draft: EventDraft) -> tuple[dict[str, str], dict[str, str]]:
    zone = _draft_zone(draft)
    start = draft.start.astimezone(zone)
    end = draft.end.astimezone(zone)
    if draft.all_day:
        first = start.date()
        last = end.date() if _starts_its_day(end, zone) else end.date() + timedelta(days=1)
        last = max(last, first + timedelta(days=1))
        return {"date": first.isoformat()}, {"date": last.isoformat()}
    start_json = {"dateTime": start.isoformat(timespec="seconds")}
    end_json = {"dateTime": end.isoformat(timespec="seconds")}
    if _zone(draft.timezone) is not None:
        start_json["timeZone"] = end_json["timeZone"] = draft.timezone
    return start_json, end_json


def _reminders(draft: EventDraft) -> dict[str, Any]:
    overrides = []
    if draft.popup_reminder_minutes is not None:
        overrides.append({"method": "popup", "minutes": int(draft.popup_reminder_minutes)})
    if draft.email_reminder_minutes is not None:
        overrides.append({"method": "email", "minutes": int(draft.email_reminder_minutes)})
    if overrides:
        return {"useDefault": False, "overrides": overrides}
    return {"useDefault": True, "overrides": []}


def patch_body(draft: EventDraft) -> dict[str, Any]:
    """The PATCH body for ``draft``: everything the booking decides, never ``conferenceData``.

    Attendees are sent only when the draft has some (the list replaces the stored one), so guests a
    person added in Google are not removed by a booking without a customer attendee.
    """
    start, end = _event_times(draft)
    body: dict[str, Any] = {
        "summary": draft.title,
        "description": draft.description,
        "start": start,
        "end": end,
        "extendedProperties": {"private": {BOOKING_ID_PROPERTY: str(draft.booking_id)}},
        "reminders": _reminders(draft),
    }
    if draft.attendee_emails:
        body["attendees"] = [{"email": email} for email in draft.attendee_emails]
    return body


def insert_body(draft: EventDraft, idempotency_key: str) -> dict[str, Any]:
    """The insert body: :func:`patch_body` plus the client-chosen ``id`` and, when the draft asks for a
    meeting link, a Meet ``createRequest`` whose ``requestId`` derives from the key (send it with
    ``conferenceDataVersion=1``)."""
    body = {"id": event_id_for(idempotency_key), **patch_body(draft)}
    if draft.meeting_link:
        body["conferenceData"] = {
            "createRequest": {
                "requestId": f"ireserve-{event_id_for(idempotency_key)}",
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            }
        }
    return body


def same_content(data: Mapping[str, Any], draft: EventDraft) -> bool:
    """Whether a live event already shows what ``draft`` wants (title, description, times, booking id)."""
    if is_cancelled(data):
        return False
    event = event_from_json(data)
    if (event.title, event.description, event.booking_id, event.all_day) != (
        draft.title,
        draft.description,
        draft.booking_id,
        draft.all_day,
    ):
        return False
    start, end = _event_times(draft)
    if draft.all_day:
        return (_time_value(data, "start", "date"), _time_value(data, "end", "date")) == (start["date"], end["date"])
    wanted = (datetime.fromisoformat(start["dateTime"]), datetime.fromisoformat(end["dateTime"]))
    return (event.start, event.end) == wanted


def _time_value(data: Mapping[str, Any], which: str, key: str) -> Any:
    value = data.get(which)
    return value.get(key) if isinstance(value, Mapping) else None


def undelete_body(draft: EventDraft) -> dict[str, Any]:
    """The PATCH body that brings a cancelled event of ours back with the draft's content."""
    return {**patch_body(draft), "status": "confirmed"}


# --------------------------------------------------------------------------- list pages and channels


@dataclass(frozen=True)
class EventsPage:
    """One events.list page: its events, and ``nextPageToken`` xor ``nextSyncToken``."""

    events: tuple[RemoteEvent, ...]
    next_page_token: str | None
    next_sync_token: str | None


def events_page(data: Mapping[str, Any]) -> EventsPage:
    """Map an events.list answer (items without an ``id`` are skipped)."""
    items = data.get("items")
    events = tuple(
        event_from_json(item)
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, Mapping) and item.get("id")
    )
    page, sync = data.get("nextPageToken"), data.get("nextSyncToken")
    return EventsPage(events, str(page) if page else None, str(sync) if sync else None)


def calendar_entry(item: Mapping[str, Any]) -> dict[str, Any]:
    """A calendarList entry as the admin form shows it: ``id``, ``name``, ``primary``, ``writable``."""
    name = item.get("summaryOverride") or item.get("summary") or item.get("id")
    return {
        "id": str(item.get("id") or ""),
        "name": str(name or ""),
        "primary": bool(item.get("primary")),
        "writable": item.get("accessRole") in ("owner", "writer"),
    }


def watch_body(channel_id: str, token: str, address: str, ttl_seconds: int) -> dict[str, Any]:
    """The events.watch request body of a web-hook channel."""
    return {
        "id": channel_id,
        "type": "web_hook",
        "address": address,
        "token": token,
        "params": {"ttl": str(ttl_seconds)},
    }


def stop_body(channel: Channel) -> dict[str, Any]:
    """The channels.stop request body."""
    return {"id": channel.id, "resourceId": channel.extra.get(RESOURCE_ID, "")}


def channel_from_json(data: Mapping[str, Any], *, channel_id: str, secret: str, fallback_expiry: datetime) -> Channel:
    """The :class:`Channel` an events.watch answered (``expiration``: Unix ms, a string or a number)."""
    try:
        expires = datetime.fromtimestamp(int(str(data.get("expiration"))) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        expires = fallback_expiry
    resource_id = data.get("resourceId")
    return Channel(
        str(data.get("id") or channel_id),
        secret,
        expires,
        {RESOURCE_ID: str(resource_id) if resource_id else ""},
        str(resource_id) if resource_id else "",
    )
