"""Graph event JSON <-> model: times (seven fraction digits, UTC, all-day), tombstones, bodies, drafts."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ireserve_calendar_plugin.providers.outlook import mapping
from ireserve_calendar_plugin.sync.model import EventDraft

AMS = ZoneInfo("Europe/Amsterdam")


def graph_event(**extra: Any) -> dict[str, Any]:
    """An event as calendarView/delta sends it with ``Prefer: outlook.timezone="UTC"`` and text bodies."""
    data: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.event",
        "@odata.etag": 'W/"DwAAABYAAAAR"',
        "id": "AAMkAGI2TG93AAA=",
        "changeKey": "DwAAABYAAAAR",
        "subject": "Board meeting",
        "body": {"contentType": "text", "content": "Agenda <script>alert(1)</script>"},
        "start": {"dateTime": "2024-05-01T07:30:00.1234567", "timeZone": "UTC"},
        "end": {"dateTime": "2024-05-01T08:30:00.0000000", "timeZone": "UTC"},
        "isAllDay": False,
        "isCancelled": False,
        "organizer": {"emailAddress": {"name": "Pat", "address": "pat@fabrikam.com"}},
        "onlineMeeting": None,
        "seriesMasterId": None,
    }
    data.update(extra)
    return data


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2024-05-01T07:30:00.0000000", "UTC", datetime(2024, 5, 1, 7, 30, tzinfo=UTC)),
        ("2024-05-01T07:30:00.1234567", "UTC", datetime(2024, 5, 1, 7, 30, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T07:30:00.9999999Z", "UTC", datetime(2024, 5, 1, 7, 30, 0, 999999, tzinfo=UTC)),
        ("2024-05-01T07:30:00.5", "", datetime(2024, 5, 1, 7, 30, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T07:30:00", "Coordinated Universal Time", datetime(2024, 5, 1, 7, 30, tzinfo=UTC)),
        ("2024-05-01T09:30:00.0000000", "Europe/Amsterdam", datetime(2024, 5, 1, 9, 30, tzinfo=AMS)),
        ("2024-05-01T09:30:00+02:00", "UTC", datetime(2024, 5, 1, 7, 30, tzinfo=UTC)),
        ("2024-05-01T09:30:00.0000000+0200", "UTC", datetime(2024, 5, 1, 7, 30, tzinfo=UTC)),
        ("2024-05-01T07:30", "UTC", datetime(2024, 5, 1, 7, 30, tzinfo=UTC)),
    ],
)
def test_parse_graph_datetime(value: str, zone: str, expected: datetime) -> None:
    parsed = mapping.parse_graph_datetime(value, zone)
    assert parsed == expected and parsed is not None and parsed.tzinfo is not None


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("2024-05-01T07:30:00", "W. Europe Standard Time"),  # not asked for; never guessed
        ("2024-05-01T07:30:00", "Mars/Olympus"),
        ("2024-13-01T07:30:00", "UTC"),
        ("yesterday", "UTC"),
        ("", "UTC"),
        (None, "UTC"),
        (20240501, "UTC"),
    ],
)
def test_unreadable_times_are_none(value: Any, zone: str) -> None:
    assert mapping.parse_graph_datetime(value, zone) is None


def test_format_utc_has_seven_fraction_digits() -> None:
    assert mapping.format_utc(datetime(2024, 5, 4, 13, 0, 0, 120000, tzinfo=AMS)) == "2024-05-04T11:00:00.1200000Z"
    assert mapping.parse_graph_datetime(mapping.format_utc(datetime(2024, 5, 4, 11, tzinfo=UTC))) == datetime(
        2024, 5, 4, 11, tzinfo=UTC
    )


# --------------------------------------------------------------------------- events


def test_timed_event() -> None:
    event = mapping.event_from_json(graph_event())
    assert event.id == "AAMkAGI2TG93AAA="
    assert event.etag == 'W/"DwAAABYAAAAR"'
    assert not event.deleted and not event.all_day
    assert event.title == "Board meeting"
    assert event.description == "Agenda <script>alert(1)</script>"  # text stays text, verbatim
    assert event.start == datetime(2024, 5, 1, 7, 30, 0, 123456, tzinfo=UTC)
    assert event.end == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    assert event.organizer_email == "pat@fabrikam.com"
    assert event.booking_id is None  # delta never carries extended properties
    assert (event.join_url, event.series_id, event.timezone) == ("", "", "")


def test_all_day_event_is_dates() -> None:
    event = mapping.event_from_json(
        graph_event(
            isAllDay=True,
            start={"dateTime": "2024-05-01T00:00:00.0000000", "timeZone": "UTC"},
            end={"dateTime": "2024-05-03T00:00:00.0000000", "timeZone": "UTC"},
        )
    )
    assert event.all_day
    assert (event.start, event.end) == (datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 3, tzinfo=UTC))
    assert event.timezone == ""  # the engine anchors the dates in the object's zone


def test_removed_is_a_tombstone_with_only_the_id() -> None:
    event = mapping.event_from_json(
        {"@odata.type": "#microsoft.graph.event", "id": "AAMk1", "@removed": {"reason": "deleted"}}
    )
    assert event.deleted and event.id == "AAMk1" and event.start is None and event.title == ""
    assert mapping.event_from_json({"id": "AAMk2", "@removed": {"reason": "changed"}}).deleted


def test_cancelled_is_deleted() -> None:
    event = mapping.event_from_json(graph_event(isCancelled=True, subject="Canceled: Board meeting"))
    assert event.deleted and event.title == "Canceled: Board meeting"


def test_html_body_is_reduced_to_text() -> None:
    body = {
        "contentType": "html",
        "content": "<html><head><style>p{}</style></head><body><p>Hello <b>you</b>"
        " &amp; me</p><div>line 2<br>line 3</div></body></html>",
    }
    assert mapping.event_from_json(graph_event(body=body)).description == "Hello you & me\nline 2\nline 3"


def test_other_fields() -> None:
    event = mapping.event_from_json(
        graph_event(
            **{"@odata.etag": None},
            onlineMeeting={"joinUrl": "https://teams.microsoft.com/l/meetup-join/x"},
            seriesMasterId="AAMkMaster",
            singleValueExtendedProperties=[
                {"id": "String {00000000-0000-0000-0000-000000000000} Name other", "value": "9"},
                {"id": mapping.BOOKING_ID_PROPERTY.upper(), "value": "4711"},
            ],
        )
    )
    assert event.etag == "DwAAABYAAAAR"  # changeKey when there is no @odata.etag
    assert event.join_url == "https://teams.microsoft.com/l/meetup-join/x"
    assert event.series_id == "AAMkMaster"
    assert event.booking_id == 4711


@pytest.mark.parametrize("value", ["abc", "", "1" * 19, 12])
def test_unusable_booking_ids_are_ignored(value: Any) -> None:
    props = [{"id": mapping.BOOKING_ID_PROPERTY, "value": value}]
    assert mapping.event_from_json(graph_event(singleValueExtendedProperties=props)).booking_id is None


def test_broken_times_give_none() -> None:
    event = mapping.event_from_json(graph_event(start="soon", end={"dateTime": "2024-05-01T08:30:00"}))
    assert (event.start, event.end) == (None, None)


def test_join_url_pending() -> None:
    assert mapping.join_url_pending(graph_event(isOnlineMeeting=True, onlineMeeting=None))
    assert not mapping.join_url_pending(graph_event(isOnlineMeeting=True, onlineMeeting={"joinUrl": "https://x"}))
    assert not mapping.join_url_pending(graph_event(isOnlineMeeting=False))


def test_delta_page() -> None:
    page = mapping.delta_page(
        {
            "@odata.nextLink": "https://graph/v1.0/me/calendarView/delta?$skiptoken=1",
            "value": [
                graph_event(),
                {"@removed": {"reason": "deleted"}},
                "junk",
                {"id": "AAMk9", "@removed": {"reason": "deleted"}},
            ],
        }
    )
    assert [e.id for e in page.events] == ["AAMkAGI2TG93AAA=", "AAMk9"]
    assert page.next_link and page.delta_link is None
    last = mapping.delta_page(
        {"@odata.deltaLink": "https://graph/v1.0/me/calendarView/delta?$deltatoken=2", "value": []}
    )
    assert (last.events, last.next_link) == ((), None) and last.delta_link
    assert mapping.delta_page({"value": None}) == mapping.DeltaPage((), None, None)


def test_account_of() -> None:
    assert mapping.account_of({"userPrincipalName": "alex@contoso.com", "mail": "a@b"}) == "alex@contoso.com"
    assert mapping.account_of({"mail": "a@b"}) == "a@b"
    assert mapping.account_of({}) == ""


# --------------------------------------------------------------------------- drafts


def draft(**extra: Any) -> EventDraft:
    values: dict[str, Any] = {
        "booking_id": 4711,
        "title": "Room A [4711]",
        "description": "i-Reserve booking 4711",
        "start": datetime(2024, 5, 1, 9, 30, tzinfo=AMS),
        "end": datetime(2024, 5, 1, 10, 45, tzinfo=AMS),
        "all_day": False,
        "timezone": "Europe/Amsterdam",
    }
    values.update(extra)
    return EventDraft(**values)


def test_create_body() -> None:
    body = mapping.create_body(
        draft(
            attendee_emails=("guest@fabrikam.com",),
            popup_reminder_minutes=15,
            email_reminder_minutes=60,
            meeting_link=True,
        ),
        "0f3c-key",
    )
    assert body == {
        "subject": "Room A [4711]",
        "body": {"contentType": "text", "content": "i-Reserve booking 4711"},
        "start": {"dateTime": "2024-05-01T09:30:00", "timeZone": "Europe/Amsterdam"},
        "end": {"dateTime": "2024-05-01T10:45:00", "timeZone": "Europe/Amsterdam"},
        "isAllDay": False,
        "singleValueExtendedProperties": [{"id": mapping.BOOKING_ID_PROPERTY, "value": "4711"}],
        "attendees": [{"emailAddress": {"address": "guest@fabrikam.com"}, "type": "required"}],
        "isReminderOn": True,
        "reminderMinutesBeforeStart": 15,
        "transactionId": "0f3c-key",
        "isOnlineMeeting": True,
        "onlineMeetingProvider": "teamsForBusiness",
    }
    assert mapping.BOOKING_ID_PROPERTY.startswith("String {") and mapping.BOOKING_ID_PROPERTY.endswith(
        "} Name ireserveBookingId"
    )


def test_patch_body_never_touches_the_meeting() -> None:
    body = mapping.patch_body(draft(meeting_link=True))
    assert not {"isOnlineMeeting", "onlineMeetingProvider", "onlineMeeting", "transactionId"} & set(body)
    assert "attendees" not in body and "isReminderOn" not in body


def test_times_in_the_drafts_zone_and_utc_fallback() -> None:
    utc = mapping.patch_body(
        draft(timezone="", start=datetime(2024, 5, 1, 9, 30, tzinfo=AMS), end=datetime(2024, 5, 1, 10, tzinfo=AMS))
    )
    assert utc["start"] == {"dateTime": "2024-05-01T07:30:00", "timeZone": "UTC"}
    bogus = mapping.patch_body(draft(timezone="Nowhere/Special"))
    assert bogus["start"]["timeZone"] == "UTC" and bogus["start"]["dateTime"] == "2024-05-01T07:30:00"


def test_all_day_draft_is_midnights_in_the_objects_zone() -> None:
    body = mapping.patch_body(
        draft(all_day=True, start=datetime(2024, 5, 1, tzinfo=AMS), end=datetime(2024, 5, 3, tzinfo=AMS))
    )
    assert body["isAllDay"] is True
    assert body["start"] == {"dateTime": "2024-05-01T00:00:00", "timeZone": "Europe/Amsterdam"}
    assert body["end"] == {"dateTime": "2024-05-03T00:00:00", "timeZone": "Europe/Amsterdam"}
    short = mapping.patch_body(
        draft(all_day=True, start=datetime(2024, 5, 1, tzinfo=AMS), end=datetime(2024, 5, 1, 12, tzinfo=AMS))
    )
    assert short["end"]["dateTime"] == "2024-05-02T00:00:00"  # at least one day, end exclusive


def test_same_content() -> None:
    wanted = draft()
    answer = graph_event(
        subject=wanted.title,
        start={"dateTime": "2024-05-01T07:30:00.0000000", "timeZone": "UTC"},
        end={"dateTime": "2024-05-01T08:45:00.0000000", "timeZone": "UTC"},
    )
    assert mapping.same_content(answer, wanted)
    assert not mapping.same_content(answer, draft(end=wanted.end + timedelta(minutes=5)))
    assert not mapping.same_content(answer, draft(title="Other [4711]"))
    assert not mapping.same_content({**answer, "isCancelled": True}, wanted)
    day = draft(all_day=True, start=datetime(2024, 5, 1, tzinfo=AMS), end=datetime(2024, 5, 2, tzinfo=AMS))
    all_day = graph_event(
        subject=wanted.title,
        isAllDay=True,
        start={"dateTime": "2024-05-01T00:00:00.0000000", "timeZone": "UTC"},
        end={"dateTime": "2024-05-02T00:00:00.0000000", "timeZone": "UTC"},
    )
    assert mapping.same_content(all_day, day)
    assert not mapping.same_content(all_day, wanted)


# --------------------------------------------------------------------------- subscriptions


def test_subscription_bodies() -> None:
    expires = datetime(2024, 5, 8, 11, 0, tzinfo=UTC)
    body = mapping.subscription_body(
        "users/room-001@contoso.com/events", "https://host/calendar/push/outlook/o1", "s3cret", expires
    )
    assert body == {
        "changeType": "created,updated,deleted",
        "notificationUrl": "https://host/calendar/push/outlook/o1",
        "lifecycleNotificationUrl": "https://host/calendar/push/outlook/o1/lifecycle",
        "resource": "users/room-001@contoso.com/events",
        "expirationDateTime": "2024-05-08T11:00:00.0000000Z",
        "clientState": "s3cret",
        "latestSupportedTlsVersion": "v1_2",
    }
    assert mapping.renew_body(expires) == {"expirationDateTime": "2024-05-08T11:00:00.0000000Z"}


def test_channel_from_json() -> None:
    fallback = datetime(2030, 1, 1, tzinfo=UTC)
    channel = mapping.channel_from_json(
        {"id": "sub-1", "expirationDateTime": "2024-05-08T10:59:59.9970000Z"}, secret="s", fallback_expiry=fallback
    )
    assert (channel.id, channel.secret) == ("sub-1", "s")
    assert channel.expires == datetime(2024, 5, 8, 10, 59, 59, 997000, tzinfo=UTC)
    unreadable = mapping.channel_from_json(
        {"expirationDateTime": "later"}, secret="s", fallback_id="sub-2", fallback_expiry=fallback
    )
    assert (unreadable.id, unreadable.expires) == ("sub-2", fallback)


@pytest.mark.parametrize(
    ("message", "minutes"),
    [
        ("outlook: HTTP 400 ExtensionError: Subscription expiration can only be 4230 minutes in the future.", 4230),
        ("Subscription expiration can only be 10080 minutes in the future.", 10080),
        ("outlook: HTTP 400 InvalidRequest: Subscription validation request failed.", None),
        ("", None),
    ],
)
def test_max_expiry_minutes(message: str, minutes: int | None) -> None:
    assert mapping.max_expiry_minutes(message) == minutes
