"""Microsoft Graph v1.0 event JSON <-> the engine's model. Pure functions, no I/O.

Public API: :func:`event_from_json`, :func:`create_body`, :func:`patch_body`, :func:`same_content`,
:func:`join_url_pending`, :class:`DeltaPage`, :func:`delta_page`, :func:`subscription_body`,
:func:`renew_body`, :func:`channel_from_json`, :func:`max_expiry_minutes`, :func:`account_of`,
:func:`parse_graph_datetime`, :func:`format_utc`, :data:`BOOKING_ID_PROPERTY`, :data:`CHANGE_TYPES`.

This is the only module (besides :mod:`.push`, which reads notifications) that knows Graph's JSON
names (``@odata.nextLink``, ``@odata.deltaLink``, ``@removed``, ``dateTimeTimeZone`` ...; protocol doc
sections 4-6); :mod:`.client` knows the URLs, query parameters and ``Prefer`` headers. Rules:

- ``@removed`` (any reason) is a tombstone: only ``id`` is known. ``isCancelled: true`` is a tombstone
  too (an attendee's copy of a cancelled meeting), with its other fields kept.
- Times arrive as ``dateTimeTimeZone`` without an offset (``2024-05-01T09:00:00.0000000``, seven
  fraction digits) in the zone the request asked for with ``Prefer: outlook.timezone="UTC"``; they
  become aware datetimes. A zone we cannot resolve gives no time at all (the engine then skips the
  event) rather than a wrong one.
- ``isAllDay`` events are floating dates: they map to UTC midnights of those dates with
  ``all_day=True`` and no ``timezone``; the engine re-anchors them to the object's zone.
- The body is read as plain text (we ask for ``outlook.body-content-type="text"``); an HTML body that
  comes anyway is reduced to its text, so remarks never carry markup.
- Delta never carries extended properties (``$expand`` is not supported there), so ``booking_id`` is
  only filled when a single-event read expanded :data:`BOOKING_ID_PROPERTY`.
- Drafts are written in the draft's own (IANA) zone; all-day drafts as ``isAllDay`` with midnights of
  that zone, ``end`` exclusive. Only a create may ask for a Teams meeting; a PATCH never sends the
  online-meeting fields, so an existing join URL is kept.
"""

from __future__ import annotations

import html
import re
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
    "CHANGE_TYPES",
    "DeltaPage",
    "account_of",
    "channel_from_json",
    "create_body",
    "delta_page",
    "event_from_json",
    "format_utc",
    "join_url_pending",
    "max_expiry_minutes",
    "parse_graph_datetime",
    "patch_body",
    "renew_body",
    "same_content",
    "subscription_body",
]

#: our single-value extended property (fixed GUID of this plugin) carrying the booking id
BOOKING_ID_PROPERTY = "String {132530b3-8822-434b-88ec-3d94d4813e13} Name ireserveBookingId"
#: what a subscription listens to
CHANGE_TYPES = "created,updated,deleted"
#: the online-meeting provider of a Teams link
TEAMS = "teamsForBusiness"

_UTC_NAMES = frozenset({"", "utc", "coordinated universal time", "etc/utc", "gmt", "z"})
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:?\d{2})?$")
_EXPIRY_LIMIT = re.compile(r"can only be (\d{1,7}) minutes in the future", re.IGNORECASE)
_MIDNIGHT = time(0)
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</li\s*>|</tr\s*>")
_HEAD = re.compile(r"(?is)<(head|style|script)\b.*?</\1\s*>")


# --------------------------------------------------------------------------- time


def _zone(name: str) -> tzinfo | None:
    """UTC for Graph's UTC spellings, an IANA zone by name, else None."""
    if name.strip().lower() in _UTC_NAMES:
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_graph_datetime(value: Any, zone_name: Any = "UTC") -> datetime | None:
    """An aware datetime from a Graph date-time (up to seven fraction digits, with or without an
    offset); a value without offset is read in ``zone_name``. None when unreadable."""
    if not isinstance(value, str):
        return None
    match = _DATETIME.match(value.strip())
    if not match:
        return None
    day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        naive = datetime.combine(date.fromisoformat(day), time(int(hour), int(minute), int(second or 0), micro))
    except ValueError:
        return None
    if offset:
        if offset in ("Z", "z"):
            return naive.replace(tzinfo=UTC)
        try:
            return datetime.fromisoformat(naive.isoformat() + offset[:3] + ":" + offset[-2:])
        except ValueError:
            return None
    zone = _zone(zone_name if isinstance(zone_name, str) else "")
    return naive.replace(tzinfo=zone) if zone is not None else None


