"""The inbound engine on a host's unit of work (issue 16), each rule on its own, end to end (Google emulator):

- a page is applied in one unit, one savepoint per event: an event the host refuses is undone alone and
  queued for review, the rest of the page commits;
- ``on_booking_status_changed`` fires after the page's commit (the booking is visible to another
  connection when the hook runs), and never for a page whose unit rolled back; the cursor does not move;
- a host without the capabilities (no unit of work, no batch reads) gets the same outcome through the
  per-call API;
- the plugin's own hook reads nothing for the writes of its own round when the round is alone on the host;
- links sealed by an older version keep working in a round, and become plain JSON.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hookspecs import hookimpl
from hookspecs.types import BatchBookingReads
from hookspecs.types import UnitOfWorkHost
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.runtime import engine_for
from ireserve_calendar_plugin.services import rekey
from ireserve_calendar_plugin.sync import inbound
from ireserve_calendar_plugin.sync import plan
from ireserve_calendar_plugin.sync.links import LinkStore
from ireserve_calendar_plugin.sync.state import StateStore
from ireserve_lab.world import World
from tests.reliability.conftest import GoogleRig
from tests.reliability.conftest import hour_after
from tests.reliability.conftest import install_clock_sleep


@pytest.fixture
def rig(world: World, monkeypatch: pytest.MonkeyPatch) -> GoogleRig:
    rig = GoogleRig(world)
    rig.connect()
    install_clock_sleep(monkeypatch, world)
    return rig


def _events(rig: GoogleRig, count: int, first_hour: int = 30) -> list[str]:
    ids = []
    for i in range(count):
        start = hour_after(rig.world.clock(), first_hour + 2 * i)
        ids.append(rig.person_create(f"Event {i}", start, start + timedelta(hours=1)))
    return ids


def _sync(rig: GoogleRig, host: Any = None) -> Any:
    ctx = context_for(host or rig.host, rig.integration)
    assert ctx is not None
    with engine_for(ctx) as engine:
        return engine.sync(rig.calendar_key())


def _linked(rig: GoogleRig) -> dict[str, Any]:
    return {b.fields["external_id"]: b for b in rig.host.list_bookings(rig.room.id) if b.fields.get("external_id")}


def _links(rig: GoogleRig) -> LinkStore:
    return LinkStore(SecureConfig(rig.host.config, rig.host.keyring, rig.integration.id))


class HookRecorder:
    """Records each booking hook and whether the booking was committed (visible to another connection)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.calls: list[tuple[int, str, bool]] = []

    @hookimpl
    def on_booking_status_changed(self, host: Any, booking: Any, old_status: Any, new_status: Any, origin: str) -> None:
        other = sqlite3.connect(self.db)
        try:
            committed = other.execute("SELECT 1 FROM bookings WHERE id = ?", (booking.id,)).fetchone() is not None
        finally:
            other.close()
        self.calls.append((booking.id, origin, committed))


# --------------------------------------------------------------------------- savepoint per event


@pytest.mark.parametrize("unit_events", [500, 2], ids=["one unit", "a unit every 2 events"])
def test_an_event_the_host_refuses_is_undone_alone_and_the_rest_of_the_page_commits(
    rig: GoogleRig, monkeypatch: pytest.MonkeyPatch, unit_events: int
) -> None:
    assert isinstance(rig.host, UnitOfWorkHost)
    monkeypatch.setattr(inbound, "UNIT_EVENTS", unit_events)
    ids = _events(rig, 5)
    refused = ids[2]
    save = LinkStore.save

    def refuse_one(self: LinkStore, link: Any) -> bool:
        if link.event_id == refused:  # after the booking was created: only the savepoint can undo it
            raise ValueError("the host refused this link")
        return save(self, link)

    monkeypatch.setattr(LinkStore, "save", refuse_one)
    result = _sync(rig)
    assert result.counts.get("rejected") == 1 and result.counts.get("created") == 4, result.counts
    linked = _linked(rig)
    assert sorted(linked) == sorted(i for i in ids if i != refused)
    assert len(rig.host.list_bookings(rig.room.id)) == 4  # no half-applied booking without its link
    assert all(_links(rig).get(rig.calendar_key(), b.id) is not None for b in linked.values())
    monkeypatch.setattr(LinkStore, "save", save)
    rig.invalidate_cursor()
    _sync(rig)  # the refused event is applied once the host accepts it
    assert sorted(_linked(rig)) == sorted(ids)


