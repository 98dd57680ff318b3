"""``events.list`` of the Calendar emulator: filters, paging, sync tokens and incremental results.

Public API: :class:`EventLister`, :class:`ListParams`.

Rules (protocol doc section 5): ``timeMin`` is an exclusive bound on an event's end and ``timeMax`` on
its start; ``maxResults`` defaults to 250 and is clamped to 2500; every page but the last carries
``nextPageToken`` and only the last carries ``nextSyncToken``. With ``syncToken`` the result is every
change since the token (also outside the original window), deleted events as tombstones
``{"kind","etag","id","status":"cancelled"}``; the parameters that cannot go with it answer 400 and a
token that is unknown, expired, invalidated or from another query shape answers 410 ``fullSyncRequired``.
Results are snapshotted at the first page, and the final ``nextSyncToken`` covers changes made while
the client was paging, so nothing is lost between a full sync and the next incremental one.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import Any

from werkzeug.datastructures import MultiDict

from calendar_emulators.google_errors import ApiError
from calendar_emulators.google_store import Calendar
from calendar_emulators.google_store import CalendarStore
from calendar_emulators.google_store import StoredEvent
from calendar_emulators.google_store import span
from calendar_emulators.google_time import event_time
from calendar_emulators.google_time import format_timestamp
from calendar_emulators.google_time import parse_rfc3339
from calendar_emulators.google_time import render_event_time
from calendar_emulators.google_time import zone

__all__ = ["EventLister", "ListParams"]

#: parameters that cannot be combined with ``syncToken`` (protocol doc section 5.1)
FORBIDDEN_WITH_SYNC = (
    "iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty", "timeMin", "timeMax",
    "updatedMin",
)  # fmt: skip
_TOMBSTONE_KEYS = ("kind", "etag", "id", "status", "recurringEventId", "originalStartTime")
_FREE_BUSY_KEYS = ("kind", "etag", "id", "status", "start", "end")


def _bool(args: MultiDict[str, str], name: str) -> bool | None:
    value = args.get(name)
    if value is None:
        return None
    if value.lower() not in {"true", "false"}:
        raise ApiError(400, "invalid", location=name)
    return value.lower() == "true"


def _time(args: MultiDict[str, str], name: str) -> datetime | None:
    value = args.get(name)
    if value is None:
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise ApiError(400, "badRequest", location="") from None


def _properties(args: MultiDict[str, str], name: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in args.getlist(name):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ApiError(400, "invalid", location=name)
        out.append((key, value))
    return tuple(out)


@dataclass(frozen=True)
class ListParams:
    """The query of one ``events.list`` call, validated."""

    max_results: int = 250
    page_token: str | None = None
    sync_token: str | None = None
    time_min: datetime | None = None
    time_max: datetime | None = None
    updated_min: datetime | None = None
    single_events: bool = False
    show_deleted: bool = False
    order_by: str | None = None
    private_properties: tuple[tuple[str, str], ...] = ()
    shared_properties: tuple[tuple[str, str], ...] = ()
    q: str | None = None
    ical_uid: str | None = None
    event_types: tuple[str, ...] = ()
    time_zone: str | None = None

    @classmethod
    def parse(cls, args: MultiDict[str, str]) -> ListParams:
        try:
            max_results = int(args.get("maxResults", "250"))
        except ValueError:
            raise ApiError(400, "invalid", location="maxResults") from None
        if max_results < 1:
            raise ApiError(400, "invalid", location="maxResults")
        params = cls(
            max_results=min(max_results, 2500),
            page_token=args.get("pageToken") or None,
            sync_token=args.get("syncToken") or None,
            time_min=_time(args, "timeMin"),
            time_max=_time(args, "timeMax"),
            updated_min=_time(args, "updatedMin"),
            single_events=bool(_bool(args, "singleEvents")),
            show_deleted=bool(_bool(args, "showDeleted")),
            order_by=args.get("orderBy") or None,
            private_properties=_properties(args, "privateExtendedProperty"),
            shared_properties=_properties(args, "sharedExtendedProperty"),
            q=args.get("q") or None,
            ical_uid=args.get("iCalUID") or None,
            event_types=tuple(args.getlist("eventTypes")),
            time_zone=args.get("timeZone") or None,
        )
        params._validate(args)
        return params

    def _validate(self, args: MultiDict[str, str]) -> None:
        if self.time_zone is not None:
            zone(self.time_zone)
        if self.sync_token:
            for name in FORBIDDEN_WITH_SYNC:
                if name in args:
                    raise ApiError(
                        400, "invalid", f"The {name} parameter cannot be used with syncToken.", location=name
                    )
            if _bool(args, "showDeleted") is False:
                raise ApiError(
                    400, "invalid", "showDeleted=false cannot be used with syncToken.", location="showDeleted"
                )
        if self.time_min and self.time_max and self.time_min >= self.time_max:
            raise ApiError(400, "timeRangeEmpty")
        if self.order_by not in {None, "startTime", "updated"}:
            raise ApiError(400, "invalid", location="orderBy")
        if self.order_by == "startTime" and not self.single_events:
            raise ApiError(400, "badRequest", "The requested ordering is not available for the particular query.")


@dataclass(frozen=True)
class _Page:
    calendar_id: str
    items: tuple[dict[str, Any], ...]
    seq: int
    epoch: int
    single_events: bool
    page_size: int
    empty_left: int
    incremental: bool


@dataclass(frozen=True)
class _SyncState:
    calendar_id: str
    single_events: bool
    seq: int
    epoch: int
    issued: datetime


class EventLister:
    """Answers ``events.list`` over a :class:`CalendarStore`; keeps page and sync tokens.

    ``page_cap`` makes pages shorter than ``maxResults``; ``empty_pages`` puts that many empty pages
    (each with a ``nextPageToken``) before the first non-empty one; ``sync_token_ttl`` expires sync
    tokens (None = never), all to exercise clients the way the real service may.
    """

    def __init__(
        self,
        store: CalendarStore,
        *,
        page_cap: int | None = None,
        empty_pages: int = 0,
        sync_token_ttl: float | None = None,
    ) -> None:
        self.store = store
        self.page_cap = page_cap
        self.empty_pages = empty_pages
        self.sync_token_ttl = sync_token_ttl
        self._pages: dict[str, _Page] = {}
        self._syncs: dict[str, _SyncState] = {}

    def invalidate(self, calendar_id: str | None = None) -> None:
        """Make every sync token (of one calendar, or all) answer 410 from now on."""
        for calendar in self.store.calendars.values():
            if calendar_id is None or calendar.id == calendar_id:
                calendar.epoch += 1

    def list_events(self, calendar: Calendar, args: MultiDict[str, str], access_role: str) -> dict[str, Any]:
        """Answer one ``events.list`` call (first page, next page or incremental)."""
        params = ListParams.parse(args)
        self.store.resolve_pending(calendar)
        if params.page_token:
            page = self._pages.get(params.page_token)
            if page is None or page.calendar_id != calendar.id:
                raise ApiError(400, "invalid", "Invalid page token value.", location="pageToken")
        else:
            items = self._changes(calendar, params) if params.sync_token else self._matching(calendar, params)
            page = _Page(
                calendar.id,
                tuple(items),
                self.store.seq,
                calendar.epoch,
                params.single_events,
                min(params.max_results, self.page_cap or params.max_results),
                self.empty_pages if items else 0,
                bool(params.sync_token),
            )
        return self._respond(calendar, page, params, access_role)

    # -- paging -----------------------------------------------------------------------------
    def _respond(self, calendar: Calendar, page: _Page, params: ListParams, role: str) -> dict[str, Any]:
        if page.empty_left:
            chunk: tuple[dict[str, Any], ...] = ()
            rest = replace(page, empty_left=page.empty_left - 1)
        else:
            chunk, rest = page.items[: page.page_size], replace(page, items=page.items[page.page_size :])
        out: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"p3{self.store.seq:014d}"',
            "summary": calendar.summary,
            "updated": format_timestamp(calendar.updated or self.store.clock.now()),
            "timeZone": params.time_zone or calendar.time_zone,
            "accessRole": role,
            "defaultReminders": copy.deepcopy(calendar.default_reminders),
            "items": [self._view(calendar, item, page.incremental, params, role) for item in chunk],
        }
        if rest.items:
            token = secrets.token_urlsafe(24)
            self._pages[token] = rest
            out["nextPageToken"] = token
        else:
            token = "C" + secrets.token_urlsafe(24)
            now = self.store.clock.now()
            self._syncs[token] = _SyncState(calendar.id, page.single_events, page.seq, page.epoch, now)
            out["nextSyncToken"] = token
        return out

    @staticmethod
    def _view(
        calendar: Calendar, body: dict[str, Any], incremental: bool, params: ListParams, role: str
    ) -> dict[str, Any]:
        if body.get("status") == "cancelled" and (incremental or "start" not in body or body.get("_tomb")):
            return {k: body[k] for k in _TOMBSTONE_KEYS if k in body}
        body = copy.deepcopy({k: v for k, v in body.items() if k != "_tomb"})
        if role == "freeBusyReader":
            return {k: body[k] for k in _FREE_BUSY_KEYS if k in body}
        if params.time_zone:
            for key in ("start", "end", "originalStartTime"):
                if key in body and "dateTime" in body[key] and "timeZone" not in body[key]:
                    moment = event_time(body[key], calendar.time_zone, key)
                    body[key] = render_event_time(moment, params.time_zone)
        return body

    # -- full listing -----------------------------------------------------------------------
    def _matching(self, calendar: Calendar, p: ListParams) -> list[dict[str, Any]]:
        found: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        for stored in calendar.events.values():
            for body in self._candidates(calendar, stored, p):
                if self._passes(calendar, body, p):
                    found.append((self._sort_key(calendar, stored, body, p), body))
        found.sort(key=lambda pair: pair[0])
        return [body for _, body in found]

    def _candidates(self, calendar: Calendar, stored: StoredEvent, p: ListParams) -> list[dict[str, Any]]:
        body = stored.body
        cancelled = body.get("status") == "cancelled"
        if stored.ghost:
            return []
        if body.get("recurrence"):
            if p.single_events:
                return [] if cancelled and not p.show_deleted else self._series_instances(calendar, body, p)
            overlaps = bool(self._series_instances(calendar, body, p))
            return [body] if overlaps and (not cancelled or p.show_deleted or p.updated_min) else []
        if cancelled and not (p.show_deleted or p.updated_min):
            # cancelled instances of a series still show when showDeleted and singleEvents are both false
            if not (body.get("recurringEventId") and not p.single_events):
                return []
            return [{**body, "_tomb": True}]
        return [body]

    def _series_instances(self, calendar: Calendar, master: dict[str, Any], p: ListParams) -> list[dict[str, Any]]:
        stop = p.time_max or self.store.horizon(calendar, master)
        items = self.store.instances(calendar, master, after=p.time_min, stop=stop)
        return [item for item in items if item["id"] not in calendar.events]

    def _passes(self, calendar: Calendar, body: dict[str, Any], p: ListParams) -> bool:
        bounds = span(calendar, body)
        if bounds is not None and "recurrence" not in body:
            if p.time_min and bounds[1] <= p.time_min:
                return False
            if p.time_max and bounds[0] >= p.time_max:
                return False
        if p.updated_min and body.get("updated", "") < format_timestamp(p.updated_min):
            return False
        props = body.get("extendedProperties") or {}
        for scope, wanted in (("private", p.private_properties), ("shared", p.shared_properties)):
            if any((props.get(scope) or {}).get(k) != v for k, v in wanted):
                return False
        if p.ical_uid and body.get("iCalUID") != p.ical_uid:
            return False
        if p.event_types and body.get("eventType", "default") not in p.event_types:
            return False
        return not p.q or _text_match(body, p.q)

    @staticmethod
    def _sort_key(calendar: Calendar, stored: StoredEvent, body: dict[str, Any], p: ListParams) -> tuple[Any, ...]:
        bounds = span(calendar, body)
        start = bounds[0].timestamp() if bounds else 0.0
        if p.order_by == "startTime":
            return (start, stored.order)
        if p.order_by == "updated":
            return (body.get("updated", ""), stored.order, start)
        return (stored.order, start)

    # -- incremental ------------------------------------------------------------------------
    def _changes(self, calendar: Calendar, p: ListParams) -> list[dict[str, Any]]:
        state = self._syncs.get(p.sync_token or "")
        if not self._valid(state, calendar, p):
            raise ApiError(410, "fullSyncRequired")
        assert state is not None
        changed = sorted((s for s in calendar.events.values() if s.seq > state.seq), key=lambda s: s.seq)
        items: list[dict[str, Any]] = []
        for stored in changed:
            body = stored.body
            if body.get("recurrence") and p.single_events:
                stop = self.store.horizon(calendar, body)
                items.extend(
                    i
                    for i in self.store.instances(calendar, body, after=None, stop=stop)
                    if i["id"] not in calendar.events
                )
            else:
                items.append(body)
        return items

    def _valid(self, state: _SyncState | None, calendar: Calendar, p: ListParams) -> bool:
        if state is None or state.calendar_id != calendar.id or state.epoch != calendar.epoch:
            return False
        if state.single_events != p.single_events:
            return False
        ttl = self.sync_token_ttl
        return ttl is None or self.store.clock.now() - state.issued < timedelta(seconds=ttl)


def _text_match(body: Mapping[str, Any], q: str) -> bool:
    texts = [str(body.get(k, "")) for k in ("summary", "description", "location")]
    for person in [*(body.get("attendees") or []), body.get("organizer") or {}]:
        texts += [str(person.get("email", "")), str(person.get("displayName", ""))]
    haystack = " ".join(texts).lower()
    return all(term in haystack for term in q.lower().split())
