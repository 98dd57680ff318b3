"""events.list and calendarList.list: windows, paging, sync tokens, recurring series, fields, gzip."""

from __future__ import annotations

import gzip
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from calendar_emulators.google import GoogleCalendarEmulator
from calendar_emulators.google_listing import FORBIDDEN_WITH_SYNC
from tests.emulators.google.conftest import CLIENT_ID
from tests.emulators.google.conftest import OTHER_USER
from tests.emulators.google.conftest import READONLY
from tests.emulators.google.conftest import ROOM
from tests.emulators.google.conftest import SHARED_READONLY
from tests.emulators.google.conftest import USER
from tests.emulators.google.conftest import ZONE
from tests.emulators.google.conftest import Api
from tests.emulators.google.conftest import timed

EVENTS_PATH = "/calendars/primary/events"
T0 = datetime(2030, 6, 3, 8, 0, tzinfo=UTC)


def reason(response: Any) -> str:
    return str(response.json()["error"]["errors"][0]["reason"])


def seed(emulator: GoogleCalendarEmulator, count: int, calendar: str = USER) -> list[str]:
    """``count`` one-hour events, an hour apart from T0; return their ids."""
    return [
        emulator.create_event(
            calendar, summary=f"e{i}", start=T0 + timedelta(hours=i), end=T0 + timedelta(hours=i + 1)
        )["id"]
        for i in range(count)
    ]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


# --------------------------------------------------------------------------- paging


def test_every_page_but_the_last_has_a_page_token_and_only_the_last_a_sync_token(
    emulator: GoogleCalendarEmulator, api: Api
) -> None:
    created = seed(emulator, 7)
    items, sync_token, pages = api.list_all("primary", maxResults=3)
    assert pages == 3
    assert ids(items) == created
    assert sync_token


def test_max_results_defaults_to_250_and_is_clamped_at_2500(emulator: GoogleCalendarEmulator, api: Api) -> None:
    seed(emulator, 2501)
    first = api.get(EVENTS_PATH).json()
    assert len(first["items"]) == 250 and "nextPageToken" in first
    big = api.get(EVENTS_PATH, params={"maxResults": 99999}).json()
    assert len(big["items"]) == 2500 and "nextPageToken" in big
    rest = api.get(EVENTS_PATH, params={"maxResults": 99999, "pageToken": big["nextPageToken"]}).json()
    assert len(rest["items"]) == 1 and "nextSyncToken" in rest
    assert api.get(EVENTS_PATH, params={"maxResults": 0}).status_code == 400


def test_short_and_empty_pages_still_carry_a_page_token(emulator: GoogleCalendarEmulator, api: Api) -> None:
    created = seed(emulator, 3)
    emulator.set_paging(page_cap=2, empty_pages=1)
    first = api.get(EVENTS_PATH, params={"maxResults": 10}).json()
    assert first["items"] == [] and "nextPageToken" in first
    items, _, pages = api.list_all("primary", maxResults=10)
    assert ids(items) == created and pages == 3


def test_an_unknown_page_token_is_400(api: Api) -> None:
    assert api.get(EVENTS_PATH, params={"pageToken": "nope"}).status_code == 400


# --------------------------------------------------------------------------- windows and filters


def test_time_min_bounds_the_end_and_time_max_the_start_both_exclusive(
    emulator: GoogleCalendarEmulator, api: Api
) -> None:
    (event_id,) = seed(emulator, 1)  # 08:00-09:00 UTC

    def listed(**window: datetime) -> bool:
        params = {k: v.isoformat() for k, v in window.items()}
        return event_id in ids(api.get(EVENTS_PATH, params=params).json()["items"])

    second = timedelta(seconds=1)
    assert not listed(timeMin=T0 + timedelta(hours=1))
    assert listed(timeMin=T0 + timedelta(hours=1) - second)
    assert not listed(timeMax=T0)
    assert listed(timeMax=T0 + second)
    assert listed(timeMin=T0 - timedelta(days=1), timeMax=T0 + timedelta(days=1))


def test_an_empty_time_range_is_400(api: Api) -> None:
    response = api.get(EVENTS_PATH, params={"timeMin": T0.isoformat(), "timeMax": T0.isoformat()})
    assert response.status_code == 400
    assert reason(response) == "timeRangeEmpty"
    assert api.get(EVENTS_PATH, params={"timeMin": "2030-06-03T08:00:00"}).status_code == 400  # no offset