# --------------------------------------------------------------------------- hooks after commit


def test_hooks_fire_after_the_page_commits_and_never_for_a_page_that_rolled_back(
    rig: GoogleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = HookRecorder(Path(rig.host.db.path))
    rig.host.pm.register(recorder, name="hook-recorder")
    try:
        ids = _events(rig, 3)
        before = StateStore(SecureConfig(rig.host.config, rig.host.keyring, rig.integration.id)).load(
            rig.calendar_key()
        )
        planned = plan.plan_inbound
        calls = {"n": 0}

        def fail_third(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("the worker failed mid-page")
            return planned(*args, **kwargs)

        with monkeypatch.context() as patch:
            patch.setattr(plan, "plan_inbound", fail_third)
            with pytest.raises(RuntimeError):
                _sync(rig)
        assert rig.host.list_bookings(rig.room.id) == []  # the page's two first bookings rolled back
        assert recorder.calls == []  # and nothing was announced for them
        after = StateStore(SecureConfig(rig.host.config, rig.host.keyring, rig.integration.id)).load(rig.calendar_key())
        assert after.cursor == before.cursor  # the cursor covers nothing that did not commit

        _sync(rig)
        made = {b.id for b in rig.host.list_bookings(rig.room.id)}
        assert sorted(_linked(rig)) == sorted(ids)
        assert sorted(c[0] for c in recorder.calls) == sorted(made)
        assert all(origin == f"calendar:{rig.integration.id}" and committed for _, origin, committed in recorder.calls)
    finally:
        rig.host.pm.unregister(recorder)


# --------------------------------------------------------------------------- a host without the capabilities


class PerCallBookings:
    """The host's bookings through the per-call :class:`hookspecs.types.BookingApi` only (no batch reads)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls = 0

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return getattr(self._inner, name)(*args, **kwargs)

    def get(self, *a: Any, **k: Any) -> Any:
        return self._call("get", *a, **k)

    def find_by_field(self, *a: Any, **k: Any) -> Any:
        return self._call("find_by_field", *a, **k)

    def create(self, *a: Any, **k: Any) -> Any:
        return self._call("create", *a, **k)

    def update_times(self, *a: Any, **k: Any) -> Any:
        return self._call("update_times", *a, **k)

    def set_status(self, *a: Any, **k: Any) -> Any:
        return self._call("set_status", *a, **k)

    def set_field(self, *a: Any, **k: Any) -> Any:
        return self._call("set_field", *a, **k)

    def add_remark(self, *a: Any, **k: Any) -> Any:
        return self._call("add_remark", *a, **k)


class PerCallHost:
    """A host that offers neither a unit of work nor batch reads (today's per-call contract only)."""

    def __init__(self, inner: Any) -> None:
        self.bookings = PerCallBookings(inner.bookings)
        for name in ("customers", "objects", "integrations", "config", "jobs", "keyring", "url_for", "now", "sleep"):
            setattr(self, name, getattr(inner, name))


def _outcome(rig: GoogleRig) -> list[tuple[Any, ...]]:
    """Each booking's times, title and status, whether it carries its event id, and whether it is linked."""
    links = _links(rig)
    return sorted(
        (
            b.title,
            b.start,
            b.end,
            b.status,
            bool(b.fields.get("external_id")),
            bool(links.get(rig.calendar_key(), b.id)),
        )
        for b in rig.host.list_bookings(rig.room.id)
    )


def test_a_host_without_the_capabilities_gets_the_same_outcome(rig: GoogleRig, tmp_path: Path) -> None:
    ids = _events(rig, 4)
    _sync(rig)
    rig.person_move(ids[0], hour_after(rig.world.clock(), 60), hour_after(rig.world.clock(), 61))
    rig.person_delete(ids[1])
    _sync(rig)
    with_unit = _outcome(rig)
    assert len(with_unit) == 4 and sum(row[3] == "cancelled" for row in with_unit) == 1

    with World(tmp_path / "other.sqlite3") as world:
        other = GoogleRig(world)
        other.connect()
        host = PerCallHost(world.host)
        assert not isinstance(host, UnitOfWorkHost) and not isinstance(host.bookings, BatchBookingReads)
        other_ids = _events(other, 4)
        _sync(other, host)
        other.person_move(other_ids[0], hour_after(world.clock(), 60), hour_after(world.clock(), 61))
        other.person_delete(other_ids[1])
        _sync(other, host)
        assert host.bookings.calls > 0  # the round did go through the per-call API
        assert _outcome(other) == with_unit
        assert len(_linked(other)) == 3


# --------------------------------------------------------------------------- the own-origin hook


def test_the_hook_reads_nothing_for_the_writes_of_a_round_alone_on_the_host(
    rig: GoogleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    _events(rig, 12)
    integrations = rig.host.integrations
    reads = {"all": 0}
    original = integrations.all

    def counted() -> Any:
        reads["all"] += 1
        return original()

    monkeypatch.setattr(integrations, "all", counted)
    result = _sync(rig)
    assert result.counts.get("created") == 12
    assert reads["all"] == 1, reads  # the round's own check; not one read per booking it created


# --------------------------------------------------------------------------- links of older installs


def test_links_sealed_by_an_older_version_keep_working_and_become_plain(rig: GoogleRig) -> None:
    ids = _events(rig, 3)
    _sync(rig)
    store = SecureConfig(rig.host.config, rig.host.keyring, rig.integration.id)
    links = _links(rig)
    for booking in _linked(rig).values():  # as an install from before stored them
        key = LinkStore.key(rig.calendar_key(), booking.id)
        link = links.get(rig.calendar_key(), booking.id)
        assert link is not None
        assert store.save(key, link.to_json(), expected_version=link.version)
        assert rig.host.config.get(rig.integration.id, key).value.startswith("icp1.")  # type: ignore[union-attr]
    moved_to = hour_after(rig.world.clock(), 80)
    rig.person_move(ids[0], moved_to, moved_to + timedelta(hours=1))
    rig.invalidate_cursor()  # a full listing: every sealed link is read
    result = _sync(rig)
    assert result.counts.get("updated") == 1 and not result.counts.get("created"), result.counts
    linked = _linked(rig)
    assert sorted(linked) == sorted(ids) and linked[ids[0]].start == moved_to
    assert all(b.status == "confirmed" for b in linked.values())
    moved_key = LinkStore.key(rig.calendar_key(), linked[ids[0]].id)
    assert rig.host.config.get(rig.integration.id, moved_key).value.startswith("{")  # rewritten plain  # type: ignore[union-attr]
    ctx = context_for(rig.host, rig.integration)
    assert ctx is not None
    rekey(ctx)  # the re-encryption job migrates the rest
    for booking in linked.values():
        value = rig.host.config.get(rig.integration.id, LinkStore.key(rig.calendar_key(), booking.id)).value
        assert value is not None and value.startswith("{")


# --------------------------------------------------------------------------- a page that names an event twice


class PagesBackend:
    """A calendar whose rounds list the pages a test gives (no HTTP): one page per round."""

    ambiguous_removals = False

    def __init__(self, calendar: Any) -> None:
        self.calendar = calendar
        self.rounds: list[list[Any]] = []

    def calendars(self) -> list[Any]:
        return [self.calendar]

    def calendar_for_object(self, object_id: int) -> Any:
        return self.calendar

    def list_changes(self, calendar: Any, cursor: Any, window: Any) -> Any:
        from ireserve_calendar_plugin.sync.model import ChangePage

        yield ChangePage(tuple(self.rounds.pop(0)), cursor=f"c{len(self.rounds)}")

    def recheck_removed(self, calendar: Any, event_id: str) -> Any:
        return None

    def close(self) -> None:
        pass


def test_a_page_that_names_an_event_twice_reads_everything_before_its_unit() -> None:
    # the second mention of an event meets the booking the first one unlinked: matching it again needs the
    # organiser and the fallbacks, which cannot be read inside the unit (only bookings and links can)
    from dataclasses import replace
    from datetime import UTC
    from datetime import datetime

    from hookspecs.types import KeyRing
    from ireserve_calendar_plugin.sync.inbound import InboundRound
    from ireserve_calendar_plugin.sync.model import CalendarRef
    from ireserve_calendar_plugin.sync.model import RemoteEvent
    from ireserve_calendar_plugin.sync.model import SyncOptions
    from ireserve_devhost import ReferenceHost

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    with ReferenceHost(":memory:", keyring=KeyRing("k1", {"k1": b"k" * 32})) as host:
        room = host.add_object("Room")
        ann = host.add_customer("Ann", "ann@example.org")
        host.add_integration("g1", "google")
        calendar = CalendarRef("cal", "room@example.org", room.id)
        backend = PagesBackend(calendar)
        store = SecureConfig(host.config, host.keyring, "g1")
        options = SyncOptions(provider="google", status_with_customer="option")
        event = RemoteEvent(id="e1", etag='"1"', title="Team", start=start, end=start + timedelta(hours=1))
        backend.rounds = [[event], [RemoteEvent(id="e1", deleted=True), replace(event, organizer_email=ann.email)]]
        for _ in range(2):
            InboundRound(
                host=host, integration_id="g1", backend=backend, store=store, options=options, now=host.now
            ).run(calendar)
        bookings = host.list_bookings(room.id)
        assert [(b.status, b.customer_id) for b in bookings] == [("cancelled", None), ("option", ann.id)]


def test_an_event_undone_by_its_savepoint_teaches_the_page_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # the page's first mention of e1 creates a booking, then the host refuses its link: the savepoint undoes
    # the booking. The second mention must not match that undone booking (it would meet "no such booking"
    # and be refused too); it creates the booking itself.
    from dataclasses import replace
    from datetime import UTC
    from datetime import datetime

    from hookspecs.types import KeyRing
    from ireserve_calendar_plugin.sync.inbound import InboundRound
    from ireserve_calendar_plugin.sync.model import CalendarRef
    from ireserve_calendar_plugin.sync.model import RemoteEvent
    from ireserve_calendar_plugin.sync.model import SyncOptions
    from ireserve_devhost import ReferenceHost

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    save = LinkStore.save
    refusals = [True]

    def refuse_first(self: LinkStore, link: Any) -> bool:
        if refusals:
            refusals.pop()
            raise ValueError("the host refused this link")
        return save(self, link)

    monkeypatch.setattr(LinkStore, "save", refuse_first)
    with ReferenceHost(":memory:", keyring=KeyRing("k1", {"k1": b"k" * 32})) as host:
        assert isinstance(host, UnitOfWorkHost)
        room = host.add_object("Room")
        host.add_integration("g1", "google")
        calendar = CalendarRef("cal", "room@example.org", room.id)
        backend = PagesBackend(calendar)
        first = RemoteEvent(id="e1", etag='"1"', title="Team", start=start, end=start + timedelta(hours=1))
        moved = replace(first, etag='"2"', start=first.start + timedelta(hours=3), end=first.end + timedelta(hours=3))
        backend.rounds = [[first, moved]]
        result = InboundRound(
            host=host,
            integration_id="g1",
            backend=backend,
            store=SecureConfig(host.config, host.keyring, "g1"),
            options=SyncOptions(provider="google"),
            now=host.now,
        ).run(calendar)
        assert result.counts.get("rejected") == 1 and result.counts.get("created") == 1, result.counts
        bookings = host.list_bookings(room.id)
        assert [(b.start, b.fields.get("external_id")) for b in bookings] == [(moved.start, "e1")]
