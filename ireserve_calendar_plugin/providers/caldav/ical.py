"""iCalendar <-> the engine's model: VEVENT parsing, recurrence expansion and event writing.

Public API: :func:`events_of`, :func:`new_calendar`, :func:`apply_draft`, :func:`cancel_instance`,
:func:`instance_of`, :func:`uid_of`, :func:`event_id`, :func:`split_event_id`, :data:`BOOKING_PROPERTY`.

Needs the ``[caldav]`` extra (icalendar, recurring-ical-events).

Event ids: a calendar member without recurrence is one event whose id is the member's name
(``abc.ics``); a recurring member gives one event per instance inside the sync window, with the id
``<name>#<recurrence id>`` (``abc.ics#20260105T090000Z``; ``#20260105`` for all-day, no ``Z`` for
floating times), so a booking follows exactly one instance, and an EXDATE or an override
(RECURRENCE-ID) changes exactly that booking.
"""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Alarm
from icalendar import Calendar
from icalendar import Component
from icalendar import Event
from icalendar import Timezone
from icalendar import vCalAddress

from ireserve_calendar_plugin.sync.model import EventDraft
from ireserve_calendar_plugin.sync.model import RemoteEvent
from ireserve_calendar_plugin.sync.model import Window

__all__ = [
    "BOOKING_PROPERTY",
    "apply_draft",
    "cancel_instance",
    "event_id",
    "events_of",
    "instance_of",
    "new_calendar",
    "split_event_id",
    "uid_of",
]

#: The booking id we write into our events (read back to match an event whose link was lost).
BOOKING_PROPERTY = "X-IRESERVE-BOOKING-ID"
PRODID = "-//i-Reserve//calendar plugin//EN"


def event_id(name: str, rid: str = "") -> str:
    return f"{name}#{rid}" if rid else name


def split_event_id(value: str) -> tuple[str, str]:
    """``(member name, recurrence id or "")``."""
    name, _, rid = value.partition("#")
    return name, rid


