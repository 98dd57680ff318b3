"""The engine's port to a CalDAV server: :class:`CalDavBackend` implements ``CalendarBackend``.

Public API: :class:`CalDavBackend`, :class:`Cursor`, :func:`calendar_key`, :func:`calendars_from_mapping`.

Needs the ``[caldav]`` extra (icalendar, recurring-ical-events).

Inbound (one calendar collection):

- ``sync`` mode (RFC 6578): one ``sync-collection`` REPORT asks for every member changed since the
  token, with etags and data, so a poll of an unchanged calendar is one request; an empty token lists
  every member (the full listing, also one request). A token the server refuses (``valid-sync-token``
  precondition) raises :class:`SyncTokenInvalidError`, and the engine re-lists with its deletion diff.
- ``etag`` mode, for servers without sync-collection: the collection's ctag (one PROPFIND; unchanged
  means done), then a ``calendar-query`` of the window's etags compared with the etags the cursor
  remembers, and a ``calendar-multiget`` of what changed; members that left the listing are removals.
- Recurring members are expanded within the window (one event per instance, see :mod:`.ical`). The
  cursor remembers each recurring member's instance ids, so an instance that an EXDATE or a move
  removed comes back as a removal even on an incremental round.

The cursor (opaque to the engine, committed only after the round's changes) is JSON, compressed when
large: ``{"m": "sync"|"etag", "t": token, "c": ctag, "e": {name: etag}, "r": {name: [ids]}}``.

Outbound: ``PUT`` of ``<uid>.ics`` with ``If-None-Match: *`` (a retried create that meets 412 reads the
member: it is ours when its UID is the one we chose, and is brought up to date); updates read the
member and ``PUT`` it back with ``If-Match`` (412: read again and re-apply, bounded); deletes with
``If-Match`` on the etag just read. An instance of a recurring member is updated as an override and
deleted as an EXDATE. Echoes are recognised by the etag each write returned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
import zlib
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests

from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import PreconditionFailedError
from ireserve_calendar_plugin.errors import StaleStateError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers import calendar_table
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.caldav import ical
from ireserve_calendar_plugin.providers.caldav.dav import PROVIDER
from ireserve_calendar_plugin.providers.caldav.dav import DavClient
from ireserve_calendar_plugin.providers.caldav.dav import Resource
from ireserve_calendar_plugin.providers.caldav.dav import raise_for_status
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import ChangePage
from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.model import EventDraft
from ireserve_calendar_plugin.sync.model import RemoteEvent
from ireserve_calendar_plugin.sync.model import Window

__all__ = ["CalDavBackend", "Cursor", "calendar_key", "calendars_from_mapping", "origin_of"]

log = logging.getLogger("ireserve_calendar_plugin.caldav")

#: Events handed to the engine per page (the engine extends its lease per page).
PAGE_EVENTS = 250
#: A sync-collection answer the server truncated (507) is continued at most this many times per round.
MAX_CONTINUATIONS = 1000
#: Tries of a read-modify-write whose ``If-Match`` keeps failing because a person keeps editing.
WRITE_TRIES = 3
UID_PREFIX = "ireserve-"


def calendar_key(path: str) -> str:
    """The engine's stable key of a calendar collection path."""
    return "d" + hashlib.sha256(path.encode("utf-8")).hexdigest()[:16]


def origin_of(server_url: str) -> str:
    parts = urlsplit(server_url)
    return f"{parts.scheme}://{parts.netloc}"


def calendars_from_mapping(rows: list[Mapping[str, Any]], default_object: int | None = None) -> list[CalendarRef]:
    """The calendars of an object -> calendar table (see :mod:`~ireserve_calendar_plugin.providers.calendar_table`)."""
    return calendar_table.calendars_from_mapping(rows, default_object, calendar_key)


