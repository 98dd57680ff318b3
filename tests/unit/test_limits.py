"""Provider limits across workers: the shared Retry-After pause, and the scope Graph throttles by."""

from __future__ import annotations

import os
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
import requests

from hookspecs.types import KeyRing
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import RateLimitedError
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.http import error_from
from ireserve_calendar_plugin.providers.limits import SharedPause
from ireserve_calendar_plugin.providers.outlook.backend import mailbox_of
from tests.unit.memory_config import MemoryConfig

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def _stores(n: int) -> list[SecureConfig]:
    """``n`` workers' views of one integration's storage (one config API, one key ring)."""
    config, ring = MemoryConfig(), KeyRing(current="k1", keys={"k1": os.urandom(32)})
    return [SecureConfig(config, ring, "o1") for _ in range(n)]


def test_a_retry_after_recorded_by_one_worker_is_honoured_by_every_worker() -> None:
    clock = Clock()
    first, second = (SharedPause(s, "outlook", max_wait=60, now=clock, sleep=clock.sleep) for s in _stores(2))
    second.wait()
    assert clock.sleeps == []  # no pause recorded: no wait
    first.hold(7)
    first.hold(3)  # a shorter Retry-After never shortens the pause
    second.wait()
    assert clock.sleeps == [7.0]
    second.wait()
    assert clock.sleeps == [7.0]  # over: nothing more to wait


def test_a_pause_longer_than_a_job_should_sleep_goes_back_to_the_queue() -> None:
    clock = Clock()
    first, second = (SharedPause(s, "outlook", max_wait=60, now=clock, sleep=clock.sleep) for s in _stores(2))
    first.hold(600)
    with pytest.raises(RateLimitedError) as caught:
        second.wait()
    assert caught.value.retry_after == pytest.approx(600)
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("url", "mailbox"),
    [
        ("https://graph.microsoft.com/v1.0/users/Room-1%40contoso.com/calendarView/delta", "room-1@contoso.com"),
        ("https://graph.microsoft.com/v1.0/users/room-2@contoso.com/events/AAA=", "room-2@contoso.com"),
        ("https://graph.microsoft.com/v1.0/me/events", "me"),
        ("https://graph.microsoft.com/v1.0/subscriptions/abc", None),
        ("https://graph.microsoft.com/v1.0/places/microsoft.graph.room", None),
    ],
)
def test_the_mailbox_of_a_graph_request(url: str, mailbox: str | None) -> None:
    assert mailbox_of(url, "https://graph.microsoft.com") == mailbox


class _Answers:
    """A stand-in ``requests.Session``: answers each request with the next queued status."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.headers: dict[str, str] = {}

    def request(self, method: str, url: str, **_kwargs: object) -> requests.Response:
        response = requests.Response()
        response.status_code = self.statuses.pop(0)
        if response.status_code == 429:
            response.headers["Retry-After"] = "5"
        return response


def _raise_for_status(response: requests.Response) -> None:
    if response.status_code >= 400:
        raise error_from("google", response, "throttled", "rateLimitExceeded")


def test_a_retry_after_one_client_received_makes_another_clients_next_request_wait() -> None:
    clock = Clock()
    first_store, second_store = _stores(2)

    def client(store: SecureConfig, session: _Answers) -> ApiClient:
        pause = SharedPause(store, "google", max_wait=60, now=clock, sleep=clock.sleep)
        return ApiClient(
            provider="google",
            allowed_bases=["https://api.example/v3"],
            token=lambda: "t",
            invalidate_token=lambda _t: None,
            raise_for_status=_raise_for_status,
            sleep=clock.sleep,
            session=session,
            pause=lambda _url: pause,
        )

    first = client(first_store, _Answers(429, 200))
    first.request("GET", "https://api.example/v3/calendars/a/events")
    assert clock.sleeps and clock.sleeps[0] >= 5  # the worker that got the 429 waited it out
    waited = len(clock.sleeps)
    clock.now -= timedelta(seconds=sum(clock.sleeps))  # another worker, at the moment of the 429
    client(second_store, _Answers(200)).request("GET", "https://api.example/v3/calendars/b/events")
    assert clock.sleeps[waited:] and clock.sleeps[waited] == pytest.approx(5, abs=0.01)
