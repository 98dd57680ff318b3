"""Fixtures for the Google Calendar emulator's tests: the emulator served on loopback, an API client, a
push receiver. Every test talks to the emulator over real HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from calendar_emulators.core import EmulatorServer
from calendar_emulators.google import GoogleCalendarEmulator
from tests.emulators.capture import Capture
from tests.emulators.capture import Served
from tests.emulators.google import discovery

CLIENT_ID = "test-client.apps.googleusercontent.com"
CLIENT_SECRET = "test-secret"
REDIRECT_URI = "https://app.example.com/oauth/google/callback"
USER = "alice@example.com"
OTHER_USER = "bob@example.com"
ROOM = "room-1@group.calendar.google.com"
SHARED_READONLY = "team#holidays@group.v.calendar.google.com"
READONLY = "https://www.googleapis.com/auth/calendar.readonly"
EVENTS = "https://www.googleapis.com/auth/calendar.events"
ZONE = "Europe/Amsterdam"


def timed(start: str, end: str, **extra: Any) -> dict[str, Any]:
    """An event body with ``dateTime`` start/end (RFC 3339 strings)."""
    return {"start": {"dateTime": start}, "end": {"dateTime": end}, **extra}


class Api:
    """A small Calendar v3 client over requests, with the emulator's base URL and a bearer token."""

    def __init__(self, base_url: str, access_token: str) -> None:
        self.base_url = base_url
        self.root = base_url + "/calendar/v3"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {access_token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.root + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def insert(self, calendar: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        response = self.post(f"/calendars/{calendar}/events", json=body, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def list_all(self, calendar: str, **params: Any) -> tuple[list[dict[str, Any]], str, int]:
        """Follow ``nextPageToken``; return (items, nextSyncToken, pages). Asserts the token rules."""
        items: list[dict[str, Any]] = []
        pages = 0
        token = None
        while True:
            query = {**params, **({"pageToken": token} if token else {})}
            response = self.get(f"/calendars/{calendar}/events", params=query)
            assert response.status_code == 200, response.text
            body = response.json()
            pages += 1
            items += body["items"]
            assert ("nextPageToken" in body) != ("nextSyncToken" in body), body
            token = body.get("nextPageToken")
            if token is None:
                return items, body["nextSyncToken"], pages


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A webhook endpoint that records every POST it gets."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        self._cond = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        item = Received(request.path, dict(request.headers), request.get_data())
        with self._cond:
            self.received.append(item)
            self._cond.notify_all()
        return Response(status=self.status)(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)


@pytest.fixture
def emulator() -> Iterator[GoogleCalendarEmulator]:
    app = GoogleCalendarEmulator(allow_http_push=True, seed=7)
    app.add_client(CLIENT_ID, CLIENT_SECRET, [REDIRECT_URI])
    app.add_calendar(ROOM, summary="Room 1", time_zone=ZONE)
    app.add_calendar(SHARED_READONLY, summary="Holidays")
    app.add_user(USER, calendars={ROOM: "writer", SHARED_READONLY: "reader"}, time_zone=ZONE)
    app.add_user(OTHER_USER, calendars={ROOM: "owner"})
    yield app
    app.close()


class Switch:
    """A WSGI app that forwards to whichever app a test put in it, recording what it serves.

    One loopback server per test session serves every test's fresh emulator: stopping a werkzeug
    server costs half a second, which a hundred tests cannot afford.
    """

    def __init__(self) -> None:
        self.app: Any = None
        self.capture = Capture()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.app is None:
            return Response("no app mounted", status=503)(environ, start_response)
        return self.capture.call(self.app, environ, start_response)


@pytest.fixture(scope="session")
def _emulator_server() -> Iterator[tuple[Switch, EmulatorServer]]:
    switch = Switch()
    with EmulatorServer(switch) as running:
        yield switch, running


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[tuple[Switch, EmulatorServer]]:
    switch = Switch()
    with EmulatorServer(switch) as running:
        yield switch, running


@pytest.fixture
def server(
    emulator: GoogleCalendarEmulator, _emulator_server: tuple[Switch, EmulatorServer]
) -> Iterator[EmulatorServer]:
    """The loopback server, serving this test's emulator. Every successful Calendar v3 response it
    served is checked against Google's discovery document when the test ends."""
    switch, running = _emulator_server
    switch.capture.clear()
    switch.app = emulator
    yield running
    switch.app = None
    assert wire_problems(switch.capture.served) == []


def wire_problems(served: list[Served]) -> list[str]:
    """What the discovery document finds wrong in the bodies of ``served`` (2xx Calendar v3 answers)."""
    found = []
    for response in served:
        if "/calendar/v3/" not in response.path or not 200 <= response.status < 300:
            continue
        schema = discovery.schema_for(response.method, response.path)
        body = response.json()
        if schema is None or body is None:
            continue
        found += [f"{response}: {p}" for p in discovery.problems(body, schema)]
    return found


@pytest.fixture
def tokens(emulator: GoogleCalendarEmulator, server: EmulatorServer) -> dict[str, Any]:
    return emulator.issue_tokens(USER, CLIENT_ID, [READONLY, EVENTS])


@pytest.fixture
def api(server: EmulatorServer, tokens: dict[str, Any]) -> Api:
    return Api(server.url, tokens["access_token"])


@pytest.fixture
def receiver(_receiver_server: tuple[Switch, EmulatorServer]) -> Iterator[tuple[Receiver, str]]:
    """A recording webhook endpoint and its URL."""
    switch, running = _receiver_server
    sink = Receiver()
    switch.app = sink
    yield sink, running.url + "/hooks/google"
    switch.app = None
