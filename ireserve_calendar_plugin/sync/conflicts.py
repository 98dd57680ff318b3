"""The review queue: inbound changes that could not become or move a booking, one entry per event.

Public API: :class:`ConflictKind`, :class:`ConflictStatus`, :class:`Choice`, :class:`Resolution`,
:class:`Wanted`, :class:`ConflictEntry`, :class:`ConflictBook`, :func:`conflict_id`, :func:`merge`,
:func:`resolve`.

An inbound event the host refuses (an overlap, a booking in a lock status, updates of foreign bookings
switched off, data the host rejects) is not logged per event per round: it becomes one entry, keyed by
calendar and event, holding what the calendar wants and what the host has. An admin decides (apply
anyway, keep the booking, dismiss); an entry is resolved by itself when a later round applies the event
(the calendar side changed so the conflict is gone) or the event disappears.

The decisions are pure (:func:`merge`, :func:`resolve`); :class:`ConflictBook` stores the entries in
``conflicts/<calendar key>`` (one document per calendar, changed by compare-and-set, so a round and an
admin's click never lose each other's changes). Provider-neutral, like the rest of the engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import StaleStateError

__all__ = [
    "Choice",
    "ConflictBook",
    "ConflictEntry",
    "ConflictKind",
    "ConflictStatus",
    "Resolution",
    "Wanted",
    "conflict_id",
    "merge",
    "resolve",
]


class ConflictKind(StrEnum):
    """Why the change was not applied."""

    OVERLAP = "overlap"  # the host's validation refused it (for example another booking at that time)
    LOCKED = "locked"  # the event was deleted, but the booking is in a lock status
    UPDATES_OFF = "updates_off"  # the booking was not made through this integration and updates are off
    REJECTED = "rejected"  # the host refused the event's data


class ConflictStatus(StrEnum):
    """``open``: waits for an admin; ``dismissed``: hidden until the event changes again; ``ignored``: a
    foreign event an admin chose to leave alone (never asked about again)."""

    OPEN = "open"
    DISMISSED = "dismissed"
    IGNORED = "ignored"


class Choice(StrEnum):
    """What an admin can decide."""

    APPLY = "apply"
    KEEP = "keep"
    DISMISS = "dismiss"


class Resolution(StrEnum):
    """What a choice means for one entry (:func:`resolve`)."""

    CREATE_BOOKING = "create_booking"  # apply: make the booking, overriding validation this once
    MOVE_BOOKING = "move_booking"  # apply: move the booking, overriding validation this once
    CANCEL_BOOKING = "cancel_booking"  # apply: the event was deleted, cancel the locked booking anyway
    PUT_EVENT_BACK = "put_event_back"  # keep, an event we wrote: write the booking's times back to it
    RECREATE_EVENT = "recreate_event"  # keep, an event we wrote and someone deleted: write it again
    IGNORE = "ignore"  # keep, a foreign event: leave it and stop asking
    DISMISS = "dismiss"


@dataclass(frozen=True)
class Wanted:
    """What the calendar wants: the event's times and title, or its deletion, and (for a new booking) the
    booking it would become."""

    deleted: bool = False
    start: datetime | None = None
    end: datetime | None = None
    all_day: bool = False
    title: str = ""
    object_id: int | None = None
    status: str = ""
    customer_id: int | None = None
    remark: str = ""

    def key(self) -> str:
        """What must change for a dismissed entry to come back."""
        return f"{self.deleted}|{self.start}|{self.end}|{self.all_day}"


@dataclass(frozen=True)
class ConflictEntry:
    """One entry. ``booking_id`` is None for an event that would be a new booking; ``has_start`` /
    ``has_end`` / ``has_status`` describe the booking when there is one; ``reason`` is the host's words."""

    id: str
    calendar_key: str
    event_id: str
    etag: str
    kind: ConflictKind
    wanted: Wanted
    reason: str
    detected: datetime
    booking_id: int | None = None
    has_start: datetime | None = None
    has_end: datetime | None = None
    has_status: str = ""
    status: ConflictStatus = ConflictStatus.OPEN

    @property
    def is_open(self) -> bool:
        return self.status is ConflictStatus.OPEN

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("detected", "has_start", "has_end"):
            data[name] = data[name].isoformat() if data[name] else None
        for name in ("start", "end"):
            value = data["wanted"][name]
            data["wanted"][name] = value.isoformat() if value else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConflictEntry:
        def dt(value: Any) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        wanted = dict(data["wanted"])
        wanted["start"], wanted["end"] = dt(wanted.get("start")), dt(wanted.get("end"))
        detected = dt(data["detected"])
        assert detected is not None
        return cls(
            id=data["id"],
            calendar_key=data["calendar_key"],
            event_id=data["event_id"],
            etag=data.get("etag", ""),
            kind=ConflictKind(data["kind"]),
            wanted=Wanted(**wanted),
            reason=data.get("reason", ""),
            detected=detected,
            booking_id=data.get("booking_id"),
            has_start=dt(data.get("has_start")),
            has_end=dt(data.get("has_end")),
            has_status=data.get("has_status", ""),
            status=ConflictStatus(data.get("status", "open")),
        )


