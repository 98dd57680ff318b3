"""Graph notifications -> notices: the validation handshake, change batches, lifecycle events, junk."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hookspecs.types import HttpRequest
from ireserve_calendar_plugin.providers.base import PushNotice
from ireserve_calendar_plugin.providers.outlook import OutlookProvider
from ireserve_calendar_plugin.providers.outlook.push import parse_push

PATH = "/calendar/push/outlook/o1"


def post(
    body: Any = None, *, raw: bytes | None = None, query: dict[str, tuple[str, ...]] | None = None, path: str = PATH
) -> HttpRequest:
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return HttpRequest("POST", path, query=query or {}, headers={"content-type": "application/json"}, body=data)


def change(subscription: str = "5f1e0c2a-0000-4000-8000-000000000001", state: str = "secret-1", **extra: Any) -> dict:
    item = {
        "id": "lsgTZMr9KwAAA",
        "subscriptionId": subscription,
        "subscriptionExpirationDateTime": "2024-05-08T11:00:00.0000000Z",
        "clientState": state,
        "changeType": "updated",
        "resource": "Users/9d1f/Events/AAMk1",
        "tenantId": "2b6a0f4e-0000-4000-8000-000000000000",
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": "Users/9d1f/Events/AAMk1",
            "@odata.etag": 'W/"DwAAABYAAAA"',
            "id": "AAMk1",
        },
    }
    item.update(extra)
    return item


@pytest.mark.parametrize("path", [PATH, PATH + "/lifecycle"])
def test_validation_handshake_echoes_the_decoded_token_as_text(path: str) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 8d7e <script>x</script>"
    parsed = parse_push(post(query={"validationToken": (token,)}, path=path))
    assert parsed.notices == ()
    assert parsed.response is not None
    assert parsed.response.status == 200
    assert parsed.response.body == token.encode("utf-8")  # verbatim, never HTML-encoded
    assert parsed.response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert parsed.response.headers["X-Content-Type-Options"] == "nosniff"


def test_handshake_with_a_body_still_answers_the_token() -> None:
    parsed = parse_push(post(raw=b"not json", query={"validationToken": ("abc",)}))
    assert parsed.response is not None and parsed.response.body == b"abc"


@pytest.mark.parametrize("token", ["", "x" * 1025, "\u00e9" * 513])
def test_empty_or_oversized_tokens_are_refused(token: str) -> None:
    parsed = parse_push(post(query={"validationToken": (token,)}))
    assert parsed.response is None and parsed.ack_status == 400 and parsed.notices == ()


def test_token_at_the_limit_is_answered() -> None:
    parsed = parse_push(post(query={"validationToken": ("t" * 1024,)}))
    assert parsed.response is not None and len(parsed.response.body) == 1024


def test_a_change_is_one_notice() -> None:
    parsed = parse_push(post({"value": [change()]}))
    assert parsed.response is None and parsed.ack_status == 202
    assert parsed.notices == (PushNotice("5f1e0c2a-0000-4000-8000-000000000001", "secret-1", "changed"),)


def test_a_batch_for_several_subscriptions_is_folded_per_subscription() -> None:
    body = {
        "value": [
            change("sub-a", "sa"),
            change("sub-b", "sb", changeType="created"),
            change("sub-a", "sa", changeType="deleted"),
            change("sub-c", "sc"),
        ]
    }
    parsed = parse_push(post(body))
    assert parsed.notices == (
        PushNotice("sub-a", "sa", "changed"),
        PushNotice("sub-b", "sb", "changed"),
        PushNotice("sub-c", "sc", "changed"),
    )


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ("reauthorizationRequired", "renew"),
        ("subscriptionRemoved", "recreate"),
        ("missed", "resync"),
        ("MISSED", "resync"),
    ],
)
def test_lifecycle_events(event: str, kind: str) -> None:
    item = {
        "subscriptionId": "sub-a",
        "subscriptionExpirationDateTime": "2024-05-08T11:00:00.0000000Z",
        "tenantId": "t",
        "clientState": "sa",
        "lifecycleEvent": event,
    }
    parsed = parse_push(post({"value": [item]}, path=PATH + "/lifecycle"))
    assert parsed.notices == (PushNotice("sub-a", "sa", kind),) and parsed.ack_status == 202


def test_mixed_lifecycle_batch_and_unknown_events() -> None:
    items = [
        {"subscriptionId": "sub-a", "clientState": "sa", "lifecycleEvent": "reauthorizationRequired"},
        {"subscriptionId": "sub-b", "clientState": "sb", "lifecycleEvent": "missed"},
        {"subscriptionId": "sub-c", "clientState": "sc", "lifecycleEvent": "somethingNew"},
        {"subscriptionId": "sub-d", "clientState": "sd", "lifecycleEvent": 7},
    ]
    parsed = parse_push(post({"value": items}))
    assert [(n.channel_id, n.kind) for n in parsed.notices] == [("sub-a", "renew"), ("sub-b", "resync")]


@pytest.mark.parametrize(
    "item",
    [
        "junk",
        17,
        None,
        {},
        {"subscriptionId": "sub-a"},
        {"clientState": "sa"},
        {"subscriptionId": "sub-a", "clientState": None},
        {"subscriptionId": "", "clientState": "sa"},
        {"subscriptionId": "sub-a", "clientState": "s" * 129},
        {"subscriptionId": "s" * 129, "clientState": "sa"},
        {"subscriptionId": "sub\x00a", "clientState": "sa"},
        {"subscriptionId": ["sub-a"], "clientState": "sa"},
    ],
)
def test_unusable_items_are_skipped(item: Any) -> None:
    parsed = parse_push(post({"value": [item, change("sub-ok", "ok")]}))
    assert parsed.notices == (PushNotice("sub-ok", "ok", "changed"),)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"not json",
        b"[]",
        b'"value"',
        b"null",
        b'{"value": {}}',
        b'{"value": "x"}',
        b'{"values": []}',
        b"\xff\xfe{}",
    ],
)
def test_malformed_bodies_are_refused_without_notices(raw: bytes) -> None:
    parsed = parse_push(post(raw=raw))
    assert parsed.notices == () and parsed.ack_status == 400 and parsed.response is None


def test_an_empty_batch_is_acknowledged() -> None:
    assert parse_push(post({"value": []})) == parse_push(post({"value": [{"nothing": 1}]}))
    assert parse_push(post({"value": []})).ack_status == 202


def test_provider_delegates() -> None:
    assert OutlookProvider().parse_push(post({"value": [change()]})).notices[0].kind == "changed"
