"""calendarView/delta: pages, links, incremental rounds, @removed, resync errors and the delta knobs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from calendar_emulators.graph import GraphEmulator
from tests.emulators.graph.graph_helpers import ROOM
from tests.emulators.graph.graph_helpers import Client

WINDOW = {"startDateTime": "2024-05-01T00:00:00Z", "endDateTime": "2024-06-01T00:00:00Z"}
DELTA = f"users/{ROOM}/calendarView/delta"


def make_events(graph: GraphEmulator, count: int, day: int = 2) -> list[dict[str, Any]]:
    return [
        graph.person_create_event(
            ROOM,
            f"Meeting {i}",
            f"2024-05-{day:02d}T{8 + i % 10:02d}:00:00",
            f"2024-05-{day:02d}T{9 + i % 10:02d}:00:00",
        )
        for i in range(count)
    ]


def run_round(
    client: Client, url: str | None = None, page_size: int | None = None
) -> tuple[list[dict], str, list[dict]]:
    """Follow nextLinks to the deltaLink; return (items, deltaLink, pages)."""
    headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else {}
    response = client.get(url or DELTA, params=None if url else WINDOW, headers=headers)
    pages = []
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        assert ("@odata.nextLink" in page) != ("@odata.deltaLink" in page)
        if "@odata.deltaLink" in page:
            items = [item for p in pages for item in p["value"]]
            return items, page["@odata.deltaLink"], pages
        response = client.get(page["@odata.nextLink"], headers=headers)


def test_initial_round_pages_with_next_links_then_a_delta_link(graph: GraphEmulator, app_client: Client) -> None:
    made = make_events(graph, 5)
    items, delta_link, pages = run_round(app_client, page_size=2)
    assert [len(p["value"]) for p in pages] == [2, 2, 1]
    assert sorted(i["id"] for i in items) == sorted(e["id"] for e in made)
    for page in pages[:-1]:
        assert "$skiptoken=" in page["@odata.nextLink"]
    assert "$deltatoken=" in delta_link
    assert all(i["@odata.type"] == "#microsoft.graph.event" and i["start"]["timeZone"] == "UTC" for i in items)
    assert items[0]["subject"] and items[0]["@odata.etag"] and items[0]["organizer"]


def test_links_are_absolute_urls_of_the_emulator(graph: GraphEmulator, app_client: Client, base: str) -> None:
    make_events(graph, 3)
    first = app_client.get(DELTA, params=WINDOW, headers={"Prefer": "odata.maxpagesize=2"})
    assert first.headers["Preference-Applied"] == "odata.maxpagesize=2"
    next_link = first.json()["@odata.nextLink"]
    assert next_link.startswith(f"{base}/v1.0/users/")
    assert urlsplit(next_link).query.startswith("$skiptoken=")
    assert "startDateTime" not in next_link  # the window lives in the opaque token


def test_the_odata_function_form_delta_parens_is_the_same_call(graph: GraphEmulator, app_client: Client) -> None:
    """msgraph-sdk asks for ``calendarView/delta()``; Graph serves it as ``calendarView/delta``."""
    made = make_events(graph, 3)
    first = app_client.get(DELTA + "()", params=WINDOW, headers={"Prefer": "odata.maxpagesize=2"})
    assert first.status_code == 200, first.text
    next_link = first.json()["@odata.nextLink"]
    assert urlsplit(next_link).path.endswith("/calendarView/delta")  # links in the short form
    items, delta_link, _ = run_round(app_client, next_link, page_size=2)
    assert sorted(i["id"] for i in first.json()["value"] + items) == sorted(e["id"] for e in made)
    assert urlsplit(delta_link).path.endswith("/calendarView/delta")
    graph.person_delete_event(ROOM, made[0]["id"])
    again = app_client.get(DELTA + "()?" + urlsplit(delta_link).query)
    assert again.status_code == 200 and [i["id"] for i in again.json()["value"]] == [made[0]["id"]]


def test_default_page_size_is_ten(graph: GraphEmulator, app_client: Client) -> None:
    make_events(graph, 12)
    _, _, pages = run_round(app_client)
    assert [len(p["value"]) for p in pages] == [10, 2]


def test_incremental_round_returns_only_changes(graph: GraphEmulator, app_client: Client) -> None:
    made = make_events(graph, 3)
    _, delta_link, _ = run_round(app_client)
    items, delta_link, _ = run_round(app_client, delta_link)
    assert items == []
    graph.person_update_event(ROOM, made[0]["id"], subject="Renamed")
    added = graph.person_create_event(ROOM, "New", "2024-05-20T09:00:00", "2024-05-20T10:00:00")
    items, delta_link, _ = run_round(app_client, delta_link)
    assert sorted((i["id"], i["subject"]) for i in items) == sorted([(made[0]["id"], "Renamed"), (added["id"], "New")])
    items, _, _ = run_round(app_client, delta_link)
    assert items == []


def test_deletions_and_moves_out_of_the_window_are_removed(graph: GraphEmulator, app_client: Client) -> None:
    made = make_events(graph, 3)
    _, delta_link, _ = run_round(app_client)
    graph.person_delete_event(ROOM, made[0]["id"])
    graph.person_move_event(ROOM, made[1]["id"], "2024-07-01T09:00:00", "2024-07-01T10:00:00")
    graph.person_cancel_event(ROOM, made[2]["id"])
    items, _, _ = run_round(app_client, delta_link)
    removed = {i["id"]: i for i in items if "@removed" in i}
    assert set(removed) == {made[0]["id"], made[1]["id"]}
    for item in removed.values():
        assert item == {"@odata.type": "#microsoft.graph.event", "id": item["id"], "@removed": {"reason": "deleted"}}
    cancelled = [i for i in items if "@removed" not in i]
    assert [(i["id"], i["isCancelled"]) for i in cancelled] == [(made[2]["id"], True)]


def test_changes_outside_the_window_come_as_removed(graph: GraphEmulator, app_client: Client) -> None:
    _, delta_link, _ = run_round(app_client)
    outside = graph.person_create_event(ROOM, "Far away", "2024-09-01T09:00:00", "2024-09-01T10:00:00")
    items, delta_link, _ = run_round(app_client, delta_link)
    assert items == [{"@odata.type": "#microsoft.graph.event", "id": outside["id"], "@removed": {"reason": "deleted"}}]
    moved_in = graph.person_move_event(ROOM, outside["id"], "2024-05-09T09:00:00", "2024-05-09T10:00:00")
    items, _, _ = run_round(app_client, delta_link)
    assert [(i["id"], i["start"]["dateTime"]) for i in items] == [(moved_in["id"], "2024-05-09T09:00:00.0000000")]


def test_recurring_series_in_delta(graph: GraphEmulator, app_client: Client) -> None:
    recurrence = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": "2024-05-30", "numberOfOccurrences": 5},
    }
    master = graph.person_create_event(
        ROOM, "Daily", "2024-05-30T09:00:00", "2024-05-30T09:15:00", recurrence=recurrence
    )
    items, delta_link, _ = run_round(app_client)
    assert [(i["type"], i["start"]["dateTime"][:10]) for i in items] == [
        ("occurrence", "2024-05-30"),
        ("occurrence", "2024-05-31"),
    ]
    assert all(i["seriesMasterId"] == master["id"] for i in items)
    graph.person_delete_event(ROOM, items[0]["id"])
    after, _, _ = run_round(app_client, delta_link)
    assert {"@odata.type": "#microsoft.graph.event", "id": items[0]["id"], "@removed": {"reason": "deleted"}} in after


@pytest.mark.parametrize(
    "option", ["$select=subject", "$filter=subject eq 'x'", "$expand=extensions", "$orderby=start", "$search=x"]
)
def test_unsupported_query_options_are_400(app_client: Client, option: str) -> None:
    response = app_client.get(f"{DELTA}?startDateTime=2024-05-01&endDateTime=2024-06-01&{option}")
    assert response.status_code == 400


def test_initial_call_needs_the_window(app_client: Client) -> None:
    response = app_client.get(DELTA, params={"startDateTime": "2024-05-01T00:00:00Z"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "ErrorInvalidParameter"
    lower = app_client.get(
        DELTA, params={"startdatetime": "2024-05-01T00:00:00Z", "enddatetime": "2024-05-02T00:00:00Z"}
    )
    assert lower.status_code == 200


def test_invalidated_token_is_410_sync_state_not_found(graph: GraphEmulator, app_client: Client) -> None:
    make_events(graph, 3)
    first = app_client.get(DELTA, params=WINDOW, headers={"Prefer": "odata.maxpagesize=1"}).json()
    _, delta_link, _ = run_round(app_client)
    assert graph.invalidate_delta_tokens(ROOM) >= 1
    for url in (delta_link, first["@odata.nextLink"]):
        response = app_client.get(url)
        assert response.status_code == 410
        assert response.json()["error"]["code"] == "syncStateNotFound"
    garbage = app_client.get(f"{DELTA}?$deltatoken=not-a-token")
    assert garbage.status_code == 410


def test_410_with_location_knob(graph: GraphEmulator, app_client: Client, base: str) -> None:
    _, delta_link, _ = run_round(app_client)
    graph.configure(delta_gone_with_location=True)
    graph.invalidate_delta_tokens()
    response = app_client.get(delta_link)
    assert response.status_code == 410
    location = response.headers["Location"]
    assert location.startswith(f"{base}/v1.0/users/") and "startDateTime=2024-05-01T00%3A00%3A00Z" in location
    assert app_client.get(location).status_code == 200


def test_evicted_and_expired_tokens(graph: GraphEmulator, app_client: Client) -> None:
    _, old_link, _ = run_round(app_client)
    graph.configure(delta_state_capacity=2)
    run_round(app_client)
    run_round(app_client)
    assert app_client.get(old_link).status_code == 410
    graph.configure(delta_state_capacity=100, delta_token_max_age=600)
    _, link, _ = run_round(app_client)
    graph.clock.advance(601)
    assert app_client.get(link).status_code == 410


def test_empty_pages_and_duplicates_knobs(graph: GraphEmulator, app_client: Client) -> None:
    made = make_events(graph, 3)
    graph.configure(delta_empty_pages=2, delta_duplicate_items=1)
    items, _, pages = run_round(app_client, page_size=10)
    assert [len(p["value"]) for p in pages] == [0, 0, 4]
    assert "@odata.nextLink" in pages[0] and "@odata.nextLink" in pages[1]
    ids = [i["id"] for i in items]
    assert len(ids) == 4 and len(set(ids)) == 3 and set(ids) == {e["id"] for e in made}


def test_replay_previous_round_knob(graph: GraphEmulator, app_client: Client) -> None:
    made = make_events(graph, 2)
    graph.configure(delta_replay_previous=True)
    _, link, _ = run_round(app_client)
    items, _, _ = run_round(app_client, link)
    assert sorted(i["id"] for i in items) == sorted(e["id"] for e in made)  # the initial round replayed


def test_visibility_delay_knob(graph: GraphEmulator, app_client: Client) -> None:
    graph.configure(delta_visibility_delay=30)
    _, link, _ = run_round(app_client)
    fresh = graph.person_create_event(ROOM, "Fresh", "2024-05-10T09:00:00", "2024-05-10T10:00:00")
    items, link, _ = run_round(app_client, link)
    assert items == []
    graph.clock.advance(31)
    items, _, _ = run_round(app_client, link)
    assert [i["id"] for i in items] == [fresh["id"]]


def test_prefer_timezone_applies_to_delta(graph: GraphEmulator, app_client: Client) -> None:
    make_events(graph, 1)
    response = app_client.get(DELTA, params=WINDOW, headers={"Prefer": 'outlook.timezone="W. Europe Standard Time"'})
    item = response.json()["value"][0]
    assert item["start"] == {"dateTime": "2024-05-02T10:00:00.0000000", "timeZone": "W. Europe Standard Time"}


def test_delta_for_me_with_delegated_token(user_client: Client) -> None:
    created = user_client.post(
        "me/events",
        json={
            "subject": "Mine",
            "start": {"dateTime": "2024-05-03T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2024-05-03T10:00:00", "timeZone": "UTC"},
        },
    ).json()
    response = user_client.get("me/calendarView/delta", params=WINDOW)
    assert [i["id"] for i in response.json()["value"]] == [created["id"]]
    assert "/v1.0/me/calendarView/delta?$deltatoken=" in response.json()["@odata.deltaLink"]


def test_a_token_is_bound_to_its_mailbox(graph: GraphEmulator, app_client: Client) -> None:
    _, link, _ = run_round(app_client)
    other = link.replace("room-001", "room-002")
    assert app_client.get(other).status_code == 410
