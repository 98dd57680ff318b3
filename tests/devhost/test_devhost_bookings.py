"""Bookings, customers, objects and integrations on the reference host, and its validation rules."""

from __future__ import annotations

import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pluggy
import pytest

from hookspecs import BookingConflictError
from hookspecs import BookingNotFoundError
from ireserve_devhost import ReferenceHost

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

pytestmark = pytest.mark.backends  # the storage contract: on SQLite and on PostgreSQL


def _create(host: ReferenceHost, room: int, start: datetime, end: datetime, **kwargs: object):
    values: dict[str, object] = {"status": "confirmed", "title": "Meeting", "channel": "web", "origin": "user:1"}
    values.update(kwargs)
    return host.bookings.create(object_id=room, start=start, end=end, **values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- CRUD


def test_create_get_and_the_snapshot(host: ReferenceHost, room: int) -> None:
    customer = host.add_customer("Ann", "ann@example.org")
    amsterdam = ZoneInfo("Europe/Amsterdam")
    booking = _create(
        host,
        room,
        datetime(2024, 5, 1, 10, tzinfo=amsterdam),
        datetime(2024, 5, 1, 11, tzinfo=amsterdam),
        customer_id=customer.id,
        channel="external/google",
        fields={"external_id": "evt-1"},
    )
    assert booking == host.bookings.get(booking.id)
    assert booking.start == T0 and booking.start.tzinfo is UTC  # same instant, returned in UTC
    assert (booking.object_id, booking.status, booking.title, booking.channel) == (
        room,
        "confirmed",
        "Meeting",
        "external/google",
    )
    assert (booking.customer_id, dict(booking.fields), booking.remarks, booking.version) == (
        customer.id,
        {"external_id": "evt-1"},
        (),
        1,
    )


def test_fields_and_remarks(host: ReferenceHost, room: int) -> None:
    first = _create(host, room, T0, T0 + HOUR, fields={"external_id": "evt-1"})
    second = _create(host, room, T0 + HOUR, T0 + 2 * HOUR, fields={"external_id": "evt-1"})
    assert [b.id for b in host.bookings.find_by_field("external_id", "evt-1")] == [first.id, second.id]
    assert host.bookings.find_by_field("external_id", "nope") == []

    updated = host.bookings.set_field(first.id, "join_url", "https://meet.example/x", origin="calendar:gcal")
    assert dict(updated.fields) == {"external_id": "evt-1", "join_url": "https://meet.example/x"}
    cleared = host.bookings.set_field(first.id, "external_id", None, origin="calendar:gcal")
    assert dict(cleared.fields) == {"join_url": "https://meet.example/x"}
    assert [b.id for b in host.bookings.find_by_field("external_id", "evt-1")] == [second.id]

    host.bookings.add_remark(first.id, "<b>not markup</b>", origin="calendar:gcal")
    remarked = host.bookings.add_remark(first.id, "second", origin="system")
    assert remarked.remarks == ("<b>not markup</b>", "second")
    assert remarked.version == first.version + 4


def test_unknown_booking_raises_not_found(host: ReferenceHost) -> None:
    for call in (
        lambda: host.bookings.get(999),
        lambda: host.bookings.set_status(999, "cancelled", origin="system"),
        lambda: host.bookings.update_times(999, start=T0, end=T0 + HOUR, origin="system"),
        lambda: host.bookings.set_field(999, "a", "b", origin="system"),
        lambda: host.bookings.add_remark(999, "x", origin="system"),
    ):
        with pytest.raises(BookingNotFoundError):
            call()


def test_list_bookings_per_object_ordered_by_start(host: ReferenceHost, room: int) -> None:
    other = host.add_object("Room 2").id
    late = _create(host, room, T0 + 5 * HOUR, T0 + 6 * HOUR)
    early = _create(host, room, T0, T0 + HOUR)
    elsewhere = _create(host, other, T0, T0 + HOUR)
    assert [b.id for b in host.list_bookings(room)] == [early.id, late.id]
    assert {b.id for b in host.list_bookings()} == {early.id, late.id, elsewhere.id}


# --------------------------------------------------------------------------- overlap validation


def test_an_overlap_raises_and_writes_nothing(host: ReferenceHost, room: int) -> None:
    existing = _create(host, room, T0, T0 + 2 * HOUR)
    with pytest.raises(BookingConflictError) as raised:
        _create(host, room, T0 + HOUR, T0 + 3 * HOUR)
    assert f"booking {existing.id}" in raised.value.reason
    assert [b.id for b in host.list_bookings()] == [existing.id]


def test_intervals_are_half_open_and_per_object(host: ReferenceHost, room: int) -> None:
    other = host.add_object("Room 2").id
    _create(host, room, T0, T0 + HOUR)
    _create(host, room, T0 + HOUR, T0 + 2 * HOUR)  # touches, does not overlap
    _create(host, room, T0 - HOUR, T0)
    _create(host, other, T0, T0 + HOUR)  # another object
    assert len(host.list_bookings()) == 4


def test_a_long_booking_that_started_days_earlier_still_conflicts(host: ReferenceHost, room: int) -> None:
    """The overlap check looks back as far as the object's longest booking (its length in days, in SQL)."""
    week = _create(host, room, T0 - timedelta(days=3), T0 + timedelta(days=4))
    for day in range(10):  # later short bookings around it, so only the length bound finds the long one
        _create(host, room, T0 + timedelta(days=5 + day), T0 + timedelta(days=5 + day) + HOUR)
    with pytest.raises(BookingConflictError, match=f"booking {week.id}"):
        _create(host, room, T0 + timedelta(days=2), T0 + timedelta(days=2) + HOUR)
    with pytest.raises(BookingConflictError, match=f"booking {week.id}"):
        host.bookings.update_times(host.list_bookings()[-1].id, start=T0, end=T0 + HOUR, origin="user:1")
    _create(host, room, T0 - timedelta(days=3) - HOUR, T0 - timedelta(days=3))  # touching its start is fine


def test_update_times_conflict_leaves_the_booking_as_it_was(host: ReferenceHost, room: int) -> None:
    first = _create(host, room, T0, T0 + HOUR)
    second = _create(host, room, T0 + 2 * HOUR, T0 + 3 * HOUR)
    with pytest.raises(BookingConflictError):
        host.bookings.update_times(second.id, start=T0 + HOUR / 2, end=T0 + 2 * HOUR, origin="user:1")
    assert host.bookings.get(second.id) == second
    # moving within its own slot is no conflict with itself
    moved = host.bookings.update_times(second.id, start=T0 + HOUR, end=T0 + 3 * HOUR, origin="user:1")
    assert moved.start == T0 + HOUR and moved.version == second.version + 1
    assert host.bookings.get(first.id) == first


def test_cancelled_bookings_do_not_conflict(host: ReferenceHost, room: int) -> None:
    first = _create(host, room, T0, T0 + HOUR)
    _create(host, room, T0, T0 + HOUR, status="cancelled")  # a cancelled one never conflicts
    host.bookings.set_status(first.id, "cancelled", origin="user:1")
    again = _create(host, room, T0, T0 + HOUR)  # the slot is free again
    assert again.status == "confirmed"


def test_ignore_validation_writes_anyway(host: ReferenceHost, room: int) -> None:
    first = _create(host, room, T0, T0 + HOUR)
    second = _create(host, room, T0, T0 + HOUR, ignore_validation=True, origin="calendar:gcal")
    third = _create(host, room, T0 + 3 * HOUR, T0 + 4 * HOUR)
    host.bookings.update_times(third.id, start=T0, end=T0 + HOUR, origin="calendar:gcal", ignore_validation=True)
    assert {b.id for b in host.list_bookings()} == {first.id, second.id, third.id}
    assert all(b.start == T0 for b in host.list_bookings())


def test_cancelled_statuses_are_a_host_setting(pm: pluggy.PluginManager, clock) -> None:
    with ReferenceHost(plugin_manager=pm, clock=clock, cancelled_statuses={"cancelled", "rejected"}) as host:
        room = host.add_object("Room").id
        _create(host, room, T0, T0 + HOUR, status="rejected")
        _create(host, room, T0, T0 + HOUR)
        with pytest.raises(BookingConflictError):
            _create(host, room, T0, T0 + HOUR, status="option")


def test_concurrent_creates_of_one_slot_let_exactly_one_win(file_host: ReferenceHost) -> None:
    room = file_host.add_object("Room").id
    writers, rounds = 6, 8
    barrier = threading.Barrier(writers)
    outcomes: dict[int, list[str]] = {n: [] for n in range(rounds)}

    def book() -> None:
        with file_host.db.transaction(write=False):
            barrier.wait()  # every writer holds a connection of its own: the pool is full before the race
        for n in range(rounds):  # each round, all writers try one slot at once
            barrier.wait()
            try:
                _create(file_host, room, T0 + n * HOUR, T0 + (n + 1) * HOUR)
                outcomes[n].append("booked")
            except BookingConflictError:
                outcomes[n].append("conflict")

    threads = [threading.Thread(target=book) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(sorted(found) == ["booked"] + ["conflict"] * (writers - 1) for found in outcomes.values()), outcomes
    assert len(file_host.list_bookings()) == rounds


# --------------------------------------------------------------------------- arguments that are wrong


def test_naive_datetimes_are_rejected(host: ReferenceHost, room: int) -> None:
    naive = datetime(2024, 5, 1, 8, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        _create(host, room, naive, naive + HOUR)
    booking = _create(host, room, T0, T0 + HOUR)
    with pytest.raises(ValueError, match="timezone-aware"):
        host.bookings.update_times(booking.id, start=T0, end=naive + 2 * HOUR, origin="system")
    with pytest.raises(ValueError, match="timezone-aware"):
        host.jobs.enqueue("x", {}, run_at=naive)
    assert host.list_bookings() == [booking]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"end": T0}, "end after it starts"),
        ({"end": T0 - HOUR}, "end after it starts"),
        ({"object_id": 999}, "unknown object"),
        ({"customer_id": 999}, "unknown customer"),
        ({"origin": "calendar"}, "origin must be"),
        ({"origin": "robot:1"}, "origin must be"),
        ({"status": ""}, "status"),
        ({"fields": {"external_id": 5}}, "field value"),
    ],
)
def test_wrong_arguments_raise_value_error_even_ignoring_validation(
    host: ReferenceHost, room: int, change: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {
        "object_id": room,
        "start": T0,
        "end": T0 + HOUR,
        "status": "confirmed",
        "title": "",
        "channel": "web",
        "origin": "user:1",
        "ignore_validation": True,
    }
    values.update(change)
    with pytest.raises(ValueError, match=message):
        host.bookings.create(**values)  # type: ignore[arg-type]
    assert host.list_bookings() == []


def test_all_day_bookings_run_from_local_midnight_to_local_midnight(host: ReferenceHost, room: int) -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    day = datetime(2024, 5, 1, tzinfo=amsterdam)
    booking = _create(host, room, day, day + timedelta(days=1), all_day=True)
    assert booking.all_day and booking.start == datetime(2024, 4, 30, 22, tzinfo=UTC)
    with pytest.raises(ValueError, match="local midnight"):
        _create(host, room, T0, T0 + timedelta(days=1), all_day=True)  # UTC midnight is 02:00 there
    # the day the clocks go forward is 23 hours long
    spring = datetime(2024, 3, 31, tzinfo=amsterdam)
    short = _create(host, room, spring, datetime(2024, 4, 1, tzinfo=amsterdam), all_day=True)
    assert short.end - short.start == timedelta(hours=23)


# --------------------------------------------------------------------------- customers, objects, integrations


def test_customers_and_objects(host: ReferenceHost) -> None:
    ann = host.add_customer("Ann", "Ann@Example.org")
    assert host.customers.get(ann.id) == ann
    assert host.customers.find_by_email("ann@example.ORG") == ann
    assert host.customers.find_by_email("bob@example.org") is None
    assert host.customers.get(999) is None
    room = host.add_object("Room", "Europe/Amsterdam")
    assert host.objects.get(room.id) == room and host.objects.all() == [room]
    assert host.objects.get(999) is None
    with pytest.raises(ValueError, match="time zone"):
        host.add_object("Nowhere", "Mars/Olympus")


def test_integrations_and_their_log(host: ReferenceHost, clock) -> None:
    gcal = host.add_integration("gcal", provider="google", name="Team")
    host.integrations.add_integration("o365", provider="outlook", enabled=False)
    assert host.integrations.get("gcal") == gcal and host.integrations.get("nope") is None
    assert [i.id for i in host.integrations.all()] == ["gcal", "o365"]
    assert host.integrations.set_enabled("o365", True).enabled
    with pytest.raises(ValueError, match="already exists"):
        host.integrations.add_integration("gcal", provider="google")
    with pytest.raises(LookupError):
        host.integrations.set_enabled("nope", True)

    host.integrations.log("gcal", "info", "connected")
    clock.advance(minutes=1)
    host.integrations.log("gcal", "error", "token revoked")
    host.integrations.log("o365", "warning", "other integration")
    entries = host.integration_log("gcal")
    assert [(e.level, e.message) for e in entries] == [("error", "token revoked"), ("info", "connected")]
    assert entries[0].at == T0 + timedelta(minutes=1)
    with pytest.raises(ValueError, match="log level"):
        host.integrations.log("gcal", "debug", "x")


def test_create_writes_its_first_remark_in_the_same_transaction(host: ReferenceHost) -> None:
    """A booking and its first remark are one write: no booking without it after a crash, one commit."""
    obj = host.add_object("Room")
    start = datetime(2030, 1, 1, 9, tzinfo=UTC)
    booking = host.bookings.create(
        object_id=obj.id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="T",
        channel="web",
        origin="user:1",
        remark="from <b>Outlook</b>",
    )
    assert booking.remarks == ("from <b>Outlook</b>",)
    assert host.bookings.get(booking.id).remarks == ("from <b>Outlook</b>",)
    again = host.bookings.add_remark(booking.id, "second", origin="user:1")
    assert again.remarks == ("from <b>Outlook</b>", "second")
