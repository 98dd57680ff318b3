"""Fixtures of the Outlook provider tests: the Graph emulator over real HTTP, a push endpoint that
answers Graph's validation handshake with the provider's own ``parse_push``, and backend contexts."""

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
from calendar_emulators.graph import GraphEmulator
from hookspecs.types import HttpRequest
from hookspecs.types import KeyRing
from ireserve_calendar_plugin.auth.oauth import pkce_pair
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.base import PushNotice
from ireserve_calendar_plugin.providers.outlook import OutlookProvider
from ireserve_calendar_plugin.providers.outlook.backend import OutlookBackend
from ireserve_calendar_plugin.providers.outlook.settings import OutlookSettingsSchema
from tests.providers.contexts import backend_context
from tests.unit.memory_config import MemoryConfig

TENANT = "contoso.onmicrosoft.com"
USER = "alex@contoso.onmicrosoft.com"
ROOM = "room-001@contoso.onmicrosoft.com"
ROOM2 = "room-002@contoso.onmicrosoft.com"
HOOK_PATH = "/hook/outlook/push"
REDIRECT_URI = "http://127.0.0.1:8765/calendar/oauth/callback"


@dataclass
class Sleeps:
    """An injected ``sleep`` that records waits instead of sleeping."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Switch:
    """A WSGI app forwarding to the emulator a test plugs in, plus a push endpoint under
    :data:`HOOK_PATH` that stands in for the plugin's route: it answers with what
    ``OutlookProvider.parse_push`` returns and records the notices."""

    def __init__(self) -> None:
        self.app: Callable[..., Iterable[bytes]] | None = None
        self.notices: list[PushNotice] = []
        self.handshakes: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(HOOK_PATH):
            return self._hook(environ, start_response)
        assert self.app is not None, "no emulator plugged in"
        return self.app(environ, start_response)

    def _hook(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        plugin_request = HttpRequest(
            request.method, request.path, query={k: tuple(v) for k, v in request.args.lists()},
            headers={k.lower(): v for k, v in request.headers.items()}, body=request.get_data())
        parsed = OutlookProvider().parse_push(plugin_request)
        if parsed.response is not None:
            self.handshakes.append(request.path)
            answer = parsed.response
            return Response(answer.body, status=answer.status, headers=dict(answer.headers))(environ, start_response)
        self.notices.extend(parsed.notices)
        return Response(status=parsed.ack_status)(environ, start_response)


@dataclass
class Graph:
    """A running emulator and everything a test needs to talk to it as the provider does."""

    app: GraphEmulator
    server: EmulatorServer
    provider: OutlookProvider
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

    def ctx(self, **overrides: Any) -> BackendContext:
        return backend_context(self.settings, self.store, self.sleeps, self.session, overrides)

    def backend(self, **overrides: Any) -> OutlookBackend:
        return self.provider.backend(self.ctx(**overrides))

    def app_backend(self, rooms: list[str] | None = None, **overrides: Any) -> OutlookBackend:
        """An application-mode backend over ``rooms`` (objects 101, 102 ...)."""
        settings = app_settings(self.url, rooms or [ROOM, ROOM2])
        return self.provider.backend(self.ctx(settings=settings, **overrides))

    def consent_code(self, settings: dict[str, Any] | None = None) -> tuple[str, str]:
        """Walk the consent redirect as a browser would; return ``(code, verifier)``."""
        verifier, challenge = pkce_pair()
        url = self.provider.authorization_url(settings or self.settings, redirect_uri=REDIRECT_URI,
                                              state="s" * 40 + "~int-1", code_challenge=challenge)
        answer = requests.get(url, allow_redirects=False, timeout=5)
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert query["state"] == ["s" * 40 + "~int-1"], query
        return query["code"][0], verifier

    def connect(self) -> None:
        code, verifier = self.consent_code()
        tokens = self.provider.exchange_code(self.ctx(), code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
        assert TokenStore(self.store).save(tokens, expected_version=0)


def make_settings(base: str, **extra: Any) -> dict[str, Any]:
    raw = {
        "client_id": "demo-client",
        "client_secret": "demo-secret",
        "auth_mode": "delegated",
        "tenant": TENANT,
        "object_id": 7,
        "graph_base_url": base,
        "login_base_url": base,
        **extra,
    }
    return dict(OutlookSettingsSchema().load(raw))


def app_settings(base: str, rooms: list[str], **extra: Any) -> dict[str, Any]:
    rows = [{"upn": upn, "object": 101 + i} for i, upn in enumerate(rooms)]
    return make_settings(base, auth_mode="application", object_id=None, rooms=rows, **extra)


def new_store() -> SecureConfig:
    return SecureConfig(MemoryConfig(), KeyRing(current="k1", keys={"k1": os.urandom(32)}), "int-1")


@pytest.fixture(scope="session")
def server() -> Iterator[tuple[EmulatorServer, Switch]]:
    switch = Switch()
    server = EmulatorServer(switch).start()
    yield server, switch
    server.stop()


@pytest.fixture
def graph(server: tuple[EmulatorServer, Switch]) -> Iterator[Graph]:
    emulator_server, switch = server
    app = GraphEmulator(allow_http_notifications=True, allow_loopback_redirects=True, notification_retry_horizon=0,
                        graph_root=emulator_server.url)
    app.seed_demo()
    switch.app = app
    session = requests.Session()
    try:
        yield Graph(app, emulator_server, OutlookProvider(), make_settings(emulator_server.url), new_store(),
                    Sleeps(), session, switch)
    finally:
        switch.app = None
        switch.notices.clear()
        switch.handshakes.clear()
        session.close()
        app.close()


@pytest.fixture
def connected(graph: Graph) -> Graph:
    graph.connect()
    return graph