def format_utc(moment: datetime) -> str:
    """``2024-05-04T11:00:00.0000000Z``: UTC with seven fraction digits, as Graph writes timestamps."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def _local(moment: datetime) -> str:
    """A wall-clock ``dateTime`` without offset (seconds precision)."""
    return moment.replace(tzinfo=None).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- event JSON -> RemoteEvent


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _plain(content: str) -> str:
    """Plain text of an HTML body (entities decoded, tags dropped, breaks kept)."""
    text = _BREAK.sub("\n", _HEAD.sub("", content))
    text = html.unescape(_TAG.sub("", text))
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()


def _body_text(value: Any) -> str:
    if not isinstance(value, Mapping):
        return ""
    content = _text(value.get("content"))
    if str(value.get("contentType") or "text").lower() == "html":
        return _plain(content)
    return content


def _times(data: Mapping[str, Any]) -> tuple[datetime | None, datetime | None, bool]:
    """``(start, end, all_day)`` of an event JSON (all-day dates as UTC midnights)."""
    start_json, end_json = data.get("start"), data.get("end")
    if not isinstance(start_json, Mapping) or not isinstance(end_json, Mapping):
        return None, None, False
    start = parse_graph_datetime(start_json.get("dateTime"), start_json.get("timeZone") or "UTC")
    end = parse_graph_datetime(end_json.get("dateTime"), end_json.get("timeZone") or "UTC")
    if data.get("isAllDay") is True:
        raw_start, raw_end = _text(start_json.get("dateTime")), _text(end_json.get("dateTime"))
        try:
            first, last = date.fromisoformat(raw_start[:10]), date.fromisoformat(raw_end[:10])
        except ValueError:
            return None, None, True
        return datetime.combine(first, _MIDNIGHT, UTC), datetime.combine(last, _MIDNIGHT, UTC), True
    return start, end, False


def _booking_id(data: Mapping[str, Any]) -> int | None:
    props = data.get("singleValueExtendedProperties")
    for prop in props if isinstance(props, list) else []:
        if not isinstance(prop, Mapping) or _text(prop.get("id")).lower() != BOOKING_ID_PROPERTY.lower():
            continue
        raw = prop.get("value")
        if isinstance(raw, str) and raw.isdigit() and len(raw) <= 18:
            return int(raw)
    return None


def _join_url(data: Mapping[str, Any]) -> str:
    meeting = data.get("onlineMeeting")
    if isinstance(meeting, Mapping) and isinstance(meeting.get("joinUrl"), str) and meeting["joinUrl"]:
        return str(meeting["joinUrl"])
    return _text(data.get("onlineMeetingUrl"))


def _organizer(data: Mapping[str, Any]) -> str:
    organizer = data.get("organizer")
    address = organizer.get("emailAddress") if isinstance(organizer, Mapping) else None
    return _text(address.get("address")) if isinstance(address, Mapping) else ""


def event_from_json(data: Mapping[str, Any]) -> RemoteEvent:
    """Map one event (or a delta ``@removed`` item) to a :class:`RemoteEvent` (``id`` must be present)."""
    event_id = str(data["id"])
    if "@removed" in data:
        return RemoteEvent(id=event_id, deleted=True)
    start, end, all_day = _times(data)
    return RemoteEvent(
        id=event_id,
        etag=_text(data.get("@odata.etag")) or _text(data.get("changeKey")),
        deleted=data.get("isCancelled") is True,
        title=_text(data.get("subject")),
        description=_body_text(data.get("body")),
        start=start,
        end=end,
        all_day=all_day,
        timezone="",
        booking_id=_booking_id(data),
        organizer_email=_organizer(data),
        join_url=_join_url(data),
        series_id=_text(data.get("seriesMasterId")),
    )


def join_url_pending(data: Mapping[str, Any]) -> bool:
    """Whether an online meeting was asked for but its join URL is not there yet."""
    return data.get("isOnlineMeeting") is True and not _join_url(data)


def account_of(data: Mapping[str, Any]) -> str:
    """The connected account's name from ``GET /me``: its UPN, else its mail address."""
    return _text(data.get("userPrincipalName")) or _text(data.get("mail"))


# --------------------------------------------------------------------------- delta pages


@dataclass(frozen=True)
class DeltaPage:
    """One calendarView/delta page: its events, and ``next_link`` xor ``delta_link``."""

    events: tuple[RemoteEvent, ...]
    next_link: str | None
    delta_link: str | None


def delta_page(data: Mapping[str, Any]) -> DeltaPage:
    """Map a delta answer (items without an ``id`` are skipped)."""
    items = data.get("value")
    events = tuple(
        event_from_json(item)
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, Mapping) and item.get("id")
    )
    next_link, delta_link = data.get("@odata.nextLink"), data.get("@odata.deltaLink")
    return DeltaPage(
        events,
        next_link if isinstance(next_link, str) and next_link else None,
        delta_link if isinstance(delta_link, str) and delta_link else None,
    )


# --------------------------------------------------------------------------- EventDraft -> bodies


def _draft_zone(draft: EventDraft) -> tuple[tzinfo, str]:
    """The zone to write the draft in, and the name Graph gets (IANA names are accepted)."""
    zone = _zone(draft.timezone) if draft.timezone else None
    if zone is None or zone is UTC:
        return UTC, "UTC"
    return zone, draft.timezone


