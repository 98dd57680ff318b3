"""OutlookBackend against the Graph emulator over real HTTP: what is Graph's own in delta, writes,
subscriptions, retries and pinning. What every provider owes the engine (paging, stale tokens, idempotent
writes, push verify, recheck) is the shared contract suite's (``test_outlook_contract.py``)."""

from __future__ import annotations

import json
import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from calendar_emulators.core import Fault
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import RateLimitedError
from ireserve_calendar_plugin.errors import SyncTokenInvalidError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.errors import UnsafeUrlError
from ireserve_calendar_plugin.providers.outlook import mapping
from ireserve_calendar_plugin.providers.outlook.backend import EXPIRY_MARGIN
from ireserve_calendar_plugin.providers.outlook.backend import OutlookBackend
from ireserve_calendar_plugin.providers.outlook.backend import room_key
from ireserve_calendar_plugin.providers.outlook.client import PREFER
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import ChangePage
from ireserve_calendar_plugin.sync.model import EventDraft
from ireserve_calendar_plugin.sync.model import Window
from tests.providers.outlook.conftest import ROOM
from tests.providers.outlook.conftest import ROOM2
from tests.providers.outlook.conftest import USER
from tests.providers.outlook.conftest import Graph
from tests.providers.outlook.conftest import app_settings
from tests.providers.outlook.conftest import make_settings

AMS = ZoneInfo("Europe/Amsterdam")
DELTA = r"/calendarView/delta$"


def now() -> datetime:
    return datetime.now(UTC)


def window() -> Window:
    return Window.around(now())


def me(backend: OutlookBackend) -> CalendarRef:
    (calendar,) = backend.calendars()
    return calendar


def person_creates(graph: Graph, n: int, *, mailbox: str = USER, days: int = 1, **extra: Any) -> list[dict[str, Any]]:
    base = datetime.now(AMS).replace(hour=9, minute=0, second=0, microsecond=0, tzinfo=None) + timedelta(days=days)
    return [
        graph.app.person_create_event(
            mailbox,
            f"Meeting {i}",
            base + timedelta(minutes=30 * i),
            base + timedelta(minutes=30 * i + 25),
            "Europe/Amsterdam",
            **extra,
        )
        for i in range(n)
    ]


def draft(booking_id: int = 4711, *, hour: int = 10, **extra: Any) -> EventDraft:
    start = datetime.now(AMS).replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=3)
    values: dict[str, Any] = {
        "booking_id": booking_id,
        "title": f"Room A [{booking_id}]",
        "description": f"i-Reserve booking {booking_id}",
        "start": start,
        "end": start + timedelta(hours=1),
        "all_day": False,
        "timezone": "Europe/Amsterdam",
    }
    values.update(extra)
    return EventDraft(**values)


def drain(pages: Any) -> list[ChangePage]:
    return list(pages)


def hook_path(graph: Graph) -> str:
    return graph.hook[len(graph.url) :]


def cursor_of(pages: list[ChangePage]) -> str:
    cursor = pages[-1].cursor
    assert cursor
    return cursor


# --------------------------------------------------------------------------- calendars (no I/O)


def test_delegated_calendar_is_me_on_the_object(graph: Graph) -> None:
    backend = graph.backend()
    (calendar,) = backend.calendars()
    assert calendar == CalendarRef("me", "me", 7, True, "Outlook calendar")
    assert backend.calendar_for_object(7) == calendar
    assert backend.calendar_for_object(8) is None
    assert graph.app.requests.count() == 0


def test_application_calendars_one_per_room(graph: Graph) -> None:
    backend = graph.app_backend([ROOM, ROOM2.upper()])
    refs = backend.calendars()
    assert [c.remote_id for c in refs] == [ROOM, ROOM2.upper()]
    assert [c.key for c in refs] == [room_key(ROOM), room_key(ROOM2)]
    assert all(c.key.startswith("r") and len(c.key) == 17 for c in refs)
    assert [(c.inbound_object_id, c.outbound, c.label) for c in refs] == [
        (101, False, ROOM),
        (102, False, ROOM2.upper()),
    ]
    assert backend.calendar_for_object(102) == refs[1]
    assert backend.calendar_for_object(7) is None
    assert graph.app.requests.count() == 0


