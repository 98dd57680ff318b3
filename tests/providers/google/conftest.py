"""Fixtures of the Google provider tests: an emulator over real HTTP and a connected backend context."""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from calendar_emulators.core import EmulatorServer
from calendar_emulators.google import GoogleCalendarEmulator
from hookspecs.types import HttpRequest
from hookspecs.types import KeyRing
from ireserve_calendar_plugin.auth.oauth import pkce_pair
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.google import GoogleProvider
from ireserve_calendar_plugin.providers.google.backend import GoogleBackend
from ireserve_calendar_plugin.providers.google.settings import GoogleSettingsSchema
from tests.providers.contexts import backend_context
from tests.unit.memory_config import MemoryConfig

USER = "demo@example.com"
ROOM = "room-a@group.calendar.google.com"
HOOK_PATH = "/hook/google/push"
REDIRECT_URI = "http://127.0.0.1:8765/calendar/google/callback"


@dataclass
class Sleeps:
    """An injected ``sleep`` that records waits instead of sleeping."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class Google:
    """A running emulator and everything a test needs to talk to it as the provider does."""

    app: GoogleCalendarEmulator
    server: EmulatorServer
    provider: GoogleProvider
    settings: dict[str, Any]
    store: SecureConfig
    sleeps: Sleeps
    session: requests.Session
    switch: Switch

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def hook(self) -> str:
        return self.server.url + HOOK_PATH

    @property
    def pushes(self) -> list[HttpRequest]:
        return self.switch.pushes

    def ctx(self, **overrides: Any) -> BackendContext:
        return backend_context(self.settings, self.store, self.sleeps, self.session, overrides)

    def backend(self, **overrides: Any) -> GoogleBackend:
        return self.provider.backend(self.ctx(**overrides))

    def consent_code(self) -> tuple[str, str]:
        """Walk the consent redirect as a browser would; return ``(code, verifier)``."""
        verifier, challenge = pkce_pair()
        url = self.provider.authorization_url(
            self.settings, redirect_uri=REDIRECT_URI, state="s" * 40 + "~int-1", code_challenge=challenge
        )
        answer = requests.get(url, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert query["state"] == ["s" * 40 + "~int-1"]
        return query["code"][0], verifier

    def connect(self) -> None:
        code, verifier = self.consent_code()
        tokens = self.provider.exchange_code(self.ctx(), code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
        assert TokenStore(self.store).save(tokens, expected_version=0)


def make_settings(base: str, **extra: Any) -> dict[str, Any]:
    raw = {
        "client_id": "demo-client",
        "client_secret": "demo-secret",
        "calendar_mapping": [{"object": "7", "calendar_id": ROOM}, {"object": "*", "calendar_id": USER}],
        "api_base_url": f"{base}/calendar/v3",
        "auth_url": f"{base}/o/oauth2/v2/auth",
        "token_url": f"{base}/token",
        "revoke_url": f"{base}/revoke",
        **extra,
    }
    return dict(GoogleSettingsSchema().load(raw))


def new_store() -> SecureConfig:
    return SecureConfig(MemoryConfig(), KeyRing(current="k1", keys={"k1": os.urandom(32)}), "int-1")


class Switch:
    """A WSGI app that forwards to whichever app a test plugs in (one server for the whole session;
    stopping a werkzeug server costs half a second)."""

    def __init__(self) -> None:
        self.app: Callable[..., Iterable[bytes]] | None = None
        self.pushes: list[HttpRequest] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(HOOK_PATH):
            return self._hook(environ, start_response)
        assert self.app is not None, "no emulator plugged in"
        return self.app(environ, start_response)

    def _hook(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Stand in for the plugin's push route: record the notification as the host would hand it over."""
        request = Request(environ)
        self.pushes.append(HttpRequest(request.method, request.path, headers={k.lower(): v for k, v in
                                                                             request.headers.items()}))
        return Response(status=200)(environ, start_response)


@pytest.fixture(scope="session")
def server() -> Iterator[tuple[EmulatorServer, Switch]]:
    switch = Switch()
    server = EmulatorServer(switch).start()
    yield server, switch
    server.stop()


@pytest.fixture
def google(server: tuple[EmulatorServer, Switch]) -> Iterator[Google]:
    emulator_server, switch = server
    app = GoogleCalendarEmulator(allow_http_push=True)
    app.seed_demo([REDIRECT_URI])
    switch.app = app
    session = requests.Session()
    try:
        yield Google(app, emulator_server, GoogleProvider(), make_settings(emulator_server.url), new_store(),
                     Sleeps(), session, switch)
    finally:
        switch.app = None
        switch.pushes.clear()
        session.close()
        app.close()


@pytest.fixture
def connected(google: Google) -> Google:
    google.connect()
    return google