def conflict_id(calendar_key: str, event_id: str) -> str:
    """The stable id of the entry of one event: ``<calendar key>.<hash>`` (its calendar is found from it)."""
    return f"{calendar_key}.{hashlib.sha256(event_id.encode('utf-8')).hexdigest()[:16]}"


def merge(previous: ConflictEntry | None, fresh: ConflictEntry) -> ConflictEntry:
    """The entry to keep when a round meets a conflict again: an ignored event stays ignored, a dismissed one
    stays dismissed while the calendar wants the same thing, and an entry keeps its first detection time."""
    if previous is None:
        return fresh
    if previous.status is ConflictStatus.IGNORED:
        return previous
    if previous.status is ConflictStatus.DISMISSED and previous.wanted.key() == fresh.wanted.key():
        return previous
    return replace(fresh, detected=previous.detected)


def resolve(entry: ConflictEntry, choice: Choice, *, ours: bool) -> Resolution:
    """What ``choice`` does to ``entry``. ``ours``: the booking's event is one this integration wrote
    (it has a link), so keeping the booking means putting the event back; a foreign event is left alone."""
    if choice is Choice.DISMISS:
        return Resolution.DISMISS
    if choice is Choice.APPLY:
        if entry.booking_id is None:
            return Resolution.CREATE_BOOKING
        return Resolution.CANCEL_BOOKING if entry.wanted.deleted else Resolution.MOVE_BOOKING
    if entry.booking_id is None or not ours:
        return Resolution.IGNORE
    return Resolution.RECREATE_EVENT if entry.wanted.deleted else Resolution.PUT_EVENT_BACK


class ConflictBook:
    """Stores the entries, one document per calendar (see the module docstring)."""

    PREFIX = "conflicts/"

    def __init__(self, store: SecureConfig) -> None:
        self._store = store

    def entries(self, calendar_key: str) -> dict[str, ConflictEntry]:
        data = self._store.load(self.PREFIX + calendar_key, {}).data or {}
        return {cid: ConflictEntry.from_json(entry) for cid, entry in data.items()}

    def calendar_keys(self) -> list[str]:
        return [k[len(self.PREFIX) :] for k in self._store.list_keys(self.PREFIX)]

    def get(self, entry_id: str) -> ConflictEntry | None:
        calendar_key = entry_id.rpartition(".")[0]
        return self.entries(calendar_key).get(entry_id) if calendar_key else None

    def apply(self, calendar_key: str, changes: Mapping[str, ConflictEntry | None]) -> None:
        """Merge a round's findings: an entry per conflict met (:func:`merge` with what is stored), and
        None for an event applied cleanly (its entry, if any, is resolved). Writes nothing when nothing changes."""
        if changes:
            self._change(calendar_key, lambda stored: self._merged(stored, changes))

    @staticmethod
    def _merged(stored: dict[str, Any], changes: Mapping[str, ConflictEntry | None]) -> dict[str, Any]:
        out = dict(stored)
        for cid, fresh in changes.items():
            if fresh is None:
                out.pop(cid, None)
                continue
            previous = ConflictEntry.from_json(out[cid]) if cid in out else None
            out[cid] = merge(previous, fresh).to_json()
        return out

    def _change(self, calendar_key: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        key = self.PREFIX + calendar_key
        for _ in range(20):
            doc = self._store.load(key, {})
            before = dict(doc.data or {})
            after = change(before)
            if after == before:
                return
            if self._store.save(key, after or None, expected_version=doc.version):
                return
        raise StaleStateError(f"conflicts of calendar {calendar_key} kept changing")

    def set_status(self, entry_id: str, status: ConflictStatus) -> None:
        def change(stored: dict[str, Any]) -> dict[str, Any]:
            if entry_id in stored:
                stored = {**stored, entry_id: {**stored[entry_id], "status": status.value}}
            return stored

        self._change(entry_id.rpartition(".")[0], change)

    def remove(self, entry_id: str) -> None:
        self.apply(entry_id.rpartition(".")[0], {entry_id: None})
