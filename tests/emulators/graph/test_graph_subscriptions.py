"""Subscriptions: validation handshake, limits, renew/delete, notifications, batching, lifecycle events."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import requests

from calendar_emulators.core import PushFaults
from calendar_emulators.graph import GraphEmulator
from tests.emulators.graph.graph_helpers import ROOM
from tests.emulators.graph.graph_helpers import Client
from tests.emulators.graph.graph_helpers import Receiver
from tests.emulators.graph.graph_helpers import client_credentials
from tests.emulators.graph.graph_helpers import event_body

ROOM2 = "room-002@contoso.onmicrosoft.com"


def expiry(graph: GraphEmulator, minutes: float) -> str:
    return (graph.clock.now() + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def sub_body(
    graph: GraphEmulator, hook_url: str, resource: str = f"users/{ROOM}/events", **extra: Any
) -> dict[str, Any]:
    body = {
        "changeType": "created,updated,deleted",
        "notificationUrl": f"{hook_url}/notify?tenant=contoso",
        "lifecycleNotificationUrl": f"{hook_url}/lifecycle",
        "resource": resource,
        "expirationDateTime": expiry(graph, 3 * 24 * 60),
        "clientState": "s3cret-state",
        "latestSupportedTlsVersion": "v1_2",
    }
    body.update(extra)
    return body


def subscribe(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("subscriptions", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def settle(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    """Wait for ``count`` POSTs, then a little longer to see that no more arrive."""
    receiver.wait_posts(count)
    time.sleep(0.15)
    return receiver.posts


def test_create_runs_the_validation_handshake(
    graph: GraphEmulator, app_client: Client, receiver: Receiver, hook_url: str
) -> None:
    sub = subscribe(app_client, sub_body(graph, hook_url))
    for key in (
        "id", "resource", "applicationId", "changeType", "clientState", "notificationUrl", "lifecycleNotificationUrl",
        "expirationDateTime", "creatorId", "includeResourceData", "latestSupportedTlsVersion", "encryptionCertificate",
        "encryptionCertificateId", "notificationUrlAppId", "notificationQueryOptions",
    ):  # fmt: skip
        assert key in sub
    assert sub["applicationId"] == "demo-client" and sub["clientState"] == "s3cret-state"
    assert sub["changeType"] == "created,updated,deleted" and sub["includeResourceData"] is False
    assert [v["path"] for v in receiver.validations] == ["/notify", "/lifecycle"]
    check = receiver.validations[0]
    assert check["headers"]["Content-Type"] == "text/plain; charset=utf-8"
    assert " " in check["token"] and ":" in check["token"]  # needs URL-encoding...
    assert check["raw"] != check["token"]  # ...and was sent encoded


@pytest.mark.parametrize("mode", ["raw", "fail", "json"])
def test_a_bad_handshake_fails_the_create(
    graph: GraphEmulator, app_client: Client, receiver: Receiver, hook_url: str, mode: str
) -> None:
    receiver.mode = mode
    response = app_client.post("subscriptions", json=sub_body(graph, hook_url))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "InvalidRequest"
    assert error["message"].startswith("Subscription validation request failed.")
    assert app_client.get("subscriptions").json()["value"] == []


def test_the_lifecycle_url_is_validated_too(
    graph: GraphEmulator, app_client: Client, receiver: Receiver, hook_url: str
) -> None:
    body = sub_body(graph, hook_url, lifecycleNotificationUrl="http://127.0.0.1:9/unreachable")
    assert app_client.post("subscriptions", json=body).status_code == 400


def test_https_is_required_unless_allowed(
    graph: GraphEmulator, app_client: Client, hook_url: str, receiver: Receiver
) -> None:
    graph.configure(allow_http_notifications=False)
    response = app_client.post("subscriptions", json=sub_body(graph, hook_url))
    assert response.status_code == 400 and receiver.validations == []


def test_maximum_lifetime(graph: GraphEmulator, app_client: Client, hook_url: str, receiver: Receiver) -> None:
    too_long = app_client.post("subscriptions", json=sub_body(graph, hook_url, expirationDateTime=expiry(graph, 10081)))
    assert too_long.status_code == 400
    assert too_long.json()["error"]["message"] == "Subscription expiration can only be 10080 minutes in the future."
    graph.configure(max_subscription_minutes=4230)
    older = app_client.post("subscriptions", json=sub_body(graph, hook_url, expirationDateTime=expiry(graph, 4231)))
    assert "4230 minutes" in older.json()["error"]["message"]
    assert (
        app_client.post(
            "subscriptions", json=sub_body(graph, hook_url, expirationDateTime=expiry(graph, 4229))
        ).status_code
        == 201
    )
    past = app_client.post("subscriptions", json=sub_body(graph, hook_url, expirationDateTime=expiry(graph, -1)))
    assert past.status_code == 400


@pytest.mark.parametrize(
    "extra",
    [
        {"clientState": "x" * 129},
        {"changeType": "created,moved"},
        {"resource": f"users/{ROOM}/messages"},
        {"notificationUrl": "not a url"},
    ],
)
def test_invalid_requests(
    graph: GraphEmulator, app_client: Client, hook_url: str, receiver: Receiver, extra: dict
) -> None:
    response = app_client.post("subscriptions", json=sub_body(graph, hook_url, **extra))
    assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidRequest"


def test_renew_delete_and_404(graph: GraphEmulator, app_client: Client, hook_url: str, receiver: Receiver) -> None:
    sub = subscribe(app_client, sub_body(graph, hook_url))
    renewed = app_client.patch(f"subscriptions/{sub['id']}", json={"expirationDateTime": expiry(graph, 5000)})
    assert renewed.status_code == 200 and renewed.json()["expirationDateTime"] != sub["expirationDateTime"]
    assert len(receiver.validations) == 2  # no new handshake on renewal
    assert app_client.post(f"subscriptions/{sub['id']}/reauthorize").status_code == 204
    assert app_client.delete(f"subscriptions/{sub['id']}").status_code == 204
    assert (
        app_client.patch(f"subscriptions/{sub['id']}", json={"expirationDateTime": expiry(graph, 60)}).status_code
        == 404
    )
    assert app_client.get(f"subscriptions/{sub['id']}").status_code == 404
    assert app_client.delete(f"subscriptions/{sub['id']}").status_code == 404


def test_list_shows_only_the_calling_apps_subscriptions(
    graph: GraphEmulator, app_client: Client, base: str, hook_url: str, receiver: Receiver
) -> None:
    graph.add_app("other", "contoso.onmicrosoft.com", secret="s", application=["Calendars.Read"])
    other = Client(base, client_credentials(base, client_id="other", secret="s").json()["access_token"])
    mine = subscribe(app_client, sub_body(graph, hook_url))
    theirs = subscribe(other, sub_body(graph, hook_url, resource=f"users/{ROOM2}/events"))
    assert [s["id"] for s in app_client.get("subscriptions").json()["value"]] == [mine["id"]]
    assert [s["id"] for s in other.get("subscriptions").json()["value"]] == [theirs["id"]]
    assert app_client.get(f"subscriptions/{theirs['id']}").status_code == 404


def test_subscriptions_expire_silently(
    graph: GraphEmulator, app_client: Client, hook_url: str, receiver: Receiver
) -> None:
    sub = subscribe(app_client, sub_body(graph, hook_url, expirationDateTime=expiry(graph, 30)))
    graph.clock.advance(1801)
    graph.person_create_event(ROOM, "Nobody hears", "2024-05-01T09:00:00", "2024-05-01T10:00:00")
    graph.flush_notifications()
    assert receiver.posts == []
    assert app_client.get(f"subscriptions/{sub['id']}").status_code == 404
    assert graph.list_subscriptions() == []


def test_a_change_is_notified_with_subscription_id_and_client_state(
    graph: GraphEmulator, app_client: Client, hook_url: str, receiver: Receiver
) -> None:
    sub = subscribe(app_client, sub_body(graph, hook_url))
    event = graph.person_create_event(ROOM, "Board", "2024-05-01T09:00:00", "2024-05-01T10:00:00")
    post = settle(receiver, 1)[0]
    assert post["path"] == "/notify" and post["args"] == {"tenant": "contoso"}
    [note] = post["json"]["value"]
    room_id = graph.user(ROOM).id
    assert note["subscriptionId"] == sub["id"] and note["clientState"] == "s3cret-state"
    assert note["changeType"] == "created" and note["tenantId"] == graph.user(ROOM).tenant_id
    assert note["resource"] == f"Users/{room_id}/Events/{event['id']}"
    assert note["subscriptionExpirationDateTime"] == sub["expirationDateTime"]
    assert note["resourceData"] == {
        "@odata.type": "#Microsoft.Graph.Event",
        "@odata.id": note["resource"],
        "@odata.etag": event["@odata.etag"],
        "id": event["id"],
    }
    assert note["id"]


def test_notifications_within_the_window_are_batched(
    graph: GraphEmulator, app_client: Client, hook_url: str, receiver: Receiver
) -> None:
    graph.configure(notification_batch_window=0.2)
    first = subscribe(app_client, sub_body(graph, hook_url))
    second = subscribe(app_client, sub_body(graph, hook_url, resource=f"users/{ROOM2}/events"))
    event = graph.person_create_event(ROOM, "A", "2024-05-01T09:00:00", "2024-05-01T10:00:00")
    graph.person_create_event(ROOM2, "B", "2024-05-01T09:00:00", "2024-05-01T10:00:00")
    graph.person_delete_event(ROOM, event["id"])
    posts = settle(receiver, 1)
    assert len(posts) == 1
    notes = posts[0]["json"]["value"]
    assert [(n["subscriptionId"], n["changeType"]) for n in notes] == [
        (first["id"], "created"),
        (second["id"], "created"),
        (first["id"], "deleted"),
    ]


def test_change_types_filter_notifications(
    graph: GraphEmulator, app_client: Client, hook_url: str, receiver: Receiver
) -> None:
    subscribe(app_client, sub_body(graph, hook_url, changeType="deleted"))
    event = graph.person_create_event(ROOM, "A", "2024-05-01T09:00:00", "2024-05-01T10:00:00")
    graph.person_update_event(ROOM, event["id"], subject="B")
    graph.person_delete_event(ROOM, event["id"])
    posts = settle(receiver, 1)
    assert [n["changeType"] for p in posts for n in p["json"]["value"]] == ["deleted"]


def test_delegated_subscription_on_me_events(
    graph: GraphEmulator, user_client: Client, hook_url: str, receiver: Receiver
) -> None:
    sub = subscribe(user_client, sub_body(graph, hook_url, resource="me/events"))
    assert sub["creatorId"] == graph.user("alex@contoso.onmicrosoft.com").id
    created = user_client.post("me/events", json=event_body()).json()
    [note] = settle(receiver, 1)[0]["json"]["value"]
    assert note["resourceData"]["id"] == created["id"] and note["subscriptionId"] == sub["id"]


def test_app_only_token_cannot_subscribe_to_me(
    graph: GraphEmulator, app_client: Client, hook_url: str, receiver: Receiver
) -> None:
    response = app_client.post("subscriptions", json=sub_body(graph, hook_url, resource="me/events"))
    assert response.status_code == 400


@pytest.mark.parametrize("event", ["reauthorizationRequired", "subscriptionRemoved", "missed"])
def test_lifecycle_notifications(
    graph: GraphEmulator, app_client: Client, hook_url: str, receiver: Receiver, base: str, event: str
) -> None:
    sub = subscribe(app_client, sub_body(graph, hook_url))
    response = requests.post(f"{base}/_emulator/subscriptions/{sub['id']}/lifecycle", json={"event": event}, timeout=5)
    assert response.status_code == 200
    post = settle(receiver, 1)[0]
    assert post["path"] == "/lifecycle"
    assert post["json"]["value"] == [
        {
            "subscriptionId": sub["id"],
            "subscriptionExpirationDateTime": sub["expirationDateTime"],
            "tenantId": graph.user(ROOM).tenant_id,
            "clientState": "s3cret-state",
            "lifecycleEvent": event,
        }
    ]
    still_there = app_client.get(f"subscriptions/{sub['id']}").status_code == 200
    assert still_there is (event != "subscriptionRemoved")


def test_push_faults_hold_and_release(
    graph: GraphEmulator, app_client: Client, hook_url: str, receiver: Receiver
) -> None:
    subscribe(app_client, sub_body(graph, hook_url))
    graph.deliverer.configure(PushFaults(hold=True))
    graph.person_create_event(ROOM, "A", "2024-05-01T09:00:00", "2024-05-01T10:00:00")
    graph.flush_notifications()
    assert receiver.posts == []
    assert graph.deliverer.release() == 1
    assert len(settle(receiver, 1)) == 1
