"""Token enforcement on /v1.0: bearer required, expiry, me/ vs app-only, access policy, tenants."""

from __future__ import annotations

from datetime import timedelta

import requests
from freezegun import freeze_time

from calendar_emulators.graph import GraphEmulator
from tests.emulators.graph.graph_helpers import ROOM
from tests.emulators.graph.graph_helpers import USER
from tests.emulators.graph.graph_helpers import Client
from tests.emulators.graph.graph_helpers import client_credentials
from tests.emulators.graph.graph_helpers import event_body

DELTA = "calendarView/delta?startDateTime=2024-01-01T00:00:00Z&endDateTime=2025-01-01T00:00:00Z"


def error_of(response: requests.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["innerError"]["request-id"] and error["innerError"]["date"]
    return error["message"]


def test_bearer_token_is_required(base: str) -> None:
    response = requests.get(f"{base}/v1.0/users/{ROOM}/events", timeout=5)
    assert error_of(response, 401, "InvalidAuthenticationToken") == "Access token is empty."
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    unknown = Client(base, "garbage").get(f"users/{ROOM}/events")
    error_of(unknown, 401, "InvalidAuthenticationToken")


def test_expired_token_gets_401(graph: GraphEmulator, base: str) -> None:
    with freeze_time("2024-05-01 08:00:00", tick=True) as frozen:
        client = Client(base, client_credentials(base).json()["access_token"])
        assert client.get(f"users/{ROOM}/{DELTA}").status_code == 200
        frozen.tick(3600)
        message = error_of(client.get(f"users/{ROOM}/{DELTA}"), 401, "InvalidAuthenticationToken")
        assert "expired" in message


def test_tokens_can_be_expired_early(graph: GraphEmulator, app_client: Client, user_client: Client) -> None:
    assert graph.expire_access_tokens(client_id="demo-client", user=USER) == 1
    error_of(user_client.get("me/events"), 401, "InvalidAuthenticationToken")
    assert app_client.get(f"users/{ROOM}/events").status_code == 200


def test_me_with_app_only_token_is_400(app_client: Client) -> None:
    message = error_of(app_client.get("me/events"), 400, "BadRequest")
    assert message == "/me request is only valid with delegated authentication flow."
    error_of(app_client.get(f"me/{DELTA}"), 400, "BadRequest")


def test_delegated_token_reaches_own_mailbox_by_me_or_upn_only(user_client: Client) -> None:
    assert user_client.get("me/events").status_code == 200
    assert user_client.get(f"users/{USER}/events").status_code == 200
    assert user_client.get("me").json()["userPrincipalName"] == USER
    error_of(user_client.get(f"users/{ROOM}/events"), 403, "ErrorAccessDenied")


def test_app_token_reaches_rooms_by_upn_or_id(graph: GraphEmulator, app_client: Client) -> None:
    room_id = graph.user(ROOM).id
    assert app_client.get(f"users/{ROOM}/events").status_code == 200
    assert app_client.get(f"users/{room_id}/events").status_code == 200
    assert app_client.get(f"Users/{ROOM.upper()}/calendarView/delta?startDateTime=2024-01-01&endDateTime=2024-02-01").ok


def test_application_access_policy_blocks_other_mailboxes(graph: GraphEmulator, app_client: Client) -> None:
    graph.set_allowed_mailboxes("demo-client", ["room-002@contoso.onmicrosoft.com"])
    message = error_of(app_client.get(f"users/{ROOM}/events"), 403, "ErrorAccessDenied")
    assert "AppOnly AccessPolicy" in message
    assert app_client.get("users/room-002@contoso.onmicrosoft.com/events").status_code == 200
    body = {"changeType": "updated", "notificationUrl": "https://x.example/n", "resource": f"users/{ROOM}/events"}
    body["expirationDateTime"] = (graph.clock.now() + timedelta(days=1)).isoformat()
    error_of(app_client.post("subscriptions", json=body), 403, "ErrorAccessDenied")


def test_unknown_user_is_404(app_client: Client) -> None:
    error_of(app_client.get("users/ghost@contoso.onmicrosoft.com/events"), 404, "ErrorInvalidUser")


def test_mailbox_of_another_tenant_is_401(graph: GraphEmulator, app_client: Client) -> None:
    other = graph.add_tenant("fabrikam.onmicrosoft.com")
    graph.add_room(other.id, "room@fabrikam.onmicrosoft.com")
    message = error_of(
        app_client.get("users/room@fabrikam.onmicrosoft.com/events"), 401, "OrganizationFromTenantGuidNotFound"
    )
    assert other.id in message


def test_read_only_app_cannot_write(app_client: Client) -> None:
    error_of(app_client.post(f"users/{ROOM}/events", json=event_body()), 403, "ErrorAccessDenied")


def test_read_write_role_writes_only_where_the_write_scope_allows(graph: GraphEmulator, base: str) -> None:
    graph.set_app_roles("demo-client", ["Calendars.ReadWrite"])
    client = Client(base, client_credentials(base).json()["access_token"])
    assert client.post(f"users/{ROOM}/events", json=event_body()).status_code == 201
    graph.set_writable_mailboxes("demo-client", ["room-002@contoso.onmicrosoft.com"])
    error_of(client.post(f"users/{ROOM}/events", json=event_body()), 403, "ErrorAccessDenied")
    assert client.get(f"users/{ROOM}/events").status_code == 200  # reads still reach it
    assert client.post("users/room-002@contoso.onmicrosoft.com/events", json=event_body()).status_code == 201
    graph.set_writable_mailboxes("demo-client", None)
    assert client.post(f"users/{ROOM}/events", json=event_body()).status_code == 201


def test_app_without_roles_has_no_permissions(graph: GraphEmulator, base: str) -> None:
    graph.add_app("bare", "contoso.onmicrosoft.com", secret="s")
    client = Client(base, client_credentials(base, client_id="bare", secret="s").json()["access_token"])
    error_of(client.get(f"users/{ROOM}/events"), 401, "NoPermissionsInAccessToken")


def test_unknown_segment_is_400(app_client: Client) -> None:
    error_of(app_client.get(f"users/{ROOM}/mailFolders"), 400, "BadRequest")


def test_client_request_id_is_echoed(app_client: Client) -> None:
    response = app_client.get(f"users/{ROOM}/events", headers={"client-request-id": "abc-123"})
    assert response.headers["client-request-id"] == "abc-123" and response.headers["request-id"]