# --------------------------------------------------------------------------- inbound


def test_full_delta_sends_the_window_once_then_follows_the_links_with_prefer(connected: Graph) -> None:
    backend = connected.backend()
    person_creates(connected, 7)
    connected.app.configure(delta_max_page_size=3)
    seen_prefer: list[str] = []
    connected.session.hooks["response"].append(lambda r, *a, **k: seen_prefer.append(r.request.headers.get("Prefer")))
    connected.app.requests.clear()
    drain(backend.list_changes(me(backend), None, window()))
    calls = [e for e in connected.app.requests.entries() if e.method == "GET"]
    assert [c.path for c in calls] == ["/v1.0/me/calendarView/delta"] * 3
    assert set(calls[0].query) == {"startDateTime", "endDateTime"}  # the window only on the initial request
    assert all(set(c.query) == {"$skiptoken"} for c in calls[1:])
    assert seen_prefer == [PREFER] * 3
    assert 'outlook.timezone="UTC"' in PREFER and "odata.maxpagesize=1000" in PREFER


def test_events_arrive_in_utc_with_plain_text_bodies(connected: Graph) -> None:
    backend = connected.backend()
    (made,) = person_creates(connected, 1, organizer="pat@fabrikam.com")
    connected.app.person_update_event(
        USER, made["id"], body={"contentType": "html", "content": "<p>Bring <b>slides</b> &amp; cake</p>"}
    )
    day = (datetime.now(UTC) + timedelta(days=5)).date()
    connected.app.person_create_event(
        USER,
        "Offsite",
        day.isoformat() + "T00:00:00",
        (day + timedelta(days=2)).isoformat() + "T00:00:00",
        "Europe/Amsterdam",
        all_day=True,
    )
    (page,) = drain(backend.list_changes(me(backend), None, window()))
    by_title = {e.title: e for e in page.events}
    timed = by_title["Meeting 0"]
    assert timed.start is not None and timed.start.tzinfo is not None
    wanted = datetime.fromisoformat(made["start"]["dateTime"][:19]).replace(tzinfo=UTC)
    assert timed.start == wanted and timed.end == wanted + timedelta(minutes=25)
    assert timed.description == "Bring slides & cake"
    assert timed.organizer_email == "pat@fabrikam.com"
    assert timed.etag.startswith('W/"') and timed.booking_id is None
    offsite = by_title["Offsite"]
    assert offsite.all_day and offsite.start == datetime.combine(day, datetime.min.time(), UTC)
    assert offsite.end == offsite.start + timedelta(days=2)


def test_incremental_removed_and_cancelled_are_deleted_and_the_link_is_used_verbatim(connected: Graph) -> None:
    backend = connected.backend()
    made = person_creates(connected, 3)
    cursor = cursor_of(drain(backend.list_changes(me(backend), None, window())))
    connected.app.person_delete_event(USER, made[1]["id"])
    connected.app.person_cancel_event(USER, made[2]["id"])
    connected.app.requests.clear()
    changes = drain(backend.list_changes(me(backend), cursor, window()))
    events = {e.id: e for p in changes for e in p.events}
    assert set(events) == {made[1]["id"], made[2]["id"]}
    assert events[made[1]["id"]].deleted and events[made[1]["id"]].title == ""  # @removed: only the id
    assert events[made[2]["id"]].deleted and events[made[2]["id"]].title.startswith("Canceled: ")
    new_cursor = cursor_of(changes)
    assert new_cursor != cursor
    (call,) = [e for e in connected.app.requests.entries() if e.method == "GET"]
    assert set(call.query) == {"$deltatoken"}  # the stored link, verbatim
    assert cursor.endswith(call.query["$deltatoken"][0])


@pytest.mark.parametrize("with_location", [False, True])
def test_a_dead_delta_link_means_resync(connected: Graph, with_location: bool) -> None:
    backend = connected.backend()
    person_creates(connected, 1)
    cursor = cursor_of(drain(backend.list_changes(me(backend), None, window())))
    connected.app.configure(delta_gone_with_location=with_location)
    connected.app.invalidate_delta_tokens(USER)
    with pytest.raises(SyncTokenInvalidError) as info:
        drain(backend.list_changes(me(backend), cursor, window()))
    assert info.value.status == 410
    assert info.value.reason == ("resyncRequired" if with_location else "syncStateNotFound")


