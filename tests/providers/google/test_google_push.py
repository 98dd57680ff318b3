"""Push notification headers -> notices: well-formed, handshake, and refused malformed requests."""

from __future__ import annotations

import pytest

from hookspecs.types import HttpRequest
from ireserve_calendar_plugin.providers.base import PushNotice
from ireserve_calendar_plugin.providers.google import GoogleProvider
from ireserve_calendar_plugin.providers.google.push import parse_push


def notification(**headers: str) -> HttpRequest:
    base = {
        "x-goog-channel-id": "0f8c2a6d4b1e4f3a9c7d5e2b1a0f9e8d",
        "x-goog-channel-token": "secret-token_value",
        "x-goog-resource-state": "exists",
        "x-goog-message-number": "17",
        "x-goog-resource-id": "o3hgv1538sdjfh",
        "x-goog-resource-uri": "https://www.googleapis.com/calendar/v3/calendars/primary/events?alt=json",
        "content-length": "0",
    }
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    return HttpRequest("POST", "/google/push", headers={k: v for k, v in base.items() if v != "<drop>"})


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        ("sync", "handshake"),
        ("exists", "changed"),
        ("not_exists", "changed"),
        ("EXISTS", "changed"),
        ("something_new", "changed"),
    ],
)
def test_states(state: str, kind: str) -> None:
    parsed = parse_push(notification(**{"x-goog-resource-state": state}))
    assert parsed.ack_status == 200
    assert parsed.notices == (
        PushNotice("0f8c2a6d4b1e4f3a9c7d5e2b1a0f9e8d", "secret-token_value", kind, "o3hgv1538sdjfh"),
    )


def test_the_resource_id_is_read_for_the_channel_check() -> None:
    assert parse_push(notification(**{"x-goog-resource-id": "<drop>"})).notices[0].resource == ""
    assert parse_push(notification(**{"x-goog-resource-id": "r" * 300})).notices[0].resource == ""


def test_provider_delegates() -> None:
    assert GoogleProvider().parse_push(notification()).notices[0].kind == "changed"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-goog-channel-id": "<drop>"},
        {"x-goog-channel-token": "<drop>"},
        {"x-goog-resource-state": "<drop>"},
        {"x-goog-channel-id": ""},
        {"x-goog-channel-id": "c" * 65},
        {"x-goog-channel-token": "t" * 257},
        {"x-goog-channel-token": "bad\x00token"},
        {"x-goog-resource-state": "s" * 100},
    ],
)
def test_malformed_is_refused_without_notices(headers: dict[str, str]) -> None:
    parsed = parse_push(notification(**headers))
    assert parsed.notices == () and parsed.ack_status == 400


def test_limits_are_inclusive() -> None:
    parsed = parse_push(notification(**{"x-goog-channel-id": "c" * 64, "x-goog-channel-token": "t" * 256}))
    assert parsed.ack_status == 200 and parsed.notices[0].channel_id == "c" * 64
