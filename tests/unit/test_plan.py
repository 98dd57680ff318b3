"""The seeds' rules as pure decisions: one test per rule and per switch."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from hookspecs.types import Booking
from hookspecs.types import Customer
from ireserve_calendar_plugin.sync import plan
from ireserve_calendar_plugin.sync.links import Link
from ireserve_calendar_plugin.sync.links import LinkState
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import RemoteEvent
from ireserve_calendar_plugin.sync.model import SyncOptions
from ireserve_calendar_plugin.sync.model import Window

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
WINDOW = Window.around(NOW)
CAL = CalendarRef("c1", "room@x", inbound_object_id=7)
OPTS = SyncOptions(provider="google", lock_statuses=frozenset({"invoiced"}), status_with_customer="customer")
T1 = NOW + timedelta(days=1)
T2 = T1 + timedelta(hours=1)


def event(**kw: object) -> RemoteEvent:
    base = RemoteEvent(id="ev1", etag="e1", title="Meeting", description="<b>agenda</b>", start=T1, end=T2)
    return replace(base, **kw)  # type: ignore[arg-type]


def booking(**kw: object) -> Booking:
    base = Booking(
        id=5,
        object_id=7,
        start=T1,
        end=T2,
        status="confirmed",
        title="x",
        channel="external/google",
        fields={"external_id": "ev1"},
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def inbound(ev: RemoteEvent, b: Booking | None, link: Link | None = None, **kw: object) -> plan.InboundAction:
    return plan.plan_inbound(
        ev,
        b,
        link,
        calendar=kw.pop("calendar", CAL),
        options=kw.pop("options", OPTS),  # type: ignore[arg-type]
        window=WINDOW,
        **kw,
    )  # type: ignore[arg-type]


# --------------------------------------------------------------------------- rule 1: matching


def test_match_by_stored_event_id_first() -> None:
    b = booking()
    other = booking(id=9, fields={})
    got = plan.match_booking(
        event(),
        by_field=[b],
        by_embedded_id=other,
        by_title_suffix=other,
        options=OPTS,
        calendar_objects=frozenset({7}),
    )
    assert got is b


def test_match_prefers_a_live_booking_among_duplicates() -> None:
    cancelled = booking(id=3, status="cancelled")
    live = booking(id=8)
    got = plan.match_booking(
        event(),
        by_field=[cancelled, live],
        by_embedded_id=None,
        by_title_suffix=None,
        options=OPTS,
        calendar_objects=frozenset({7}),
    )
    assert got is live


def test_match_falls_back_to_embedded_id_then_title_suffix() -> None:
    b = booking(fields={})
    assert (
        plan.match_booking(
            event(), by_field=[], by_embedded_id=b, by_title_suffix=None, options=OPTS, calendar_objects=frozenset({7})
        )
        is b
    )
    assert (
        plan.match_booking(
            event(), by_field=[], by_embedded_id=None, by_title_suffix=b, options=OPTS, calendar_objects=frozenset({7})
        )
        is b
    )


@pytest.mark.parametrize(
    "candidate",
    [
        booking(fields={"external_id": "another-event"}),  # already linked elsewhere
        booking(object_id=99, fields={}),  # an object this calendar does not serve
    ],
)
def test_fallback_never_steals_a_booking(candidate: Booking) -> None:
    assert (
        plan.match_booking(
            event(title="Reused [5]"),
            by_field=[],
            by_embedded_id=None,
            by_title_suffix=candidate,
            options=OPTS,
            calendar_objects=frozenset({7}),
        )
        is None
    )


def test_a_deleted_event_is_matched_only_through_the_field() -> None:
    # a tombstone still naming a booking may be our own deletion of that booking's old event
    candidate = booking(fields={})
    gone = event(deleted=True, booking_id=5, title="Old [5]")
    assert (
        plan.match_booking(
            gone,
            by_field=[],
            by_embedded_id=candidate,
            by_title_suffix=candidate,
            options=OPTS,
            calendar_objects=frozenset({7}),
        )
        is None
    )


@pytest.mark.parametrize(
    "title,expected",
    [
        ("Dentist [123]", 123),
        ("Dentist [123]  ", 123),
        ("[12] in front", None),
        ("no id", None),
        ("", None),
        ("x [abc]", None),
    ],
)
def test_title_suffix(title: str, expected: int | None) -> None:
    assert plan.title_suffix_id(title) == expected


# --------------------------------------------------------------------------- rule 2: cancelled


def test_cancelled_event_cancels_and_unlinks() -> None:
    assert inbound(event(deleted=True), booking()) == plan.CancelBooking(5, "cancelled")


def test_cancelled_event_leaves_a_locked_booking_alone() -> None:
    assert isinstance(inbound(event(deleted=True), booking(status="invoiced")), plan.Skip)


def test_cancelled_event_of_a_cancelled_booking_only_unlinks() -> None:
    assert inbound(event(deleted=True), booking(status="cancelled")) == plan.UnlinkBooking(5)


def test_our_own_deletion_seen_again_only_unlinks_a_booking_confirmed_meanwhile() -> None:
    deleting = Link(5, "c1", "ev1", state=LinkState.DELETING)
    assert inbound(event(deleted=True), booking(), deleting) == plan.UnlinkBooking(5)
    # only that event: the tombstone of another event of the booking is a real cancellation
    assert inbound(event(id="other", deleted=True), booking(), deleting) == plan.CancelBooking(5, "cancelled")
    # and only while the delete is ours: a linked event deleted in the calendar cancels
    assert inbound(event(deleted=True), booking(), replace(deleting, state=LinkState.LINKED)) == plan.CancelBooking(
        5, "cancelled"
    )


def test_unknown_deleted_event_is_skipped() -> None:
    assert isinstance(inbound(event(deleted=True), None), plan.Skip)


# --------------------------------------------------------------------------- rule 3: existing


def test_moved_event_moves_a_booking_created_through_the_integration() -> None:
    moved = event(start=T1 + timedelta(hours=2), end=T2 + timedelta(hours=2))
    action = inbound(moved, booking())
    assert action == plan.MoveBooking(5, moved.start, moved.end, False, False)  # type: ignore[arg-type]


def test_foreign_booking_follows_only_with_allow_booking_update() -> None:
    moved = event(start=T1 + timedelta(hours=2), end=T2 + timedelta(hours=2))
    web = booking(channel="web")
    assert isinstance(inbound(moved, web), plan.Skip)
    assert isinstance(inbound(moved, web, options=replace(OPTS, allow_booking_update=True)), plan.MoveBooking)


def test_ignore_validation_errors_switch_is_carried() -> None:
    moved = event(start=T1 + timedelta(hours=2), end=T2 + timedelta(hours=2))
    action = inbound(moved, booking(), options=replace(OPTS, ignore_validation_errors=True))
    assert isinstance(action, plan.MoveBooking) and action.ignore_validation


def test_status_is_never_changed_by_a_move() -> None:
    moved = event(start=T1 + timedelta(hours=2), end=T2 + timedelta(hours=2), title="Renamed")
    action = inbound(moved, booking(status="option"))
    assert isinstance(action, plan.MoveBooking)
    assert not hasattr(action, "status")


def test_own_echo_is_skipped_by_etag() -> None:
    moved = event(start=T1 + timedelta(hours=2), end=T2 + timedelta(hours=2), etag="ours")
    link = Link(5, "c1", "ev1", etag="ours")
    assert inbound(moved, booking(), link) == plan.Skip("echo of our own last write")


def test_same_times_is_no_change() -> None:
    assert inbound(event(etag="new"), booking(), Link(5, "c1", "ev1", etag="old")) == plan.NoChange(5)


def test_live_event_of_a_cancelled_booking_is_left_to_outbound() -> None:
    moved = event(start=T1 + timedelta(hours=2), end=T2 + timedelta(hours=2))
    assert isinstance(inbound(moved, booking(status="cancelled")), plan.Skip)


# --------------------------------------------------------------------------- rule 4: new


def test_new_event_creates_a_booking_in_the_inbound_status_with_a_plain_text_remark() -> None:
    action = inbound(event(), None)
    assert isinstance(action, plan.CreateBooking)
    assert (action.object_id, action.status, action.customer_id) == (7, "confirmed", None)
    assert action.remark == "Meeting\n\n<b>agenda</b>"  # kept as text, the host renders it as text


def test_known_organiser_links_the_customer_and_uses_the_status_with_customer() -> None:
    action = inbound(event(organizer_email="a@b.c"), None, customer=Customer(3, "A", "a@b.c"))
    assert isinstance(action, plan.CreateBooking)
    assert (action.customer_id, action.status) == (3, "customer")
    plain = replace(OPTS, status_with_customer="")
    no_status = inbound(event(), None, customer=Customer(3, "A", "a@b.c"), options=plain)
    assert isinstance(no_status, plan.CreateBooking) and no_status.status == "confirmed"


@pytest.mark.parametrize(
    "ev,calendar",
    [
        (event(start=NOW + timedelta(days=400), end=NOW + timedelta(days=400, hours=1)), CAL),  # after the window
        (event(start=NOW - timedelta(days=100), end=NOW - timedelta(days=100) + timedelta(hours=1)), CAL),  # before
        (event(), CalendarRef("c2", "shared@x", inbound_object_id=None)),  # calendar without inbound object
        (event(start=None, end=None), CAL),
        (event(end=T1), CAL),  # zero length
    ],
)
def test_new_events_that_must_not_become_bookings(ev: RemoteEvent, calendar: CalendarRef) -> None:
    assert isinstance(inbound(ev, None, calendar=calendar), plan.Skip)


# --------------------------------------------------------------------------- outbound


def out(
    b: Booking, link: Link | None, calendar: CalendarRef | None = CAL, fingerprint: str = "h", **opts: object
) -> list[plan.OutboundAction]:
    return plan.plan_outbound(b, link, calendar, options=replace(OPTS, **opts), draft_fingerprint=fingerprint)  # type: ignore[arg-type]


LINKED = Link(5, "c1", "ev1", etag="e", content_hash="h")


def test_create_on_a_create_status_only() -> None:
    assert out(booking(fields={}), None) == [plan.CreateEvent("c1")]
    assert out(booking(status="option", fields={}), None) == []
    assert out(booking(status="option", fields={}), None, create_on_statuses=frozenset({"option"})) == [
        plan.CreateEvent("c1")
    ]


def test_update_only_when_the_content_changed() -> None:
    assert out(booking(), LINKED, fingerprint="h") == []
    assert out(booking(), LINKED, fingerprint="other") == [plan.UpdateEvent("c1", "ev1")]


def test_linked_booking_in_another_status_still_updates() -> None:
    assert out(booking(status="option"), LINKED, fingerprint="new") == [plan.UpdateEvent("c1", "ev1")]


def test_cancel_status_always_deletes_and_delete_on_statuses_too() -> None:
    assert out(booking(status="cancelled"), LINKED) == [plan.DeleteEvent("c1", "ev1")]
    assert out(booking(status="noshow"), LINKED, delete_on_statuses=frozenset({"noshow"})) == [
        plan.DeleteEvent("c1", "ev1")
    ]
    assert out(booking(status="cancelled", fields={}), None) == []


def test_booking_moved_to_another_calendar_is_deleted_there_and_created_here() -> None:
    other = CalendarRef("c2", "other@x", inbound_object_id=8)
    assert out(booking(object_id=8), LINKED, calendar=other) == [plan.DeleteEvent("c1", "ev1"), plan.CreateEvent("c2")]


def test_booking_moved_to_an_unmapped_object_loses_its_event() -> None:
    assert out(booking(object_id=99), LINKED, calendar=None) == [plan.DeleteEvent("c1", "ev1")]


def test_inbound_only_calendar_gets_no_writes() -> None:
    inbound_only = replace(CAL, outbound=False)
    assert out(booking(fields={}), None, calendar=inbound_only) == []


def test_an_interrupted_create_is_resumed_or_undone() -> None:
    pending = Link(5, "c1", state=LinkState.CREATING, idempotency_key="k")
    assert out(booking(fields={}), pending) == [plan.CreateEvent("c1")]
    assert out(booking(status="option", fields={}), pending) == [plan.CreateEvent("c1")]
    assert out(booking(status="cancelled", fields={}), pending) == [plan.DeleteEvent("c1", "")]


def test_an_unfinished_delete_is_finished_before_the_booking_gets_a_new_event() -> None:
    deleting = Link(5, "c1", "ev1", state=LinkState.DELETING)
    assert out(booking(), deleting) == [plan.DeleteEvent("c1", "ev1"), plan.CreateEvent("c1")]
