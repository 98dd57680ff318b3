"""Outlook / Microsoft 365 end to end, over real HTTP: reference host + plugin (by entry point) + Graph emulator.

Each test reads as a story: an admin configures (and, in delegated mode, connects), people change
bookings and Outlook events, and the host's cron, routes and jobs keep both sides in step. Graph
delivers its notifications and validation handshakes to the host's real push routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from calendar_emulators.core import Fault
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.providers.outlook import mapping
from ireserve_calendar_plugin.providers.outlook.backend import room_key
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.sync.state import StateStore
from ireserve_lab.world import World

USER = "user:1"
ALEX = "alex@contoso.onmicrosoft.com"
TENANT = "contoso.onmicrosoft.com"
DELTA = r"/calendarView/delta$"


def hour(hours_from_now: int) -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours_from_now)


class OutlookStory:
    """Delegated mode: alex's calendar <-> Room A."""

    def __init__(self, world: World, **settings: Any) -> None:
        self.world = world
        self.host = world.host
        self.graph, base = world.graph()
        self.room = self.host.add_object("Room A", timezone="Europe/Amsterdam")
        self.integration = world.integration(
            "o1",
            "outlook",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "auth_mode": "delegated",
                "tenant": TENANT,
                "object_id": str(self.room.id),
                **World.graph_urls(base),
                **settings,
            },
        )
        self.page = world.connect(self.integration)
        world.settle()

    def book(self, hours_from_now: int = 24, length: int = 1, title: str = "Team") -> Any:
        start = hour(hours_from_now)
        return self.host.bookings.create(
            object_id=self.room.id,
            start=start,
            end=start + timedelta(hours=length),
            status="confirmed",
            title=title,
            channel="web",
            origin=USER,
        )

    def events(self) -> list[dict[str, Any]]:
        return self.graph.events(ALEX)

    def event_of(self, booking_id: int) -> str:
        return str(self.host.bookings.get(booking_id).fields["external_id"])

    def subscription(self) -> dict[str, Any]:
        (sub,) = self.graph.list_subscriptions()
        return sub

    def count(self, method: str | None = None, path: str | None = None, status: int | None = None) -> int:
        return int(self.graph.requests.count(method=method, path=path, status=status))


@pytest.fixture
def story(tmp_path: Any) -> Iterator[OutlookStory]:
    with World(tmp_path / "host.sqlite3") as world:
        yield OutlookStory(world)


# --------------------------------------------------------------------------- delegated round trip


def test_connecting_syncs_and_subscribes(story: OutlookStory) -> None:
    assert "connected" in story.page.lower()
    form = story.host.hooks.config_form(story.integration, None)
    assert form is not None and form.status == f"Connected ({ALEX})"
    (row,) = form.health
    assert row["calendar"] == ALEX and row["state"] == "incremental" and row["channel_expires"] != "none"
    sub = story.subscription()
    assert sub["resource"] == "me/events" and sub["notificationUrl"].endswith("/calendar/push/outlook/o1")
    assert sub["lifecycleNotificationUrl"].endswith("/calendar/push/outlook/o1/lifecycle")
    assert story.count(method="POST", path="/oauth2/v2.0/token$") == 1


def test_booking_becomes_one_event_and_the_echo_changes_nothing(story: OutlookStory) -> None:
    booking = story.book()
    story.world.settle()
    (event,) = story.events()
    assert event["subject"] == f"Team [{booking.id}]"
    assert event["singleValueExtendedProperties"] == [{"id": mapping.BOOKING_ID_PROPERTY, "value": str(booking.id)}]
    assert event["transactionId"] and event["originalStartTimeZone"] == "Europe/Amsterdam"
    stored = story.host.bookings.get(booking.id)
    assert stored.fields["external_id"] == event["id"]
    assert mapping.parse_graph_datetime(event["start"]["dateTime"], event["start"]["timeZone"]) == booking.start
    assert story.count(method="POST", path=r"/me/events$") == 1
    # Graph told us about our own create; that sync must not touch the booking
    assert story.host.bookings.get(booking.id).version == stored.version
    assert story.count(method="PATCH", path="/events/") == 0


def test_a_booking_created_from_outlook_always_follows_it(story: OutlookStory) -> None:
    start = hour(48)
    made = story.graph.person_create_event(
        ALEX,
        "Board <b>meeting</b>",
        start,
        start + timedelta(hours=1),
        "UTC",
        body="Agenda: <script>x</script>",
        organizer="pat@fabrikam.com",
    )
    story.world.settle()
    (booking,) = story.host.list_bookings(story.room.id)
    assert (booking.start, booking.status, booking.channel) == (start, "confirmed", "external/outlook")
    assert booking.fields["external_id"] == made["id"]
    assert list(booking.remarks) == ["Board <b>meeting</b>\n\nAgenda: <script>x</script>"]  # plain text, verbatim
    story.graph.person_move_event(ALEX, made["id"], start + timedelta(hours=5), start + timedelta(hours=7), "UTC")
    story.world.settle()
    moved = story.host.bookings.get(booking.id)
    assert (moved.start, moved.end) == (start + timedelta(hours=5), start + timedelta(hours=7))
    assert story.count(method="PATCH", path="/events/") == 0 and story.count(method="POST", path="/events$") == 0


