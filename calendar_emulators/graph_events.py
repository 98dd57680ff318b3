"""Mailboxes and their events: validation of event payloads, versioned storage, instances.

Public API: :class:`EventRecord`, :class:`Instance`, :class:`Mailbox`, :class:`EventStore`.

Every committed change gives the event a new ``changeKey`` (and so ``@odata.etag``), a new
``lastModifiedDateTime`` and the mailbox's next sequence number, and is kept in a short history so
delta can see a mailbox "as of" a moment (the processing-delay knob). Records are copied on write:
a committed :class:`EventRecord` never changes, so a delta round can hold on to it.

Series masters expand into :class:`Instance` objects (``occurrence`` / ``exception``); an
occurrence id decodes back to its master and local date, so GET / PATCH / DELETE on it work.
"""

from __future__ import annotations

import base64
import copy
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any

from .graph_common import GraphError
from .graph_common import new_item_id
from .graph_common import parse_iso
from .graph_common import resolve_zone
from .graph_common import weak_etag
from .graph_directory import User
from .graph_recurrence import normalize_recurrence
from .graph_recurrence import occurrence_dates
from .graph_recurrence import occurrence_id
from .graph_recurrence import parse_occurrence_id

__all__ = ["EventRecord", "EventStore", "Instance", "Mailbox"]

#: Properties a client may write (POST / PATCH).
WRITABLE = frozenset(
    {
        "subject", "body", "start", "end", "isAllDay", "location", "locations", "attendees", "showAs",
        "importance", "sensitivity", "categories", "isReminderOn", "reminderMinutesBeforeStart",
        "isOnlineMeeting", "onlineMeetingProvider", "recurrence", "responseRequested", "allowNewTimeProposals",
        "hideAttendees", "transactionId", "originalStartTimeZone", "originalEndTimeZone",
        "singleValueExtendedProperties", "multiValueExtendedProperties", "extensions",
    }
)  # fmt: skip
#: Properties of microsoft.graph.event that are read-only (silently ignored on write).
READ_ONLY = frozenset(
    {
        "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "iCalUId", "type", "webLink",
        "bodyPreview", "hasAttachments", "isOrganizer", "responseStatus", "seriesMasterId", "onlineMeeting",
        "onlineMeetingUrl", "originalStart", "isDraft", "organizer", "isCancelled",
        "attachments", "calendar", "instances",
    }
)  # fmt: skip
ENUMS = {
    "showAs": ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown"),
    "importance": ("low", "normal", "high"),
    "sensitivity": ("normal", "personal", "private", "confidential"),
    "onlineMeetingProvider": ("unknown", "teamsForBusiness", "skypeForBusiness", "skypeForConsumer"),
}
NO_TIME = "0001-01-01T00:00:00Z"


