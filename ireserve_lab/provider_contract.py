"""One contract suite every calendar provider runs: :class:`ProviderContractTests` (after vdirsyncer's
shared ``StorageTests``).

Public API: :class:`ProviderRig` (the adapter a provider's tests write), :class:`ProviderContractTests`
(the suite), :class:`Unsupported` (what a rig raises for a capability its service lacks).

The suite checks what the provider-neutral engine relies on from any
:class:`~ireserve_calendar_plugin.sync.ports.CalendarBackend` and its provider's ``parse_push``:

- list/delta paging: a full listing is fetched lazily page by page; only the last page carries the cursor;
  an incremental listing from that cursor returns exactly what a person changed or deleted since;
- a stale cursor raises :class:`~ireserve_calendar_plugin.errors.SyncTokenInvalidError` at once (no
  retry), and a full listing (cursor ``None``) then recovers everything: the engine's full resync;
- create/patch/delete idempotency: a create retried with the same key is one event (also when the
  first answer was lost, and brought up to date when the draft changed meanwhile); a patch applied twice
  is the same event; deleting twice, or deleting an unknown event, is done;
- push verify: a notification the service sends for a channel made through the engine's
  :class:`~ireserve_calendar_plugin.sync.channels.ChannelKeeper` routes to its calendar; the same request
  with another secret or channel id routes nowhere, and one without the secret yields no notice at all;
- recheck of removed events: ``recheck_removed`` returns an event that still exists (also one moved far
  out of the sync window), ``None`` for one a person deleted and for an unknown id.

How to plug a provider in (about 20 lines, see ``tests/providers/google/test_google_contract.py``)::

    from ireserve_lab.provider_contract import ProviderContractTests, ProviderRig

    class MyRig(ProviderRig):
        ...  # the abstract methods below, against your service or its emulator

    class TestMyProviderContract(ProviderContractTests):
        @pytest.fixture
        def rig(self) -> Iterator[MyRig]:
            yield MyRig(...)  # a connected account with an empty calendar under test

A rig method that cannot be offered (a CalDAV server has no push, cannot be told to lose an answer)
raises :class:`Unsupported`; the tests that need it are skipped with that reason, never passed.
Importing this module needs pytest (``pip install 'ireserve-lab[contract]'``).
"""

from __future__ import annotations

import uuid
from abc import ABC
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hookspecs.types import HttpRequest
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import SyncTokenInvalidError
from ireserve_calendar_plugin.providers.base import CalendarProvider
from ireserve_calendar_plugin.providers.base import PushNotice
from ireserve_calendar_plugin.sync.channels import ChannelKeeper
from ireserve_calendar_plugin.sync.channels import route_notification
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import ChangePage
from ireserve_calendar_plugin.sync.model import EventDraft
from ireserve_calendar_plugin.sync.model import RemoteEvent
from ireserve_calendar_plugin.sync.model import Window
from ireserve_calendar_plugin.sync.ports import CalendarBackend

__all__ = ["ProviderContractTests", "ProviderRig", "Unsupported"]

ZONE = ZoneInfo("Europe/Amsterdam")


class Unsupported(Exception):
    """Raised by a rig method whose capability the service (or its test double) lacks; the suite skips."""