def test_private_extended_property_filter(api: Api) -> None:
    for booking in ("1", "2"):
        api.insert("primary", {**timed("2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
                               "extendedProperties": {"private": {"ireserveBookingId": booking}}})  # fmt: skip
    found = api.get(EVENTS_PATH, params={"privateExtendedProperty": "ireserveBookingId=2"}).json()["items"]
    assert [item["extendedProperties"]["private"]["ireserveBookingId"] for item in found] == ["2"]
    assert api.get(EVENTS_PATH, params={"privateExtendedProperty": "noequals"}).status_code == 400


def test_show_deleted_includes_cancelled_events_in_a_full_listing(emulator: GoogleCalendarEmulator, api: Api) -> None:
    kept, gone = seed(emulator, 2)
    assert api.delete(f"{EVENTS_PATH}/{gone}").status_code == 204
    assert ids(api.get(EVENTS_PATH).json()["items"]) == [kept]
    with_deleted = api.get(EVENTS_PATH, params={"showDeleted": "true"}).json()["items"]
    assert ids(with_deleted) == [kept, gone]
    assert with_deleted[1]["status"] == "cancelled"


def test_order_by_start_time_needs_single_events(api: Api) -> None:
    assert api.get(EVENTS_PATH, params={"orderBy": "startTime"}).status_code == 400
    assert api.get(EVENTS_PATH, params={"orderBy": "startTime", "singleEvents": "true"}).status_code == 200


def test_free_busy_readers_see_only_busy_times(emulator: GoogleCalendarEmulator, api: Api) -> None:
    seed(emulator, 1)
    emulator.share_calendar(USER, OTHER_USER, "freeBusyReader")
    other = Api(api.base_url, emulator.issue_tokens(OTHER_USER, CLIENT_ID, [READONLY])["access_token"])
    (item,) = other.get(f"/calendars/{USER}/events").json()["items"]
    assert set(item) == {"kind", "etag", "id", "status", "start", "end"}


# --------------------------------------------------------------------------- incremental sync


def test_incremental_sync_returns_only_changes_and_tombstones(emulator: GoogleCalendarEmulator, api: Api) -> None:
    keep, change, remove = seed(emulator, 3)
    window = {"timeMin": (T0 - timedelta(days=1)).isoformat(), "timeMax": (T0 + timedelta(days=2)).isoformat()}
    _, token, _ = api.list_all("primary", **window)

    api.patch(f"{EVENTS_PATH}/{change}", json={"summary": "changed"})
    api.delete(f"{EVENTS_PATH}/{remove}")
    far = emulator.create_event(USER, summary="far outside the window", start=date(2031, 12, 1), end=date(2031, 12, 2))

    items, next_token, _ = api.list_all("primary", syncToken=token)
    by_id = {item["id"]: item for item in items}
    assert set(by_id) == {change, remove, far["id"]}
    assert keep not in by_id
    assert by_id[change]["summary"] == "changed"
    assert set(by_id[remove]) == {"kind", "etag", "id", "status"}
    assert by_id[remove]["status"] == "cancelled"
    assert by_id[far["id"]]["start"] == {"date": "2031-12-01"}

    nothing, _, _ = api.list_all("primary", syncToken=next_token)
    assert nothing == []


@pytest.mark.parametrize("param", [*FORBIDDEN_WITH_SYNC, "showDeleted"])
def test_parameters_forbidden_with_a_sync_token_are_400(api: Api, param: str) -> None:
    _, token, _ = api.list_all("primary")
    value = {
        "timeMin": "2030-01-01T00:00:00Z",
        "timeMax": "2031-01-01T00:00:00Z",
        "updatedMin": "2030-01-01T00:00:00Z",
        "orderBy": "updated",
        "privateExtendedProperty": "a=b",
        "sharedExtendedProperty": "a=b",
        "showDeleted": "false",
    }.get(param, "x")
    response = api.get(EVENTS_PATH, params={"syncToken": token, param: value})
    assert response.status_code == 400
    assert api.get(EVENTS_PATH, params={"syncToken": token, "showDeleted": "true"}).status_code == 200


def test_an_unknown_sync_token_is_410_full_sync_required(api: Api) -> None:
    response = api.get(EVENTS_PATH, params={"syncToken": "CPDAlvWDx70CEPDAlvWDx70CGAU="})
    assert response.status_code == 410
    error = response.json()["error"]["errors"][0]
    assert error == {
        "domain": "calendar",
        "reason": "fullSyncRequired",
        "message": "Sync token is no longer valid, a full sync is required.",
        "locationType": "parameter",
        "location": "syncToken",
    }


def test_invalidated_expired_and_foreign_sync_tokens_are_410(emulator: GoogleCalendarEmulator, api: Api) -> None:
    _, token, _ = api.list_all("primary")
    _, room_token, _ = api.list_all(ROOM)
    assert api.get(f"/calendars/{ROOM}/events", params={"syncToken": token}).status_code == 410
    assert api.get(EVENTS_PATH, params={"syncToken": token, "singleEvents": "true"}).status_code == 410
    assert api.get(EVENTS_PATH, params={"syncToken": token}).status_code == 200

    emulator.invalidate_sync_tokens(USER)
    assert api.get(EVENTS_PATH, params={"syncToken": token}).status_code == 410
    assert api.get(f"/calendars/{ROOM}/events", params={"syncToken": room_token}).status_code == 200

    emulator.lister.sync_token_ttl = 600
    _, fresh, _ = api.list_all("primary")
    emulator.clock.advance(599)
    assert api.get(EVENTS_PATH, params={"syncToken": fresh}).status_code == 200
    emulator.clock.advance(2)
    assert api.get(EVENTS_PATH, params={"syncToken": fresh}).status_code == 410


def test_a_large_change_set_pages_and_changes_while_paging_are_not_lost(
    emulator: GoogleCalendarEmulator, api: Api
) -> None:
    _, token, _ = api.list_all("primary")
    created = seed(emulator, 5)
    first = api.get(EVENTS_PATH, params={"syncToken": token, "maxResults": 2}).json()
    assert len(first["items"]) == 2 and "nextSyncToken" not in first
    late = emulator.create_event(USER, summary="while paging", start=T0, end=T0 + timedelta(hours=1))
    rest, next_token, pages = api.list_all("primary", syncToken=token, maxResults=2, pageToken=first["nextPageToken"])
    assert ids(first["items"] + rest) == created and pages == 2
    after, _, _ = api.list_all("primary", syncToken=next_token)
    assert ids(after) == [late["id"]]


# --------------------------------------------------------------------------- recurring series


def test_single_events_expands_a_weekly_series_in_wall_time_across_dst(
    emulator: GoogleCalendarEmulator, api: Api
) -> None:
    series = emulator.create_recurring_event(
        USER,
        summary="Standup",
        start=datetime(2030, 3, 25, 9, 0),  # a Monday, a week before DST starts in Amsterdam
        end=datetime(2030, 3, 25, 9, 30),
        time_zone=ZONE,
        rrule="FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4",
    )
    items, _, _ = api.list_all("primary", singleEvents="true", orderBy="startTime")
    assert [item["start"]["dateTime"] for item in items] == [
        "2030-03-25T09:00:00+01:00",
        "2030-03-27T09:00:00+01:00",
        "2030-04-01T09:00:00+02:00",
        "2030-04-03T09:00:00+02:00",
    ]
    first = items[0]
    assert first["id"] == f"{series['id']}_20300325T080000Z"
    assert first["recurringEventId"] == series["id"]
    assert first["originalStartTime"] == {"dateTime": "2030-03-25T09:00:00+01:00", "timeZone": ZONE}
    assert "recurrence" not in first
    masters, _, _ = api.list_all("primary")
    assert ids(masters) == [series["id"]]
    assert masters[0]["recurrence"] == ["RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4"]


def test_daily_series_with_interval_until_and_exdate(emulator: GoogleCalendarEmulator, api: Api) -> None:
    emulator.create_event(
        USER,
        summary="Every other day",
        start={"dateTime": "2030-01-01T09:00:00", "timeZone": "UTC"},
        end={"dateTime": "2030-01-01T10:00:00", "timeZone": "UTC"},
        recurrence=["RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20300110T000000Z", "EXDATE:20300105T090000Z"],
    )
    items, _, _ = api.list_all("primary", singleEvents="true")
    assert [item["start"]["dateTime"][:10] for item in items] == [
        "2030-01-01",
        "2030-01-03",
        "2030-01-07",
        "2030-01-09",
    ]


def test_all_day_series_and_window_on_instances(emulator: GoogleCalendarEmulator, api: Api) -> None:
    emulator.create_recurring_event(
        USER, summary="Holiday", start=date(2030, 1, 1), end=date(2030, 1, 2), rrule="FREQ=WEEKLY"
    )
    window = {"timeMin": "2030-01-10T00:00:00+01:00", "timeMax": "2030-01-31T00:00:00+01:00", "singleEvents": "true"}
    items, _, _ = api.list_all("primary", **window)
    assert [item["start"]["date"] for item in items] == ["2030-01-15", "2030-01-22", "2030-01-29"]
    assert items[0]["id"].endswith("_20300115")


def test_a_person_cancelling_and_moving_instances_reaches_incremental_sync(
    emulator: GoogleCalendarEmulator, api: Api
) -> None:
    series = emulator.create_recurring_event(
        USER, summary="Daily", start=datetime(2030, 1, 1, 9), end=datetime(2030, 1, 1, 10), rrule="FREQ=DAILY;COUNT=3",
        time_zone="UTC",
    )  # fmt: skip
    _, token, _ = api.list_all("primary", singleEvents="true")
    second, third = f"{series['id']}_20300102T090000Z", f"{series['id']}_20300103T090000Z"
    emulator.cancel_event(USER, second)
    emulator.move_event(USER, third, datetime(2030, 1, 3, 14, tzinfo=UTC), datetime(2030, 1, 3, 15, tzinfo=UTC))

    changes, _, _ = api.list_all("primary", singleEvents="true", syncToken=token)
    by_id = {item["id"]: item for item in changes}
    assert set(by_id) == {second, third}
    assert by_id[second]["status"] == "cancelled"
    assert by_id[second]["recurringEventId"] == series["id"]
    assert by_id[third]["start"]["dateTime"] == "2030-01-03T14:00:00Z"
    assert by_id[third]["originalStartTime"]["dateTime"] == "2030-01-03T09:00:00Z"

    now, _, _ = api.list_all("primary", singleEvents="true")
    assert ids(now) == [f"{series['id']}_20300101T090000Z", third]


def test_shortening_a_series_tombstones_the_vanished_instances(emulator: GoogleCalendarEmulator, api: Api) -> None:
    series = emulator.create_recurring_event(
        USER, summary="Daily", start=date(2030, 1, 1), end=date(2030, 1, 2), rrule="FREQ=DAILY;COUNT=4"
    )
    _, token, _ = api.list_all("primary", singleEvents="true")
    api.patch(f"{EVENTS_PATH}/{series['id']}", json={"recurrence": ["RRULE:FREQ=DAILY;COUNT=2"]})
    changes, _, _ = api.list_all("primary", singleEvents="true", syncToken=token)
    cancelled = sorted(item["id"] for item in changes if item["status"] == "cancelled")
    assert cancelled == [f"{series['id']}_20300103", f"{series['id']}_20300104"]
    live = sorted(item["id"] for item in changes if item["status"] != "cancelled")
    assert live == [f"{series['id']}_20300101", f"{series['id']}_20300102"]


def test_deleting_a_series_tombstones_its_instances_in_single_events_mode(
    emulator: GoogleCalendarEmulator, api: Api
) -> None:
    series = emulator.create_recurring_event(
        USER, summary="Daily", start=date(2030, 1, 1), end=date(2030, 1, 2), rrule="FREQ=DAILY;COUNT=2"
    )
    _, single, _ = api.list_all("primary", singleEvents="true")
    _, masters, _ = api.list_all("primary")
    assert api.delete(f"{EVENTS_PATH}/{series['id']}").status_code == 204
    instance_changes, _, _ = api.list_all("primary", singleEvents="true", syncToken=single)
    assert {(i["id"], i["status"]) for i in instance_changes} == {
        (f"{series['id']}_20300101", "cancelled"),
        (f"{series['id']}_20300102", "cancelled"),
    }
    master_changes, _, _ = api.list_all("primary", syncToken=masters)
    assert [(i["id"], i["status"]) for i in master_changes] == [(series["id"], "cancelled")]


# --------------------------------------------------------------------------- partial responses and gzip


def test_fields_selects_parts_of_the_response(emulator: GoogleCalendarEmulator, api: Api) -> None:
    seed(emulator, 2)
    body = api.get(EVENTS_PATH, params={"fields": "items(id,start(dateTime)),nextPageToken,nextSyncToken"}).json()
    assert set(body) == {"items", "nextSyncToken"}
    assert all(set(item) == {"id", "start"} and set(item["start"]) == {"dateTime"} for item in body["items"])
    slash = api.get(EVENTS_PATH, params={"fields": "items/summary"}).json()
    assert slash == {"items": [{"summary": "e0"}, {"summary": "e1"}]}
    bad = api.get(EVENTS_PATH, params={"fields": "items(id"})
    assert bad.status_code == 400 and reason(bad) == "invalidParameter"


def test_gzip_needs_accept_encoding_and_a_gzip_user_agent(emulator: GoogleCalendarEmulator, api: Api) -> None:
    seed(emulator, 3)
    plain = api.get(EVENTS_PATH, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    zipped = api.get(
        EVENTS_PATH, headers={"Accept-Encoding": "gzip", "User-Agent": "ireserve-plugin (gzip)"}, stream=True
    )
    assert zipped.headers["Content-Encoding"] == "gzip"
    raw = zipped.raw.read(decode_content=False)
    assert raw[:2] == b"\x1f\x8b"
    assert gzip.decompress(raw).decode().startswith('{"kind":"calendar#events"')


# --------------------------------------------------------------------------- calendarList


def test_calendar_list_flags_the_primary_and_pages(api: Api) -> None:
    body = api.get("/users/me/calendarList").json()
    assert body["kind"] == "calendar#calendarList" and "nextSyncToken" in body
    entries = {item["id"]: item for item in body["items"]}
    assert set(entries) == {USER, ROOM, SHARED_READONLY}
    assert entries[USER]["primary"] is True and "primary" not in entries[ROOM]
    assert (entries[USER]["accessRole"], entries[ROOM]["accessRole"], entries[SHARED_READONLY]["accessRole"]) == (
        "owner",
        "writer",
        "reader",
    )
    first = api.get("/users/me/calendarList", params={"maxResults": 2}).json()
    assert len(first["items"]) == 2 and "nextPageToken" in first and "nextSyncToken" not in first
    rest = api.get("/users/me/calendarList", params={"maxResults": 2, "pageToken": first["nextPageToken"]}).json()
    assert len(rest["items"]) == 1 and "nextSyncToken" in rest
    writable = api.get("/users/me/calendarList", params={"minAccessRole": "writer"}).json()["items"]
    assert {item["id"] for item in writable} == {USER, ROOM}


def test_calendar_list_needs_a_calendar_read_scope(emulator: GoogleCalendarEmulator, api: Api) -> None:
    events_only = emulator.issue_tokens(USER, CLIENT_ID, ["https://www.googleapis.com/auth/calendar.events"])
    response = Api(api.base_url, events_only["access_token"]).get("/users/me/calendarList")
    assert response.status_code == 403 and reason(response) == "insufficientPermissions"


def test_calendar_list_sync_token(emulator: GoogleCalendarEmulator, api: Api) -> None:
    token = api.get("/users/me/calendarList").json()["nextSyncToken"]
    assert api.get("/users/me/calendarList", params={"syncToken": token}).json()["items"] == []
    emulator.share_calendar("new@group.calendar.google.com", USER, "reader")
    changed = api.get("/users/me/calendarList", params={"syncToken": token}).json()["items"]
    assert "new@group.calendar.google.com" in {item["id"] for item in changed}
    assert api.get("/users/me/calendarList", params={"syncToken": "bogus"}).status_code == 410


def test_q_and_updated_min_filters(emulator: GoogleCalendarEmulator, api: Api) -> None:
    old, new = seed(emulator, 2)
    emulator.clock.advance(60)
    cutoff = emulator.clock.now()
    api.patch(f"{EVENTS_PATH}/{new}", json={"description": "Quarterly Review with finance"})
    assert ids(api.get(EVENTS_PATH, params={"q": "quarterly FINANCE"}).json()["items"]) == [new]
    assert api.get(EVENTS_PATH, params={"q": "quarterly budget"}).json()["items"] == []
    assert ids(api.get(EVENTS_PATH, params={"updatedMin": cutoff.isoformat()}).json()["items"]) == [new]
    api.delete(f"{EVENTS_PATH}/{old}")
    recent = api.get(EVENTS_PATH, params={"updatedMin": cutoff.isoformat()}).json()["items"]
    assert {(i["id"], i["status"]) for i in recent} == {(new, "confirmed"), (old, "cancelled")}
