"""GoogleBackend against the emulator over real HTTP: what is Google's own in listing, sync tokens, writes,
push, retries and pinning. What every provider owes the engine (paging, stale tokens, idempotent writes,
push verify, recheck) is the shared contract suite's (``test_google_contract.py``)."""

from __future__ import annotations

import math
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calendar_emulators.core import Fault
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import RateLimitedError
from ireserve_calendar_plugin.errors import SyncTokenInvalidError
from ireserve_calendar_plugin.errors import UnsafeUrlError
from ireserve_calendar_plugin.providers.google.backend import GoogleBackend
from ireserve_calendar_plugin.providers.google.backend import calendar_key
from ireserve_calendar_plugin.providers.google.client import GoogleClient
from ireserve_calendar_plugin.providers.google.push import parse_push
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import ChangePage
from ireserve_calendar_plugin.sync.model import EventDraft
from ireserve_calendar_plugin.sync.model import Window
from tests.providers.google.conftest import ROOM
from tests.providers.google.conftest import USER
from tests.providers.google.conftest import Google
from tests.providers.google.conftest import make_settings

AMS = ZoneInfo("Europe/Amsterdam")
LIST_PATH = r"/calendars/[^/]+/events$"


def now() -> datetime:
    return datetime.now(UTC)


def window() -> Window:
    return Window.around(now())


def room(backend: GoogleBackend) -> CalendarRef:
    calendar = backend.calendar_for_object(7)
    assert calendar is not None and calendar.remote_id == ROOM
    return calendar