class ProviderRig(ABC):
    """The adapter between one provider and the suite: a connected account, one calendar under test that
    is empty in the sync window when the test starts, and a way to act on the service as a person would.

    Times given to the rig are timezone-aware. "A person" means anyone but the plugin: the rig writes
    through the service's own API or the emulator's control surface, never through the backend.
    """

    #: the provider class instance whose ``parse_push`` reads the service's notifications
    provider: CalendarProvider
    #: the store the rig's backends keep tokens in; the suite's channel index lives there too
    store: SecureConfig
    #: every wait the backend asked its injected ``sleep`` for, in order
    waits: list[float]

    @abstractmethod
    def backend(self) -> CalendarBackend:
        """A backend of the connected account whose ``sleep`` appends to :attr:`waits` instead of waiting."""

    @abstractmethod
    def calendar(self, backend: CalendarBackend) -> CalendarRef:
        """The writable calendar under test, as ``backend`` names it."""

    @abstractmethod
    def person_creates(self, title: str, start: datetime, end: datetime) -> str:
        """Make an event in the calendar under test; return its id."""

    @abstractmethod
    def person_moves(self, event_id: str, start: datetime, end: datetime) -> None:
        """Give the event new times."""

    @abstractmethod
    def person_deletes(self, event_id: str) -> None:
        """Delete the event."""

    @abstractmethod
    def live_event_ids(self) -> set[str]:
        """The ids of the events in the calendar under test that are not deleted or cancelled."""

    # -- optional capabilities: raise Unsupported -------------------------------------------------
    def set_page_size(self, size: int) -> None:
        """Make the service answer listings with pages of at most ``size`` events."""
        raise Unsupported("the service's page size cannot be set")

    def list_calls(self) -> int:
        """How many listing (list/delta) requests the service has served so far."""
        raise Unsupported("the service's requests cannot be counted")

    def invalidate_cursors(self) -> None:
        """Make the service forget every cursor (sync token, delta link) of the calendar under test."""
        raise Unsupported("cursors cannot be invalidated")

    def lose_next_create_answer(self) -> None:
        """Have the service store the next create but lose its answer (a timeout or 5xx after the write)."""
        raise Unsupported("an answer cannot be lost on purpose")

    def hook_url(self) -> str:
        """An address the service delivers notifications to, handled by the rig (answered through
        ``provider.parse_push``, handshakes included)."""
        raise Unsupported("the service has no push notifications")

    def pushes(self) -> list[HttpRequest]:
        """Every request the service sent to :meth:`hook_url`, as the host hands it to ``parse_push``,
        after waiting until what the service had to send is delivered."""
        raise Unsupported("the service has no push notifications")


def _now() -> datetime:
    return datetime.now(UTC)


def _day(days: int, hour: int) -> datetime:
    return datetime.now(ZONE).replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=days)


def _draft(booking_id: int = 4711, *, hour: int = 10, title: str = "") -> EventDraft:
    start = _day(3, hour)
    return EventDraft(
        booking_id=booking_id,
        title=title or f"Room A [{booking_id}]",
        description=f"i-Reserve booking {booking_id}",
        start=start,
        end=start + timedelta(hours=1),
        all_day=False,
        timezone="Europe/Amsterdam",
    )


def _drain(pages: Iterator[ChangePage]) -> list[ChangePage]:
    return list(pages)


def _events(pages: list[ChangePage]) -> dict[str, RemoteEvent]:
    return {event.id: event for page in pages for event in page.events}


def _cursor(pages: list[ChangePage]) -> str:
    cursor = pages[-1].cursor
    assert cursor, "the last page of a listing carries the new cursor"
    return cursor