def rid_text(value: date | datetime) -> str:
    """The recurrence-id part of an instance's event id."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.strftime("%Y%m%dT%H%M%S")
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _rid_value(rid: str, like: date | datetime) -> date | datetime:
    """The recurrence id as a value of the same kind as the master's DTSTART (for EXDATE/RECURRENCE-ID)."""
    if len(rid) == 8:
        return datetime.strptime(rid, "%Y%m%d").date()
    if rid.endswith("Z"):
        instant = datetime.strptime(rid, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if isinstance(like, datetime) and like.tzinfo is not None:
            return instant.astimezone(like.tzinfo)
        return instant
    return datetime.strptime(rid, "%Y%m%dT%H%M%S")


def _parse(text: str) -> Calendar | None:
    try:
        return Calendar.from_ical(text)
    except ValueError:
        return None


def uid_of(text: str) -> str:
    cal = _parse(text)
    if cal is None:
        return ""
    for component in cal.walk("VEVENT"):
        return str(component.get("UID", ""))
    return ""


def _masters(cal: Calendar) -> tuple[Component | None, list[Component]]:
    events = list(cal.walk("VEVENT"))
    master = next((e for e in events if "RECURRENCE-ID" not in e), None)
    overrides = [e for e in events if "RECURRENCE-ID" in e]
    return master, overrides


def _recurring(master: Component | None, overrides: list[Component]) -> bool:
    return bool(overrides) or (master is not None and ("RRULE" in master or "RDATE" in master))


def _local(value: date | datetime, zone: ZoneInfo) -> date | datetime:
    """Floating times are read in the calendar's zone (the object's)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value


def _to_event(component: Component, eid: str, etag: str, zone: ZoneInfo, series: str = "") -> RemoteEvent:
    status = str(component.get("STATUS", "")).upper()
    if status == "CANCELLED":
        return RemoteEvent(id=eid, etag=etag, deleted=True)
    start_raw = component.decoded("DTSTART") if "DTSTART" in component else None
    if start_raw is None:
        return RemoteEvent(id=eid, etag=etag, title=str(component.get("SUMMARY", "")))
    if "DTEND" in component:
        end_raw = component.decoded("DTEND")
    elif "DURATION" in component:
        end_raw = start_raw + component.decoded("DURATION")
    else:
        end_raw = start_raw + (timedelta(days=1) if not isinstance(start_raw, datetime) else timedelta(0))
    all_day = not isinstance(start_raw, datetime)
    timezone = ""
    if all_day:
        start = datetime.combine(start_raw, time(0), UTC)
        end = datetime.combine(end_raw if not isinstance(end_raw, datetime) else end_raw.date(), time(0), UTC)
    else:
        start = _local(start_raw, zone)  # type: ignore[assignment]
        end = _local(end_raw if isinstance(end_raw, datetime) else datetime.combine(end_raw, time(0)), zone)  # type: ignore[assignment]
        tzid = component["DTSTART"].params.get("TZID") if hasattr(component["DTSTART"], "params") else None
        timezone = str(tzid) if tzid and _known_zone(str(tzid)) else ""
    booking = component.get(BOOKING_PROPERTY)
    organizer = str(component.get("ORGANIZER", "") or "")
    return RemoteEvent(
        id=eid,
        etag=etag,
        title=str(component.get("SUMMARY", "")),
        description=str(component.get("DESCRIPTION", "")),
        start=start,
        end=end,
        all_day=all_day,
        timezone=timezone,
        booking_id=int(str(booking)) if booking is not None and str(booking).isdigit() else None,
        organizer_email=organizer[7:] if organizer.lower().startswith("mailto:") else "",
        series_id=series,
    )


def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


def events_of(name: str, etag: str, text: str, window: Window, zone: ZoneInfo) -> tuple[list[RemoteEvent], bool]:
    """The events one member holds: ``(events, recurring)``. A recurring member is expanded within
    ``window``, one event per instance (EXDATEs left out, overrides applied). Unreadable data gives no
    event (a VTODO or a broken file must not stop the calendar)."""
    cal = _parse(text)
    if cal is None:
        return [], False
    master, overrides = _masters(cal)
    if not _recurring(master, overrides):
        if master is None:
            return [], False
        return [_to_event(master, name, etag, zone)], False
    events = []
    try:
        instances = recurring_ical_events.of(cal).between(window.start, window.end)
    except Exception:  # the library rejects some malformed rules; such a member is left alone
        return [], True
    for component in instances:
        rid_raw = component.decoded("RECURRENCE-ID") if "RECURRENCE-ID" in component else component.decoded("DTSTART")
        events.append(_to_event(component, event_id(name, rid_text(rid_raw)), etag, zone, series=name))
    return events, True


def instance_of(name: str, etag: str, text: str, rid: str, zone: ZoneInfo) -> RemoteEvent | None:
    """One instance of a recurring member wherever it now lies (None when it was removed)."""
    cal = _parse(text)
    if cal is None:
        return None
    master, overrides = _masters(cal)
    for component in overrides:
        if rid_text(component.decoded("RECURRENCE-ID")) == rid:
            event = _to_event(component, event_id(name, rid), etag, zone, series=name)
            return None if event.deleted else event
    if master is None or "DTSTART" not in master:
        return None
    like = master.decoded("DTSTART")
    at = _rid_value(rid, like)
    start = at if isinstance(at, datetime) else datetime.combine(at, time(0))
    if isinstance(start, datetime) and start.tzinfo is None and isinstance(like, datetime) and like.tzinfo:
        start = start.replace(tzinfo=like.tzinfo)
    try:
        found = recurring_ical_events.of(cal).between(start - timedelta(days=1), start + timedelta(days=2))
    except Exception:
        return None
    for component in found:
        raw = component.decoded("RECURRENCE-ID") if "RECURRENCE-ID" in component else component.decoded("DTSTART")
        if rid_text(raw) == rid:
            event = _to_event(component, event_id(name, rid), etag, zone, series=name)
            return None if event.deleted else event
    return None


# --------------------------------------------------------------------------- writing


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    """The instant as wall time in the object's zone (written with its TZID), or in UTC when that wall
    time is ambiguous (the hour a DST change repeats): a TZID time there would be read as the first one."""
    local = instant.astimezone(zone)
    if local.replace(fold=0).astimezone(UTC) != local.replace(fold=1).astimezone(UTC):
        return instant.astimezone(UTC)
    return local


def _times(draft: EventDraft) -> tuple[date | datetime, date | datetime]:
    zone = ZoneInfo(draft.timezone or "UTC")
    if draft.all_day:
        return draft.start.astimezone(zone).date(), draft.end.astimezone(zone).date()
    return _wall(draft.start, zone), _wall(draft.end, zone)


def _alarms(event: Component, draft: EventDraft) -> None:
    event.subcomponents = [c for c in event.subcomponents if c.name != "VALARM" or not c.get("X-IRESERVE")]
    if draft.popup_reminder_minutes is not None:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", draft.title)
        alarm.add("TRIGGER", timedelta(minutes=-draft.popup_reminder_minutes))
        alarm.add("X-IRESERVE", "popup")
        event.add_component(alarm)
    if draft.email_reminder_minutes is not None and draft.attendee_emails:
        alarm = Alarm()
        alarm.add("ACTION", "EMAIL")
        alarm.add("SUMMARY", draft.title)
        alarm.add("DESCRIPTION", draft.description)
        alarm.add("TRIGGER", timedelta(minutes=-draft.email_reminder_minutes))
        alarm.add("ATTENDEE", vCalAddress(f"mailto:{draft.attendee_emails[0]}"))
        alarm.add("X-IRESERVE", "email")
        event.add_component(alarm)


def _set(component: Component, name: str, value: Any) -> None:
    if name in component:
        del component[name]
    component.add(name, value)


def _write(component: Component, draft: EventDraft, now: datetime) -> None:
    start, end = _times(draft)
    for name in ("DTSTART", "DTEND", "DURATION"):
        if name in component:
            del component[name]
    component.add("DTSTART", start)
    component.add("DTEND", end)
    _set(component, "SUMMARY", draft.title)
    _set(component, "DESCRIPTION", draft.description)
    _set(component, BOOKING_PROPERTY, str(draft.booking_id))
    _set(component, "DTSTAMP", now.astimezone(UTC))
    _set(component, "SEQUENCE", int(component.get("SEQUENCE", 0) or 0) + 1 if "SEQUENCE" in component else 0)
    if "ATTENDEE" in component:
        del component["ATTENDEE"]
    for email in draft.attendee_emails:
        component.add("ATTENDEE", vCalAddress(f"mailto:{email}"), parameters={"RSVP": "TRUE"})
    _alarms(component, draft)


@cache
def _vtimezone(tzid: str) -> Timezone:
    """The VTIMEZONE of an IANA zone (built once per process: it takes milliseconds)."""
    return Timezone.from_tzid(tzid)


def _finish(cal: Calendar) -> bytes:
    """Serialise, with a VTIMEZONE for every zone a property names and the member does not define."""
    for tzid in sorted(cal.get_missing_tzids()):
        if _known_zone(tzid):
            cal.subcomponents.insert(0, _vtimezone(tzid))
    return bytes(cal.to_ical())


def new_calendar(uid: str, draft: EventDraft, now: datetime) -> bytes:
    """A member holding one new VEVENT for the draft, with the VTIMEZONE of its zone."""
    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    event = Event()
    event.add("UID", uid)
    _write(event, draft, now)
    cal.add_component(event)
    return _finish(cal)


def apply_draft(text: str, rid: str, draft: EventDraft, now: datetime) -> bytes:
    """The member with the draft written into its event (or the instance ``rid``, as an override); every
    other property a person set stays."""
    cal = Calendar.from_ical(text)
    master, overrides = _masters(cal)
    if not rid:
        if master is None:
            raise ValueError("the member holds no event")
        _write(master, draft, now)
        return _finish(cal)
    target = next((c for c in overrides if rid_text(c.decoded("RECURRENCE-ID")) == rid), None)
    if target is None:
        if master is None:
            raise ValueError("the member holds no master event to override")
        target = Event()
        for key, value in master.items():
            if key not in ("RRULE", "RDATE", "EXDATE", "DTSTART", "DTEND", "DURATION"):
                target[key] = value
        target.add("RECURRENCE-ID", _rid_value(rid, master.decoded("DTSTART")))
        cal.add_component(target)
    _write(target, draft, now)
    return _finish(cal)


def cancel_instance(text: str, rid: str) -> bytes:
    """The member without the instance ``rid``: an EXDATE on the master, its override removed."""
    cal = Calendar.from_ical(text)
    master, overrides = _masters(cal)
    for component in overrides:
        if rid_text(component.decoded("RECURRENCE-ID")) == rid:
            cal.subcomponents.remove(component)
    if master is not None and "DTSTART" in master:
        master.add("EXDATE", _rid_value(rid, master.decoded("DTSTART")))
    return bytes(cal.to_ical())