def person_creates(google: Google, n: int, *, calendar: str = ROOM, days: int = 1) -> list[dict[str, Any]]:
    base = datetime.now(AMS).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=days)
    return [
        google.app.create_event(
            calendar,
            summary=f"Meeting {i}",
            start=base + timedelta(minutes=30 * i),
            end=base + timedelta(minutes=30 * i + 25),
            time_zone="Europe/Amsterdam",
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


# --------------------------------------------------------------------------- calendars (no I/O)


def test_calendars_from_the_mapping(google: Google) -> None:
    settings = make_settings(
        google.url,
        calendar_mapping=[
            {"object": "12", "calendar_id": ROOM},
            {"object": "*", "calendar_id": USER},
            {"object": "5", "calendar_id": ROOM},
            {"object": "9", "calendar_id": "holidays#x@group.v.calendar.google.com"},
        ],
    )
    backend = google.backend(settings=settings)
    refs = backend.calendars()
    assert [c.remote_id for c in refs] == [ROOM, USER, "holidays#x@group.v.calendar.google.com"]
    assert [c.inbound_object_id for c in refs] == [5, None, 9]
    assert all(c.key == calendar_key(c.remote_id) and len(c.key) == 17 and c.key.startswith("g") for c in refs)
    assert refs[0].label == ROOM and refs[0].outbound
    assert backend.calendar_for_object(12) == refs[0]
    assert backend.calendar_for_object(9) == refs[2]
    assert backend.calendar_for_object(1234) == refs[1]  # the * row
    no_default = google.backend(
        settings=make_settings(google.url, calendar_mapping=[{"object": "12", "calendar_id": ROOM}])
    )
    assert no_default.calendar_for_object(1234) is None
    assert google.app.requests.count() == 0


# --------------------------------------------------------------------------- inbound


def test_full_listing_asks_for_single_events_tombstones_and_the_window(connected: Google) -> None:
    backend = connected.backend()
    person_creates(connected, 7)
    connected.app.set_paging(page_cap=3)
    connected.app.requests.clear()
    drain(backend.list_changes(room(backend), None, window()))
    calls = [e for e in connected.app.requests.entries() if e.method == "GET"]
    assert len(calls) == 3
    for i, call in enumerate(calls):
        assert call.query["maxResults"] == ("2500",)
        assert call.query["singleEvents"] == ("true",)
        assert call.query["showDeleted"] == ("true",)
        assert call.query["fields"][0].startswith("items(id,etag,status,")
        assert "timeMin" in call.query and "timeMax" in call.query
        assert ("pageToken" in call.query) == (i > 0)


def test_incremental_listing_sends_the_sync_token_and_no_window(connected: Google) -> None:
    backend = connected.backend()
    made = person_creates(connected, 1)
    cursor = drain(backend.list_changes(room(backend), None, window()))[-1].cursor
    assert cursor
    connected.app.delete_event(ROOM, made[0]["id"])
    connected.app.requests.clear()
    drain(backend.list_changes(room(backend), cursor, window()))
    (call,) = connected.app.requests.entries()
    assert call.query["syncToken"] == (cursor,)
    assert "timeMin" not in call.query and "timeMax" not in call.query
    assert call.query["singleEvents"] == ("true",) and call.query["maxResults"] == ("2500",)
    assert call.query["showDeleted"] == ("true",)


def test_a_made_up_sync_token_is_sync_token_invalid(connected: Google) -> None:
    backend = connected.backend()
    with pytest.raises(SyncTokenInvalidError):
        drain(backend.list_changes(room(backend), "made-up-token", window()))


def test_list_calls_for_n_events_are_minimal(connected: Google) -> None:
    backend = connected.backend()
    n = 2600
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for i in range(n):
        connected.app.create_event(
            ROOM, summary=f"E{i}", start=base + timedelta(minutes=i), end=base + timedelta(minutes=i + 1)
        )
    connected.app.requests.clear()
    pages = drain(backend.list_changes(room(backend), None, window()))
    assert [len(p.events) for p in pages] == [2500, 100]
    calls = connected.app.requests.count(method="GET", path=LIST_PATH)
    assert math.ceil(n / 2500) <= calls <= math.ceil(n / 2500) + 1


# --------------------------------------------------------------------------- outbound


def stored(google: Google, event_id: str) -> dict[str, Any]:
    body = google.app.event(ROOM, event_id)
    assert body is not None
    return body


def live_events(google: Google) -> list[dict[str, Any]]:
    return [e for e in google.app.events(ROOM) if e.get("status") != "cancelled"]


def test_create_update_delete(connected: Google) -> None:
    backend = connected.backend()
    cal = room(backend)
    d = draft(popup_reminder_minutes=10)
    event = backend.create_event(cal, d, backend.new_idempotency_key())
    assert (event.start, event.end, event.booking_id, event.title) == (d.start, d.end, 4711, d.title)
    body = stored(connected, event.id)
    assert body["reminders"] == {"useDefault": False, "overrides": [{"method": "popup", "minutes": 10}]}
    insert = next(e for e in connected.app.requests.entries() if e.method == "POST" and "events" in e.path)
    assert insert.query["sendUpdates"] == ("none",) and "conferenceDataVersion" not in insert.query

    moved = draft(hour=15)
    updated = backend.update_event(cal, event.id, moved)
    assert (updated.id, updated.start, updated.end) == (event.id, moved.start, moved.end)
    assert stored(connected, event.id)["reminders"].get("useDefault") is True

    backend.delete_event(cal, event.id)
    assert stored(connected, event.id)["status"] == "cancelled"  # a tombstone, as Google keeps it


def test_attendees_send_updates(connected: Google) -> None:
    backend = connected.backend()
    event = backend.create_event(
        room(backend), draft(attendee_emails=("customer@example.org",)), backend.new_idempotency_key()
    )
    assert [a["email"] for a in stored(connected, event.id)["attendees"]] == ["customer@example.org"]
    insert = next(e for e in connected.app.requests.entries() if e.method == "POST" and "events" in e.path)
    assert insert.query["sendUpdates"] == ("all",)


def test_create_is_idempotent_when_the_response_is_lost(connected: Google) -> None:
    backend = connected.backend()
    connected.app.lose_next_insert(status=503, calendar_id=ROOM)
    key = backend.new_idempotency_key()
    event = backend.create_event(room(backend), draft(), key)
    assert event.id == key
    assert [e["id"] for e in live_events(connected)] == [key]
    assert connected.app.requests.count(method="POST", path=LIST_PATH) == 2  # the lost insert and the retry
    assert connected.app.requests.count(method="GET", path=rf"/events/{key}$") == 1
    assert connected.app.requests.count(method="PATCH") == 0  # it already shows the draft
    assert len(connected.sleeps.waits) == 1  # one backoff before the retry
    # a job retried after a crash calls again with the same key: still one event
    again = backend.create_event(room(backend), draft(), key)
    assert again.id == key and len(live_events(connected)) == 1


def test_retried_create_restores_an_event_a_person_deleted(connected: Google) -> None:
    backend = connected.backend()
    key = backend.new_idempotency_key()
    backend.create_event(room(backend), draft(), key)
    connected.app.delete_event(ROOM, key)
    event = backend.create_event(room(backend), draft(hour=11), key)
    assert not event.deleted and event.id == key
    assert stored(connected, key)["status"] == "confirmed"
    assert event.start == draft(hour=11).start


def test_update_keeps_the_meet_link(connected: Google) -> None:
    backend = connected.backend()
    cal = room(backend)
    event = backend.create_event(cal, draft(meeting_link=True), backend.new_idempotency_key())
    assert event.join_url.startswith("https://meet.google.com/")
    insert = next(e for e in connected.app.requests.entries() if e.method == "POST" and "events" in e.path)
    assert insert.query["conferenceDataVersion"] == ("1",)
    updated = backend.update_event(cal, event.id, draft(hour=16, meeting_link=True, title="Renamed [4711]"))
    assert updated.join_url == event.join_url and updated.title == "Renamed [4711]"
    assert stored(connected, event.id)["hangoutLink"] == event.join_url


def test_pending_meet_link_is_awaited_briefly(connected: Google) -> None:
    backend = connected.backend()
    connected.app.set_conference_mode("pending")
    event = backend.create_event(room(backend), draft(meeting_link=True), backend.new_idempotency_key())
    assert event.join_url.startswith("https://meet.google.com/")
    assert connected.sleeps.waits == [0.5]


# --------------------------------------------------------------------------- push


def test_watch_renew_unwatch(connected: Google) -> None:
    backend = connected.backend()
    cal = room(backend)
    channel = backend.watch(cal, connected.hook)
    assert len(channel.id) == 32 and len(channel.secret) >= 40
    assert channel.extra["resource_id"]
    assert timedelta(days=6, hours=23) < channel.expires - now() <= timedelta(days=7, seconds=5)
    watch = next(e for e in connected.app.requests.entries() if e.path.endswith("/events/watch"))
    assert watch.method == "POST"
    # the handshake reached our push route with our secret
    connected.app.deliverer.wait_idle()
    parsed = [parse_push(r) for r in connected.switch.pushes]
    assert [(p.notices[0].channel_id, p.notices[0].secret, p.notices[0].kind) for p in parsed] == [
        (channel.id, channel.secret, "handshake")
    ]
    # a person's change is announced as "changed"
    person_creates(connected, 1)
    connected.app.deliverer.wait_idle()
    assert parse_push(connected.switch.pushes[-1]).notices[0].kind == "changed"

    renewed = backend.renew(cal, channel, connected.hook)
    assert renewed.id != channel.id and renewed.secret != channel.secret
    backend.unwatch(cal, channel)
    states = {c["id"]: c["stopped"] for c in connected.app.channels(ROOM)}
    assert states == {channel.id: True, renewed.id: False}
    backend.unwatch(cal, channel)  # already stopped: 404 is done
    backend.unwatch(cal, renewed)
    assert all(c["stopped"] for c in connected.app.channels(ROOM))


def test_watch_whose_answer_was_lost_starts_over_with_a_new_id(connected: Google) -> None:
    backend = connected.backend(sleep=lambda _seconds: time.sleep(0.5))  # retry after the late answer
    connected.app.faults.add(Fault(kind="timeout", delay=0.2, method="POST", path=r"/events/watch$"))
    backend.api.timeout = 0.1  # the first watch is made, but its answer comes too late
    channel = backend.watch(room(backend), connected.hook)
    backend.api.timeout = 30.0
    live = [c for c in connected.app.channels(ROOM) if not c["stopped"]]
    assert channel.id in {c["id"] for c in live}
    assert connected.app.requests.count(method="POST", path=r"/events/watch$", status=400) == 1


# --------------------------------------------------------------------------- retries, pacing, pinning


def test_429_with_retry_after_is_retried_no_earlier(connected: Google) -> None:
    backend = connected.backend()
    connected.app.faults.add(Fault(status=429, retry_after=5, method="GET", path=LIST_PATH))
    pages = drain(backend.list_changes(room(backend), None, window()))
    assert pages[-1].cursor
    assert len(connected.sleeps.waits) == 1 and connected.sleeps.waits[0] >= 5
    assert connected.app.requests.count(method="GET", path=LIST_PATH, status=429) == 1


def test_rate_limit_403_is_retried_and_too_long_retry_after_goes_to_the_queue(connected: Google) -> None:
    backend = connected.backend()
    connected.app.faults.add(Fault(status=403, reason="userRateLimitExceeded", method="GET", path=LIST_PATH))
    assert drain(backend.list_changes(room(backend), None, window()))[-1].cursor
    assert len(connected.sleeps.waits) == 1
    connected.app.faults.add(Fault(status=429, retry_after=3600, method="GET", path=LIST_PATH))
    with pytest.raises(RateLimitedError) as info:
        drain(backend.list_changes(room(backend), None, window()))
    assert info.value.retry_after == 3600


def test_server_errors_are_retried_then_raised(connected: Google) -> None:
    backend = connected.backend()
    connected.app.faults.add(Fault(status=503, method="GET", path=LIST_PATH, times=2))
    assert drain(backend.list_changes(room(backend), None, window()))[-1].cursor
    assert len(connected.sleeps.waits) == 2


def test_forbidden_write_is_permanent(connected: Google) -> None:
    connected.app.add_calendar("readonly@group.calendar.google.com")
    connected.app.share_calendar("readonly@group.calendar.google.com", USER, "reader")
    settings = make_settings(
        connected.url, calendar_mapping=[{"object": "3", "calendar_id": "readonly@group.calendar.google.com"}]
    )
    backend = connected.backend(settings=settings)
    with pytest.raises(PermanentError) as info:
        backend.create_event(backend.calendars()[0], draft(), backend.new_idempotency_key())
    assert info.value.status == 403 and info.value.reason == "requiredAccessLevel"
    assert connected.sleeps.waits == []


def test_pacing_under_the_per_minute_budget(connected: Google) -> None:
    clock = [datetime.now(UTC)]

    def sleep(seconds: float) -> None:
        connected.sleeps(seconds)
        clock[0] += timedelta(seconds=seconds)

    connected.store.delete("pace")  # the budget from here on (connecting spent a slot on the account label)
    settings = make_settings(connected.url, requests_per_minute=2)
    backend = connected.backend(settings=settings, now=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        drain(backend.list_changes(room(backend), None, window()))
    # a reservation holds its slot for a minute plus the spend margin (2 s)
    assert len(connected.sleeps.waits) == 1 and 61 <= connected.sleeps.waits[0] <= 63


def test_urls_outside_the_base_are_refused(connected: Google) -> None:
    backend = connected.backend()
    connected.app.requests.clear()
    dotted = CalendarRef("gx", "..", None)
    with pytest.raises(UnsafeUrlError):
        drain(backend.list_changes(dotted, None, window()))
    elsewhere = GoogleClient(backend.api, "http://127.0.0.1:9/calendar/v3")
    with pytest.raises(UnsafeUrlError):
        elsewhere.list_events(ROOM, window=window())
    with pytest.raises(UnsafeUrlError):
        backend.api.request("GET", connected.url + "/calendar/v3/../token")
    assert connected.app.requests.count() == 0  # no token left the process
    # an id with slashes stays one path segment under the base; one whose encoded parts are dot
    # segments is refused outright (a server that decodes %2F before routing would climb out)
    sneaky = CalendarRef("gy", "../../../token", None)
    with pytest.raises(UnsafeUrlError):
        drain(backend.list_changes(sneaky, None, window()))
    slashed = CalendarRef("gz", "a/b/token", None)
    with pytest.raises(PermanentError) as info:
        drain(backend.list_changes(slashed, None, window()))
    assert info.value.status == 404
    (call,) = connected.app.requests.entries()
    assert call.path.startswith("/calendar/v3/calendars/")


def test_calendar_list_for_the_admin_form(connected: Google) -> None:
    connected.app.add_calendar("team@group.calendar.google.com", summary="Team")
    connected.app.share_calendar("team@group.calendar.google.com", USER, "reader")
    entries = {e["id"]: e for e in connected.backend().calendar_list()}
    assert set(entries) == {USER, ROOM, "team@group.calendar.google.com"}
    assert entries[USER]["primary"] is True and entries[USER]["writable"] is True
    assert entries[ROOM] == {"id": ROOM, "name": "Room A", "primary": False, "writable": True}
    assert entries["team@group.calendar.google.com"]["writable"] is False