def test_without_allow_booking_update_a_web_booking_stays_put(story: OutlookStory) -> None:
    booking = story.book()
    story.world.settle()
    story.graph.person_move_event(
        ALEX, story.event_of(booking.id), booking.start + timedelta(hours=3), booking.end + timedelta(hours=3)
    )
    story.world.settle()
    assert story.host.bookings.get(booking.id).start == booking.start


def test_with_allow_booking_update_a_web_booking_follows_outlook(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        story = OutlookStory(world, allow_booking_update=True)
        booking = story.book()
        world.settle()
        new_start = booking.start + timedelta(hours=3)
        story.graph.person_move_event(ALEX, story.event_of(booking.id), new_start, new_start + timedelta(hours=2))
        world.settle()
        moved = story.host.bookings.get(booking.id)
        assert (moved.start, moved.end, moved.status) == (new_start, new_start + timedelta(hours=2), "confirmed")
        assert story.count(method="PATCH", path="/events/") == 0  # the move came in, nothing went back out


@pytest.mark.parametrize("how", ["cancelled", "deleted"])
def test_event_cancelled_or_deleted_in_outlook_cancels_the_booking(story: OutlookStory, how: str) -> None:
    booking = story.book()
    story.world.settle()
    event_id = story.event_of(booking.id)
    if how == "cancelled":
        story.graph.person_cancel_event(ALEX, event_id)  # isCancelled: true
    else:
        story.graph.person_delete_event(ALEX, event_id)  # @removed
    story.world.settle()
    cancelled = story.host.bookings.get(booking.id)
    assert cancelled.status == "cancelled"
    assert not cancelled.fields.get("external_id")
    assert story.count(method="DELETE", path="/events/") == 0


def test_cancelling_the_booking_deletes_the_event(story: OutlookStory) -> None:
    booking = story.book()
    story.world.settle()
    story.host.bookings.set_status(booking.id, "cancelled", origin=USER)
    story.world.settle()
    assert story.events() == []
    assert story.count(method="DELETE", path="/me/events/") == 1


def test_teams_link_is_made_stored_and_kept(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        story = OutlookStory(world, meeting_link=True, customer_as_attendee=True)
        story.graph.configure(join_url_null_on_create=True)
        customer = story.host.add_customer("Pat", "pat@fabrikam.com")
        start = hour(30)
        booking = story.host.bookings.create(
            object_id=story.room.id,
            start=start,
            end=start + timedelta(hours=1),
            status="confirmed",
            title="Demo",
            channel="web",
            origin=USER,
            customer_id=customer.id,
        )
        world.settle()
        (event,) = story.events()
        join_url = event["onlineMeeting"]["joinUrl"]
        assert story.host.bookings.get(booking.id).fields["meeting_url"] == join_url
        assert event["attendees"][0]["emailAddress"]["address"] == "pat@fabrikam.com"
        story.host.bookings.update_times(
            booking.id, start=start + timedelta(hours=2), end=start + timedelta(hours=3), origin=USER
        )
        story.host.bookings.set_status(booking.id, "confirmed", origin=USER)
        world.settle()
        (after,) = story.events()
        assert after["onlineMeeting"]["joinUrl"] == join_url


# --------------------------------------------------------------------------- lifecycle notifications


def test_lifecycle_notifications(story: OutlookStory) -> None:
    sub = story.subscription()
    # reauthorizationRequired: the same subscription is renewed (which reauthorizes it)
    story.graph.fire_lifecycle(sub["id"], "reauthorizationRequired")
    story.world.settle()
    renewed = story.subscription()
    assert renewed["id"] == sub["id"] and renewed["needsReauthorization"] is False
    assert story.count(method="PATCH", path=f"/subscriptions/{sub['id']}$", status=200) == 1
    # missed: a delta round catches up
    deltas = story.count(method="GET", path=DELTA)
    start = hour(50)
    story.graph.deliverer.configure(type(story.graph.deliverer.faults)(drop=1.0))  # the change notice is lost
    story.graph.person_create_event(ALEX, "Missed", start, start + timedelta(hours=1))
    story.world.settle()
    assert story.host.list_bookings(story.room.id) == []
    story.graph.deliverer.configure(type(story.graph.deliverer.faults)())
    story.graph.fire_lifecycle(sub["id"], "missed")
    story.world.settle()
    assert story.count(method="GET", path=DELTA) == deltas + 1
    assert [b.title for b in story.host.list_bookings(story.room.id)] == ["Missed"]
    # subscriptionRemoved: a new subscription, then a resync
    deltas = story.count(method="GET", path=DELTA)
    story.graph.fire_lifecycle(sub["id"], "subscriptionRemoved")
    story.world.settle()
    recreated = story.subscription()
    assert recreated["id"] != sub["id"] and recreated["resource"] == "me/events"
    assert story.count(method="GET", path=DELTA) == deltas + 1
    ctx = context_for(story.host, story.integration)
    assert ctx is not None
    assert StateStore(ctx.store).load("me").channel["id"] == recreated["id"]  # type: ignore[index]
    assert not ctx.store.load(f"chan/{sub['id']}").exists


def test_a_forged_notification_changes_nothing(story: OutlookStory) -> None:
    sub = story.subscription()
    deltas = story.count(method="GET", path=DELTA)
    url = story.host.url_for("/calendar/push/outlook/o1")
    forged = {
        "value": [
            {"subscriptionId": sub["id"], "clientState": "guess", "changeType": "updated"},
            {"subscriptionId": "unknown", "clientState": sub["clientState"], "changeType": "updated"},
        ]
    }
    assert story.world.http.post(url, json=forged, timeout=5).status_code == 202
    assert story.world.http.post(url, data=b"{nope", timeout=5).status_code == 400
    handshake = story.world.http.post(url, params={"validationToken": "<b>hi</b> there"}, timeout=5)
    assert (handshake.status_code, handshake.text) == (200, "<b>hi</b> there")
    assert handshake.headers["Content-Type"].startswith("text/plain")
    story.world.settle()
    assert story.count(method="GET", path=DELTA) == deltas


# --------------------------------------------------------------------------- tokens and throttling


def test_token_expiry_mid_sync_is_recovered(story: OutlookStory) -> None:
    ctx = context_for(story.host, story.integration)
    assert ctx is not None
    before, _ = TokenStore(ctx.store).load()
    story.graph.expire_access_tokens()
    start = hour(26)
    story.graph.person_create_event(ALEX, "After expiry", start, start + timedelta(hours=1))
    story.world.settle()
    assert [b.title for b in story.host.list_bookings(story.room.id)] == ["After expiry"]
    after, _ = TokenStore(ctx.store).load()
    assert before is not None and after is not None
    assert after.refresh_token != before.refresh_token  # rotated and stored
    assert story.count(path=DELTA, status=401) == 1
    assert story.graph.token_request_count(grant_type="refresh_token") == 1


def test_revocation_needs_reconnect_one_alert_and_loses_nothing(story: OutlookStory) -> None:
    story.graph.revoke_refresh_tokens(ALEX)
    story.graph.expire_access_tokens()
    booking = story.book()
    story.world.settle()
    form = story.host.hooks.config_form(story.integration, None)
    assert form is not None and form.status.startswith("Needs reconnect")
    alerts = [e for e in story.host.integration_log("o1") if e.level == "error" and "Reconnect" in e.message]
    assert len(alerts) == 1
    assert story.events() == []
    token_calls = story.graph.token_request_count()
    story.world.tick()
    story.world.settle()
    assert story.graph.token_request_count() == token_calls  # no retries after invalid_grant
    story.world.connect(story.integration)
    story.world.settle()
    (event,) = story.events()
    assert story.host.bookings.get(booking.id).fields["external_id"] == event["id"]
    assert form is not None
    assert len([e for e in story.host.integration_log("o1") if e.level == "error" and "Reconnect" in e.message]) == 1


def test_throttling_is_survived(story: OutlookStory) -> None:
    story.graph.faults.add(Fault(status=429, retry_after=1, path="/me/events$", method="POST", times=1))
    story.graph.faults.add(Fault(status=429, retry_after=1, path="calendarView/delta", times=1))
    booking = story.book()
    story.world.settle()
    (event,) = story.events()
    assert story.host.bookings.get(booking.id).fields["external_id"] == event["id"]
    assert story.count(status=429) == 2


# --------------------------------------------------------------------------- application mode at scale


def test_two_hundred_rooms_in_application_mode(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        host = world.host
        graph, base = world.graph()
        graph.add_rooms(TENANT, 200)
        objects = [host.add_object(f"Room {n:03d}", timezone="Europe/Amsterdam") for n in range(1, 201)]
        rooms = [{"upn": f"room-{n:03d}@{TENANT}", "object": obj.id} for n, obj in enumerate(objects, start=1)]
        integration = world.integration(
            "rooms",
            "outlook",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "auth_mode": "application",
                "tenant": TENANT,
                "rooms": rooms,
                **World.graph_urls(base),
            },
        )
        form = host.hooks.config_form(integration, None)
        assert form is not None and [link.label for link in form.links] == ["Grant admin consent in Microsoft Entra"]

        world.tick()
        world.settle()
        subs = graph.list_subscriptions()
        assert len(subs) == 200
        assert {s["resource"] for s in subs} == {f"users/{r['upn']}/events" for r in rooms}
        ctx = context_for(host, integration)
        assert ctx is not None
        states = StateStore(ctx.store)
        assert all(states.load(room_key(r["upn"])).phase == "incremental" for r in rooms)
        assert graph.token_request_count() == 1  # one app-only token for 200 rooms and their 400 calls
        form = host.hooks.config_form(integration, None)
        assert form is not None and form.status == f"Connected (application @ {TENANT})"
        assert len(form.health) == 200 and all(row["last_error"] == "" for row in form.health)

        # a person books room 117 in Outlook: exactly that room is synced
        graph.requests.clear()
        start = hour(72)
        graph.person_create_event(f"room-117@{TENANT}", "Walk-in", start, start + timedelta(hours=1))
        world.settle()
        deltas = [e.path for e in graph.requests.entries() if e.path.endswith("/calendarView/delta")]
        assert deltas == [f"/v1.0/users/room-117@{TENANT}/calendarView/delta"]
        (booking,) = host.list_bookings(objects[116].id)
        assert (booking.title, booking.start, booking.channel) == ("Walk-in", start, "external/outlook")
        assert sum(len(host.list_bookings(o.id)) for o in objects) == 1

        # outbound is skipped (and logged) in application mode
        graph.requests.clear()
        web = host.bookings.create(
            object_id=objects[4].id,
            start=hour(30),
            end=hour(31),
            status="confirmed",
            title="Web",
            channel="web",
            origin=USER,
        )
        world.settle()
        assert graph.requests.count(method="POST") == 0 and graph.requests.count(method="PATCH") == 0
        notes = [e.message for e in host.integration_log("rooms") if f"Booking {web.id} not written" in e.message]
        assert notes and "inbound only" in notes[0]

        # a cron tick costs nothing for 200 healthy rooms
        graph.requests.clear()
        world.tick()
        world.settle()
        assert graph.requests.count() == 0
        assert graph.token_request_count() == 1


def test_room_lifecycle_and_throttling_in_application_mode(tmp_path: Any) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        host = world.host
        graph, base = world.graph()
        objects = [host.add_object(f"Room {n}") for n in range(1, 4)]
        rooms = [{"upn": f"room-00{n}@{TENANT}", "object": obj.id} for n, obj in enumerate(objects, start=1)]
        world.integration(
            "rooms",
            "outlook",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "auth_mode": "application",
                "tenant": TENANT,
                "rooms": rooms,
                **World.graph_urls(base),
            },
        )
        world.tick()
        world.settle()
        by_room = {s["resource"]: s for s in graph.list_subscriptions()}
        second = by_room[f"users/room-002@{TENANT}/events"]
        graph.requests.clear()
        graph.fire_lifecycle(second["id"], "subscriptionRemoved")
        world.settle()
        now_subs = {s["resource"]: s["id"] for s in graph.list_subscriptions()}
        assert len(now_subs) == 3 and now_subs[f"users/room-002@{TENANT}/events"] != second["id"]
        assert [e.path for e in graph.requests.entries() if e.path.endswith("/calendarView/delta")] == [
            f"/v1.0/users/room-002@{TENANT}/calendarView/delta"
        ]
        # throttled (MailboxConcurrency) and expired app token mid-way: still one booking, one more token
        graph.faults.add(Fault(status=429, retry_after=1, path="calendarView/delta", times=1))
        graph.expire_access_tokens()
        start = hour(40)
        graph.person_create_event(f"room-003@{TENANT}", "Busy", start, start + timedelta(hours=1))
        world.settle()
        assert [b.title for b in host.list_bookings(objects[2].id)] == ["Busy"]
        assert graph.token_request_count(grant_type="client_credentials") == 2


def test_an_event_moved_out_of_the_window_is_not_a_deletion(story: OutlookStory) -> None:
    """calendarView delta reports an event leaving the -90/+365 window as @removed; the booking must follow
    the move (it was created from Outlook, so it always does), never be cancelled."""
    start = hour(48)
    made = story.graph.person_create_event(ALEX, "Offsite", start, start + timedelta(hours=1), "UTC")
    story.world.settle()
    (booking,) = story.host.list_bookings(story.room.id)
    far = start + timedelta(days=500)
    story.graph.person_move_event(ALEX, made["id"], far, far + timedelta(hours=1), "UTC")
    story.world.settle()
    moved = story.host.bookings.get(booking.id)
    assert moved.status == "confirmed" and moved.start == far
    assert moved.fields["external_id"] == made["id"]