@dataclass
class Cursor:
    """The incremental position of one calendar (see the module docstring)."""

    mode: str = "sync"
    token: str = ""
    ctag: str = ""
    etags: dict[str, str] = field(default_factory=dict)
    recurring: dict[str, list[str]] = field(default_factory=dict)

    def encode(self) -> str:
        raw = json.dumps(
            {"m": self.mode, "t": self.token, "c": self.ctag, "e": self.etags, "r": self.recurring},
            separators=(",", ":"),
            sort_keys=True,
        )
        if len(raw) < 2048:
            return "j:" + raw
        return "z:" + base64.b64encode(zlib.compress(raw.encode(), 6)).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        if text.startswith("z:"):
            raw = zlib.decompress(base64.b64decode(text[2:])).decode()
        elif text.startswith("j:"):
            raw = text[2:]
        else:
            raise ValueError("not a CalDAV cursor")
        data = json.loads(raw)
        return cls(
            str(data.get("m", "sync")),
            str(data.get("t", "")),
            str(data.get("c", "")),
            dict(data.get("e", {})),
            {k: list(v) for k, v in dict(data.get("r", {})).items()},
        )


class _Unsupported(Exception):
    """The server does not offer sync-collection on this calendar."""


class CalDavBackend:
    """One CalDAV integration's connection (see the module docstring)."""

    #: a removal may only mean an instance moved out of the window, or left a calendar-query: re-check it
    ambiguous_removals = True

    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.origin = origin_of(str(ctx.settings["server_url"]))
        self._own_session = ctx.session is None
        session = ctx.session or requests.Session()
        self.api = ApiClient(
            provider=PROVIDER,
            allowed_bases=[self.origin],
            token=lambda: "",
            invalidate_token=lambda _token: None,
            raise_for_status=raise_for_status,
            sleep=ctx.sleep,
            session=session,
        )
        self.dav = DavClient(self.api, self.origin, str(ctx.settings["username"]), str(ctx.settings["app_password"]))
        self._calendars = calendars_from_mapping(
            list(ctx.settings.get("calendar_mapping") or []), ctx.settings.get("inbound_object_id")
        )
        self._zones: dict[str, ZoneInfo] = {}
        #: events handed to the engine per page
        self.page_events = PAGE_EVENTS

    def close(self) -> None:
        if self._own_session:
            self.api.close()

    # -- calendars --------------------------------------------------------------------------
    def calendars(self) -> list[CalendarRef]:
        return list(self._calendars)

    def calendar_for_object(self, object_id: int) -> CalendarRef | None:
        rows = list(self.settings.get("calendar_mapping") or [])
        return calendar_table.calendar_for_object(rows, self._calendars, object_id)

    def _zone(self, calendar: CalendarRef) -> ZoneInfo:
        """Where floating times of this calendar are read: its inbound object's zone (else UTC)."""
        if calendar.key not in self._zones:
            name = "UTC"
            host = self.ctx.host
            if host is not None and calendar.inbound_object_id is not None:
                obj = host.objects.get(calendar.inbound_object_id)
                name = obj.timezone if obj is not None else name
            self._zones[calendar.key] = ZoneInfo(name)
        return self._zones[calendar.key]

    # -- inbound ----------------------------------------------------------------------------
    def list_changes(self, calendar: CalendarRef, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        previous = Cursor.decode(cursor) if cursor else None
        if previous is None or previous.mode == "sync":
            try:
                yield from self._sync(calendar, previous, window)
                return
            except _Unsupported as exc:
                if previous is not None:
                    raise TransientError(
                        "caldav: the server stopped offering sync-collection", provider=PROVIDER
                    ) from exc
                log.info("caldav: %s offers no sync-collection; comparing etags instead", calendar.label)
        yield from self._by_etag(calendar, previous, window)

    def _sync(self, calendar: CalendarRef, previous: Cursor | None, window: Window) -> Iterator[ChangePage]:
        token = previous.token if previous else ""
        recurring = dict(previous.recurring) if previous else {}
        zone = self._zone(calendar)
        for _ in range(MAX_CONTINUATIONS):
            try:
                answer = self.dav.sync_collection(calendar.remote_id, token)
            except PermanentError as exc:
                if not token and exc.status in (400, 403, 405, 501):
                    raise _Unsupported from exc
                raise
            missing = [r.name for r in answer.resources if not r.gone and not r.data]
            fetched = {r.name: r for r in self.dav.multiget(calendar.remote_id, missing)} if missing else {}
            resources = [fetched.get(r.name, r) for r in answer.resources]
            events = self._events(resources, recurring, window, zone, incremental=previous is not None)
            if not answer.truncated:
                cursor = Cursor("sync", answer.token, recurring=recurring)
                yield from _pages(events, cursor.encode(), self.page_events)
                return
            yield from _pages(events, None, self.page_events)
            token = answer.token
        raise TransientError("caldav: sync-collection did not end", provider=PROVIDER)

    def _by_etag(self, calendar: CalendarRef, previous: Cursor | None, window: Window) -> Iterator[ChangePage]:
        ctag = self.dav.ctag(calendar.remote_id)
        if previous is not None and ctag and previous.ctag == ctag:
            yield ChangePage(
                (), cursor=Cursor("etag", ctag=ctag, etags=previous.etags, recurring=previous.recurring).encode()
            )
            return
        zone = self._zone(calendar)
        if previous is None:
            listed = self.dav.calendar_query(calendar.remote_id, window.start, window.end, data=True)
            recurring: dict[str, list[str]] = {}
            events = self._events(listed, recurring, window, zone, incremental=False)
            etags = {r.name: r.etag for r in listed if not r.gone}
        else:
            listed = self.dav.calendar_query(calendar.remote_id, window.start, window.end, data=False)
            etags = {r.name: r.etag for r in listed if not r.gone}
            changed = [n for n, etag in etags.items() if previous.etags.get(n) != etag]
            gone = [Resource(n, gone=True) for n in previous.etags if n not in etags]
            recurring = dict(previous.recurring)
            fetched = self.dav.multiget(calendar.remote_id, changed) if changed else []
            events = self._events([*fetched, *gone], recurring, window, zone, incremental=True)
        yield from _pages(
            events, Cursor("etag", ctag=ctag, etags=etags, recurring=recurring).encode(), self.page_events
        )

    def _events(
        self,
        resources: list[Resource],
        recurring: dict[str, list[str]],
        window: Window,
        zone: ZoneInfo,
        *,
        incremental: bool,
    ) -> list[RemoteEvent]:
        """The events of changed members; updates ``recurring`` (member -> its instance ids)."""
        out: list[RemoteEvent] = []
        for resource in resources:
            before = recurring.pop(resource.name, None)
            if resource.gone:
                out.append(RemoteEvent(id=resource.name, deleted=True))
                out.extend(RemoteEvent(id=i, deleted=True) for i in before or ())
                continue
            events, is_recurring = ical.events_of(resource.name, resource.etag, resource.data, window, zone)
            out.extend(events)
            if is_recurring:
                ids = [e.id for e in events]
                recurring[resource.name] = ids
                if incremental:
                    # instances that vanished (EXDATE, moved away, rule shortened), and the single event
                    # this member may have been before it became recurring
                    stale = set(before or ()) - set(ids)
                    if before is None:
                        stale.add(resource.name)
                    out.extend(RemoteEvent(id=i, deleted=True) for i in sorted(stale))
            elif before:
                out.extend(RemoteEvent(id=i, deleted=True) for i in before)
        return out

    def recheck_removed(self, calendar: CalendarRef, event_id: str) -> RemoteEvent | None:
        name, rid = ical.split_event_id(event_id)
        resource = self.dav.get(calendar.remote_id, name)
        if resource is None:
            return None
        zone = self._zone(calendar)
        if rid:
            return ical.instance_of(name, resource.etag, resource.data, rid, zone)
        window = Window.around(self.ctx.now(), past_days=36500, future_days=36500)
        events, recurring = ical.events_of(name, resource.etag, resource.data, window, zone)
        if recurring or not events or events[0].deleted:
            return None
        return events[0]

    # -- outbound ---------------------------------------------------------------------------
    def new_idempotency_key(self) -> str:
        return uuid.uuid4().hex

    def create_event(self, calendar: CalendarRef, draft: EventDraft, idempotency_key: str) -> RemoteEvent:
        uid = UID_PREFIX + idempotency_key
        name = f"{uid}.ics"
        body = ical.new_calendar(uid, draft, self.ctx.now())
        try:
            etag = self.dav.put(calendar.remote_id, name, body, create=True)
        except PreconditionFailedError:
            # the member exists: our earlier attempt made it (its answer was lost) when it carries our UID
            current = self.dav.get(calendar.remote_id, name)
            if current is None:
                raise TransientError("caldav: the member vanished during a retried create", provider=PROVIDER) from None
            if ical.uid_of(current.data) != uid:
                raise PermanentError(f"caldav: {name} exists and is not ours", provider=PROVIDER, status=412) from None
            return self._rewrite(calendar, name, "", draft, current)
        if not etag:
            etag = self._etag(calendar, name)
        return _written(name, etag, draft)

    def update_event(self, calendar: CalendarRef, event_id: str, draft: EventDraft) -> RemoteEvent:
        name, rid = ical.split_event_id(event_id)
        current = self.dav.get(calendar.remote_id, name)
        if current is None:
            raise PermanentError(f"caldav: {name} is gone", provider=PROVIDER, status=404)
        return self._rewrite(calendar, name, rid, draft, current)

    def _rewrite(self, calendar: CalendarRef, name: str, rid: str, draft: EventDraft, current: Resource) -> RemoteEvent:
        """Read-modify-write with ``If-Match``; a 412 (a person saved meanwhile) reads again and re-applies."""
        for _ in range(WRITE_TRIES):
            body = ical.apply_draft(current.data, rid, draft, self.ctx.now())
            try:
                etag = self.dav.put(calendar.remote_id, name, body, if_match=current.etag)
            except PreconditionFailedError:
                fresh = self.dav.get(calendar.remote_id, name)
                if fresh is None:
                    raise PermanentError(f"caldav: {name} is gone", provider=PROVIDER, status=404) from None
                current = fresh
                continue
            return _written(ical.event_id(name, rid), etag or self._etag(calendar, name), draft)
        raise StaleStateError(f"caldav: {name} kept changing while it was written; re-planning")

    def delete_event(self, calendar: CalendarRef, event_id: str) -> None:
        name, rid = ical.split_event_id(event_id)
        for _ in range(WRITE_TRIES):
            current = self.dav.get(calendar.remote_id, name)
            if current is None:
                log.debug("caldav: %s already gone", name)
                return
            try:
                if rid:
                    self.dav.put(
                        calendar.remote_id, name, ical.cancel_instance(current.data, rid), if_match=current.etag
                    )
                else:
                    self.dav.delete(calendar.remote_id, name, if_match=current.etag)
                return
            except PreconditionFailedError:
                continue
            except PermanentError as exc:
                if exc.status in (404, 410):
                    return
                raise
        raise StaleStateError(f"caldav: {name} kept changing while it was deleted; re-planning")

    def _etag(self, calendar: CalendarRef, name: str) -> str:
        current = self.dav.get(calendar.remote_id, name)
        return current.etag if current is not None else ""

    # -- push: CalDAV has none (the provider says so; the engine polls) ----------------------
    def watch(self, calendar: CalendarRef, address: str) -> Channel:
        raise PermanentError("caldav: CalDAV has no push notifications; calendars are polled", provider=PROVIDER)

    def renew(self, calendar: CalendarRef, channel: Channel, address: str) -> Channel:
        return self.watch(calendar, address)

    def unwatch(self, calendar: CalendarRef, channel: Channel) -> None:
        return None


def _written(event_id: str, etag: str, draft: EventDraft) -> RemoteEvent:
    return RemoteEvent(
        id=event_id,
        etag=etag,
        title=draft.title,
        description=draft.description,
        start=draft.start,
        end=draft.end,
        all_day=draft.all_day,
        timezone=draft.timezone,
        booking_id=draft.booking_id,
    )


def _pages(events: list[RemoteEvent], cursor: str | None, size: int = PAGE_EVENTS) -> Iterator[ChangePage]:
    if not events:
        yield ChangePage((), cursor=cursor)
        return
    for at in range(0, len(events), size):
        last = at + size >= len(events)
        yield ChangePage(tuple(events[at : at + size]), cursor=cursor if last else None)
