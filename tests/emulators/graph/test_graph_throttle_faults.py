"""Throttling per (app, mailbox), injected faults in Graph's and AAD's shapes, and the HTTP control surface."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from calendar_emulators.core import Fault
from calendar_emulators.graph import GraphEmulator
from tests.emulators.graph.graph_helpers import ROOM
from tests.emulators.graph.graph_helpers import TENANT
from tests.emulators.graph.graph_helpers import Client
from tests.emulators.graph.graph_helpers import authorize
from tests.emulators.graph.graph_helpers import client_credentials

ROOM2 = "room-002@contoso.onmicrosoft.com"


def burst(client: Client, paths: list[str]) -> list[requests.Response]:
    with ThreadPoolExecutor(len(paths)) as pool:
        return list(pool.map(client.get, paths))


def test_fifth_concurrent_request_to_a_mailbox_is_throttled(graph: GraphEmulator, app_client: Client) -> None:
    graph.latency = 0.4
    responses = burst(app_client, [f"users/{ROOM}/events"] * 6 + [f"users/{ROOM2}/events"] * 2)
    room1 = [r.status_code for r in responses[:6]]
    assert sorted(room1) == [200, 200, 200, 200, 429, 429]
    assert [r.status_code for r in responses[6:]] == [200, 200]  # every mailbox has its own limit
    throttled = next(r for r in responses if r.status_code == 429)
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"] == {
        **throttled.json()["error"],
        "code": "ApplicationThrottled",
        "message": "Application is over its MailboxConcurrency limit.",
    }
    graph.latency = 0
    assert app_client.get(f"users/{ROOM}/events").status_code == 200


def test_request_budget_per_window(graph: GraphEmulator, app_client: Client) -> None:
    graph.configure(request_budget=3, budget_window=600)
    assert [app_client.get(f"users/{ROOM}/events").status_code for _ in range(3)] == [200, 200, 200]
    over = app_client.get(f"users/{ROOM}/events")
    assert over.status_code == 429 and 590 <= int(over.headers["Retry-After"]) <= 600
    assert app_client.get(f"users/{ROOM2}/events").status_code == 200
    graph.clock.advance(601)
    assert app_client.get(f"users/{ROOM}/events").status_code == 200


@pytest.mark.parametrize(
    ("fault", "code", "retry_after"),
    [
        (Fault(status=429, retry_after=7), "ApplicationThrottled", "7"),
        (Fault(status=429), "ApplicationThrottled", None),
        (Fault(status=429, reason="TooManyRequests", retry_after=0), "TooManyRequests", "0"),
        (Fault(status=500), "ErrorInternalServerError", None),
        (Fault(status=503, retry_after=3), "ServiceNotAvailable", "3"),
        (Fault(status=503), "ServiceNotAvailable", None),
        (Fault(status=504), "UnknownError", None),
        (Fault(status=401), "InvalidAuthenticationToken", None),
        (Fault(status=410), "syncStateNotFound", None),
        (Fault(status=404), "ErrorItemNotFound", None),
    ],
)
def test_status_faults_have_graph_bodies(
    graph: GraphEmulator, app_client: Client, fault: Fault, code: str, retry_after: str | None
) -> None:
    fault.path = "/v1.0/"
    graph.faults.add(fault)
    response = app_client.get(f"users/{ROOM}/events")
    assert response.status_code == fault.status
    error = response.json()["error"]
    assert error["code"] == code and "request-id" in error["innerError"]
    assert response.headers.get("Retry-After") == retry_after
    assert app_client.get(f"users/{ROOM}/events").status_code == 200  # one-shot
    assert graph.requests.count(status=fault.status) == 1


def test_timeout_and_reset_faults(graph: GraphEmulator, app_client: Client) -> None:
    graph.faults.add(Fault(kind="timeout", delay=0.6, path="/v1.0/"))
    with pytest.raises(requests.Timeout):
        app_client.get(f"users/{ROOM}/events", timeout=0.2)
    graph.faults.add(Fault(kind="reset", path="/v1.0/"))
    with pytest.raises(requests.ConnectionError):
        app_client.get(f"users/{ROOM}/events")
    assert app_client.get(f"users/{ROOM}/events").status_code == 200


@pytest.mark.parametrize(
    ("fault", "status", "error", "code"),
    [
        (Fault(status=503, retry_after=2), 503, "temporarily_unavailable", 90033),
        (Fault(status=400, reason="interaction_required"), 400, "interaction_required", 50076),
        (Fault(status=400), 400, "invalid_grant", 70008),
        (Fault(status=401), 401, "invalid_client", 7000222),
    ],
)
def test_token_endpoint_faults_have_aad_bodies(
    graph: GraphEmulator, base: str, fault: Fault, status: int, error: str, code: int
) -> None:
    fault.path = "/oauth2/v2.0/token"
    graph.faults.add(fault)
    response = client_credentials(base)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert client_credentials(base).status_code == 200


def test_authorize_fault_is_an_error_page(graph: GraphEmulator, base: str) -> None:
    graph.faults.add(Fault(status=500, path="/authorize"))
    response = authorize(base)
    assert response.status_code == 500 and "text/html" in response.headers["Content-Type"]


def test_faults_over_http(base: str, app_client: Client) -> None:
    assert requests.post(
        f"{base}/_emulator/faults", json={"status": 503, "retry_after": 5, "path": "/v1.0/"}, timeout=5
    ).ok
    response = app_client.get(f"users/{ROOM}/events")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


# --------------------------------------------------------------------------- control over HTTP


def control(base: str, method: str, action: str, **body: object) -> requests.Response:
    return requests.request(method, f"{base}/_emulator/{action}", json=body or None, timeout=5)


def test_register_tenant_app_and_many_rooms_over_http(graph: GraphEmulator, base: str) -> None:
    tenant = control(base, "POST", "tenants", domain="fabrikam.onmicrosoft.com").json()
    app = control(
        base, "POST", "apps", client_id="fab", tenant=tenant["id"], secret="s", application=["Calendars.Read"]
    ).json()
    assert app["tenant_id"] == tenant["id"]
    started = time.monotonic()
    rooms = control(base, "POST", "rooms", tenant="fabrikam.onmicrosoft.com", count=200).json()
    assert len(rooms) == 200 and rooms[-1]["userPrincipalName"] == "room-200@fabrikam.onmicrosoft.com"
    assert time.monotonic() - started < 2
    token = client_credentials(base, tenant="fabrikam.onmicrosoft.com", client_id="fab", secret="s").json()
    client = Client(base, token["access_token"])
    assert client.get("users/room-200@fabrikam.onmicrosoft.com/events").status_code == 200


def test_person_edits_over_http(graph: GraphEmulator, base: str, app_client: Client) -> None:
    event = control(
        base,
        "POST",
        f"mailboxes/{ROOM}/events",
        subject="Offsite",
        start="2024-05-01T09:00:00",
        end="2024-05-01T17:00:00",
        timeZone="Pacific Standard Time",
    ).json()
    assert event["start"]["dateTime"] == "2024-05-01T16:00:00.0000000"
    assert (
        control(base, "PATCH", f"mailboxes/{ROOM}/events/{event['id']}", subject="Offsite 2").json()["subject"]
        == "Offsite 2"
    )
    moved = control(
        base,
        "POST",
        f"mailboxes/{ROOM}/events/{event['id']}/move",
        start="2024-05-02T09:00:00",
        end="2024-05-02T10:00:00",
    )
    assert moved.json()["start"]["dateTime"] == "2024-05-02T09:00:00.0000000"
    assert control(base, "POST", f"mailboxes/{ROOM}/events/{event['id']}/cancel").json()["isCancelled"] is True
    assert [e["id"] for e in control(base, "GET", f"mailboxes/{ROOM}/events").json()] == [event["id"]]
    assert control(base, "DELETE", f"mailboxes/{ROOM}/events/{event['id']}").status_code == 204
    assert control(base, "GET", f"mailboxes/{ROOM}/events").json() == []
    all_day = control(
        base, "POST", f"mailboxes/{ROOM}/events", subject="Holiday", start="2024-05-10", end="2024-05-11", isAllDay=True
    )
    assert all_day.status_code == 201 and all_day.json()["isAllDay"] is True


def test_knobs_and_tokens_over_http(graph: GraphEmulator, base: str, app_client: Client) -> None:
    settings = control(base, "POST", "settings", delta_page_size=3, concurrency_limit=2).json()
    assert settings["delta_page_size"] == 3 and graph.settings.concurrency_limit == 2
    assert control(base, "POST", "settings", no_such_knob=1).status_code == 404
    assert control(base, "POST", "tokens/expire", client_id="demo-client").json() == {"expired": 1}
    assert app_client.get(f"users/{ROOM}/events").status_code == 401
    assert control(base, "POST", "tokens/inject-error", preset="secret_expired").ok
    assert client_credentials(base).json()["error_codes"] == [7000222]
    assert control(base, "POST", "delta/invalidate", mailbox=ROOM).json() == {"invalidated": 0}
    assert control(base, "GET", "subscriptions").json() == []
    assert control(base, "POST", "events/fail-next-post", status=500).ok
    assert control(base, "POST", "seed-demo").json()["tenant_id"] == graph.tenant(TENANT).id