def _needs(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except Unsupported as exc:
        pytest.skip(f"rig: {exc}")


def _same_times(event: RemoteEvent, draft: EventDraft) -> bool:
    return (event.start, event.end) == (draft.start, draft.end)


def _replaced(request: HttpRequest, old: str, new: str) -> HttpRequest:
    """``request`` with every occurrence of ``old`` in its header values, query and body replaced."""
    headers = {k: v.replace(old, new) for k, v in request.headers.items()}
    query = {k: tuple(v.replace(old, new) for v in values) for k, values in request.query.items()}
    return replace(request, headers=headers, query=query, body=request.body.replace(old.encode(), new.encode()))


class ProviderContractTests:
    """The shared suite. Subclass it as ``Test<Provider>Contract`` and give it a ``rig`` fixture."""

    @pytest.fixture
    def rig(self) -> ProviderRig:
        raise NotImplementedError("a provider's test class provides the rig fixture")

    @pytest.fixture
    def backend(self, rig: ProviderRig) -> Iterator[CalendarBackend]:
        backend = rig.backend()
        yield backend
        backend.close()

    # -- list/delta paging ---------------------------------------------------------------------
    def test_a_full_listing_pages_lazily_and_only_the_last_page_has_the_cursor(
        self, rig: ProviderRig, backend: CalendarBackend
    ) -> None:
        _needs(rig.set_page_size, 3)
        made = {
            rig.person_creates(
                f"Meeting {i}", _day(1, 8) + timedelta(minutes=30 * i), _day(1, 8) + timedelta(minutes=30 * i + 25)
            )
            for i in range(7)
        }
        pages = backend.list_changes(rig.calendar(backend), None, Window.around(_now()))
        try:
            before = rig.list_calls()
        except Unsupported:
            before = None
        first = next(pages)
        if before is not None:
            assert rig.list_calls() == before + 1, "pages are fetched lazily: one request per page asked for"
            rest = _drain(pages)
            assert rig.list_calls() == before + 3, "one request per page"
        else:
            rest = _drain(pages)
        all_pages = [first, *rest]
        assert [len(p.events) for p in all_pages] == [3, 3, 1]
        assert [p.cursor is not None for p in all_pages] == [False, False, True]
        assert set(_events(all_pages)) == made
        assert sorted(e.title for e in _events(all_pages).values()) == [f"Meeting {i}" for i in range(7)]

    def test_an_incremental_listing_returns_exactly_what_a_person_changed(
        self, rig: ProviderRig, backend: CalendarBackend
    ) -> None:
        calendar = rig.calendar(backend)
        kept, moved, deleted = (
            rig.person_creates(f"Meeting {i}", _day(1, 9 + i), _day(1, 9 + i) + timedelta(minutes=30)) for i in range(3)
        )
        cursor = _cursor(_drain(backend.list_changes(calendar, None, Window.around(_now()))))
        later = _day(2, 14)
        rig.person_moves(moved, later, later + timedelta(hours=1))
        rig.person_deletes(deleted)
        changes = _drain(backend.list_changes(calendar, cursor, Window.around(_now())))
        events = _events(changes)
        assert set(events) == {moved, deleted}, "only the changes since the cursor, nothing else"
        assert events[moved].start == later and not events[moved].deleted
        assert events[deleted].deleted
        new_cursor = _cursor(changes)
        assert new_cursor != cursor
        quiet = _drain(backend.list_changes(calendar, new_cursor, Window.around(_now())))
        assert [e for p in quiet for e in p.events] == [] and _cursor(quiet)
        assert kept not in events

    def test_a_stale_cursor_raises_at_once_and_a_full_listing_recovers(
        self, rig: ProviderRig, backend: CalendarBackend
    ) -> None:
        calendar = rig.calendar(backend)
        first = rig.person_creates("Before", _day(1, 9), _day(1, 10))
        cursor = _cursor(_drain(backend.list_changes(calendar, None, Window.around(_now()))))
        _needs(rig.invalidate_cursors)
        second = rig.person_creates("After", _day(1, 11), _day(1, 12))
        with pytest.raises(SyncTokenInvalidError):
            _drain(backend.list_changes(calendar, cursor, Window.around(_now())))
        assert rig.waits == [], "a dead cursor is not retried: the engine answers it with a full resync"
        full = _drain(backend.list_changes(calendar, None, Window.around(_now())))
        assert {i for i, e in _events(full).items() if not e.deleted} == {first, second}
        assert _cursor(full) != cursor

    # -- create/patch/delete idempotency -------------------------------------------------------
    def test_a_create_repeated_with_its_key_is_one_event(self, rig: ProviderRig, backend: CalendarBackend) -> None:
        calendar, draft = rig.calendar(backend), _draft()
        key = backend.new_idempotency_key()
        assert key != backend.new_idempotency_key()
        event = backend.create_event(calendar, draft, key)
        assert _same_times(event, draft) and event.title == draft.title
        again = backend.create_event(calendar, draft, key)  # a job run twice
        assert again.id == event.id
        assert rig.live_event_ids() == {event.id}

    def test_a_create_whose_answer_was_lost_is_one_event(self, rig: ProviderRig, backend: CalendarBackend) -> None:
        calendar, draft = rig.calendar(backend), _draft()
        _needs(rig.lose_next_create_answer)
        key = backend.new_idempotency_key()
        event = backend.create_event(calendar, draft, key)  # the backend's own retry meets the stored event
        assert _same_times(event, draft)
        assert rig.live_event_ids() == {event.id}
        assert backend.create_event(calendar, draft, key).id == event.id
        assert rig.live_event_ids() == {event.id}

    def test_a_retried_create_brings_a_changed_draft_up_to_date(
        self, rig: ProviderRig, backend: CalendarBackend
    ) -> None:
        calendar = rig.calendar(backend)
        key = backend.new_idempotency_key()
        event = backend.create_event(calendar, _draft(hour=10), key)
        moved = _draft(hour=15, title="Renamed [4711]")
        again = backend.create_event(calendar, moved, key)  # the booking changed before the job was retried
        assert again.id == event.id and _same_times(again, moved) and again.title == moved.title
        assert rig.live_event_ids() == {event.id}

    def test_a_patch_applied_twice_is_the_same_event(self, rig: ProviderRig, backend: CalendarBackend) -> None:
        calendar = rig.calendar(backend)
        event = backend.create_event(calendar, _draft(), backend.new_idempotency_key())
        moved = _draft(hour=13, title="Renamed [4711]")
        once = backend.update_event(calendar, event.id, moved)
        twice = backend.update_event(calendar, event.id, moved)
        for updated in (once, twice):
            assert updated.id == event.id and _same_times(updated, moved) and updated.title == moved.title
        assert rig.live_event_ids() == {event.id}
        listed = _events(_drain(backend.list_changes(calendar, None, Window.around(_now()))))
        assert _same_times(listed[event.id], moved)

    def test_deleting_twice_or_an_unknown_event_is_done(self, rig: ProviderRig, backend: CalendarBackend) -> None:
        calendar = rig.calendar(backend)
        event = backend.create_event(calendar, _draft(), backend.new_idempotency_key())
        other = backend.create_event(calendar, _draft(4712, hour=12), backend.new_idempotency_key())
        backend.delete_event(calendar, event.id)
        assert rig.live_event_ids() == {other.id}
        backend.delete_event(calendar, event.id)  # the job ran twice
        backend.delete_event(calendar, "unknown" + uuid.uuid4().hex[:12])
        assert rig.live_event_ids() == {other.id}

    # -- recheck of removed events -------------------------------------------------------------
    def test_recheck_tells_a_removal_from_an_event_that_still_exists(
        self, rig: ProviderRig, backend: CalendarBackend
    ) -> None:
        calendar = rig.calendar(backend)
        stays = rig.person_creates("Stays", _day(1, 9), _day(1, 10))
        leaves = rig.person_creates("Leaves the window", _day(1, 11), _day(1, 12))
        goes = rig.person_creates("Goes", _day(1, 13), _day(1, 14))
        far = _day(800, 9)  # beyond any sync window
        rig.person_moves(leaves, far, far + timedelta(hours=1))
        rig.person_deletes(goes)
        still = backend.recheck_removed(calendar, stays)
        assert still is not None and still.id == stays and not still.deleted
        moved = backend.recheck_removed(calendar, leaves)
        assert moved is not None and moved.id == leaves and moved.start == far
        assert backend.recheck_removed(calendar, goes) is None
        assert backend.recheck_removed(calendar, "unknown" + uuid.uuid4().hex[:12]) is None

    # -- push verify ---------------------------------------------------------------------------
    def _watched(self, rig: ProviderRig, backend: CalendarBackend) -> tuple[CalendarRef, list[HttpRequest]]:
        """Watch the calendar through the engine's keeper, let a person change it; the notifications sent."""
        address = _needs(rig.hook_url)
        calendar = rig.calendar(backend)
        keeper = ChannelKeeper(backend=backend, store=rig.store, now=_now)
        assert keeper.ensure(calendar, address) == "created"
        rig.person_creates("Walk-in", _day(1, 9), _day(1, 10))
        changes = [r for r in rig.pushes() if self._notices(rig, r, kinds={"changed"})]
        assert changes, "a person's change is announced"
        return calendar, changes

    @staticmethod
    def _notices(rig: ProviderRig, request: HttpRequest, kinds: set[str] | None = None) -> list[PushNotice]:
        notices = [n for n in rig.provider.parse_push(request).notices if n.kind != "handshake"]
        return [n for n in notices if kinds is None or n.kind in kinds]

    def test_a_genuine_notification_routes_to_its_calendar(self, rig: ProviderRig, backend: CalendarBackend) -> None:
        calendar, changes = self._watched(rig, backend)
        for request in changes:
            for notice in self._notices(rig, request):
                assert route_notification(rig.store, notice.channel_id, notice.secret, notice.resource) == calendar.key

    def test_a_forged_notification_routes_nowhere(self, rig: ProviderRig, backend: CalendarBackend) -> None:
        calendar, changes = self._watched(rig, backend)
        notice = self._notices(rig, changes[0])[0]
        forged_secret = _replaced(changes[0], notice.secret, "f" + notice.secret[1:-1] + "f")
        forged_channel = _replaced(changes[0], notice.channel_id, uuid.uuid4().hex)
        for forged in (forged_secret, forged_channel):
            notices = self._notices(rig, forged)
            assert all(route_notification(rig.store, n.channel_id, n.secret, n.resource) is None for n in notices)
        without_secret = _replaced(changes[0], notice.secret, "")
        assert self._notices(rig, without_secret) == [], "a notification without our secret yields no notice"
