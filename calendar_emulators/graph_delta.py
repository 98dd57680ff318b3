"""``calendarView/delta`` of the Graph emulator: rounds, pages, opaque tokens, resync errors.

Public API: :class:`DeltaService`, :class:`SyncState`.

A round is computed when it starts (the initial request, or a request with ``$deltatoken``): every
instance in the window whose version the client has not seen is sent in full; every instance the
client saw that is gone (deleted, cancelled occurrence, moved out of the window) and every event that
changed outside the window since the last round is sent as ``@removed`` (reason ``deleted``), as
calendarView delta does. The round is then served page by page (``Prefer: odata.maxpagesize``,
default :attr:`GraphSettings.delta_page_size` = 10, the calendarView default) with absolute
``@odata.nextLink`` (``$skiptoken``) URLs, and the last page carries the ``@odata.deltaLink``
(``$deltatoken``). Tokens are opaque keys of server-side sync states (window, mailbox, what the
client has seen), kept in a bounded cache: an evicted, expired or invalidated token answers 410
``syncStateNotFound`` (or 410 with a ``Location`` header, by knob).
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from .graph_common import GraphError
from .graph_common import GraphSettings
from .graph_common import graph_json
from .graph_common import parse_iso
from .graph_common import parse_prefer
from .graph_events import EventStore
from .graph_events import Instance
from .graph_events import Mailbox
from .graph_render import RenderOptions
from .graph_render import removed_item
from .graph_render import render_event

__all__ = ["DeltaService", "SyncState"]

UNSUPPORTED = ("$select", "$filter", "$expand", "$orderby", "$search")

Item = tuple[str, Any]  # ("event", Instance) or ("removed", event id)


@dataclass
class SyncState:
    """What the client knows after a round: the window, and the version of every instance it saw."""

    token: str
    mailbox_id: str
    path: str
    start: datetime
    end: datetime
    seq: int
    known: dict[str, str]
    items: list[Item]
    created: datetime


@dataclass
class Round:
    id: str
    state: SyncState
    items: list[Item]
    empty_pages: int


@dataclass
class Cursor:
    round_id: str
    offset: int
    empties_done: int


@dataclass
class _Caches:
    states: OrderedDict[str, SyncState] = field(default_factory=OrderedDict)
    dead: OrderedDict[str, SyncState | None] = field(default_factory=OrderedDict)
    rounds: OrderedDict[str, Round] = field(default_factory=OrderedDict)
    cursors: OrderedDict[str, Cursor] = field(default_factory=OrderedDict)


def _token() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(36)).decode().rstrip("=")


def query_arg(request: Request, name: str) -> str | None:
    """Query parameter names are case-insensitive in Graph."""
    for key, value in request.args.items():
        if key.lower() == name.lower():
            return value
    return None


class DeltaService:
    """Serves ``…/calendarView/delta`` for any mailbox."""

    def __init__(
        self, store: EventStore, now: Callable[[], datetime], settings: GraphSettings, lock: threading.RLock
    ) -> None:
        self.store = store
        self.now = now
        self.settings = settings
        self.lock = lock
        self._c = _Caches()

    # -- control --------------------------------------------------------------------------
    def invalidate(self, mailbox_id: str | None = None) -> int:
        """Kill every delta and skip token (of one mailbox, or all); return how many sync states died."""
        with self.lock:
            victims = [t for t, s in self._c.states.items() if mailbox_id is None or s.mailbox_id == mailbox_id]
            for token in victims:
                self._kill(token)
            for rid in [
                r for r, rnd in self._c.rounds.items() if mailbox_id is None or rnd.state.mailbox_id == mailbox_id
            ]:
                del self._c.rounds[rid]
            return len(victims)

    def state_count(self) -> int:
        with self.lock:
            return len(self._c.states)

    # -- HTTP -----------------------------------------------------------------------------
    def handle(self, request: Request, mbx: Mailbox, options: RenderOptions) -> Response:
        for key in request.args:
            if key.lower() in UNSUPPORTED:
                raise GraphError(
                    400,
                    "ErrorInvalidUrlQuery",
                    f"The following parameters are not supported with change tracking over the 'CalendarView' "
                    f"resource: '{key}'.",
                )
        path = request.path[:-2] if request.path.endswith("()") else request.path  # links use the short form
        base = request.host_url.rstrip("/") + quote(path, safe="/@:$")
        with self.lock:
            skip, delta = query_arg(request, "$skiptoken"), query_arg(request, "$deltatoken")
            if skip:
                cursor = self._c.cursors.get(skip)
                rnd = self._c.rounds.get(cursor.round_id) if cursor else None
                if cursor is None or rnd is None or rnd.state.mailbox_id != mbx.id:
                    raise self._gone(request, None)
            elif delta:
                state = self._live_state(delta)
                if state is None or state.mailbox_id != mbx.id:
                    raise self._gone(request, self._c.dead.get(delta))
                rnd = self._start_round(mbx, state, state.path, state.start, state.end)
                cursor = Cursor(rnd.id, 0, 0)
            else:
                start, end = self.window(request)
                rnd = self._start_round(mbx, None, path.split("/v1.0/", 1)[-1], start, end)
                cursor = Cursor(rnd.id, 0, 0)
            return self._page(request, rnd, cursor, base, options)

    # -- rounds ---------------------------------------------------------------------------
    def window(self, request: Request) -> tuple[datetime, datetime]:
        raw_start, raw_end = query_arg(request, "startDateTime"), query_arg(request, "endDateTime")
        if not raw_start or not raw_end:
            raise GraphError(
                400,
                "ErrorInvalidParameter",
                "This request requires a time window specified by the query string parameters StartDateTime and "
                "EndDateTime.",
            )
        try:
            start, end = parse_iso(raw_start), parse_iso(raw_end)
        except ValueError:
            raise GraphError(
                400, "ErrorInvalidParameter", "The value of StartDateTime or EndDateTime is invalid."
            ) from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        if end <= start:
            raise GraphError(400, "ErrorInvalidParameter", "EndDateTime must be later than StartDateTime.")
        return start.astimezone(UTC), end.astimezone(UTC)

    def _start_round(
        self, mbx: Mailbox, previous: SyncState | None, path: str, start: datetime, end: datetime
    ) -> Round:
        delay = self.settings.delta_visibility_delay
        cutoff = self.now() - timedelta(seconds=delay) if delay else None
        view = mbx.view(cutoff)
        current: dict[str, Instance] = {}
        for inst in self.store.calendar_view(mbx, start, end, cutoff):
            current[inst.id] = inst
        known = previous.known if previous else {}
        items: list[Item] = [("event", i) for i in current.values() if known.get(i.id) != i.marker]
        removed = [iid for iid in known if iid not in current]
        if previous is not None:
            shown = set(removed) | set(current)
            masters = {inst.record.id for inst in current.values()}
            removed += [
                eid
                for eid, (seq, _rec) in view.items()
                if seq > previous.seq and eid not in shown and eid not in masters
            ]
        items += [("removed", iid) for iid in removed]
        seq = max((seq for seq, _ in view.values()), default=0)
        state = SyncState(
            _token(), mbx.id, path, start, end, seq, {i.id: i.marker for i in current.values()}, items, self.now()
        )
        self._remember(state)
        sent = list(items)
        if previous is not None and self.settings.delta_replay_previous:
            sent = list(previous.items) + sent
        if self.settings.delta_duplicate_items:
            sent += sent[: self.settings.delta_duplicate_items]
        rnd = Round(_token(), state, sent, self.settings.delta_empty_pages)
        self._c.rounds[rnd.id] = rnd
        self._trim(self._c.rounds)
        return rnd

    def _page(self, request: Request, rnd: Round, cursor: Cursor, base: str, options: RenderOptions) -> Response:
        size, applied = self._page_size(request)
        headers = {"Preference-Applied": ", ".join([*applied, *options.applied])} if applied or options.applied else {}
        owner = self.store.mailboxes[rnd.state.mailbox_id].owner
        body: dict[str, Any] = {"@odata.context": f"{request.host_url}v1.0/$metadata#Collection(event)"}
        if cursor.empties_done < rnd.empty_pages:
            body["@odata.nextLink"] = self._next(base, Cursor(rnd.id, cursor.offset, cursor.empties_done + 1))
            body["value"] = []
            return graph_json(body, headers=headers)
        chunk = rnd.items[cursor.offset : cursor.offset + size]
        more = cursor.offset + size < len(rnd.items)
        if more:
            body["@odata.nextLink"] = self._next(base, Cursor(rnd.id, cursor.offset + size, cursor.empties_done))
        body["value"] = [self._render(item, owner, options) for item in chunk]
        if not more:
            body["@odata.deltaLink"] = f"{base}?{urlencode({'$deltatoken': rnd.state.token}, safe='$')}"
        return graph_json(body, headers=headers)

    def _page_size(self, request: Request) -> tuple[int, list[str]]:
        prefs = parse_prefer(request.headers.getlist("Prefer"))
        raw = prefs.get("odata.maxpagesize")
        if raw and raw.isdigit() and int(raw) > 0:
            size = min(int(raw), self.settings.delta_max_page_size)
            return size, [f"odata.maxpagesize={size}"]
        return self.settings.delta_page_size, []

    def _render(self, item: Item, owner: Any, options: RenderOptions) -> dict[str, Any]:
        kind, value = item
        if kind == "removed":
            return removed_item(value)
        return {"@odata.type": "#microsoft.graph.event", **render_event(value, owner, options)}

    def _next(self, base: str, cursor: Cursor) -> str:
        token = _token()
        self._c.cursors[token] = cursor
        self._trim(self._c.cursors)
        return f"{base}?{urlencode({'$skiptoken': token}, safe='$')}"

    # -- state cache ----------------------------------------------------------------------
    def _remember(self, state: SyncState) -> None:
        self._c.states[state.token] = state
        while len(self._c.states) > self.settings.delta_state_capacity:
            self._kill(next(iter(self._c.states)))

    def _live_state(self, token: str) -> SyncState | None:
        state = self._c.states.get(token)
        if state is None:
            return None
        max_age = self.settings.delta_token_max_age
        if max_age is not None and self.now() - state.created > timedelta(seconds=max_age):
            self._kill(token)
            return None
        self._c.states.move_to_end(token)
        return state

    def _kill(self, token: str) -> None:
        state = self._c.states.pop(token, None)
        if state is not None:
            state.items = []
            state.known = {}
        self._c.dead[token] = state
        self._trim(self._c.dead)

    def _trim(self, cache: OrderedDict[str, Any]) -> None:
        while len(cache) > self.settings.delta_state_capacity:
            cache.popitem(last=False)

    def _gone(self, request: Request, state: SyncState | None) -> GraphError:
        if self.settings.delta_gone_with_location:
            path = state.path if state else request.path.split("/v1.0/", 1)[-1]
            query = ""
            if state is not None:
                window = {"startDateTime": _iso(state.start), "endDateTime": _iso(state.end)}
                query = "?" + urlencode(window)
            location = f"{request.host_url}v1.0/{quote(path, safe='/@:$')}{query}"
            return GraphError(
                410,
                "resyncRequired",
                "Resync required. Replace any local items with the server's items and start a new initial sync.",
                headers={"Location": location},
            )
        return GraphError(410, "syncStateNotFound", "The sync state is not found or has expired. Resync required.")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
