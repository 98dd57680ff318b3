"""Calendars and events of the Calendar emulator: CRUD with etags, recurring series and a change log.

Public API: :class:`CalendarStore`, :class:`Calendar`, :class:`StoredEvent`, :func:`span`.

Every stored change gets the next number of one global change sequence; sync tokens remember the
sequence they were issued at, so an incremental list is "everything with a higher number". A deleted
event stays as a cancelled record (a tombstone). A recurring series is one stored master; its
instances are computed on the fly and get ids ``<master>_<YYYYMMDDTHHMMSSZ>`` (``<master>_<YYYYMMDD>``
all day). Changing or cancelling one instance stores an exception record under the instance id, as
Google does. When a change of the master makes instances vanish (a shorter ``COUNT``, a moved series),
cancelled "ghost" records keep them visible to incremental sync.

The store is not thread-safe by itself; the emulator holds its lock around every call.
"""

from __future__ import annotations

import base64
import copy
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

from calendar_emulators.core import Clock
from calendar_emulators.google_errors import ApiError
from calendar_emulators.google_eventbody import READ_ONLY
from calendar_emulators.google_eventbody import apply_conference
from calendar_emulators.google_eventbody import complete_conference
from calendar_emulators.google_eventbody import is_pending
from calendar_emulators.google_eventbody import merge_patch
from calendar_emulators.google_eventbody import normalize
from calendar_emulators.google_eventbody import ordered
from calendar_emulators.google_time import EventTime
from calendar_emulators.google_time import event_time
from calendar_emulators.google_time import expand
from calendar_emulators.google_time import format_timestamp
from calendar_emulators.google_time import instance_suffix
from calendar_emulators.google_time import parse_instance_suffix
from calendar_emulators.google_time import render_event_time
from calendar_emulators.google_time import zone

__all__ = ["Calendar", "CalendarStore", "StoredEvent", "span"]

EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
_CARRIED = (
    "kind", "id", "htmlLink", "created", "creator", "organizer", "iCalUID", "recurringEventId",
    "originalStartTime", "sequence", "locked", "privateCopy",
)  # fmt: skip
_SIGNIFICANT = ("start", "end", "recurrence", "location", "status")
CONFERENCE_MODES = ("success", "pending", "failure")


@dataclass
class StoredEvent:
    """One stored event resource, the change number of its last change, and its listing order."""

    body: dict[str, Any]
    seq: int
    order: int
    ghost: bool = False


@dataclass
class Calendar:
    """A calendar: its settings and its events (tombstones included)."""

    id: str
    summary: str
    time_zone: str = "UTC"
    default_reminders: list[dict[str, Any]] = field(default_factory=list)
    conference_types: tuple[str, ...] = ("hangoutsMeet",)
    events: dict[str, StoredEvent] = field(default_factory=dict)
    epoch: int = 0
    updated: datetime | None = None


