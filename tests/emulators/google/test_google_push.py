"""events.watch and channels.stop: validation, the sync/exists messages and their headers, stop, expiry."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import pytest
import requests

from calendar_emulators.core import PushFaults
from calendar_emulators.google import GoogleCalendarEmulator
from tests.emulators.google.conftest import CLIENT_ID
from tests.emulators.google.conftest import OTHER_USER
from tests.emulators.google.conftest import READONLY
from tests.emulators.google.conftest import ROOM
from tests.emulators.google.conftest import USER
from tests.emulators.google.conftest import Api
from tests.emulators.google.conftest import Receiver
from tests.emulators.google.conftest import timed

EVENT = timed("2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z", summary="x")


def watch(api: Api, address: str, calendar: str = "primary", **body: Any) -> requests.Response:
    payload = {"id": body.pop("id", "channel-1"), "type": "web_hook", "address": address, **body}
    return api.post(f"/calendars/{calendar}/events/watch", json=payload)


def reason(response: requests.Response) -> str:
    return str(response.json()["error"]["errors"][0]["reason"])


def settle(emulator: GoogleCalendarEmulator) -> None:
    assert emulator.deliverer.wait_idle(5)


def test_watch_answers_an_api_channel(
    emulator: GoogleCalendarEmulator, api: Api, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    before = emulator.clock.now()
    response = watch(api, url, token="tok-123")
    assert response.status_code == 200
    channel = response.json()
    assert channel["kind"] == "api#channel"
    assert channel["id"] == "channel-1" and channel["token"] == "tok-123"
    assert channel["resourceId"]
    assert channel["resourceUri"].endswith(f"/calendar/v3/calendars/{quote(USER, safe='')}/events?alt=json")
    assert isinstance(channel["expiration"], str)
    expires = datetime.fromtimestamp(int(channel["expiration"]) / 1000, tz=UTC)
    assert abs((expires - before) - timedelta(seconds=604800)) < timedelta(seconds=5)


def test_sync_first_then_exists_on_every_change_with_all_headers(
    emulator: GoogleCalendarEmulator, api: Api, receiver: tuple[Receiver, str]
) -> None:
    sink, url = receiver
    channel = watch(api, url, token="tok-123").json()
    (sync,) = sink.wait_for(1)
    headers = sync.headers
    assert headers["X-Goog-Resource-State"] == "sync"
    assert headers["X-Goog-Message-Number"] == "1"
    assert headers["X-Goog-Channel-Id"] == "channel-1"
    assert headers["X-Goog-Channel-Token"] == "tok-123"
    assert headers["X-Goog-Resource-Id"] == channel["resourceId"]
    assert headers["X-Goog-Resource-Uri"] == channel["resourceUri"]
    assert headers["User-Agent"].startswith("APIs-Google")
    expiry = parsedate_to_datetime(headers["X-Goog-Channel-Expiration"])
    assert headers["X-Goog-Channel-Expiration"].endswith(" GMT")
    assert int(expiry.timestamp()) == int(channel["expiration"]) // 1000
    assert sync.body == b"" and headers.get("Content-Length", "0") == "0"

    created = api.insert("primary", EVENT)
    api.patch(f"/calendars/primary/events/{created['id']}", json={"summary": "y"})
    emulator.create_event(
        USER, summary="by a person", start=datetime(2030, 1, 2, tzinfo=UTC), end=datetime(2030, 1, 3, tzinfo=UTC)
    )
    api.delete(f"/calendars/primary/events/{created['id']}")
    settle(emulator)
    messages = sink.wait_for(5)
    assert [m.headers["X-Goog-Resource-State"] for m in messages] == ["sync"] + ["exists"] * 4
    numbers = [int(m.headers["X-Goog-Message-Number"]) for m in messages]
    assert numbers == sorted(set(numbers))
    assert any(b - a > 1 for a, b in zip(numbers, numbers[1:], strict=False))  # increasing, not sequential
    assert all(m.headers["X-Goog-Channel-Id"] == "channel-1" for m in messages)


def test_only_changes_of_the_watched_calendar_notify(
    emulator: GoogleCalendarEmulator, api: Api, receiver: tuple[Receiver, str]
) -> None:
    sink, url = receiver
    watch(api, url, calendar=quote(ROOM, safe=""))
    api.insert("primary", EVENT)
    settle(emulator)
    assert len(sink.received) == 1
    api.insert(quote(ROOM, safe=""), EVENT)
    settle(emulator)
    assert [m.headers["X-Goog-Resource-State"] for m in sink.received] == ["sync", "exists"]


def test_the_address_must_be_https_unless_relaxed(emulator: GoogleCalendarEmulator, api: Api) -> None:
    emulator.push.allow_http_push = False
    response = watch(api, "http://example.com/hook")
    assert response.status_code == 400
    assert reason(response) == "push.webhookUrlNotHttps"
    assert watch(api, "https://example.com/hook").status_code == 200


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"id": "x" * 65}, "invalid"),
        ({"id": "has space"}, "invalid"),
        ({"token": "t" * 257}, "invalid"),
        ({"type": "smoke_signal"}, "invalid"),
        ({"params": {"ttl": "soon"}}, "invalid"),
        ({"address": ""}, "required"),
    ],
)
def test_watch_requests_are_validated(api: Api, body: dict[str, Any], expected: str) -> None:
    payload = {"id": "ok-id", "type": "web_hook", "address": "https://example.com/hook", **body}
    response = api.post("/calendars/primary/events/watch", json=payload)
    assert response.status_code == 400
    assert reason(response) == expected


def test_limits_are_inclusive_and_ids_must_be_unique(api: Api) -> None:
    assert watch(api, "https://example.com/h", id="c" * 64, token="t" * 256).status_code == 200
    again = watch(api, "https://example.com/h", id="c" * 64)
    assert again.status_code == 400
    assert reason(again) == "channelIdNotUnique"


def test_ttl_is_honoured_and_clamped(emulator: GoogleCalendarEmulator, api: Api) -> None:
    now = emulator.clock.now()

    def expires_in(**body: Any) -> float:
        channel = watch(api, "https://example.com/h", **body).json()
        return (datetime.fromtimestamp(int(channel["expiration"]) / 1000, tz=UTC) - now).total_seconds()

    assert expires_in(id="a", params={"ttl": "3600"}) == pytest.approx(3600, abs=5)
    assert expires_in(id="b", params={"ttl": str(30 * 86400)}) == pytest.approx(604800, abs=5)
    emulator.push.max_ttl = 86400
    assert expires_in(id="c") == pytest.approx(86400, abs=5)


def test_stop_ends_delivery_and_unknown_channels_are_404(
    emulator: GoogleCalendarEmulator, api: Api, receiver: tuple[Receiver, str]
) -> None:
    sink, url = receiver
    channel = watch(api, url).json()
    stop = {"id": channel["id"], "resourceId": channel["resourceId"]}
    other = Api(api.base_url, emulator.issue_tokens(OTHER_USER, CLIENT_ID, [READONLY])["access_token"])
    assert other.post("/channels/stop", json=stop).status_code == 404  # not this user's channel
    wrong_resource = api.post("/channels/stop", json={**stop, "resourceId": "other"})
    assert wrong_resource.status_code == 404
    response = api.post("/channels/stop", json=stop)
    assert response.status_code == 204 and response.content == b""
    api.insert("primary", EVENT)
    settle(emulator)
    assert [m.headers["X-Goog-Resource-State"] for m in sink.received] == ["sync"]
    again = api.post("/channels/stop", json=stop)
    assert again.status_code == 404 and reason(again) == "notFound"


def test_no_delivery_after_the_channel_expires(
    emulator: GoogleCalendarEmulator, api: Api, receiver: tuple[Receiver, str]
) -> None:
    sink, url = receiver
    watch(api, url, params={"ttl": "60"})
    emulator.clock.advance(59)
    api.insert("primary", EVENT)
    settle(emulator)
    emulator.clock.advance(2)
    api.insert("primary", EVENT)
    settle(emulator)
    assert [m.headers["X-Goog-Resource-State"] for m in sink.received] == ["sync", "exists"]
    assert emulator.channels()[0]["expired"] is True


def test_a_channel_can_be_expired_early(
    emulator: GoogleCalendarEmulator, api: Api, receiver: tuple[Receiver, str]
) -> None:
    sink, url = receiver
    watch(api, url)
    assert requests.post(f"{api.base_url}/_emulator/channels/channel-1/expire", timeout=5).json() == {"expired": True}
    api.insert("primary", EVENT)
    settle(emulator)
    assert len(sink.received) == 1
    assert api.post("/channels/stop", json={"id": "channel-1", "resourceId": "x"}).status_code == 404


def test_sync_can_arrive_before_the_watch_response(
    emulator: GoogleCalendarEmulator, api: Api, receiver: tuple[Receiver, str]
) -> None:
    sink, url = receiver
    emulator.push.sync_before_response = True
    assert watch(api, url).status_code == 200
    assert [m.headers["X-Goog-Resource-State"] for m in sink.received] == ["sync"]  # no waiting needed


def test_push_faults_apply_to_notifications(
    emulator: GoogleCalendarEmulator, api: Api, receiver: tuple[Receiver, str]
) -> None:
    sink, url = receiver
    emulator.deliverer.configure(PushFaults(duplicate=1.0))
    watch(api, url)
    settle(emulator)
    messages = sink.wait_for(2)
    assert [m.headers["X-Goog-Message-Number"] for m in messages] == ["1", "1"]
    emulator.deliverer.configure(PushFaults(drop=1.0))
    api.insert("primary", EVENT)
    settle(emulator)
    assert len(sink.received) == 2


def test_watch_needs_a_token(api: Api, receiver: tuple[Receiver, str]) -> None:
    _, url = receiver
    response = requests.post(
        f"{api.root}/calendars/primary/events/watch", json={"id": "a", "type": "web_hook", "address": url}, timeout=5
    )
    assert response.status_code == 401
