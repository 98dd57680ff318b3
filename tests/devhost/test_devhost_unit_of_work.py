"""The reference host's unit of work and batch reads (hookspecs.types.UnitOfWorkHost, BatchBookingReads).

Each rule of the contract on its own: one commit for the unit, hooks only after it (never on a rollback),
a savepoint that undoes one booking's writes and keeps the rest, validation per booking, batch reads equal
to the per-call ones.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hookspecs.types import BatchBookingReads
from hookspecs.types import BookingConflictError
from hookspecs.types import UnitOfWorkHost
from ireserve_devhost import ReferenceHost
from tests.devhost.conftest import RecordingPlugin

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ORIGIN = "calendar:gcal"

pytestmark = pytest.mark.backends  # the storage contract: on SQLite and on PostgreSQL


def _create(bookings: Any, room: int, hour: int, **kwargs: Any) -> Any:
    values: dict[str, Any] = {"status": "confirmed", "title": f"at {hour}", "channel": "calendar", "origin": ORIGIN}
    values.update(kwargs)
    start = T0 + hour * HOUR
    return bookings.create(object_id=room, start=start, end=start + HOUR, **values)


def _hooks(plugin: RecordingPlugin) -> list[tuple[int, str | None, str, str]]:
    return [
        (c["booking"].id, c["old_status"], c["new_status"], c["origin"]) for c in plugin.of("on_booking_status_changed")
    ]


def test_the_reference_host_offers_both_capabilities(host: ReferenceHost) -> None:
    assert isinstance(host, UnitOfWorkHost)
    assert isinstance(host.bookings, BatchBookingReads)


def test_a_unit_commits_its_writes_together_and_fires_the_hooks_after_the_commit(
    file_host: ReferenceHost, plugin: RecordingPlugin
) -> None:
    host = file_host
    room = host.add_object("Room 1").id
    seen_in_hook: list[int] = []
    # a hook that reads through the per-call API: it can only do so once the unit's transaction is over
    plugin.on_status_change = lambda **kw: seen_in_hook.append(kw["host"].bookings.get(kw["booking"].id).id)
    with host.unit_of_work() as unit:
        first = _create(unit.bookings, room, 1, fields={"external_id": "e1"})
        second = _create(unit.bookings, room, 3)
        unit.bookings.set_status(second.id, "option", origin=ORIGIN)
        unit.bookings.set_field(first.id, "note", "x", origin=ORIGIN)  # never notifies
        assert unit.config.put("gcal", "link/a", "{}", expected_version=0)
        assert unit.bookings.get(first.id).fields == {"external_id": "e1", "note": "x"}  # reads see the unit
        assert _hooks(plugin) == []  # nothing fired inside the unit
    assert _hooks(plugin) == [
        (first.id, None, "confirmed", ORIGIN),
        (second.id, None, "confirmed", ORIGIN),
        (second.id, "confirmed", "option", ORIGIN),
    ]
    assert seen_in_hook == [first.id, second.id, second.id]
    assert [b.id for b in host.list_bookings()] == [first.id, second.id]
    assert host.config.get("gcal", "link/a").version == 1


def test_the_per_call_api_is_refused_inside_a_unit_on_the_same_thread(host: ReferenceHost, room: int) -> None:
    with host.unit_of_work(), pytest.raises(RuntimeError):
        host.bookings.get(1)


def test_a_unit_that_raises_rolls_everything_back_and_fires_nothing(
    host: ReferenceHost, room: int, plugin: RecordingPlugin
) -> None:
    with pytest.raises(KeyError), host.unit_of_work() as unit:
        _create(unit.bookings, room, 1)
        unit.config.put("gcal", "link/a", "{}", expected_version=None)
        raise KeyError("the plugin failed mid-page")
    assert host.list_bookings() == []
    assert host.config.get("gcal", "link/a").value is None
    assert _hooks(plugin) == []


def test_a_savepoint_undoes_one_bookings_writes_and_keeps_the_rest_of_the_page(
    host: ReferenceHost, room: int, plugin: RecordingPlugin
) -> None:
    with host.unit_of_work() as unit:
        kept = _create(unit.bookings, room, 1)
        with pytest.raises(ValueError), unit.savepoint():
            undone = _create(unit.bookings, room, 5)
            unit.config.put("gcal", f"link/{undone.id}", "{}", expected_version=0)
            unit.bookings.set_field(undone.id, "external_id", 7, origin=ORIGIN)  # type: ignore[arg-type]
        with pytest.raises(BookingConflictError), unit.savepoint():
            _create(unit.bookings, room, 1)  # overlaps ``kept``: the host's validation, per booking
        with unit.savepoint():
            after = _create(unit.bookings, room, 8)
    assert [b.id for b in host.list_bookings()] == [kept.id, after.id]
    assert host.config.keys("gcal") == []
    # the undone create's notification was dropped with it
    assert [h[0] for h in _hooks(plugin)] == [kept.id, after.id]


def test_a_write_that_raises_inside_a_unit_wrote_nothing_and_the_unit_goes_on(host: ReferenceHost, room: int) -> None:
    with host.unit_of_work() as unit:
        kept = _create(unit.bookings, room, 1)
        with pytest.raises(ValueError):
            _create(unit.bookings, room, 3, customer_id=999)  # unknown customer
        blocker = _create(unit.bookings, room, 2)
        with pytest.raises(BookingConflictError):
            unit.bookings.update_times(kept.id, start=T0 + HOUR, end=T0 + 3 * HOUR, origin=ORIGIN)
    assert [(b.id, b.start) for b in host.list_bookings()] == [(kept.id, T0 + HOUR), (blocker.id, T0 + 2 * HOUR)]


def test_a_unit_is_unusable_after_its_block(host: ReferenceHost, room: int) -> None:
    with host.unit_of_work() as unit:
        pass
    with pytest.raises(RuntimeError):
        _create(unit.bookings, room, 1)
    with pytest.raises(RuntimeError), unit.savepoint():
        pass


def test_compare_and_set_inside_a_unit_compares_with_what_the_unit_sees(host: ReferenceHost) -> None:
    with host.unit_of_work() as unit:
        assert unit.config.put("gcal", "k", "a", expected_version=0)
        assert not unit.config.put("gcal", "k", "b", expected_version=0)
        assert unit.config.put("gcal", "k", "b", expected_version=1)
    assert host.config.get("gcal", "k").value == "b"


def test_batch_reads_return_what_the_per_call_reads_return(host: ReferenceHost, room: int) -> None:
    with host.unit_of_work() as unit:  # one transaction: 1,205 bookings are quick to make on every backend
        made = [_create(unit.bookings, room, 2 * i, fields={"external_id": f"e{i % 600}"}) for i in range(1_205)]
    ids = [b.id for b in made] + [99_999]
    got = host.bookings.get_many(ids)
    assert set(got) == {b.id for b in made}  # an id that does not exist is absent
    assert all(got[b.id] == host.bookings.get(b.id) for b in made[::97])
    values = [f"e{i}" for i in range(600)] + ["none"]
    by_value = host.bookings.find_by_field_values("external_id", values)
    assert "none" not in by_value and len(by_value) == 600
    for value in ("e0", "e4", "e599"):
        assert by_value[value] == host.bookings.find_by_field("external_id", value)


def test_a_unit_on_a_file_database_is_invisible_to_other_connections_until_it_commits(
    file_host: ReferenceHost, db_location: str | Path, host_options: dict[str, Any]
) -> None:
    room = file_host.add_object("Room 1").id
    with ReferenceHost(db_location, **host_options) as other:  # another process, or another machine
        with file_host.unit_of_work() as unit:
            _create(unit.bookings, room, 1)
            assert other.list_bookings() == []
        assert len(other.list_bookings()) == 1


def test_overlaps_with_bookings_the_unit_made_itself_are_refused(host: ReferenceHost, room: int) -> None:
    # the unit keeps the bound of an object's longest booking while it holds the write lock: its own
    # longer bookings must grow it, or the overlap check would stop looking too early
    with host.unit_of_work() as unit:
        _create(unit.bookings, room, 1)
        long = _create(unit.bookings, room, 10, title="three days")
        unit.bookings.update_times(long.id, start=T0 + 10 * HOUR, end=T0 + 82 * HOUR, origin=ORIGIN)
        with pytest.raises(BookingConflictError):
            _create(unit.bookings, room, 60)  # inside the three days
    assert len(host.list_bookings()) == 2