def span(calendar: Calendar, body: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    """The (start, end) instants of an event body, or None for a bare tombstone."""
    if "start" not in body or "end" not in body:
        return None
    start = event_time(body["start"], calendar.time_zone, "start")
    end = event_time(body["end"], calendar.time_zone, "end")
    return start.moment, end.moment


def _new_event_id() -> str:
    return base64.b32hexencode(uuid.uuid4().bytes).decode("ascii").lower().rstrip("=")


def _html_link(event_id: str, calendar_id: str) -> str:
    eid = base64.urlsafe_b64encode(f"{event_id} {calendar_id}".encode()).decode("ascii").rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"


def _content(body: Mapping[str, Any], *drop: str) -> dict[str, Any]:
    skip = {"etag", "updated", "sequence", *drop}
    return {k: v for k, v in body.items() if k not in skip}


class CalendarStore:
    """All calendars of one emulator, with the operations behind ``events.*``."""

    def __init__(
        self,
        clock: Clock,
        *,
        seed: int = 0,
        conference_mode: str = "success",
        lenient_reminders: bool = False,
        recurrence_horizon_days: int = 730,
    ) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.conference_mode = conference_mode
        self.lenient_reminders = lenient_reminders
        self.recurrence_horizon_days = recurrence_horizon_days
        self.calendars: dict[str, Calendar] = {}
        self.seq = 0
        self._order = 0
        self.changed: set[str] = set()

    # -- calendars --------------------------------------------------------------------------
    def add_calendar(
        self,
        calendar_id: str,
        *,
        summary: str | None = None,
        time_zone: str = "UTC",
        default_reminders: list[dict[str, Any]] | None = None,
    ) -> Calendar:
        """Create a calendar (or return the existing one unchanged)."""
        if calendar_id not in self.calendars:
            zone(time_zone)
            self.calendars[calendar_id] = Calendar(
                calendar_id, summary or calendar_id, time_zone, list(default_reminders or [])
            )
        return self.calendars[calendar_id]

    def drain_changes(self) -> list[str]:
        """Return (and forget) the ids of calendars changed since the last call."""
        changed, self.changed = sorted(self.changed), set()
        return changed

    def horizon(self, calendar: Calendar, master: Mapping[str, Any]) -> datetime:
        """How far an open-ended series is expanded: ``recurrence_horizon_days`` past now or its start."""
        start = event_time(master["start"], calendar.time_zone, "start").moment
        return max(self.clock.now(), start) + timedelta(days=self.recurrence_horizon_days)

    # -- reads ------------------------------------------------------------------------------
    def get(self, calendar: Calendar, event_id: str) -> dict[str, Any]:
        """``events.get``: any stored event (cancelled too) or an instance of a series; 404 otherwise."""
        self.resolve_pending(calendar, event_id)
        return self._target(calendar, event_id)[1]

    def instances(
        self, calendar: Calendar, master: Mapping[str, Any], *, after: datetime | None, stop: datetime
    ) -> list[dict[str, Any]]:
        """Instance bodies of a series that end after ``after`` and start before ``stop``."""
        start = event_time(master["start"], calendar.time_zone, "start")
        out = []
        for original in expand(start, master["recurrence"], calendar.time_zone, stop):
            body = self._instance_body(calendar, master, original)
            if after is not None:
                bounds = span(calendar, body)
                if bounds is not None and bounds[1] <= after:
                    continue
            out.append(body)
        return out

    # -- writes -----------------------------------------------------------------------------
    def insert(
        self, calendar: Calendar, data: Mapping[str, Any], *, actor: str, conference_version: int
    ) -> dict[str, Any]:
        """``events.insert``: honour a client id (``[a-v0-9]{5,1024}``, 409 if taken) or make one."""
        event_id = data.get("id")
        if event_id is None:
            event_id = _new_event_id()
        elif not isinstance(event_id, str) or not EVENT_ID.match(event_id):
            raise ApiError(400, "invalid", "Invalid resource id value.", location="")
        elif event_id in calendar.events:
            raise ApiError(409, "duplicate", location="")
        body = self._normalize(calendar, data, is_instance=False)
        self._conference(calendar, None, body, data, conference_version)
        organizer: dict[str, Any] = {"email": calendar.id, "self": True}
        if calendar.summary != calendar.id:
            organizer["displayName"] = calendar.summary
        creator: dict[str, Any] = {"email": actor, **({"self": True} if actor == calendar.id else {})}
        body.update(
            kind="calendar#event",
            id=event_id,
            htmlLink=_html_link(event_id, calendar.id),
            creator=creator,
            organizer=organizer,
            iCalUID=str(data.get("iCalUID") or f"{event_id}@google.com"),
            sequence=_sequence(data.get("sequence")),
        )
        return self._commit(calendar, event_id, body, None)

    def patch(
        self,
        calendar: Calendar,
        event_id: str,
        data: Mapping[str, Any],
        *,
        conference_version: int,
        if_match: str | None = None,
    ) -> dict[str, Any]:
        """``events.patch``: merge ``data`` into the event (objects merge, arrays replace, null clears)."""
        stored, current = self._target(calendar, event_id)
        _check_if_match(current, if_match)
        writable = {k: v for k, v in current.items() if k not in READ_ONLY}
        merged = merge_patch(writable, {k: v for k, v in data.items() if k not in READ_ONLY})
        return self._save(calendar, event_id, stored, current, merged, data, conference_version)

    def update(
        self,
        calendar: Calendar,
        event_id: str,
        data: Mapping[str, Any],
        *,
        conference_version: int,
        if_match: str | None = None,
    ) -> dict[str, Any]:
        """``events.update`` (PUT): replace every writable property; omitted ones are reset."""
        stored, current = self._target(calendar, event_id)
        _check_if_match(current, if_match)
        writable = {k: v for k, v in data.items() if k not in READ_ONLY}
        return self._save(calendar, event_id, stored, current, writable, data, conference_version)

    def delete(self, calendar: Calendar, event_id: str, *, if_match: str | None = None) -> None:
        """``events.delete``: cancel the event (and a series' exceptions); 410 ``deleted`` if already gone."""
        stored, current = self._target(calendar, event_id)
        if current.get("status") == "cancelled":
            raise ApiError(410, "deleted", location="")
        _check_if_match(current, if_match)
        body = {**current, "status": "cancelled"}
        self._commit(calendar, event_id, body, stored)
        if body.get("recurrence"):
            self._cascade_cancel(calendar, event_id)

    def resolve_pending(self, calendar: Calendar, event_id: str | None = None) -> None:
        """Finish pending Meet create requests (of one event or the whole calendar) with success."""
        for key, stored in list(calendar.events.items()):
            if (event_id is None or key == event_id) and is_pending(stored.body):
                body = copy.deepcopy(stored.body)
                complete_conference(body, self.rng)
                self._commit(calendar, key, body, stored)

    # -- internals --------------------------------------------------------------------------
    def _normalize(self, calendar: Calendar, data: Mapping[str, Any], *, is_instance: bool) -> dict[str, Any]:
        return normalize(
            data,
            calendar_id=calendar.id,
            calendar_zone=calendar.time_zone,
            organizer_email=calendar.id,
            is_instance=is_instance,
            lenient_reminders=self.lenient_reminders,
        )

    def _conference(
        self,
        calendar: Calendar,
        old: Mapping[str, Any] | None,
        body: dict[str, Any],
        request: Mapping[str, Any],
        version: int,
    ) -> None:
        apply_conference(
            old,
            body,
            request,
            version=version,
            allowed_types=calendar.conference_types,
            mode=self.conference_mode,
            rng=self.rng,
        )

    def _target(self, calendar: Calendar, event_id: str) -> tuple[StoredEvent | None, dict[str, Any]]:
        stored = calendar.events.get(event_id)
        if stored is not None:
            return stored, copy.deepcopy(stored.body)
        virtual = self._virtual_instance(calendar, event_id)
        if virtual is None:
            raise ApiError(404, "notFound", location="")
        return None, virtual

    def _save(
        self,
        calendar: Calendar,
        event_id: str,
        stored: StoredEvent | None,
        current: dict[str, Any],
        writable: Mapping[str, Any],
        request: Mapping[str, Any],
        version: int,
    ) -> dict[str, Any]:
        body = self._normalize(calendar, writable, is_instance="recurringEventId" in current)
        self._conference(calendar, current, body, request, version)
        body.update({k: current[k] for k in _CARRIED if k in current})
        before = self._instance_starts(calendar, current) if stored is not None else {}
        result = self._commit(calendar, event_id, body, stored)
        if body.get("recurrence") and body["status"] == "cancelled":
            self._cascade_cancel(calendar, event_id)
        elif before:
            self._ghost_vanished(calendar, event_id, before)
        return result

    def _commit(
        self, calendar: Calendar, event_id: str, body: dict[str, Any], old: StoredEvent | None, *, ghost: bool = False
    ) -> dict[str, Any]:
        now = self.clock.now()
        if old is not None:
            if _content(old.body) == _content(body):
                return copy.deepcopy(old.body)
            reminders_only = _content(old.body, "reminders") == _content(body, "reminders")
            body["updated"] = old.body["updated"] if reminders_only else format_timestamp(now)
            significant = any(old.body.get(k) != body.get(k) for k in _SIGNIFICANT)
            body["sequence"] = old.body.get("sequence", 0) + (1 if significant else 0)
        else:
            body.setdefault("created", format_timestamp(now))
            body["updated"] = format_timestamp(now)
        self.seq += 1
        body["etag"] = f'"{int(now.timestamp() * 1000)}{self.seq:06d}"'
        order = old.order if old is not None else self._order_for(calendar, body)
        calendar.events[event_id] = StoredEvent(ordered(body), self.seq, order, ghost)
        calendar.updated = now
        self.changed.add(calendar.id)
        return copy.deepcopy(calendar.events[event_id].body)

    def _order_for(self, calendar: Calendar, body: Mapping[str, Any]) -> int:
        master = calendar.events.get(str(body.get("recurringEventId", "")))
        if master is not None:
            return master.order
        self._order += 1
        return self._order

    def _cascade_cancel(self, calendar: Calendar, master_id: str) -> None:
        for key, stored in list(calendar.events.items()):
            if stored.body.get("recurringEventId") == master_id and stored.body.get("status") != "cancelled":
                self._commit(calendar, key, {**copy.deepcopy(stored.body), "status": "cancelled"}, stored)

    def _instance_starts(self, calendar: Calendar, body: Mapping[str, Any]) -> dict[str, Any]:
        if not body.get("recurrence") or body.get("status") == "cancelled":
            return {}
        items = self.instances(calendar, body, after=None, stop=self.horizon(calendar, body))
        return {item["id"]: item["originalStartTime"] for item in items}

    def _ghost_vanished(self, calendar: Calendar, master_id: str, before: Mapping[str, Any]) -> None:
        now_ids = self._instance_starts(calendar, calendar.events[master_id].body)
        for instance_id, original in before.items():
            if instance_id in now_ids or instance_id in calendar.events:
                continue
            tombstone = {
                "kind": "calendar#event",
                "id": instance_id,
                "status": "cancelled",
                "recurringEventId": master_id,
                "originalStartTime": original,
            }
            self._commit(calendar, instance_id, tombstone, None, ghost=True)

    def _virtual_instance(self, calendar: Calendar, event_id: str) -> dict[str, Any] | None:
        master_id, sep, suffix = event_id.rpartition("_")
        master = calendar.events.get(master_id) if sep else None
        original = parse_instance_suffix(suffix)
        if master is None or original is None or not master.body.get("recurrence"):
            return None
        start = event_time(master.body["start"], calendar.time_zone, "start")
        if start.all_day == isinstance(original, datetime):
            return None
        moment = original if isinstance(original, datetime) else _midnight(original, calendar.time_zone)
        for found in expand(start, master.body["recurrence"], calendar.time_zone, moment + timedelta(seconds=1)):
            if found == original:
                return self._instance_body(calendar, master.body, found)
        return None

    def _instance_body(
        self, calendar: Calendar, master: Mapping[str, Any], original: datetime | date
    ) -> dict[str, Any]:
        tz = calendar.time_zone
        start = event_time(master["start"], tz, "start")
        end = event_time(master["end"], tz, "end")
        if isinstance(original, datetime):
            first = EventTime(original, None, start.time_zone)
            last = EventTime(original + (end.moment - start.moment), None, end.time_zone)
        else:
            days = (end.day - start.day) if end.day and start.day else timedelta(days=1)
            first = EventTime(_midnight(original, tz), original, start.time_zone)
            last = EventTime(_midnight(original + days, tz), original + days, end.time_zone)
        instance_id = f"{master['id']}_{instance_suffix(original)}"
        body = {k: copy.deepcopy(v) for k, v in master.items() if k != "recurrence"}
        body.update(
            id=instance_id,
            htmlLink=_html_link(instance_id, calendar.id),
            recurringEventId=master["id"],
            originalStartTime=render_event_time(first, tz),
            start=render_event_time(first, tz),
            end=render_event_time(last, tz),
        )
        return ordered(body)


def _sequence(value: Any) -> int:
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid", "Invalid sequence value.", location="") from None


def _midnight(day: date, time_zone: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone(time_zone))


def _check_if_match(current: Mapping[str, Any], if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if current.get("etag") not in wanted:
        raise ApiError(412, "conditionNotMet")
