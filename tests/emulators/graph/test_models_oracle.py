"""The msgraph-sdk model check itself: it finds each kind of departure (so a clean emulator means something)."""

from __future__ import annotations

from typing import Any

import pytest
from msgraph.generated.models.event import Event
from msgraph.generated.models.event_collection_response import EventCollectionResponse
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.calendar_view.delta.delta_get_response import DeltaGetResponse

from tests.emulators.graph import models

GOOD: dict[str, Any] = {
    "@odata.etag": 'W/"DwAAABYAAAA="',
    "id": "AAMkAGI2",
    "subject": "Standup",
    "isAllDay": False,
    "showAs": "busy",
    "type": "singleInstance",
    "reminderMinutesBeforeStart": 15,
    "createdDateTime": "2024-05-01T09:00:00.1234567Z",
    "categories": [],
    "start": {"dateTime": "2024-05-01T09:00:00.0000000", "timeZone": "UTC"},
    "end": {"dateTime": "2024-05-01T09:30:00.0000000", "timeZone": "UTC"},
    "body": {"contentType": "text", "content": "hello"},
    "location": None,
    "attendees": [
        {
            "type": "required",
            "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            "emailAddress": {"name": "Pat", "address": "pat@example.com"},
        }
    ],
    "singleValueExtendedProperties": [{"id": "String {x} Name b", "value": "4711"}],
}


def test_a_good_event_has_no_problems() -> None:
    assert models.problems(GOOD, Event) == []


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ({"occurrenceId": "OID.1"}, "Event.occurrenceId: no such property on Event"),
        ({"body": {"contentType": "text", "content": "x", "extra": 1}}, "Event.body.extra: no such property on"),
        ({"isAllDay": "false"}, "Event.isAllDay: 'false' is not of the declared type"),
        ({"reminderMinutesBeforeStart": "15"}, "Event.reminderMinutesBeforeStart: '15' is not of the declared type"),
        ({"showAs": "away"}, "Event.showAs: 'away' is not of the declared type (or enum)"),
        ({"createdDateTime": "2024-05-01T09:00:00"}, "Event.created_date_time: 2024-05-01T09:00:00 has no UTC offset"),
        ({"start": {"dateTime": "2024-05-01T09:00:00", "timeZone": 1}}, "Event.start.timeZone: 1 is not of the"),
        ({"categories": "work"}, "Event: kiota could not read it"),
        ({"attendees": {"type": "required"}}, "Event.attendees: {'type': 'required'} was not read as an object"),
        ({"attendees": [{"type": "maybe"}]}, "Event.attendees[0].type: 'maybe' is not of the declared type"),
    ],
)
def test_each_departure_is_found(change: dict[str, Any], found: str) -> None:
    (problem,) = models.problems({**GOOD, **change}, Event)
    assert problem.startswith(found), problem


def test_annotations_are_not_properties() -> None:
    delta = {
        "@odata.context": "x",
        "@odata.deltaLink": "https://x/delta?$deltatoken=1",
        "value": [GOOD, {"@odata.type": "#microsoft.graph.event", "id": "gone", "@removed": {"reason": "deleted"}}],
    }
    assert models.problems(delta, DeltaGetResponse) == []


@pytest.mark.parametrize(
    ("method", "path", "status", "model"),
    [
        ("GET", "/v1.0/me/calendarView/delta", 200, DeltaGetResponse),
        ("GET", "/v1.0/users/room@x/calendarview/delta()", 200, DeltaGetResponse),
        ("GET", "/v1.0/me/events", 200, EventCollectionResponse),
        ("GET", "/v1.0/me/calendars/c1/events/e1/instances", 200, EventCollectionResponse),
        ("POST", "/v1.0/me/events", 201, Event),
        ("PATCH", "/v1.0/users/room@x/events/e1", 200, Event),
        ("POST", "/v1.0/subscriptions", 201, Subscription),
        ("PATCH", "/v1.0/subscriptions/s1", 200, Subscription),
        ("GET", "/v1.0/me/events/e1", 404, ODataError),
        ("POST", "/v1.0/$batch", 200, None),
        ("POST", "/contoso.onmicrosoft.com/oauth2/v2.0/token", 200, None),
    ],
)
def test_the_model_is_found_from_method_path_and_status(method: str, path: str, status: int, model: Any) -> None:
    assert models.model_for(method, path, status) is model
