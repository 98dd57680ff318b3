"""Recurring series over the API: the supported RRULE parts, refusals, and instances as addressable events."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulators.google.conftest import Api

EVENTS = "/calendars/primary/events"


def series(start: str, end: str, *recurrence: str, time_zone: str = "UTC") -> dict[str, Any]:
    return {
        "summary": "series",
        "start": {"dateTime": start, "timeZone": time_zone},
        "end": {"dateTime": end, "timeZone": time_zone},
        "recurrence": list(recurrence),
    }


def instance_days(api: Api, **window: str) -> list[str]:
    items, _, _ = api.list_all("primary", singleEvents="true", orderBy="startTime", **window)
    return [item["start"]["dateTime"][:10] for item in items]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("RRULE:FREQ=MONTHLY;COUNT=4", ["2030-01-31", "2030-03-31", "2030-05-31", "2030-07-31"]),
        ("RRULE:FREQ=YEARLY;COUNT=2", ["2030-01-31", "2031-01-31"]),
        ("RRULE:FREQ=DAILY;BYDAY=SA,SU;COUNT=3", ["2030-02-02", "2030-02-03", "2030-02-09"]),
        ("RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=3", ["2030-01-31", "2030-02-14", "2030-02-28"]),
        ("RRULE:FREQ=WEEKLY;BYDAY=TH;UNTIL=20300214", ["2030-01-31", "2030-02-07", "2030-02-14"]),
    ],
)
def test_supported_rules_expand(api: Api, rule: str, expected: list[str]) -> None:
    api.insert("primary", series("2030-01-31T09:00:00", "2030-01-31T10:00:00", rule))  # a Thursday
    assert instance_days(api) == expected


def test_exdate_with_a_tzid_and_rdate(api: Api) -> None:
    body = series(
        "2030-01-01T09:00:00",
        "2030-01-01T10:00:00",
        "RRULE:FREQ=DAILY;COUNT=3",
        "EXDATE;TZID=Europe/Amsterdam:20300102T090000",
        "RDATE;TZID=Europe/Amsterdam:20300110T090000",
        time_zone="Europe/Amsterdam",
    )
    api.insert("primary", body)
    assert instance_days(api) == ["2030-01-01", "2030-01-03", "2030-01-10"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (series("2030-01-01T09:00:00", "2030-01-01T10:00:00", "RRULE:FREQ=HOURLY"), "Invalid recurrence rule."),
        (series("2030-01-01T09:00:00", "2030-01-01T10:00:00", "RRULE:FREQ=DAILY;COUNT=2;UNTIL=20300105"), None),
        (
            {
                "start": {"dateTime": "2030-01-01T09:00:00Z"},
                "end": {"dateTime": "2030-01-01T10:00:00Z"},
                "recurrence": ["RRULE:FREQ=DAILY"],
            },
            "Missing time zone definition for start time.",
        ),
    ],
)
def test_bad_series_are_refused(api: Api, body: dict[str, Any], message: str | None) -> None:
    response = api.post(EVENTS, json=body)
    assert response.status_code == 400
    if message:
        assert response.json()["error"]["message"] == message


def test_an_open_ended_series_is_bounded_by_the_window(api: Api) -> None:
    api.insert("primary", series("2030-01-01T09:00:00", "2030-01-01T10:00:00", "RRULE:FREQ=DAILY"))
    days = instance_days(api, timeMin="2030-03-01T00:00:00Z", timeMax="2030-03-04T00:00:00Z")
    assert days == ["2030-03-01", "2030-03-02", "2030-03-03"]


def test_instances_can_be_read_patched_and_deleted_by_id(api: Api) -> None:
    master = api.insert("primary", series("2030-01-01T09:00:00", "2030-01-01T10:00:00", "RRULE:FREQ=DAILY;COUNT=3"))
    second = f"{master['id']}_20300102T090000Z"
    third = f"{master['id']}_20300103T090000Z"
    got = api.get(f"{EVENTS}/{second}").json()
    assert got["recurringEventId"] == master["id"] and "recurrence" not in got
    assert api.get(f"{EVENTS}/{master['id']}_20300104T090000Z").status_code == 404  # past COUNT

    patched = api.patch(f"{EVENTS}/{second}", json={"summary": "special"}).json()
    assert patched["id"] == second and patched["summary"] == "special"
    assert patched["originalStartTime"] == {"dateTime": "2030-01-02T09:00:00Z", "timeZone": "UTC"}
    assert api.delete(f"{EVENTS}/{third}").status_code == 204
    assert api.delete(f"{EVENTS}/{third}").status_code == 410

    items, _, _ = api.list_all("primary", singleEvents="true", orderBy="startTime")
    assert [(i["id"], i["summary"]) for i in items] == [
        (f"{master['id']}_20300101T090000Z", "series"),
        (second, "special"),
    ]
    # without singleEvents: the master, the modified instance, and the cancelled one as a bare tombstone
    masters, _, _ = api.list_all("primary")
    assert [(i["id"], i["status"]) for i in masters] == [
        (master["id"], "confirmed"),
        (second, "confirmed"),
        (third, "cancelled"),
    ]
    assert set(masters[2]) == {"kind", "etag", "id", "status", "recurringEventId", "originalStartTime"}