def _bad_request(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidRequest", message)


def _body_read(message: str) -> GraphError:
    return GraphError(400, "RequestBodyRead", message)


def not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def new_change_key() -> str:
    return "DwAAABYAAAA" + base64.b64encode(secrets.token_bytes(15)).decode()


# --------------------------------------------------------------------------- records


@dataclass
class EventRecord:
    """One event (single instance or series master) as stored. Never mutated once committed."""

    id: str
    mailbox_id: str
    created: datetime
    modified: datetime
    change_key: str
    ical_uid: str
    start: datetime  # naive wall-clock time in start_tz
    start_tz: str
    end: datetime
    end_tz: str
    all_day: bool = False
    props: dict[str, Any] = field(default_factory=dict)
    recurrence: dict[str, Any] | None = None
    exceptions: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    ext_props: list[dict[str, Any]] = field(default_factory=list)
    multi_ext_props: list[dict[str, Any]] = field(default_factory=list)
    extensions: list[dict[str, Any]] = field(default_factory=list)
    transaction_id: str | None = None
    seq: int = 0
    deleted: bool = False

    @property
    def type(self) -> str:
        return "seriesMaster" if self.recurrence else "singleInstance"

    @property
    def etag(self) -> str:
        return weak_etag(self.change_key)

    def copy(self) -> EventRecord:
        return copy.deepcopy(self)


@dataclass(frozen=True)
class Instance:
    """What a calendar view shows: a single event, or one occurrence / exception of a series."""

    id: str
    record: EventRecord
    kind: str
    start: datetime
    start_tz: str
    end: datetime
    end_tz: str
    start_utc: datetime
    end_utc: datetime
    original_start: datetime | None = None
    overrides: dict[str, Any] | None = None

    @property
    def marker(self) -> str:
        """Changes whenever what delta would send for this instance changes."""
        return self.record.change_key

    @property
    def props(self) -> dict[str, Any]:
        if not self.overrides:
            return self.record.props
        return {**self.record.props, **{k: v for k, v in self.overrides.items() if not k.startswith("_")}}


def to_utc(local: datetime, zone_name: str) -> datetime:
    return local.replace(tzinfo=resolve_zone(zone_name)).astimezone(UTC)


def overlaps(start: datetime, end: datetime, win_start: datetime, win_end: datetime) -> bool:
    if start == end:
        return win_start <= start < win_end
    return start < win_end and end > win_start


def single_instance(rec: EventRecord) -> Instance:
    return Instance(
        rec.id, rec, "singleInstance", rec.start, rec.start_tz, rec.end, rec.end_tz,
        to_utc(rec.start, rec.start_tz), to_utc(rec.end, rec.end_tz),
    )  # fmt: skip


def occurrence(rec: EventRecord, day: date) -> Instance | None:
    """The occurrence of series ``rec`` on local date ``day`` (None if it was deleted)."""
    key = day.isoformat()
    if key in rec.exceptions and rec.exceptions[key] is None:
        return None
    override = rec.exceptions.get(key) or {}
    start = datetime.combine(day, rec.start.time())
    if rec.start_tz == rec.end_tz:
        end = start + (rec.end - rec.start)
    else:
        end_utc = to_utc(start, rec.start_tz) + (to_utc(rec.end, rec.end_tz) - to_utc(rec.start, rec.start_tz))
        end = end_utc.astimezone(resolve_zone(rec.end_tz)).replace(tzinfo=None)
    original = to_utc(start, rec.start_tz)
    start_tz, end_tz = rec.start_tz, rec.end_tz
    if "_start" in override:
        start, start_tz = override["_start"]
        end, end_tz = override["_end"]
    kind = "exception" if override else "occurrence"
    return Instance(
        occurrence_id(rec.id, day), rec, kind, start, start_tz, end, end_tz,
        to_utc(start, start_tz), to_utc(end, end_tz), original, override or None,
    )  # fmt: skip


def expand(rec: EventRecord, win_start: datetime, win_end: datetime) -> list[Instance]:
    """The instances of ``rec`` that overlap the UTC window."""
    if rec.deleted:
        return []
    if not rec.recurrence:
        single = single_instance(rec)
        return [single] if overlaps(single.start_utc, single.end_utc, win_start, win_end) else []
    until = win_end.astimezone(resolve_zone(rec.start_tz)).date() + timedelta(days=1)
    found = []
    for day in occurrence_dates(rec.recurrence, until):
        inst = occurrence(rec, day)
        if inst is not None and overlaps(inst.start_utc, inst.end_utc, win_start, win_end):
            found.append(inst)
    return found


# --------------------------------------------------------------------------- payload parsing


def parse_date_time_tz(value: Any, name: str) -> tuple[datetime, str]:
    """``{"dateTime": "2024-05-01T09:00:00.0000000", "timeZone": "W. Europe Standard Time"}`` -> (local, zone)."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise _body_read(f"Cannot read the value of property '{name}': a dateTimeTimeZone with dateTime is required.")
    zone_name = value.get("timeZone")
    if not isinstance(zone_name, str) or not zone_name.strip():  # required, as Graph has it
        zone_name = ""
    zone = resolve_zone(zone_name)
    try:
        moment = parse_iso(value["dateTime"])
    except ValueError:
        raise _body_read(
            f"Cannot convert the literal '{value['dateTime']}' to the expected type 'Edm.String'."
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone).replace(tzinfo=None)
    return moment, zone_name


def _check_types(payload: dict[str, Any]) -> None:
    for key in payload:
        if key.startswith("@odata") or key in WRITABLE or key in READ_ONLY:
            continue
        raise _body_read(
            f"The property '{key}' does not exist on type 'microsoft.graph.event'. Make sure to only use property "
            "names that are defined by the type or mark the type as open type."
        )
    for key in (
        "isAllDay",
        "isReminderOn",
        "isOnlineMeeting",
        "responseRequested",
        "allowNewTimeProposals",
        "hideAttendees",
    ):
        if key in payload and not isinstance(payload[key], bool):
            raise _body_read(f"Cannot convert the literal '{payload[key]}' to the expected type 'Edm.Boolean'.")
    for key in ("subject", "transactionId"):
        if key in payload and payload[key] is not None and not isinstance(payload[key], str):
            raise _body_read(f"Cannot convert the literal '{payload[key]}' to the expected type 'Edm.String'.")


def _norm_enum(name: str, value: Any) -> str:
    for option in ENUMS[name]:
        if str(value).lower() == option.lower():
            return option
    raise _body_read(f"Requested value '{value}' was not found.")


def _norm_body(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _body_read("Cannot read the value of property 'body'.")
    kind = str(value.get("contentType") or "text").lower()
    if kind not in ("text", "html"):
        raise _body_read(f"Requested value '{value.get('contentType')}' was not found.")
    return {"contentType": kind, "content": str(value.get("content") or "")}


def _norm_location(value: Any) -> dict[str, Any]:
    value = dict(value or {})
    value.setdefault("displayName", "")
    value.setdefault("locationType", "default")
    value.setdefault("uniqueIdType", "unknown" if not value.get("uniqueId") else "private")
    return value


def _norm_attendees(value: Any) -> list[dict[str, Any]]:
    result = []
    for item in value or []:
        item = dict(item)
        item.setdefault("type", "required")
        item.setdefault("status", {"response": "none", "time": NO_TIME})
        result.append(item)
    return result


def _merge_ext(current: list[dict[str, Any]], given: Any) -> list[dict[str, Any]]:
    merged = {p["id"].lower(): p for p in current}
    for prop in given or []:
        if not isinstance(prop, dict) or not isinstance(prop.get("id"), str) or "value" not in prop:
            raise _body_read("An extended property needs an 'id' and a 'value'.")
        merged[prop["id"].lower()] = {"id": prop["id"], "value": prop["value"]}
    return list(merged.values())


def teams_meeting() -> dict[str, Any]:
    thread = secrets.token_hex(16)
    return {
        "joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0"
        f"?context=%7b%22Tid%22%3a%22{secrets.token_hex(4)}%22%7d",
        "conferenceId": str(secrets.randbelow(10**9)).zfill(9),
        "tollNumber": "+1 555-0100",
        "tollFreeNumbers": [],
        "quickDial": None,
        "phones": [],
    }


# --------------------------------------------------------------------------- mailboxes


class Mailbox:
    """The default calendar of one user or room: events, their history, sequence and transaction ids."""

    def __init__(self, owner: User) -> None:
        self.owner = owner
        self.calendar_id = new_item_id("AAMkAGI1")
        self.events: dict[str, EventRecord] = {}
        self.history: dict[str, list[tuple[datetime, int, EventRecord | None]]] = {}
        self.seq = 0
        self.transactions: dict[str, str] = {}

    @property
    def id(self) -> str:
        return self.owner.id

    def view(self, cutoff: datetime | None = None) -> dict[str, tuple[int, EventRecord | None]]:
        """Every event id with (sequence, record or None if deleted) as of ``cutoff`` (None = now)."""
        result: dict[str, tuple[int, EventRecord | None]] = {}
        for event_id, versions in self.history.items():
            for at, seq, rec in reversed(versions):
                if cutoff is None or at <= cutoff:
                    result[event_id] = (seq, rec)
                    break
        return result

    def live(self) -> list[EventRecord]:
        return [rec for rec in self.events.values() if not rec.deleted]


class EventStore:
    """All mailboxes. ``on_change(mailbox, record, change_type)`` is called after every commit."""

    def __init__(self, now: Callable[[], datetime], on_change: Callable[[Mailbox, EventRecord, str], None]) -> None:
        self.now = now
        self.on_change = on_change
        self.mailboxes: dict[str, Mailbox] = {}
        #: Set by the emulator: the next create is stored, then this error is raised instead of answering.
        self.fail_after_store: list[GraphError] = []

    def mailbox(self, owner: User) -> Mailbox:
        if owner.id not in self.mailboxes:
            self.mailboxes[owner.id] = Mailbox(owner)
        return self.mailboxes[owner.id]

    # -- reading --------------------------------------------------------------------------
    def record(self, mbx: Mailbox, event_id: str) -> EventRecord:
        rec = mbx.events.get(event_id)
        if rec is None or rec.deleted:
            raise not_found()
        return rec

    def instance(self, mbx: Mailbox, event_id: str) -> Instance:
        """An event or occurrence by id; 404 ``ErrorItemNotFound`` if unknown or deleted."""
        parsed = parse_occurrence_id(event_id)
        if parsed is None:
            rec = self.record(mbx, event_id)
            return single_instance(rec) if not rec.recurrence else _master_instance(rec)
        master = self.record(mbx, parsed[0])
        if not master.recurrence:
            raise not_found()
        inst = occurrence(master, parsed[1])
        if inst is None or parsed[1] not in set(occurrence_dates(master.recurrence, parsed[1])):
            raise not_found()
        return inst

    def calendar_view(
        self, mbx: Mailbox, win_start: datetime, win_end: datetime, cutoff: datetime | None = None
    ) -> list[Instance]:
        records = mbx.live() if cutoff is None else [r for _, r in mbx.view(cutoff).values() if r and not r.deleted]
        found = [inst for rec in records for inst in expand(rec, win_start, win_end)]
        return sorted(found, key=lambda i: (i.start_utc, i.id))

    # -- writing --------------------------------------------------------------------------
    def create(self, mbx: Mailbox, payload: dict[str, Any], *, person: bool = False) -> tuple[EventRecord, bool]:
        """Store a new event; returns (record, created). A known ``transactionId`` returns the existing one."""
        _check_types(payload)
        tx = payload.get("transactionId")
        if tx and tx in mbx.transactions:
            existing = mbx.events.get(mbx.transactions[tx])
            if existing is not None and not existing.deleted:
                return existing, False
        if "start" not in payload or "end" not in payload:
            raise _bad_request("The start and end of an event are required.")
        now = self.now()
        start, start_tz = parse_date_time_tz(payload["start"], "start")
        end, end_tz = parse_date_time_tz(payload["end"], "end")
        rec = EventRecord(
            id=new_item_id(), mailbox_id=mbx.id, created=now, modified=now, change_key=new_change_key(),
            ical_uid="040000008200E00074C5B7101A82E00800000000" + secrets.token_hex(28).upper(),
            start=start, start_tz=start_tz, end=end, end_tz=end_tz, transaction_id=tx,
        )  # fmt: skip
        rec.props = self._default_props(mbx.owner)
        self._apply(rec, {k: v for k, v in payload.items() if k not in ("start", "end")}, person=person)
        self._validate(rec)
        if tx:
            mbx.transactions[tx] = rec.id
        self._commit(mbx, rec, "created")
        if self.fail_after_store and not person:
            raise self.fail_after_store.pop(0)
        return rec, True

    def update(
        self, mbx: Mailbox, event_id: str, payload: dict[str, Any], *, if_match: str | None = None, person: bool = False
    ) -> Instance:
        _check_types(payload)
        parsed = parse_occurrence_id(event_id)
        if parsed is not None:
            return self._update_occurrence(mbx, event_id, parsed, payload, if_match, person)
        rec = self.record(mbx, event_id).copy()
        self._check_etag(rec.etag, if_match)
        self._apply(rec, payload, person=person)
        self._validate(rec)
        self._commit(mbx, rec, "updated")
        return self.instance(mbx, event_id)

    def delete(self, mbx: Mailbox, event_id: str, *, if_match: str | None = None) -> None:
        parsed = parse_occurrence_id(event_id)
        if parsed is not None:
            inst = self.instance(mbx, event_id)
            self._check_etag(inst.record.etag, if_match)
            master = inst.record.copy()
            master.exceptions[parsed[1].isoformat()] = None
            self._commit(mbx, master, "updated")
            return
        rec = self.record(mbx, event_id).copy()
        self._check_etag(rec.etag, if_match)
        rec.deleted = True
        self._commit(mbx, rec, "deleted")

    # -- internals ------------------------------------------------------------------------
    def _default_props(self, owner: User) -> dict[str, Any]:
        return {
            "subject": "",
            "body": {"contentType": "html", "content": ""},
            "importance": "normal",
            "sensitivity": "normal",
            "showAs": "busy",
            "categories": [],
            "isReminderOn": True,
            "reminderMinutesBeforeStart": 15,
            "isCancelled": False,
            "isOrganizer": True,
            "responseRequested": True,
            "allowNewTimeProposals": True,
            "hideAttendees": False,
            "isOnlineMeeting": False,
            "onlineMeetingProvider": "unknown",
            "onlineMeeting": None,
            "location": _norm_location({}),
            "locations": [],
            "attendees": [],
            "organizer": {"emailAddress": {"name": owner.display_name, "address": owner.upn}},
            "responseStatus": {"response": "organizer", "time": NO_TIME},
        }

    def _apply(self, rec: EventRecord, payload: dict[str, Any], *, person: bool) -> None:
        """Merge a payload into ``rec`` (already a private copy)."""
        for key, value in payload.items():
            if key.startswith("@odata") or (key in READ_ONLY and not person):
                continue
            self._apply_one(rec, key, value)
        self._online_meeting(rec, payload)

    def _apply_one(self, rec: EventRecord, key: str, value: Any) -> None:
        if key == "start":
            rec.start, rec.start_tz = parse_date_time_tz(value, "start")
        elif key == "end":
            rec.end, rec.end_tz = parse_date_time_tz(value, "end")
        elif key == "isAllDay":
            rec.all_day = bool(value)
        elif key == "recurrence":
            rec.recurrence = normalize_recurrence(value, rec.start.date())
            rec.exceptions = {}
        elif key == "transactionId":
            rec.transaction_id = rec.transaction_id or value
        elif key == "singleValueExtendedProperties":
            rec.ext_props = _merge_ext(rec.ext_props, value)
        elif key == "multiValueExtendedProperties":
            rec.multi_ext_props = _merge_ext(rec.multi_ext_props, value)
        elif key == "extensions":
            rec.extensions = [dict(e) for e in value or []]
        elif key == "body":
            rec.props["body"] = _norm_body(value)
        elif key == "location":
            rec.props["location"] = _norm_location(value)
        elif key == "locations":
            rec.props["locations"] = [_norm_location(v) for v in value or []]
        elif key == "attendees":
            rec.props["attendees"] = _norm_attendees(value)
        elif key in ENUMS:
            rec.props[key] = _norm_enum(key, value)
        elif key in ("originalStartTimeZone", "originalEndTimeZone"):
            resolve_zone(str(value))
        else:
            rec.props[key] = copy.deepcopy(value)

    def _online_meeting(self, rec: EventRecord, payload: dict[str, Any]) -> None:
        props = rec.props
        if props.get("onlineMeeting"):
            # once initialised a Teams meeting stays online with its provider and join URL
            props["isOnlineMeeting"] = True
            props["onlineMeetingProvider"] = "teamsForBusiness"
            return
        if not props.get("isOnlineMeeting"):
            return
        if "onlineMeetingProvider" not in payload or props["onlineMeetingProvider"] == "unknown":
            props["onlineMeetingProvider"] = "teamsForBusiness"
        if props["onlineMeetingProvider"] == "teamsForBusiness":
            props["onlineMeeting"] = teams_meeting()

    def _validate(self, rec: EventRecord) -> None:
        if rec.all_day and (
            rec.start.time() != time(0)
            or rec.end.time() != time(0)
            or rec.start_tz != rec.end_tz
            or rec.end <= rec.start
        ):
            raise _bad_request(
                "If the event is an all-day event, start and end time must be set to midnight and be in the same "
                "time zone, and the end must be at least one day after the start."
            )

    def _check_etag(self, current: str, if_match: str | None) -> None:
        if if_match and if_match.strip() != "*" and if_match.strip() != current:
            raise GraphError(
                412,
                "ErrorIrresolvableConflict",
                "The send or update operation could not be performed because the change key passed in the request "
                "does not match the current change key for the item.",
            )

    def _update_occurrence(
        self,
        mbx: Mailbox,
        event_id: str,
        parsed: tuple[str, date],
        payload: dict[str, Any],
        if_match: str | None,
        person: bool,
    ) -> Instance:
        inst = self.instance(mbx, event_id)
        self._check_etag(inst.record.etag, if_match)
        override = dict(inst.overrides or {})
        if "start" in payload or "end" in payload:
            override["_start"] = (
                parse_date_time_tz(payload["start"], "start") if "start" in payload else (inst.start, inst.start_tz)
            )
            override["_end"] = (
                parse_date_time_tz(payload["end"], "end") if "end" in payload else (inst.end, inst.end_tz)
            )
        scratch = replace(inst.record.copy(), props=dict(inst.props))
        self._apply(
            scratch, {k: v for k, v in payload.items() if k not in ("start", "end", "recurrence")}, person=person
        )
        override.update({k: scratch.props[k] for k in payload if k in scratch.props})
        master = inst.record.copy()
        master.exceptions[parsed[1].isoformat()] = override
        self._commit(mbx, master, "updated")
        return self.instance(mbx, event_id)

    def _commit(self, mbx: Mailbox, rec: EventRecord, change: str) -> None:
        now = self.now()
        mbx.seq += 1
        rec.seq = mbx.seq
        rec.modified = now
        rec.change_key = new_change_key()
        mbx.events[rec.id] = rec
        versions = mbx.history.setdefault(rec.id, [])
        versions.append((now, rec.seq, None if rec.deleted else rec))
        del versions[:-16]
        self.on_change(mbx, rec, change)


def _master_instance(rec: EventRecord) -> Instance:
    inst = single_instance(rec)
    return replace(inst, kind="seriesMaster")
