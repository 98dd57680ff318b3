"""Events: CRUD, transactionId idempotency, etags, Teams links, time zones, all-day, recurrence."""

from __future__ import annotations

from typing import Any

import pytest

from calendar_emulators.graph import GraphEmulator
from tests.emulators.graph.graph_helpers import ROOM
from tests.emulators.graph.graph_helpers import USER
from tests.emulators.graph.graph_helpers import Client
from tests.emulators.graph.graph_helpers import client_credentials
from tests.emulators.graph.graph_helpers import event_body

PROP_ID = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name ireserveBookingId"


def create(client: Client, **extra: Any) -> dict[str, Any]:
    response = client.post("me/events", json=event_body(**extra))
    assert response.status_code == 201, response.text
    return response.json()


def view(client: Client, start: str, end: str, mailbox: str = "me", **headers: str) -> list[dict[str, Any]]:
    response = client.get(
        f"{mailbox}/calendarView", params={"startDateTime": start, "endDateTime": end, "$top": "100"}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()["value"]


def test_create_get_patch_delete(user_client: Client) -> None:
    created = create(user_client, body={"contentType": "text", "content": "Agenda"}, location={"displayName": "R1"})
    assert created["type"] == "singleInstance"
    assert created["@odata.etag"] == f'W/"{created["changeKey"]}"'
    assert created["organizer"]["emailAddress"]["address"] == USER
    assert created["start"] == {"dateTime": "2024-05-01T09:00:00.0000000", "timeZone": "UTC"}
    assert created["createdDateTime"].endswith("Z") and created["iCalUId"]
    event_id = created["id"]

    got = user_client.get(f"me/events/{event_id}").json()
    assert got["subject"] == "Standup" and got["changeKey"] == created["changeKey"]

    patched = user_client.patch(f"me/events/{event_id}", json={"subject": "Retro"})
    assert patched.status_code == 200
    body = patched.json()
    assert body["subject"] == "Retro" and body["location"]["displayName"] == "R1"  # merged
    assert body["changeKey"] != created["changeKey"] and body["@odata.etag"] != created["@odata.etag"]
    assert body["lastModifiedDateTime"] >= created["lastModifiedDateTime"]

    assert user_client.delete(f"me/events/{event_id}").status_code == 204
    for response in (
        user_client.get(f"me/events/{event_id}"),
        user_client.patch(f"me/events/{event_id}", json={"subject": "x"}),
        user_client.delete(f"me/events/{event_id}"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ErrorItemNotFound"


def test_calendar_events_path_is_the_same_calendar(user_client: Client) -> None:
    response = user_client.post("me/calendar/events", json=event_body())
    assert response.status_code == 201
    assert user_client.get(f"me/events/{response.json()['id']}").status_code == 200
    calendar = user_client.get("me/calendar").json()
    assert user_client.get(f"me/calendars/{calendar['id']}/events").json()["value"][0]["id"] == response.json()["id"]


def test_transaction_id_dedupes_creates(graph: GraphEmulator, user_client: Client) -> None:
    first = create(user_client, transactionId="booking-42")
    second = user_client.post("me/events", json=event_body(subject="Other", transactionId="booking-42"))
    assert second.status_code == 201
    assert second.json()["id"] == first["id"] and second.json()["subject"] == "Standup"
    assert len(graph.events(USER)) == 1


def test_store_then_fail_then_idempotent_retry(graph: GraphEmulator, user_client: Client) -> None:
    graph.fail_next_event_post(504)
    failed = user_client.post("me/events", json=event_body(transactionId="booking-7"))
    assert failed.status_code == 504 and failed.json()["error"]["code"] == "UnknownError"
    assert len(graph.events(USER)) == 1  # it was stored nonetheless
    retry = user_client.post("me/events", json=event_body(transactionId="booking-7"))
    assert retry.status_code == 201
    assert retry.json()["id"] == graph.events(USER)[0]["id"]
    assert len(graph.events(USER)) == 1


def test_if_match_mismatch_is_412(user_client: Client) -> None:
    created = create(user_client)
    stale = created["@odata.etag"]
    user_client.patch(f"me/events/{created['id']}", json={"subject": "changed"})
    conflict = user_client.patch(f"me/events/{created['id']}", json={"subject": "x"}, headers={"If-Match": stale})
    assert conflict.status_code == 412 and conflict.json()["error"]["code"] == "ErrorIrresolvableConflict"
    assert user_client.delete(f"me/events/{created['id']}", headers={"If-Match": stale}).status_code == 412
    fresh = user_client.get(f"me/events/{created['id']}").json()["@odata.etag"]
    assert user_client.patch(f"me/events/{created['id']}", json={"subject": "y"}, headers={"If-Match": fresh}).ok


def test_teams_join_url_survives_later_patches(user_client: Client) -> None:
    created = create(user_client, isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")
    join_url = created["onlineMeeting"]["joinUrl"]
    assert join_url.startswith("https://teams.microsoft.com/l/meetup-join/")
    assert created["onlineMeetingProvider"] == "teamsForBusiness"
    patched = user_client.patch(f"me/events/{created['id']}", json={"subject": "moved"}).json()
    assert patched["onlineMeeting"]["joinUrl"] == join_url and patched["isOnlineMeeting"] is True
    turned_off = user_client.patch(f"me/events/{created['id']}", json={"isOnlineMeeting": False}).json()
    assert turned_off["onlineMeeting"]["joinUrl"] == join_url  # an initialised meeting stays online


def test_join_url_null_on_first_response_knob(graph: GraphEmulator, user_client: Client) -> None:
    graph.configure(join_url_null_on_create=True)
    created = create(user_client, isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")
    assert created["onlineMeeting"] is None and created["isOnlineMeeting"] is True
    assert user_client.get(f"me/events/{created['id']}").json()["onlineMeeting"]["joinUrl"]


def test_extended_properties_only_with_expand(user_client: Client) -> None:
    created = create(user_client, singleValueExtendedProperties=[{"id": PROP_ID, "value": "12345"}])
    assert "singleValueExtendedProperties" not in created
    plain = user_client.get(f"me/events/{created['id']}").json()
    assert "singleValueExtendedProperties" not in plain
    expand = f"singleValueExtendedProperties($filter=id eq '{PROP_ID}')"
    expanded = user_client.get(f"me/events/{created['id']}", params={"$expand": expand}).json()
    assert expanded["singleValueExtendedProperties"] == [{"id": PROP_ID, "value": "12345"}]
    other = "singleValueExtendedProperties($filter=id eq 'String {00000000-0000-0000-0000-000000000000} Name x')"
    assert (
        "singleValueExtendedProperties"
        not in user_client.get(f"me/events/{created['id']}", params={"$expand": other}).json()
    )
    query = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP_ID}' and ep/value eq '12345')"
    found = user_client.get("me/events", params={"$filter": query}).json()["value"]
    assert [e["id"] for e in found] == [created["id"]]
    missing = query.replace("12345", "999")
    assert user_client.get("me/events", params={"$filter": missing}).json()["value"] == []


@pytest.mark.parametrize(
    ("zone", "local", "utc"),
    [
        ("W. Europe Standard Time", "2024-05-01T09:00:00", "2024-05-01T07:00:00.0000000"),
        ("Pacific Standard Time", "2024-01-15T09:00:00", "2024-01-15T17:00:00.0000000"),
        ("Eastern Standard Time", "2024-07-01T09:00:00.0000000", "2024-07-01T13:00:00.0000000"),
        ("GMT Standard Time", "2024-07-01T09:00:00", "2024-07-01T08:00:00.0000000"),
        ("AUS Eastern Standard Time", "2024-01-10T09:00:00", "2024-01-09T22:00:00.0000000"),
        ("Lord Howe Standard Time", "2024-07-10T09:00:00", "2024-07-09T22:30:00.0000000"),
        ("Europe/Berlin", "2024-12-01T09:00:00", "2024-12-01T08:00:00.0000000"),
        ("UTC", "2024-12-01T09:00:00", "2024-12-01T09:00:00.0000000"),
    ],
)
def test_time_zones_are_converted_to_utc(user_client: Client, zone: str, local: str, utc: str) -> None:
    body = event_body(start=local, end=local)
    body["start"]["timeZone"] = body["end"]["timeZone"] = zone
    created = user_client.post("me/events", json=body).json()
    assert created["start"] == {"dateTime": utc, "timeZone": "UTC"}
    assert created["originalStartTimeZone"] == zone


def test_prefer_outlook_timezone(user_client: Client) -> None:
    created = create(user_client)
    response = user_client.get(
        f"me/events/{created['id']}", headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'}
    )
    assert response.json()["start"] == {"dateTime": "2024-05-01T02:00:00.0000000", "timeZone": "Pacific Standard Time"}
    assert response.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'
    iana = user_client.get(f"me/events/{created['id']}", headers={"Prefer": 'outlook.timezone="Asia/Tokyo"'}).json()
    assert iana["end"] == {"dateTime": "2024-05-01T18:30:00.0000000", "timeZone": "Asia/Tokyo"}


def test_unknown_time_zone_is_400(user_client: Client) -> None:
    body = event_body()
    body["start"]["timeZone"] = "Mars/Olympus"
    response = user_client.post("me/events", json=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "TimeZoneNotSupportedException"


@pytest.mark.parametrize("side", ["start", "end"])
@pytest.mark.parametrize("zone", [None, ""])
def test_a_missing_time_zone_is_400_as_graph_answers(user_client: Client, side: str, zone: str | None) -> None:
    body = event_body()
    if zone is None:
        del body[side]["timeZone"]
    else:
        body[side]["timeZone"] = zone
    response = user_client.post("me/events", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "TimeZoneNotSupportedException"
    assert response.json()["error"]["message"] == (
        "A valid TimeZone value must be specified. The following TimeZone value is not supported: ''."
    )
    created = user_client.post("me/events", json=event_body()).json()
    patched = user_client.patch(f"me/events/{created['id']}", json={side: {"dateTime": "2024-05-01T09:10:00"}})
    assert patched.status_code == 400 and patched.json()["error"]["code"] == "TimeZoneNotSupportedException"
    assert user_client.get("me/events").json()["value"][0]["start"]["dateTime"].startswith("2024-05-01T09:00:00")


def test_all_day_needs_midnight(user_client: Client) -> None:
    bad = user_client.post("me/events", json=event_body(isAllDay=True))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "ErrorInvalidRequest"
    body = event_body(start="2024-05-01T00:00:00", end="2024-05-03T00:00:00", isAllDay=True)
    body["start"]["timeZone"] = body["end"]["timeZone"] = "W. Europe Standard Time"
    good = user_client.post("me/events", json=body).json()
    assert good["isAllDay"] is True
    assert good["start"]["dateTime"] == "2024-05-01T00:00:00.0000000"
    assert good["end"]["dateTime"] == "2024-05-03T00:00:00.0000000"
    moved = user_client.patch(
        f"me/events/{good['id']}",
        json={"end": {"dateTime": "2024-05-03T12:00:00", "timeZone": "W. Europe Standard Time"}},
    )
    assert moved.status_code == 400


def test_unknown_property_and_bad_json_are_400(user_client: Client) -> None:
    unknown = user_client.post("me/events", json=event_body(colour="red"))
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "RequestBodyRead"
    assert "colour" in unknown.json()["error"]["message"]
    broken = user_client.post("me/events", data="{nope", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400


def test_body_is_returned_as_html_unless_text_preferred(user_client: Client) -> None:
    created = create(user_client, body={"contentType": "text", "content": "Line 1\nA & B"})
    assert created["body"]["contentType"] == "html" and "A &amp; B" in created["body"]["content"]
    assert created["bodyPreview"].startswith("Line 1")
    text = user_client.get(f"me/events/{created['id']}", headers={"Prefer": 'outlook.body-content-type="text"'}).json()
    assert text["body"] == {"contentType": "text", "content": "Line 1\nA & B"}


def weekly(count: int, days: list[str], start: str = "2024-03-18") -> dict[str, Any]:
    return {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": days, "firstDayOfWeek": "monday"},
        "range": {"type": "numbered", "startDate": start, "numberOfOccurrences": count},
    }


def test_recurring_series_expands_into_occurrences_across_dst(user_client: Client) -> None:
    body = event_body(
        start="2024-03-18T09:00:00", end="2024-03-18T10:00:00", recurrence=weekly(4, ["monday", "wednesday"])
    )
    body["start"]["timeZone"] = body["end"]["timeZone"] = "W. Europe Standard Time"
    master = user_client.post("me/events", json=body).json()
    assert master["type"] == "seriesMaster" and master["recurrence"]["range"]["numberOfOccurrences"] == 4
    instances = view(user_client, "2024-03-01T00:00:00Z", "2024-05-01T00:00:00Z")
    starts = [i["start"]["dateTime"][:16] for i in instances]
    # 09:00 Berlin is 08:00 UTC before the 31 March DST change and 07:00 after
    assert starts == ["2024-03-18T08:00", "2024-03-20T08:00", "2024-03-25T08:00", "2024-03-27T08:00"]
    assert {i["type"] for i in instances} == {"occurrence"}
    assert {i["seriesMasterId"] for i in instances} == {master["id"]}
    later = user_client.post(
        "me/events",
        json=body
        | {
            "recurrence": weekly(2, ["tuesday"], "2024-04-01"),
            "start": {"dateTime": "2024-04-02T09:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2024-04-02T10:00:00", "timeZone": "Europe/Berlin"},
        },
    ).json()
    after = [
        i["start"]["dateTime"][:16]
        for i in view(user_client, "2024-04-01T00:00:00Z", "2024-04-15T00:00:00Z")
        if i["seriesMasterId"] == later["id"]
    ]
    assert after == ["2024-04-02T07:00", "2024-04-09T07:00"]


def test_daily_series_with_end_date_and_occurrence_edits(user_client: Client) -> None:
    recurrence = {
        "pattern": {"type": "daily", "interval": 2},
        "range": {"type": "endDate", "startDate": "2024-06-01", "endDate": "2024-06-09"},
    }
    create(user_client, start="2024-06-01T12:00:00", end="2024-06-01T13:00:00", recurrence=recurrence)
    instances = view(user_client, "2024-06-01T00:00:00Z", "2024-07-01T00:00:00Z")
    assert [i["start"]["dateTime"][:10] for i in instances] == [
        "2024-06-01",
        "2024-06-03",
        "2024-06-05",
        "2024-06-07",
        "2024-06-09",
    ]
    third = instances[2]["id"]
    changed = user_client.patch(f"me/events/{third}", json={"subject": "Special"}).json()
    assert changed["type"] == "exception" and changed["subject"] == "Special"
    assert user_client.delete(f"me/events/{instances[1]['id']}").status_code == 204
    after = view(user_client, "2024-06-01T00:00:00Z", "2024-07-01T00:00:00Z")
    assert [i["start"]["dateTime"][:10] for i in after] == ["2024-06-01", "2024-06-05", "2024-06-07", "2024-06-09"]
    assert [i["subject"] for i in after] == ["Standup", "Special", "Standup", "Standup"]
    assert user_client.get(f"me/events/{instances[1]['id']}").status_code == 404


def test_calendar_view_requires_window_and_pages(user_client: Client) -> None:
    missing = user_client.get("me/calendarView")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "ErrorInvalidParameter"
    for day in range(1, 4):
        create(user_client, start=f"2024-05-0{day}T09:00:00", end=f"2024-05-0{day}T10:00:00")
    first = user_client.get(
        "me/calendarView", params={"startDateTime": "2024-05-01", "endDateTime": "2024-06-01", "$top": "2"}
    )
    page = first.json()
    assert len(page["value"]) == 2 and "$skip=2" in page["@odata.nextLink"]
    assert len(user_client.get(page["@odata.nextLink"]).json()["value"]) == 1


def test_cancel_by_organizer_removes_the_event(user_client: Client) -> None:
    created = create(user_client)
    assert user_client.post(f"me/events/{created['id']}/cancel", json={"comment": "sorry"}).status_code == 202
    assert user_client.get(f"me/events/{created['id']}").status_code == 404


def test_app_with_write_role_can_create_in_rooms(graph: GraphEmulator, base: str) -> None:
    graph.add_app("writer", "contoso.onmicrosoft.com", secret="s", application=["Calendars.ReadWrite"])
    client = Client(base, client_credentials(base, client_id="writer", secret="s").json()["access_token"])
    created = client.post(f"users/{ROOM}/events", json=event_body())
    assert created.status_code == 201
    assert created.json()["organizer"]["emailAddress"]["address"] == ROOM
    assert graph.events(ROOM)[0]["id"] == created.json()["id"]


def test_person_edits_are_visible_through_the_api(graph: GraphEmulator, app_client: Client) -> None:
    event = graph.person_create_event(
        ROOM,
        "Board",
        "2024-05-02T10:00:00",
        "2024-05-02T11:00:00",
        "Eastern Standard Time",
        organizer="bob@contoso.onmicrosoft.com",
    )
    got = app_client.get(f"users/{ROOM}/events/{event['id']}").json()
    assert got["start"]["dateTime"] == "2024-05-02T14:00:00.0000000" and got["isOrganizer"] is False
    graph.person_move_event(ROOM, event["id"], "2024-05-03T10:00:00", "2024-05-03T11:00:00", "UTC")
    cancelled = graph.person_cancel_event(ROOM, event["id"])
    assert cancelled["isCancelled"] is True and cancelled["subject"] == "Canceled: Board"
    got = app_client.get(f"users/{ROOM}/events/{event['id']}").json()
    assert got["start"]["dateTime"] == "2024-05-03T10:00:00.0000000" and got["isCancelled"] is True
    graph.person_delete_event(ROOM, event["id"])
    assert app_client.get(f"users/{ROOM}/events/{event['id']}").status_code == 404
