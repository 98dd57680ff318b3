"""The discovery-document check itself: it finds each kind of departure (so a clean emulator means something)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulators.google import discovery

GOOD: dict[str, Any] = {
    "kind": "calendar#event",
    "etag": '"3181161784712000"',
    "id": "abc123def456",
    "status": "confirmed",
    "created": "2030-03-01T09:00:00.000Z",
    "updated": "2030-03-01T09:00:00.000Z",
    "sequence": 0,
    "start": {"dateTime": "2030-03-04T10:00:00+01:00", "timeZone": "Europe/Amsterdam"},
    "end": {"date": "2030-03-05"},
    "attendees": [{"email": "a@example.com", "responseStatus": "needsAction"}],
    "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 10}]},
    "extendedProperties": {"private": {"anything": "goes"}},
}


def test_a_good_event_has_no_problems() -> None:
    assert discovery.problems(GOOD, "Event") == []


@pytest.mark.parametrize(
    ("change", "found"),
    [
        ({"notAField": 1}, "Event.notAField: no such property"),
        ({"sequence": "0"}, "Event.sequence: '0' is not an int32"),
        ({"status": "deleted"}, "Event.status: 'deleted' is none of"),
        ({"created": "2030-03-01 09:00"}, "Event.created: '2030-03-01 09:00' is not of format date-time"),
        (
            {"start": {"dateTime": "2030-03-04T10:00:00"}},
            "Event.start.dateTime: '2030-03-04T10:00:00' is not of format",
        ),
        ({"end": {"date": "2030-3-5"}}, "Event.end.date: '2030-3-5' is not of format date"),
        ({"attendees": [{"email": "a@example.com", "responseStatus": "yes"}]}, "Event.attendees[0].responseStatus"),
        ({"reminders": {"useDefault": "false"}}, "Event.reminders.useDefault: 'false' is not a boolean"),
        ({"extendedProperties": {"private": {"n": 1}}}, "Event.extendedProperties.private.n: 1 is not a string"),
        ({"kind": "calendar#events"}, "Event.kind: 'calendar#events', not 'calendar#event'"),
        ({"description": None}, "Event.description: null"),
        ({"attendees": {"email": "a@example.com"}}, "Event.attendees: {"),
    ],
)
def test_each_departure_is_found(change: dict[str, Any], found: str) -> None:
    (problem,) = discovery.problems({**GOOD, **change}, "Event")
    assert problem.startswith(found), problem


@pytest.mark.parametrize(
    ("method", "path", "schema"),
    [
        ("POST", "/calendar/v3/calendars/room%40x/events/watch", "Channel"),
        ("POST", "/calendar/v3/calendars/room@x/events", "Event"),
        ("GET", "/calendar/v3/calendars/primary/events", "Events"),
        ("GET", "/calendar/v3/calendars/primary/events/e1/instances", "Events"),
        ("PATCH", "/calendar/v3/calendars/primary/events/e1", "Event"),
        ("GET", "/calendar/v3/users/me/calendarList", "CalendarList"),
        ("DELETE", "/calendar/v3/calendars/primary/events/e1", None),
        ("POST", "/calendar/v3/channels/stop", None),
    ],
)
def test_the_schema_is_found_from_method_and_path(method: str, path: str, schema: str | None) -> None:
    assert discovery.schema_for(method, path) == schema
