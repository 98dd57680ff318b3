"""The emulator's events.get/insert/patch/update/delete: ids, etags, merge rules, reminders, Meet, access."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest

from calendar_emulators.google import GoogleCalendarEmulator
from tests.emulators.google import discovery
from tests.emulators.google.conftest import CLIENT_ID
from tests.emulators.google.conftest import READONLY
from tests.emulators.google.conftest import ROOM
from tests.emulators.google.conftest import SHARED_READONLY
from tests.emulators.google.conftest import USER
from tests.emulators.google.conftest import Api
from tests.emulators.google.conftest import timed

EVENT = timed("2030-03-04T10:00:00+01:00", "2030-03-04T11:00:00+01:00", summary="Meeting")
CREATE_MEET = {"createRequest": {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}}
MEET_URI = re.compile(r"^https://meet\.google\.com/[a-z]{3}-[a-z]{4}-[a-z]{3}$")


def reason(response: Any) -> str:
    return str(response.json()["error"]["errors"][0]["reason"])


# --------------------------------------------------------------------------- insert / get


def test_insert_returns_200_and_the_full_event(api: Api) -> None:
    created = api.insert("primary", EVENT)
    assert created["kind"] == "calendar#event"
    assert re.fullmatch(r"[a-v0-9]{20,}", created["id"])
    assert created["status"] == "confirmed"
    assert created["etag"].startswith('"')
    assert created["created"] == created["updated"]
    assert created["organizer"] == {"email": USER, "self": True}
    assert created["reminders"] == {"useDefault": True}
    assert created["start"] == {"dateTime": "2030-03-04T10:00:00+01:00"}
    assert api.get(f"/calendars/primary/events/{created['id']}").json() == created


def test_client_supplied_ids_are_honoured_and_unique(api: Api) -> None:
    created = api.insert("primary", {**EVENT, "id": "booking0001"})
    assert created["id"] == "booking0001"
    again = api.post("/calendars/primary/events", json={**EVENT, "id": "booking0001"})
    assert again.status_code == 409
    assert reason(again) == "duplicate"


@pytest.mark.parametrize("bad_id", ["abcd", "UPPERCASE1", "with_underscore", "wxyz12345", "a" * 1025])
def test_invalid_client_ids_are_refused(api: Api, bad_id: str) -> None:
    response = api.post("/calendars/primary/events", json={**EVENT, "id": bad_id})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Invalid resource id value."


def test_calendar_ids_are_url_decoded_and_primary_is_an_alias(api: Api) -> None:
    created = api.insert(quote(ROOM, safe=""), EVENT)
    assert created["organizer"]["email"] == ROOM
    assert api.get(f"/calendars/{quote(ROOM, safe='')}/events/{created['id']}").status_code == 200
    assert api.get(f"/calendars/primary/events/{created['id']}").status_code == 404
    primary = api.insert("primary", EVENT)
    assert api.get(f"/calendars/{quote(USER)}/events/{primary['id']}").status_code == 200


def test_all_day_and_time_zone_events(api: Api) -> None:
    all_day = api.insert("primary", {"start": {"date": "2030-05-01"}, "end": {"date": "2030-05-02"}})
    assert all_day["start"] == {"date": "2030-05-01"}
    zoned = api.insert(
        "primary",
        {
            "start": {"dateTime": "2030-05-01T09:00:00", "timeZone": "America/New_York"},
            "end": {"dateTime": "2030-05-01T10:00:00", "timeZone": "America/New_York"},
        },
    )
    assert zoned["start"] == {"dateTime": "2030-05-01T09:00:00-04:00", "timeZone": "America/New_York"}
    utc = api.insert("primary", timed("2030-05-01T07:00:00Z", "2030-05-01T08:00:00Z"))
    assert utc["start"] == {"dateTime": "2030-05-01T09:00:00+02:00"}  # rendered in the calendar's zone


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"end": {"date": "2030-05-02"}}, "required"),
        (timed("2030-05-01T10:00:00+00:00", "2030-05-01T09:00:00+00:00"), "timeRangeEmpty"),
        (timed("2030-05-01T10:00:00", "2030-05-01T11:00:00"), "required"),  # no offset, no timeZone
        ({"start": {"date": "2030-05-01"}, "end": {"dateTime": "2030-05-02T00:00:00Z"}}, "invalid"),
    ],
)
def test_bad_times_are_400(api: Api, body: dict[str, Any], expected: str) -> None:
    response = api.post("/calendars/primary/events", json=body)
    assert response.status_code == 400
    assert reason(response) == expected


def test_unknown_event_and_calendar_are_404(api: Api) -> None:
    assert reason(api.get("/calendars/primary/events/nosuchevent")) == "notFound"
    assert api.get("/calendars/nobody%40example.com/events").status_code == 404


def test_if_none_match_on_get_answers_304(api: Api) -> None:
    created = api.insert("primary", EVENT)
    response = api.get(f"/calendars/primary/events/{created['id']}", headers={"If-None-Match": created["etag"]})
    assert response.status_code == 304


# --------------------------------------------------------------------------- patch / update


def test_patch_merges_objects_and_replaces_arrays(api: Api) -> None:
    created = api.insert(
        "primary",
        {
            **EVENT,
            "extendedProperties": {"private": {"ireserveBookingId": "42", "origin": "ireserve"}},
            "attendees": [{"email": "a@example.com"}, {"email": "b@example.com"}],
        },
    )
    patched = api.patch(
        f"/calendars/primary/events/{created['id']}",
        json={
            "extendedProperties": {"private": {"origin": "google"}},
            "attendees": [{"email": "c@example.com"}],
            "description": "new",
        },
    ).json()
    assert patched["extendedProperties"]["private"] == {"ireserveBookingId": "42", "origin": "google"}
    assert [a["email"] for a in patched["attendees"]] == ["c@example.com"]
    assert patched["attendees"][0]["responseStatus"] == "needsAction"
    assert patched["summary"] == "Meeting" and patched["description"] == "new"
    assert patched["etag"] != created["etag"]
    cleared = api.patch(f"/calendars/primary/events/{created['id']}", json={"description": None}).json()
    assert "description" not in cleared


def test_if_match_guards_patch_and_delete(api: Api, emulator: GoogleCalendarEmulator) -> None:
    created = api.insert("primary", EVENT)
    path = f"/calendars/primary/events/{created['id']}"
    emulator.update_event(USER, created["id"], {"summary": "changed by someone else"})
    stale = api.patch(path, json={"summary": "mine"}, headers={"If-Match": created["etag"]})
    assert stale.status_code == 412
    assert reason(stale) == "conditionNotMet"
    assert api.delete(path, headers={"If-Match": created["etag"]}).status_code == 412
    current = api.get(path).json()
    ok = api.patch(path, json={"summary": "mine"}, headers={"If-Match": current["etag"]})
    assert ok.status_code == 200 and ok.json()["summary"] == "mine"


def test_changes_bump_etag_and_updated_but_reminders_only_etag(api: Api, emulator: GoogleCalendarEmulator) -> None:
    created = api.insert("primary", EVENT)
    path = f"/calendars/primary/events/{created['id']}"
    emulator.clock.advance(5)
    reminders = api.patch(
        path, json={"reminders": {"useDefault": False, "overrides": [{"method": "email", "minutes": 30}]}}
    )
    assert reminders.json()["etag"] != created["etag"]
    assert reminders.json()["updated"] == created["updated"]
    emulator.clock.advance(5)
    moved = api.patch(path, json={"location": "Room 2"}).json()
    assert moved["updated"] > created["updated"]
    assert moved["sequence"] == created["sequence"] + 1
    same = api.patch(path, json={"location": "Room 2"}).json()
    assert same["etag"] == moved["etag"]


def test_put_replaces_the_event(api: Api) -> None:
    created = api.insert("primary", {**EVENT, "description": "old", "location": "x"})
    response = api.request("PUT", f"/calendars/primary/events/{created['id']}", json={**EVENT, "summary": "new"})
    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == "new" and "description" not in body and "location" not in body
    assert body["id"] == created["id"] and body["created"] == created["created"]


# --------------------------------------------------------------------------- delete


def test_delete_is_204_then_410_and_unknown_is_404(api: Api) -> None:
    created = api.insert("primary", EVENT)
    path = f"/calendars/primary/events/{created['id']}"
    first = api.delete(path)
    assert first.status_code == 204 and first.content == b""
    second = api.delete(path)
    assert second.status_code == 410 and reason(second) == "deleted"
    assert api.get(path).json()["status"] == "cancelled"  # events.get still returns it
    assert reason(api.delete("/calendars/primary/events/unknown0001")) == "notFound"


# --------------------------------------------------------------------------- reminders


def _overrides(*pairs: tuple[str, int] | dict[str, Any], use_default: bool = False) -> dict[str, Any]:
    items = [p if isinstance(p, dict) else {"method": p[0], "minutes": p[1]} for p in pairs]
    return {"useDefault": use_default, "overrides": items}


@pytest.mark.parametrize(
    ("reminders", "expected"),
    [
        (_overrides(("popup", 5), use_default=True), "cannotUseDefaultRemindersAndSpecifyOverride"),
        (_overrides(*[("popup", m) for m in range(6)]), "eventRemindersCountExceedsLimit"),
        (_overrides(("popup", 40321)), "invalid"),
        (_overrides(("popup", -1)), "invalid"),
        (_overrides(("sms", 10)), "invalid"),
        (_overrides({"minutes": 10}), "required"),
    ],
)
def test_reminders_are_validated(api: Api, reminders: dict[str, Any], expected: str) -> None:
    response = api.post("/calendars/primary/events", json={**EVENT, "reminders": reminders})
    assert response.status_code == 400
    assert reason(response) == expected


def test_valid_reminders_are_kept_and_the_limits_are_inclusive(api: Api) -> None:
    overrides = [{"method": "email", "minutes": 40320}, {"method": "popup", "minutes": 0}]
    created = api.insert("primary", {**EVENT, "reminders": {"useDefault": False, "overrides": overrides}})
    assert created["reminders"] == {"useDefault": False, "overrides": overrides}


def test_patching_overrides_onto_use_default_is_refused(api: Api) -> None:
    created = api.insert("primary", EVENT)  # reminders default to useDefault: true
    response = api.patch(
        f"/calendars/primary/events/{created['id']}",
        json={"reminders": {"overrides": [{"method": "popup", "minutes": 5}]}},
    )
    assert reason(response) == "cannotUseDefaultRemindersAndSpecifyOverride"


def test_lenient_reminders_clamp_and_drop_instead(emulator: GoogleCalendarEmulator, api: Api) -> None:
    emulator.store.lenient_reminders = True
    overrides = [{"method": "popup", "minutes": 99999}, {"method": "sms", "minutes": 5}]
    created = api.insert("primary", {**EVENT, "reminders": {"useDefault": False, "overrides": overrides}})
    assert created["reminders"] == {"useDefault": False, "overrides": [{"method": "popup", "minutes": 40320}]}


# --------------------------------------------------------------------------- conference data


def test_meet_link_with_conference_data_version_1(api: Api) -> None:
    created = api.insert("primary", {**EVENT, "conferenceData": CREATE_MEET}, conferenceDataVersion=1)
    data = created["conferenceData"]
    assert data["createRequest"]["status"] == {"statusCode": "success"}
    assert data["createRequest"]["requestId"] == "req-1"
    video = data["entryPoints"][0]
    assert video["entryPointType"] == "video" and MEET_URI.match(video["uri"])
    assert created["hangoutLink"] == video["uri"]
    assert data["conferenceSolution"]["key"] == {"type": "hangoutsMeet"}
    patched = api.patch(
        f"/calendars/primary/events/{created['id']}", json={"summary": "x"}, params={"conferenceDataVersion": 1}
    )
    assert patched.json()["hangoutLink"] == created["hangoutLink"]
    same_request = api.patch(
        f"/calendars/primary/events/{created['id']}",
        json={"conferenceData": CREATE_MEET},
        params={"conferenceDataVersion": 1},
    )
    assert same_request.json()["hangoutLink"] == created["hangoutLink"]  # same requestId: ignored


def test_conference_data_is_ignored_with_version_0(api: Api) -> None:
    created = api.insert("primary", {**EVENT, "conferenceData": CREATE_MEET})
    assert "conferenceData" not in created and "hangoutLink" not in created
    with_meet = api.insert("primary", {**EVENT, "conferenceData": CREATE_MEET}, conferenceDataVersion=1)
    removed = api.patch(f"/calendars/primary/events/{with_meet['id']}", json={"conferenceData": None})
    assert removed.json()["hangoutLink"] == with_meet["hangoutLink"]  # version 0: the null is ignored too
    dropped = api.patch(
        f"/calendars/primary/events/{with_meet['id']}",
        json={"conferenceData": None},
        params={"conferenceDataVersion": 1},
    )
    assert "hangoutLink" not in dropped.json()


def test_meet_creation_can_be_pending_first(emulator: GoogleCalendarEmulator, api: Api) -> None:
    emulator.set_conference_mode("pending")
    created = api.insert("primary", {**EVENT, "conferenceData": CREATE_MEET}, conferenceDataVersion=1)
    assert created["conferenceData"]["createRequest"]["status"] == {"statusCode": "pending"}
    assert "hangoutLink" not in created
    polled = api.get(f"/calendars/primary/events/{created['id']}").json()
    assert polled["conferenceData"]["createRequest"]["status"] == {"statusCode": "success"}
    assert MEET_URI.match(polled["hangoutLink"])
    assert polled["etag"] != created["etag"]


def test_meet_creation_can_fail(emulator: GoogleCalendarEmulator, api: Api) -> None:
    emulator.set_conference_mode("failure")
    created = api.insert("primary", {**EVENT, "conferenceData": CREATE_MEET}, conferenceDataVersion=1)
    assert created["conferenceData"]["createRequest"]["status"] == {"statusCode": "failure"}
    assert "hangoutLink" not in created and "entryPoints" not in created["conferenceData"]


def test_unsupported_conference_type_is_400(api: Api) -> None:
    body = {"createRequest": {"requestId": "r", "conferenceSolutionKey": {"type": "addOn"}}}
    response = api.post(
        "/calendars/primary/events", json={**EVENT, "conferenceData": body}, params={"conferenceDataVersion": 1}
    )
    assert response.status_code == 400


# --------------------------------------------------------------------------- auth and access


def test_writing_with_a_readonly_token_is_403(emulator: GoogleCalendarEmulator, api: Api) -> None:
    readonly = Api(api.base_url, emulator.issue_tokens(USER, CLIENT_ID, [READONLY])["access_token"])
    assert readonly.get("/calendars/primary/events").status_code == 200
    response = readonly.post("/calendars/primary/events", json=EVENT)
    assert response.status_code == 403
    assert reason(response) == "insufficientPermissions"


def test_writing_to_a_reader_calendar_is_403(api: Api) -> None:
    calendar = quote(SHARED_READONLY, safe="")
    assert api.get(f"/calendars/{calendar}/events").status_code == 200
    response = api.post(f"/calendars/{calendar}/events", json=EVENT)
    assert response.status_code == 403
    assert reason(response) == "requiredAccessLevel"


def test_bad_json_is_a_parse_error(api: Api) -> None:
    response = api.post("/calendars/primary/events", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert reason(response) == "parseError"


# --------------------------------------------------------------------------- the wire format


def test_rich_event_json_matches_the_discovery_document(emulator: GoogleCalendarEmulator, api: Api) -> None:
    rich = {
        **EVENT,
        "description": "<b>html</b>",
        "location": "Room 1",
        "attendees": [{"email": "guest@example.com", "displayName": "Guest", "optional": True}, {"email": USER}],
        "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 15}]},
        "extendedProperties": {"private": {"ireserveBookingId": "1"}, "shared": {"x": "y"}},
        "conferenceData": CREATE_MEET,
        "transparency": "opaque",
        "visibility": "private",
        "source": {"title": "i-Reserve", "url": "https://ireserve.example/b/1"},
        "notAField": "dropped",
    }
    created = api.insert("primary", rich, conferenceDataVersion=1)
    assert "notAField" not in created
    series = emulator.create_recurring_event(
        USER, summary="Series", start=date(2030, 1, 1), end=date(2030, 1, 2), rrule="FREQ=DAILY;COUNT=3"
    )
    api.delete(f"/calendars/primary/events/{series['id']}_20300102")
    listing = api.get("/calendars/primary/events", params={"singleEvents": "true", "showDeleted": "true"}).json()
    events = [created, series, *listing["items"]]
    assert len(events) >= 5
    for event in events:
        assert discovery.problems(event, "Event") == []
    assert discovery.problems(listing, "Events") == []
