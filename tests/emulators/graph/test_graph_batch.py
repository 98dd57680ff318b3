"""JSON batching: per-item status, dependsOn and 424, limits, inner throttling."""

from __future__ import annotations

from typing import Any

from calendar_emulators.graph import GraphEmulator
from tests.emulators.graph.graph_helpers import ROOM
from tests.emulators.graph.graph_helpers import Client
from tests.emulators.graph.graph_helpers import event_body


def batch(client: Client, requests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    response = client.post("$batch", json={"requests": requests})
    assert response.status_code == 200, response.text
    return {r["id"]: r for r in response.json()["responses"]}


def test_batch_answers_each_request(user_client: Client) -> None:
    results = batch(
        user_client,
        [
            {
                "id": "1",
                "method": "POST",
                "url": "/me/events",
                "headers": {"Content-Type": "application/json"},
                "body": event_body(),
            },
            {"id": "2", "method": "GET", "url": "/me/events/nope"},
            {"id": "3", "method": "GET", "url": "/me/events", "dependsOn": ["1"]},
            {"id": "4", "method": "DELETE", "url": "/me/events/nope2", "dependsOn": ["2"]},
        ],
    )
    assert results["1"]["status"] == 201 and results["1"]["body"]["subject"] == "Standup"
    assert results["2"]["status"] == 404 and results["2"]["body"]["error"]["code"] == "ErrorItemNotFound"
    assert results["3"]["status"] == 200 and [e["id"] for e in results["3"]["body"]["value"]] == [
        results["1"]["body"]["id"]
    ]
    assert results["4"]["status"] == 424


def test_malformed_batches_are_400(user_client: Client) -> None:
    many = [{"id": str(i), "method": "GET", "url": "/me/events"} for i in range(21)]
    assert user_client.post("$batch", json={"requests": many}).status_code == 400
    twins = [{"id": "a", "method": "GET", "url": "/me/events"}, {"id": "A", "method": "GET", "url": "/me/events"}]
    assert user_client.post("$batch", json={"requests": twins}).status_code == 400
    no_type = [{"id": "1", "method": "POST", "url": "/me/events", "body": event_body()}]
    assert user_client.post("$batch", json={"requests": no_type}).status_code == 400
    assert user_client.post("$batch", data="nope", headers={"Content-Type": "application/json"}).status_code == 400


def test_inner_requests_are_throttled_individually(graph: GraphEmulator, app_client: Client) -> None:
    graph.configure(request_budget=2)
    results = batch(app_client, [{"id": str(i), "method": "GET", "url": f"/users/{ROOM}/events"} for i in range(3)])
    statuses = sorted(r["status"] for r in results.values())
    assert statuses == [200, 200, 429]
    throttled = next(r for r in results.values() if r["status"] == 429)
    assert int(throttled["headers"]["Retry-After"]) > 0