def _starts_its_day(local: datetime, zone: tzinfo) -> bool:
    """Whether ``local`` is the first instant of its local day. Not always 00:00: where a DST change
    skips midnight (America/Santiago, America/Havana ...) the day starts at the jump, at 01:00."""
    return local.astimezone(UTC) == datetime.combine(local.date(), _MIDNIGHT, zone).astimezone(UTC)


def _wall_clock(local: datetime, zone: tzinfo, name: str) -> dict[str, str]:
    """A ``dateTimeTimeZone``: the wall-clock time in the draft's zone, unless that wall-clock time is
    ambiguous there (the hour a DST change repeats): Graph would read the first one, so it goes in UTC."""
    text = _local(local)
    if datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC) != local.astimezone(UTC):
        return {"dateTime": _local(local.astimezone(UTC)), "timeZone": "UTC"}
    return {"dateTime": text, "timeZone": name}


def _event_times(draft: EventDraft) -> tuple[dict[str, str], dict[str, str]]:
    zone, name = _draft_zone(draft)
    start, end = draft.start.astimezone(zone), draft.end.astimezone(zone)
    if draft.all_day:
        first = start.date()
        last = end.date() if _starts_its_day(end, zone) else end.date() + timedelta(days=1)
        last = max(last, first + timedelta(days=1))
        return (
            {"dateTime": f"{first.isoformat()}T00:00:00", "timeZone": name},
            {"dateTime": f"{last.isoformat()}T00:00:00", "timeZone": name},
        )
    return _wall_clock(start, zone, name), _wall_clock(end, zone, name)


def patch_body(draft: EventDraft) -> dict[str, Any]:
    """The PATCH body for ``draft``: everything the booking decides, never the online-meeting fields.

    Attendees are sent only when the draft has some (the list replaces the stored one). Reminders are
    sent only when a popup reminder is configured (Graph has no e-mail reminders).
    """
    start, end = _event_times(draft)
    body: dict[str, Any] = {
        "subject": draft.title,
        "body": {"contentType": "text", "content": draft.description},
        "start": start,
        "end": end,
        "isAllDay": draft.all_day,
        "singleValueExtendedProperties": [{"id": BOOKING_ID_PROPERTY, "value": str(draft.booking_id)}],
    }
    if draft.attendee_emails:
        body["attendees"] = [
            {"emailAddress": {"address": email}, "type": "required"} for email in draft.attendee_emails
        ]
    if draft.popup_reminder_minutes is not None:
        body["isReminderOn"] = True
        body["reminderMinutesBeforeStart"] = int(draft.popup_reminder_minutes)
    return body


def create_body(draft: EventDraft, transaction_id: str) -> dict[str, Any]:
    """The POST body: :func:`patch_body` plus ``transactionId`` (Graph answers a retried POST with the
    same id with the event the first one made) and, when asked, a Teams meeting."""
    body = {**patch_body(draft), "transactionId": transaction_id}
    if draft.meeting_link:
        body["isOnlineMeeting"] = True
        body["onlineMeetingProvider"] = TEAMS
    return body


def same_content(data: Mapping[str, Any], draft: EventDraft) -> bool:
    """Whether a live event already shows the draft's title and times (after an idempotent create that
    may have returned what an earlier attempt wrote)."""
    event = event_from_json(data)
    if event.deleted or event.title != draft.title or event.all_day != draft.all_day:
        return False
    if event.start is None or event.end is None:
        return False
    if draft.all_day:
        start, end = _event_times(draft)
        wanted = (start["dateTime"][:10], end["dateTime"][:10])
        return (event.start.date().isoformat(), event.end.date().isoformat()) == wanted
    return (event.start, event.end) == (draft.start, draft.end)


# --------------------------------------------------------------------------- subscriptions


def subscription_body(resource: str, address: str, client_state: str, expires: datetime) -> dict[str, Any]:
    """The ``POST /subscriptions`` body (lifecycle notifications go to ``address + "/lifecycle"``)."""
    return {
        "changeType": CHANGE_TYPES,
        "notificationUrl": address,
        "lifecycleNotificationUrl": address.rstrip("/") + "/lifecycle",
        "resource": resource,
        "expirationDateTime": format_utc(expires),
        "clientState": client_state,
        "latestSupportedTlsVersion": "v1_2",
    }


def renew_body(expires: datetime) -> dict[str, Any]:
    """The ``PATCH /subscriptions/{id}`` body (renewing also reauthorizes)."""
    return {"expirationDateTime": format_utc(expires)}


def channel_from_json(
    data: Mapping[str, Any], *, secret: str, fallback_id: str = "", fallback_expiry: datetime
) -> Channel:
    """The :class:`Channel` of a subscription Graph answered with (its own expiry when readable)."""
    expires = parse_graph_datetime(data.get("expirationDateTime")) or fallback_expiry
    return Channel(str(data.get("id") or fallback_id), secret, expires, {})


def max_expiry_minutes(message: str) -> int | None:
    """The limit N of Graph's "Subscription expiration can only be N minutes in the future." refusal."""
    found = _EXPIRY_LIMIT.search(message or "")
    return int(found.group(1)) if found else None
