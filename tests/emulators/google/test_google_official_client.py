"""The emulator driven by Google's own client (googleapiclient, static discovery, pointed at the emulator).

The client builds every request from the discovery document (paths, parameters, bodies) and parses
every answer; the ``server`` fixture checks each body against the same document afterwards. The
wire-format rules themselves are the subject of ``test_discovery_oracle.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from calendar_emulators.core import EmulatorServer
from calendar_emulators.google import GoogleCalendarEmulator
from tests.emulators.google.conftest import ROOM
from tests.emulators.google.conftest import USER
from tests.emulators.google.conftest import Receiver
from tests.emulators.google.conftest import timed


@pytest.fixture
def calendar(server: EmulatorServer, tokens: dict[str, Any]) -> Iterator[Any]:
    """A Calendar v3 service object whose every request goes to the emulator."""
    credentials = Credentials(token=tokens["access_token"])
    service = build(
        "calendar",
        "v3",
        credentials=credentials,
        static_discovery=True,
        client_options={"api_endpoint": server.url + "/calendar/v3/"},
    )
    yield service
    service.close()


def event(hour: int, summary: str = "Meeting") -> dict[str, Any]:
    return timed(f"2030-03-04T{hour:02d}:00:00+01:00", f"2030-03-04T{hour:02d}:30:00+01:00", summary=summary)


def reason(error: HttpError) -> str:
    return str(error.error_details[0]["reason"]) if error.error_details else ""


def test_insert_get_patch_delete(calendar: Any) -> None:
    events = calendar.events()
    made = events.insert(
        calendarId=ROOM,
        body={
            **event(10),
            "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 10}]},
            "extendedProperties": {"private": {"booking": "4711"}},
        },
        sendUpdates="none",
    ).execute()
    assert made["kind"] == "calendar#event" and made["status"] == "confirmed"
    assert events.get(calendarId=ROOM, eventId=made["id"]).execute()["etag"] == made["etag"]
    patched = events.patch(calendarId=ROOM, eventId=made["id"], body={"summary": "Renamed"}).execute()
    assert patched["summary"] == "Renamed" and patched["etag"] != made["etag"]
    events.delete(calendarId=ROOM, eventId=made["id"]).execute()
    with pytest.raises(HttpError) as info:
        events.delete(calendarId=ROOM, eventId=made["id"]).execute()
    assert info.value.status_code == 410 and reason(info.value) == "deleted"
    with pytest.raises(HttpError) as info:
        events.get(calendarId=ROOM, eventId="unknown12345").execute()
    assert info.value.status_code == 404 and reason(info.value) == "notFound"


def test_list_pages_with_list_next_then_syncs_incrementally(calendar: Any, emulator: GoogleCalendarEmulator) -> None:
    events = calendar.events()
    for hour in range(8, 13):
        events.insert(calendarId=ROOM, body=event(hour, f"E{hour}")).execute()
    emulator.set_paging(page_cap=2)
    request = events.list(
        calendarId=ROOM,
        singleEvents=True,
        showDeleted=True,
        maxResults=2500,
        timeMin="2030-03-01T00:00:00Z",
        timeMax="2030-04-01T00:00:00Z",
    )
    pages = []
    while request is not None:
        page = request.execute()
        pages.append(page)
        request = events.list_next(request, page)
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert "nextSyncToken" in pages[-1] and all("nextSyncToken" not in p for p in pages[:-1])
    first = pages[0]["items"][0]
    events.delete(calendarId=ROOM, eventId=first["id"]).execute()
    changes = events.list(
        calendarId=ROOM, syncToken=pages[-1]["nextSyncToken"], singleEvents=True, showDeleted=True
    ).execute()  # the same query shape as the full listing
    assert [(i["id"], i["status"]) for i in changes["items"]] == [(first["id"], "cancelled")]
    emulator.invalidate_sync_tokens(ROOM)
    with pytest.raises(HttpError) as info:
        events.list(calendarId=ROOM, syncToken=changes["nextSyncToken"], singleEvents=True, showDeleted=True).execute()
    assert info.value.status_code == 410 and reason(info.value) == "fullSyncRequired"


def test_fields_limit_the_answer(calendar: Any) -> None:
    calendar.events().insert(calendarId=ROOM, body=event(9)).execute()
    page = calendar.events().list(calendarId=ROOM, fields="items(id,status),nextSyncToken").execute()
    assert set(page) == {"items", "nextSyncToken"} and set(page["items"][0]) == {"id", "status"}


def test_watch_and_stop(calendar: Any, receiver: tuple[Receiver, str], emulator: GoogleCalendarEmulator) -> None:
    sink, address = receiver
    channel = (
        calendar.events()
        .watch(
            calendarId=ROOM, body={"id": "chan-official-1", "type": "web_hook", "address": address, "token": "secret-1"}
        )
        .execute()
    )
    assert channel["kind"] == "api#channel" and channel["id"] == "chan-official-1" and channel["resourceId"]
    (handshake,) = sink.wait_for(1)
    assert handshake.headers["X-Goog-Resource-State"] == "sync"
    calendar.channels().stop(body={"id": channel["id"], "resourceId": channel["resourceId"]}).execute()


def test_calendar_list(calendar: Any) -> None:
    entries = calendar.calendarList().list().execute()
    assert {e["id"] for e in entries["items"]} >= {USER, ROOM}
    assert calendar.calendarList().get(calendarId=ROOM).execute()["accessRole"] == "writer"
