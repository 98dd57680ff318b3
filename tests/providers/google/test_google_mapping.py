"""Event JSON <-> model: round trips through the emulator's own event handling, over zones and DST days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from calendar_emulators.google import GoogleCalendarEmulator
from ireserve_calendar_plugin.providers.google import mapping
from ireserve_calendar_plugin.sync.inbound import anchor_all_day
from ireserve_calendar_plugin.sync.model import EventDraft

CAL = "cal@example.com"
Minute = tuple[int, int, int, int, int]
Day = tuple[int, int, int]


@pytest.fixture(scope="module")
def emulator() -> Iterator[GoogleCalendarEmulator]:
    app = GoogleCalendarEmulator()
    app.add_calendar(CAL, time_zone="Asia/Tokyo")  # a calendar zone unlike every event's zone
    yield app
    app.close()


def draft(start: datetime, end: datetime, zone: str, *, all_day: bool = False, **extra: object) -> EventDraft:
    values: dict[str, object] = {
        "booking_id": 4711,
        "title": "Room A [4711]",
        "description": "i-Reserve booking 4711",
        "start": start,
        "end": end,
        "all_day": all_day,
        "timezone": zone,
    }
    values.update(extra)
    return EventDraft(**values)  # type: ignore[arg-type]


def emulated_insert(app: GoogleCalendarEmulator, d: EventDraft) -> dict[str, object]:
    return app.create_event(CAL, mapping.insert_body(d, mapping.new_event_id()))


# (zone, local start, local end): spans over DST switches, and plain days for contrast
TIMED = [
    ("Europe/Amsterdam", (2025, 3, 30, 1, 30), (2025, 3, 30, 4, 0)),  # spring forward inside
    ("Europe/Amsterdam", (2025, 10, 26, 1, 0), (2025, 10, 26, 4, 15)),  # fall back inside
    ("Europe/Amsterdam", (2025, 6, 2, 9, 0), (2025, 6, 2, 17, 0)),
    ("America/New_York", (2025, 3, 9, 0, 30), (2025, 3, 9, 5, 0)),
    ("America/New_York", (2025, 11, 2, 0, 0), (2025, 11, 2, 3, 0)),  # starts at midnight: still timed
    ("Australia/Lord_Howe", (2025, 4, 6, 1, 0), (2025, 4, 6, 3, 0)),  # a 30-minute DST shift
    ("Australia/Lord_Howe", (2025, 10, 5, 1, 45), (2025, 10, 5, 2, 45)),
    ("UTC", (2025, 1, 1, 23, 0), (2025, 1, 2, 1, 0)),
]


@pytest.mark.parametrize(("zone", "start", "end"), TIMED)
def test_timed_round_trip_keeps_the_instants(
    emulator: GoogleCalendarEmulator, zone: str, start: Minute, end: Minute
) -> None:
    tz = ZoneInfo(zone)
    d = draft(datetime(*start).replace(tzinfo=tz), datetime(*end).replace(tzinfo=tz), zone)
    body = mapping.insert_body(d, "abcdefghij0123456789")
    assert body["start"]["timeZone"] == zone
    assert datetime.fromisoformat(body["start"]["dateTime"]).utcoffset() == d.start.utcoffset()
    event = mapping.event_from_json(emulated_insert(emulator, d))
    assert (event.start, event.end, event.all_day) == (d.start, d.end, False)
    assert event.start is not None and event.start.tzinfo is not None
    assert event.end is not None and event.end.tzinfo is not None
    assert event.timezone == zone
    assert event.booking_id == 4711
    assert (event.title, event.description) == (d.title, d.description)
    assert event.organizer_email == CAL
    assert not event.deleted


ALL_DAY = [
    ("Europe/Amsterdam", (2025, 3, 30), 1),  # the 23-hour day
    ("Europe/Amsterdam", (2025, 10, 25), 3),  # multi-day over the 25-hour day
    ("America/New_York", (2025, 3, 8), 2),
    ("Australia/Lord_Howe", (2025, 10, 5), 1),
    ("Australia/Lord_Howe", (2025, 4, 4), 5),
    ("UTC", (2024, 2, 28), 2),  # over a leap day
]


@pytest.mark.parametrize(("zone", "day", "days"), ALL_DAY)
def test_all_day_round_trip_keeps_the_dates(emulator: GoogleCalendarEmulator, zone: str, day: Day, days: int) -> None:
    tz = ZoneInfo(zone)
    first = datetime(*day).replace(tzinfo=tz)
    last = datetime.combine((first + timedelta(days=days)).date(), datetime.min.time(), tz)
    d = draft(first, last, zone, all_day=True)
    body = mapping.insert_body(d, "abcdefghij0123456789")
    assert body["start"] == {"date": first.date().isoformat()}
    assert body["end"] == {"date": last.date().isoformat()}  # exclusive end
    event = mapping.event_from_json(emulated_insert(emulator, d))
    assert event.all_day
    assert event.timezone == ""  # the engine anchors in the object's zone
    assert event.start == datetime.combine(first.date(), datetime.min.time(), UTC)
    assert event.end == datetime.combine(last.date(), datetime.min.time(), UTC)
    anchored = anchor_all_day(event, zone)
    assert (anchored.start, anchored.end) == (first, last)


def test_all_day_draft_from_another_zone_uses_the_drafts_zone() -> None:
    tz = ZoneInfo("Pacific/Kiritimati")  # UTC+14: the UTC date is the day before
    d = draft(
        datetime(2025, 5, 1, tzinfo=tz).astimezone(UTC),
        datetime(2025, 5, 2, tzinfo=tz).astimezone(UTC),
        "Pacific/Kiritimati",
        all_day=True,
    )
    body = mapping.patch_body(d)
    assert (body["start"], body["end"]) == ({"date": "2025-05-01"}, {"date": "2025-05-02"})


def test_all_day_draft_not_ending_at_midnight_still_covers_its_last_day() -> None:
    tz = ZoneInfo("Europe/Amsterdam")
    d = draft(
        datetime(2025, 5, 1, tzinfo=tz), datetime(2025, 5, 1, 23, 59, tzinfo=tz), "Europe/Amsterdam", all_day=True
    )
    body = mapping.patch_body(d)
    assert (body["start"], body["end"]) == ({"date": "2025-05-01"}, {"date": "2025-05-02"})


def test_midnight_datetime_is_never_all_day() -> None:
    event = mapping.event_from_json(
        {
            "id": "abcde",
            "start": {"dateTime": "2025-05-01T00:00:00+02:00", "timeZone": "Europe/Amsterdam"},
            "end": {"dateTime": "2025-05-02T00:00:00+02:00", "timeZone": "Europe/Amsterdam"},
        }
    )
    assert not event.all_day
    assert event.start == datetime(2025, 5, 1, tzinfo=ZoneInfo("Europe/Amsterdam"))


def test_utc_z_and_missing_offset() -> None:
    event = mapping.event_from_json(
        {
            "id": "abcde",
            "start": {"dateTime": "2025-05-01T08:00:00Z"},
            "end": {"dateTime": "2025-05-01T10:00:00", "timeZone": "America/New_York"},
        }
    )
    assert event.start == datetime(2025, 5, 1, 8, tzinfo=UTC)
    assert event.end == datetime(2025, 5, 1, 10, tzinfo=ZoneInfo("America/New_York"))


def test_cancelled_tombstone_with_only_an_id() -> None:
    event = mapping.event_from_json({"id": "gone123", "status": "cancelled"})
    assert event.deleted and event.id == "gone123"
    assert (event.start, event.end, event.title, event.booking_id) == (None, None, "", None)


def test_booking_id_comes_only_from_our_private_property() -> None:
    base = {"id": "abcde", "status": "confirmed"}
    assert (
        mapping.event_from_json({**base, "extendedProperties": {"private": {"ireserveBookingId": "12"}}}).booking_id
        == 12
    )
    assert (
        mapping.event_from_json({**base, "extendedProperties": {"shared": {"ireserveBookingId": "12"}}}).booking_id
        is None
    )
    assert (
        mapping.event_from_json({**base, "extendedProperties": {"private": {"ireserveBookingId": "x1"}}}).booking_id
        is None
    )


def test_join_url_from_hangout_link_or_video_entry_point() -> None:
    base = {"id": "abcde"}
    assert (
        mapping.event_from_json({**base, "hangoutLink": "https://meet.google.com/abc-defg-hij"}).join_url
        == "https://meet.google.com/abc-defg-hij"
    )
    points = {
        "entryPoints": [
            {"entryPointType": "phone", "uri": "tel:+1-555"},
            {"entryPointType": "video", "uri": "https://meet.google.com/xyz-abcd-efg"},
        ]
    }
    assert (
        mapping.event_from_json({**base, "conferenceData": points}).join_url == "https://meet.google.com/xyz-abcd-efg"
    )
    assert mapping.event_from_json(base).join_url == ""


def test_series_and_organizer() -> None:
    event = mapping.event_from_json(
        {
            "id": "m1_20250101T090000Z",
            "recurringEventId": "m1",
            "organizer": {"email": "boss@example.com", "self": True},
            "etag": '"3"',
        }
    )
    assert (event.series_id, event.organizer_email, event.etag) == ("m1", "boss@example.com", '"3"')


def test_meet_request_only_on_insert_and_reminders_and_attendees(emulator: GoogleCalendarEmulator) -> None:
    tz = ZoneInfo("Europe/Amsterdam")
    d = draft(
        datetime(2025, 6, 2, 9, tzinfo=tz),
        datetime(2025, 6, 2, 10, tzinfo=tz),
        "Europe/Amsterdam",
        meeting_link=True,
        popup_reminder_minutes=15,
        email_reminder_minutes=60,
        attendee_emails=("customer@example.org",),
    )
    key = mapping.new_event_id()
    insert = mapping.insert_body(d, key)
    assert insert["id"] == key
    create = insert["conferenceData"]["createRequest"]
    assert create["conferenceSolutionKey"] == {"type": "hangoutsMeet"} and key in create["requestId"]
    assert insert["reminders"] == {
        "useDefault": False,
        "overrides": [{"method": "popup", "minutes": 15}, {"method": "email", "minutes": 60}],
    }
    assert insert["attendees"] == [{"email": "customer@example.org"}]
    assert insert["extendedProperties"] == {"private": {"ireserveBookingId": "4711"}}
    patch = mapping.patch_body(d)
    assert "conferenceData" not in patch and "id" not in patch
    plain = mapping.patch_body(draft(d.start, d.end, d.timezone))
    assert plain["reminders"] == {"useDefault": True, "overrides": []}
    assert "attendees" not in plain
    stored = emulator.create_event(CAL, insert)
    assert mapping.event_from_json(stored).join_url.startswith("https://meet.google.com/")
    # a reminder-less patch onto stored overrides is accepted (objects merge on PATCH)
    patched = emulator.update_event(CAL, key, plain)
    assert patched["reminders"].get("useDefault") is True
    assert mapping.event_from_json(patched).join_url == mapping.event_from_json(stored).join_url


def test_event_ids() -> None:
    ids = {mapping.new_event_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(mapping.is_valid_event_id(i) and len(i) >= 26 for i in ids)
    assert mapping.event_id_for("abcde12345") == "abcde12345"
    derived = mapping.event_id_for("Not-A-Google-Id!")
    assert mapping.is_valid_event_id(derived) and derived == mapping.event_id_for("Not-A-Google-Id!")


def test_fields_selector_covers_what_the_mapping_reads() -> None:
    assert mapping.LIST_FIELDS == (
        "items(id,etag,status,summary,description,start,end,extendedProperties,organizer(email),hangoutLink,"
        "conferenceData(entryPoints),recurringEventId),nextPageToken,nextSyncToken"
    )


def test_events_page_and_channel_json() -> None:
    page = mapping.events_page({"items": [{"id": "abcde"}, {"status": "cancelled"}, "junk"], "nextPageToken": "p2"})
    assert [e.id for e in page.events] == ["abcde"]
    assert (page.next_page_token, page.next_sync_token) == ("p2", None)
    last = mapping.events_page({"nextSyncToken": "s1"})
    assert (last.events, last.next_page_token, last.next_sync_token) == ((), None, "s1")
    fallback = datetime(2030, 1, 1, tzinfo=UTC)
    as_string = mapping.channel_from_json(
        {"id": "c1", "resourceId": "r1", "expiration": "1426325213000"},
        channel_id="c1",
        secret="s",
        fallback_expiry=fallback,
    )
    assert as_string.expires == datetime(2015, 3, 14, 9, 26, 53, tzinfo=UTC)
    assert as_string.extra == {"resource_id": "r1"} and as_string.secret == "s"
    as_number = mapping.channel_from_json(
        {"expiration": 1426325213000}, channel_id="c2", secret="s", fallback_expiry=fallback
    )
    assert as_number.expires == as_string.expires and as_number.id == "c2"
    missing = mapping.channel_from_json({"expiration": "soon"}, channel_id="c3", secret="s", fallback_expiry=fallback)
    assert missing.expires == fallback
    assert mapping.stop_body(as_string) == {"id": "c1", "resourceId": "r1"}
    assert mapping.watch_body("c1", "tok", "https://h/p", 604800) == {
        "id": "c1",
        "type": "web_hook",
        "address": "https://h/p",
        "token": "tok",
        "params": {"ttl": "604800"},
    }


def test_same_content(emulator: GoogleCalendarEmulator) -> None:
    tz = ZoneInfo("America/New_York")
    timed = draft(datetime(2025, 3, 9, 1, tzinfo=tz), datetime(2025, 3, 9, 4, tzinfo=tz), "America/New_York")
    whole = draft(datetime(2025, 3, 9, tzinfo=tz), datetime(2025, 3, 11, tzinfo=tz), "America/New_York", all_day=True)
    for d in (timed, whole):
        body = emulated_insert(emulator, d)
        assert mapping.same_content(body, d)
        assert not mapping.same_content({**body, "status": "cancelled"}, d)
        assert not mapping.same_content({**body, "summary": "changed"}, d)
    assert not mapping.same_content(emulated_insert(emulator, timed), whole)