def test_a_stored_link_for_another_host_is_a_resync_never_a_request(connected: Graph) -> None:
    backend = connected.backend()
    foreign = "https://graph.evil.example/v1.0/me/calendarView/delta?$deltatoken=abc"
    connected.app.requests.clear()
    with pytest.raises(SyncTokenInvalidError):
        drain(backend.list_changes(me(backend), foreign, window()))
    assert connected.app.requests.count() == 0


@pytest.mark.parametrize(
    "bad_link",
    [
        "https://graph.evil.example/v1.0/me/calendarView/delta?$skiptoken=x",
        "{base}/_emulator/requests",
        "{base}/v1.0/../_emulator/requests",
        "http://127.0.0.2:{port}/v1.0/me/calendarView/delta?$skiptoken=x",
    ],
)
def test_a_next_link_elsewhere_is_refused(connected: Graph, bad_link: str) -> None:
    backend = connected.backend()
    connected.app.configure(delta_max_page_size=1)
    person_creates(connected, 2)
    link = bad_link.format(base=connected.url, port=connected.server.port)

    def rewrite(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if b"@odata.nextLink" in response.content:
            data = response.json()
            data["@odata.nextLink"] = link
            response._content = json.dumps(data).encode()

    connected.session.hooks["response"].append(rewrite)
    pages = backend.list_changes(me(backend), None, window())
    assert len(next(pages).events) == 1
    before = connected.app.requests.count()
    with pytest.raises(UnsafeUrlError):
        next(pages)
    assert connected.app.requests.count() == before


@pytest.mark.parametrize(
    "upn",
    [
        "room/../x@contoso.onmicrosoft.com",
        "room?x=1@contoso.onmicrosoft.com",
        "room..x@contoso.onmicrosoft.com",
        "../me",
        "room#1@contoso.onmicrosoft.com",
        "room%2F@contoso.onmicrosoft.com",
    ],
)
def test_a_bad_upn_never_reaches_a_url(graph: Graph, upn: str) -> None:
    settings = {**app_settings(graph.url, [ROOM]), "rooms": [{"upn": upn, "object": 101}]}  # past the schema
    backend = graph.backend(settings=settings)
    (calendar,) = backend.calendars()
    with pytest.raises(UnsafeUrlError):
        drain(backend.list_changes(calendar, None, window()))
    with pytest.raises(UnsafeUrlError):
        backend.watch(calendar, graph.hook)
    assert graph.app.requests.count() == 0
    assert graph.app.token_request_count() == 0


@pytest.mark.parametrize("tenant", ["contoso.onmicrosoft.com/../x", "contoso.onmicrosoft.com?x=1", "..", "a/b"])
def test_a_bad_tenant_never_reaches_a_url(graph: Graph, tenant: str) -> None:
    settings = {**app_settings(graph.url, [ROOM]), "tenant": tenant}
    backend = graph.backend(settings=settings)
    with pytest.raises(ConfigError):
        drain(backend.list_changes(backend.calendars()[0], None, window()))
    assert graph.app.requests.count() == 0 and graph.app.token_request_count() == 0


# --------------------------------------------------------------------------- outbound


def test_create_carries_everything_and_the_booking_id(connected: Graph) -> None:
    backend = connected.backend()
    wanted = draft(attendee_emails=("guest@fabrikam.com",), popup_reminder_minutes=30)
    event = backend.create_event(me(backend), wanted, backend.new_idempotency_key())
    assert event.title == wanted.title and (event.start, event.end) == (wanted.start, wanted.end)
    (stored,) = connected.app.events(USER)
    assert stored["id"] == event.id
    assert stored["body"]["content"].find("i-Reserve booking 4711") >= 0
    assert stored["singleValueExtendedProperties"] == [{"id": mapping.BOOKING_ID_PROPERTY, "value": "4711"}]
    assert stored["attendees"][0]["emailAddress"]["address"] == "guest@fabrikam.com"
    assert (stored["isReminderOn"], stored["reminderMinutesBeforeStart"]) == (True, 30)
    assert stored["originalStartTimeZone"] == "Europe/Amsterdam"
    assert stored["transactionId"]
    # a single read expands our property, so the booking id comes back
    assert mapping.event_from_json(backend.client.get_event("me", event.id)).booking_id == 4711


def test_all_day_create(connected: Graph) -> None:
    backend = connected.backend()
    start = datetime(2031, 5, 1, tzinfo=AMS)
    event = backend.create_event(
        me(backend), draft(all_day=True, start=start, end=start + timedelta(days=1)), backend.new_idempotency_key()
    )
    assert event.all_day
    (stored,) = connected.app.events(USER)
    assert stored["isAllDay"] is True
    assert (stored["start"]["dateTime"][:10], stored["end"]["dateTime"][:10]) == ("2031-05-01", "2031-05-02")


def test_transaction_id_makes_a_retried_post_one_event(connected: Graph) -> None:
    backend = connected.backend()
    connected.app.fail_next_event_post(504)  # stored, then the answer is lost
    key = backend.new_idempotency_key()
    event = backend.create_event(me(backend), draft(), key)
    assert len(connected.app.events(USER)) == 1 and connected.app.events(USER)[0]["id"] == event.id
    assert connected.app.requests.count(method="POST", path=r"/me/events$") == 2
    assert len(connected.sleeps.waits) == 1
    # a job whose every attempt lost its answer: the retried job (same key, from the "creating" link)
    # gets the event the lost attempts made
    again_key = backend.new_idempotency_key()
    lose_every_answer(connected)
    with pytest.raises(TransientError):
        backend.create_event(me(backend), draft(4712), again_key)
    assert len(connected.app.events(USER)) == 2
    again = backend.create_event(me(backend), draft(4712), again_key)
    assert len(connected.app.events(USER)) == 2
    assert again.id in {e["id"] for e in connected.app.events(USER)} and again.id != event.id


def lose_every_answer(graph: Graph) -> None:
    """The client's five attempts all fail; only the last one is stored (its answer lost)."""
    graph.app.faults.add(Fault(status=504, method="POST", path=r"/me/events$", times=4))
    graph.app.fail_next_event_post(504)


def test_a_booking_moved_between_two_create_attempts_is_patched(connected: Graph) -> None:
    backend = connected.backend()
    key = backend.new_idempotency_key()
    lose_every_answer(connected)
    with pytest.raises(TransientError):
        backend.create_event(me(backend), draft(hour=10), key)
    moved = draft(hour=15)
    event = backend.create_event(me(backend), moved, key)
    (stored,) = connected.app.events(USER)
    assert stored["id"] == event.id and (event.start, event.end) == (moved.start, moved.end)
    assert connected.app.requests.count(method="PATCH") == 1


def test_teams_link_waits_for_a_null_join_url_and_survives_updates(connected: Graph) -> None:
    backend = connected.backend()
    connected.app.configure(join_url_null_on_create=True)
    event = backend.create_event(me(backend), draft(meeting_link=True), backend.new_idempotency_key())
    assert event.join_url.startswith("https://teams.microsoft.com/")
    assert connected.sleeps.waits == [0.5]
    assert connected.app.requests.count(method="GET", path=r"/me/events/") == 1
    (posted,) = connected.app.events(USER)
    assert posted["onlineMeetingProvider"] == "teamsForBusiness"
    updated = backend.update_event(me(backend), event.id, draft(hour=16, meeting_link=True))
    assert updated.join_url == event.join_url
    assert updated.start == draft(hour=16).start


def test_update_and_delete(connected: Graph) -> None:
    backend = connected.backend()
    event = backend.create_event(me(backend), draft(), backend.new_idempotency_key())
    moved = draft(hour=13, title="Renamed [4711]")
    updated = backend.update_event(me(backend), event.id, moved)
    assert (updated.title, updated.start, updated.end) == ("Renamed [4711]", moved.start, moved.end)
    assert updated.etag != event.etag
    backend.delete_event(me(backend), event.id)
    assert connected.app.events(USER) == []
    with pytest.raises(PermanentError) as info:
        backend.update_event(me(backend), event.id, moved)
    assert info.value.status == 404 and info.value.reason == "ErrorItemNotFound"


def test_application_mode_never_writes(graph: Graph) -> None:
    backend = graph.app_backend()
    room = backend.calendars()[0]
    for call in (
        lambda: backend.create_event(room, draft(), "k"),
        lambda: backend.update_event(room, "x", draft()),
        lambda: backend.delete_event(room, "x"),
    ):
        with pytest.raises(PermanentError) as info:
            call()
        assert info.value.reason == "inbound_only"
    assert graph.app.requests.count() == 0 and graph.app.token_request_count() == 0


# --------------------------------------------------------------------------- subscriptions


def test_watch_renew_unwatch(connected: Graph) -> None:
    backend = connected.backend()
    channel = backend.watch(me(backend), connected.hook)
    (sub,) = connected.app.list_subscriptions()
    assert sub["id"] == channel.id and sub["resource"] == "me/events"
    assert sub["changeType"] == "created,updated,deleted"
    assert sub["notificationUrl"] == connected.hook
    assert sub["lifecycleNotificationUrl"] == connected.hook + "/lifecycle"
    assert sub["clientState"] == channel.secret and len(channel.secret) >= 40 and len(channel.secret) <= 128
    assert channel.expires == mapping.parse_graph_datetime(sub["expirationDateTime"])
    assert timedelta(days=6, hours=23) < channel.expires - now() < timedelta(days=7)
    assert connected.switch.handshakes == [hook_path(connected), hook_path(connected) + "/lifecycle"]
    # a person's change notifies, carrying our secret
    person_creates(connected, 1)
    assert connected.app.flush_notifications()
    assert {(n.channel_id, n.secret, n.kind) for n in connected.switch.notices} == {
        (channel.id, channel.secret, "changed")
    }
    renewed = backend.renew(me(backend), channel, connected.hook)
    assert (renewed.id, renewed.secret) == (channel.id, channel.secret) and renewed.expires >= channel.expires
    assert connected.app.requests.count(method="PATCH", path="/subscriptions/") == 1
    backend.unwatch(me(backend), renewed)
    assert connected.app.list_subscriptions() == []
    backend.unwatch(me(backend), renewed)  # already gone: done


def test_renewing_a_vanished_subscription_makes_a_new_one(connected: Graph) -> None:
    backend = connected.backend()
    channel = backend.watch(me(backend), connected.hook)
    connected.app.fire_lifecycle(channel.id, "subscriptionRemoved")
    assert connected.app.flush_notifications()
    assert [n.kind for n in connected.switch.notices] == ["recreate"]
    new = backend.renew(me(backend), channel, connected.hook)
    assert new.id != channel.id and new.secret != channel.secret
    assert [s["id"] for s in connected.app.list_subscriptions()] == [new.id]


def test_a_shorter_maximum_lifetime_is_asked_for_once_more(connected: Graph) -> None:
    connected.app.configure(max_subscription_minutes=4230)
    backend = connected.backend()
    channel = backend.watch(me(backend), connected.hook)
    assert connected.app.requests.count(method="POST", path=r"/subscriptions$", status=400) == 1
    assert connected.app.requests.count(method="POST", path=r"/subscriptions$", status=201) == 1
    expected = now() + timedelta(minutes=4230) - EXPIRY_MARGIN
    assert abs((channel.expires - expected).total_seconds()) < 60
    renewed = backend.renew(me(backend), channel, connected.hook)
    assert renewed.id == channel.id and abs((renewed.expires - expected).total_seconds()) < 60
    assert connected.app.requests.count(method="PATCH", path="/subscriptions/", status=400) == 1


def test_other_subscription_refusals_are_not_retried(connected: Graph) -> None:
    backend = connected.backend()
    with pytest.raises(PermanentError) as info:
        backend.watch(me(backend), connected.url + "/not-the-hook")  # the handshake fails there
    assert info.value.status == 400 and info.value.reason == "InvalidRequest"
    assert connected.app.requests.count(method="POST", path=r"/subscriptions$") == 1


def test_one_subscription_per_room(graph: Graph) -> None:
    backend = graph.app_backend()
    channels = [backend.watch(room, graph.hook) for room in backend.calendars()]
    subs = {s["id"]: s["resource"] for s in graph.app.list_subscriptions()}
    assert subs == {channels[0].id: f"users/{ROOM}/events", channels[1].id: f"users/{ROOM2}/events"}
    graph.app.person_create_event(ROOM2, "Walk-in", "2031-01-01T10:00:00", "2031-01-01T11:00:00")
    assert graph.app.flush_notifications()
    assert {n.channel_id for n in graph.switch.notices} == {channels[1].id}


# --------------------------------------------------------------------------- tokens, throttling, concurrency


def test_expired_token_mid_round_is_refreshed(connected: Graph) -> None:
    backend = connected.backend()
    connected.app.configure(delta_max_page_size=1)
    person_creates(connected, 2)
    pages = backend.list_changes(me(backend), None, window())
    next(pages)
    connected.app.expire_access_tokens()
    rest = drain(pages)
    assert rest[-1].cursor
    assert connected.app.requests.count(method="GET", path=DELTA, status=401) == 1
    assert backend.tokens.refreshes == 1


def test_throttled_429_waits_as_long_as_asked(connected: Graph) -> None:
    backend = connected.backend()
    connected.app.faults.add(Fault(status=429, retry_after=7, path="calendarView/delta", times=2))
    pages = drain(backend.list_changes(me(backend), None, window()))
    assert pages[-1].cursor
    assert len(connected.sleeps.waits) == 2 and all(w >= 7 for w in connected.sleeps.waits)
    assert connected.app.requests.count(path=DELTA, status=429) == 2


def test_a_retry_after_beyond_the_clients_patience_goes_back_to_the_queue(connected: Graph) -> None:
    backend = connected.backend()
    connected.app.faults.add(Fault(status=429, retry_after=600, path="calendarView/delta"))
    with pytest.raises(RateLimitedError) as info:
        drain(backend.list_changes(me(backend), None, window()))
    assert info.value.retry_after == 600 and info.value.reason == "ApplicationThrottled"
    assert connected.sleeps.waits == []


def test_503_with_retry_after_is_retried(connected: Graph) -> None:
    backend = connected.backend()
    connected.app.faults.add(Fault(status=503, retry_after=2, path=r"/me/events$"))
    backend.create_event(me(backend), draft(), backend.new_idempotency_key())
    assert connected.sleeps.waits and connected.sleeps.waits[0] >= 2
    assert len(connected.app.events(USER)) == 1


@pytest.mark.parametrize("limit", [4, 2])
def test_never_more_than_max_concurrency_in_flight(graph: Graph, limit: int) -> None:
    graph.app.latency = 0.05
    rooms = [ROOM, ROOM2]
    settings = app_settings(graph.url, rooms, max_concurrency=limit)
    backend = graph.backend(settings=settings)  # the first one fetches the shared app token
    drain(backend.list_changes(backend.calendars()[0], None, window()))
    graph.app.max_in_flight = 0
    errors: list[BaseException] = []

    def job(i: int) -> None:
        with requests.Session() as session:
            try:
                own = graph.backend(settings=settings, session=session, integration_id=f"conc-{limit}")
                drain(own.list_changes(own.calendars()[i % 2], None, window()))
            except BaseException as exc:  # reported below
                errors.append(exc)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # application mode: Graph's limit is per mailbox, so is the gate (two rooms: up to twice the limit in all)
    peaks = _mailbox_peaks(graph.app.requests.entries())
    assert max(peaks.values()) == limit, peaks
    assert limit < graph.app.max_in_flight <= 2 * limit
    assert graph.app.throttle.rejected == 0
    assert graph.app.token_request_count(grant_type="client_credentials") == 1


def _mailbox_peaks(entries: list[Any]) -> dict[str, int]:
    """The most requests each mailbox was answering at once, from the log's starts and durations."""
    edges: dict[str, list[tuple[Any, int]]] = {}
    for e in entries:
        parts = e.path.split("/")
        if len(parts) > 3 and parts[2] == "users":
            edges.setdefault(parts[3], []).extend([(e.started, 1), (e.started + timedelta(seconds=e.duration), -1)])
    peaks = {}
    for mailbox, steps in edges.items():
        current = peak = 0
        for _, step in sorted(steps):
            current += step
            peak = max(peak, current)
        peaks[mailbox] = peak
    return peaks


def test_make_settings_roundtrip(graph: Graph) -> None:
    assert make_settings(graph.url)["max_concurrency"] == 4
