"""Injected faults answer with Google's own bodies; the control API over HTTP drives the emulator."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import requests

from calendar_emulators.core import Fault
from calendar_emulators.google import GoogleCalendarEmulator
from calendar_emulators.google import build_app
from tests.emulators.google.conftest import CLIENT_ID
from tests.emulators.google.conftest import CLIENT_SECRET
from tests.emulators.google.conftest import ROOM
from tests.emulators.google.conftest import USER
from tests.emulators.google.conftest import Api
from tests.emulators.google.conftest import timed

EVENT = timed("2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z", summary="x")
LIST = "/calendars/primary/events"


def first_error(response: requests.Response) -> dict[str, Any]:
    body = response.json()["error"]
    assert body["code"] == response.status_code
    assert body["message"] == body["errors"][0]["message"]
    return dict(body["errors"][0])


@pytest.mark.parametrize(
    ("status", "fault_reason", "domain", "expected_reason", "message"),
    [
        (429, "", "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
        (403, "rateLimitExceeded", "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
        (403, "userRateLimitExceeded", "usageLimits", "userRateLimitExceeded", "User Rate Limit Exceeded"),
        (403, "quotaExceeded", "usageLimits", "quotaExceeded", "Calendar usage limits exceeded."),
        (500, "", "global", "backendError", "Backend Error"),
        (503, "", "global", "backendError", "The service is currently unavailable."),
        (401, "", "global", "authError", "Invalid Credentials"),
        (410, "", "calendar", "fullSyncRequired", "Sync token is no longer valid, a full sync is required."),
        (410, "deleted", "global", "deleted", "Resource has been deleted"),
        (412, "", "global", "conditionNotMet", "Precondition Failed"),
    ],
)
def test_status_faults_use_googles_error_bodies(
    emulator: GoogleCalendarEmulator,
    api: Api,
    status: int,
    fault_reason: str,
    domain: str,
    expected_reason: str,
    message: str,
) -> None:
    emulator.faults.add(Fault(status=status, reason=fault_reason, retry_after=7, path="/events$"))
    response = api.get(LIST)
    assert response.status_code == status
    assert response.headers["Retry-After"] == "7"
    error = first_error(response)
    assert (error["domain"], error["reason"], error["message"]) == (domain, expected_reason, message)
    assert api.get(LIST).status_code == 200  # a one-shot fault


def test_a_fault_without_retry_after_sends_none(emulator: GoogleCalendarEmulator, api: Api) -> None:
    emulator.faults.add(Fault(status=429))
    response = api.get(LIST)
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_bad_gateway_is_an_html_page_as_from_googles_front_end(emulator: GoogleCalendarEmulator, api: Api) -> None:
    emulator.faults.add(Fault(status=502))
    response = api.get(LIST)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "502" in response.text


def test_a_timeout_fault_outlasts_the_client(emulator: GoogleCalendarEmulator, api: Api) -> None:
    emulator.faults.add(Fault(kind="timeout", delay=0.4, method="GET"))
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get(LIST, timeout=0.1)
    assert api.get(LIST).status_code == 200


def test_a_reset_fault_drops_the_connection(emulator: GoogleCalendarEmulator, api: Api) -> None:
    emulator.faults.add(Fault(kind="reset", path="/events$"))
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get(LIST)
    assert api.get(LIST).status_code == 200
    assert [entry.fault for entry in emulator.requests.entries()][-2:] == ["reset", ""]


def test_token_endpoint_faults_use_the_oauth_shape(emulator: GoogleCalendarEmulator, server: Any) -> None:
    refresh_token = emulator.issue_tokens(USER, CLIENT_ID, ["https://www.googleapis.com/auth/calendar.readonly"])[
        "refresh_token"
    ]
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    emulator.faults.add(Fault(status=400, path="^/token$"))
    response = requests.post(server.url + "/token", data=form, timeout=5)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    )
    emulator.faults.add(Fault(status=503, path="^/token$", retry_after=2))
    unavailable = requests.post(server.url + "/token", data=form, timeout=5)
    assert unavailable.status_code == 503 and "error" in unavailable.json()
    assert requests.post(server.url + "/token", data=form, timeout=5).status_code == 200


def test_a_lost_insert_response_leaves_the_event_stored(emulator: GoogleCalendarEmulator, api: Api) -> None:
    emulator.lose_next_insert()
    body = {**EVENT, "id": "booking00042"}
    lost = api.post(LIST, json=body)
    assert lost.status_code == 503
    assert first_error(lost)["reason"] == "backendError"
    assert api.get(f"{LIST}/booking00042").status_code == 200
    retry = api.post(LIST, json=body)
    assert retry.status_code == 409 and first_error(retry)["reason"] == "duplicate"
    assert [e["id"] for e in emulator.events(USER)] == ["booking00042"]


def test_faults_can_be_scheduled_over_http(api: Api) -> None:
    fault = {"status": 403, "reason": "userRateLimitExceeded", "method": "POST", "times": 2}
    assert requests.post(api.base_url + "/_emulator/faults", json=fault, timeout=5).status_code == 200
    assert api.get(LIST).status_code == 200  # GET is not matched
    statuses = [api.post(LIST, json=EVENT).status_code for _ in range(3)]
    assert statuses == [403, 403, 200]


# --------------------------------------------------------------------------- the control API over HTTP


def control(api: Api, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{api.base_url}/_emulator{path}", timeout=5, **kwargs)


def test_a_person_edits_a_calendar_over_http(api: Api) -> None:
    room = quote(ROOM, safe="")
    _, token, _ = api.list_all(room)
    created = control(api, "POST", f"/calendars/{room}/events", json={**EVENT, "summary": "walk-in"}).json()
    assert created["organizer"]["email"] == ROOM
    moved = control(
        api,
        "PATCH",
        f"/calendars/{room}/events/{created['id']}",
        json={"start": {"dateTime": "2030-01-01T12:00:00Z"}, "end": {"dateTime": "2030-01-01T13:00:00Z"}},
    ).json()
    assert moved["start"]["dateTime"] == "2030-01-01T13:00:00+01:00"
    other = control(api, "POST", f"/calendars/{room}/events", json=EVENT).json()
    assert control(api, "POST", f"/calendars/{room}/events/{other['id']}/cancel").json()["status"] == "cancelled"
    changes, _, _ = api.list_all(room, syncToken=token)
    assert {(c["id"], c["status"]) for c in changes} == {(created["id"], "confirmed"), (other["id"], "cancelled")}
    assert control(api, "DELETE", f"/calendars/{room}/events/{created['id']}").status_code == 200
    stored = control(api, "GET", f"/calendars/{room}/events").json()
    assert [e["status"] for e in stored] == ["cancelled", "cancelled"]
    assert control(api, "GET", f"/calendars/{room}/events/nothere00").status_code == 404


def test_tokens_and_sync_tokens_can_be_killed_over_http(api: Api) -> None:
    _, token, _ = api.list_all("primary")
    control(api, "POST", "/sync-tokens/invalidate", json={})
    assert api.get(LIST, params={"syncToken": token}).status_code == 410
    assert control(api, "POST", "/tokens/expire", json={"email": USER}).json()["expired"] >= 1
    assert api.get(LIST).status_code == 401


def test_accounts_can_be_registered_over_http(api: Api) -> None:
    assert control(api, "POST", "/clients", json={"client_id": "c2", "client_secret": "s2"}).status_code == 200
    users = {"email": "carol@example.com", "calendars": {ROOM: "reader"}}
    assert control(api, "POST", "/users", json=users).status_code == 200
    issued = control(
        api,
        "POST",
        "/tokens",
        json={"email": "carol@example.com", "client_id": "c2", "scopes": ["https://www.googleapis.com/auth/calendar"]},
    ).json()
    carol = Api(api.base_url, issued["access_token"])
    ids = {item["id"] for item in carol.get("/users/me/calendarList").json()["items"]}
    assert ids == {"carol@example.com", ROOM}
    assert carol.post(f"/calendars/{quote(ROOM, safe='')}/events", json=EVENT).status_code == 403
    assert control(api, "POST", "/users", json={}).status_code == 400
    assert control(api, "POST", "/no-such-action").status_code == 404


def test_build_app_seeds_the_demo_account() -> None:
    app = build_app(allow_loopback_redirects=True, allow_http_push=True)
    try:
        tokens = app.issue_tokens("demo@example.com", "demo-client", ["https://www.googleapis.com/auth/calendar"])
        assert tokens["access_token"]
        assert app.oauth.clients["demo-client"].client_secret == "demo-secret"
        assert set(app.directory.users["demo@example.com"]) == {"demo@example.com", "room-a@group.calendar.google.com"}
    finally:
        app.close()


def test_the_remaining_control_routes(emulator: GoogleCalendarEmulator, api: Api) -> None:
    assert control(api, "POST", "/calendars", json={"id": "extra@group.calendar.google.com"}).status_code == 200
    assert "extra@group.calendar.google.com" in emulator.store.calendars
    control(api, "POST", "/consent", json={"deny": True})
    assert emulator.oauth.consent.deny is True
    control(api, "POST", "/conference", json={"mode": "pending"})
    assert emulator.store.conference_mode == "pending"
    assert control(api, "POST", "/conference", json={"mode": "sometimes"}).status_code == 400
    control(api, "POST", "/paging", json={"page_cap": 1})
    control(api, "POST", "/inserts/lose-next", json={"status": 500})
    assert api.post(LIST, json=EVENT).status_code == 500
    assert len(api.get(LIST).json()["items"]) == 1  # stored anyway, one per page now
    assert control(api, "POST", "/tokens/revoke", json={"email": USER}).json()["revoked"] >= 1
    assert api.get(LIST).status_code == 401
    assert control(api, "POST", "/seed-demo", json={}).status_code == 200
    assert "demo-client" in emulator.oauth.clients
    assert control(api, "GET", "/channels").json() == []
