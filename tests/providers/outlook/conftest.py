"""Fixtures of the Outlook provider tests: the Graph emulator behind the shared server
(``tests/providers/harness.py``, whose push route answers Graph's validation handshake with the
provider's own ``parse_push``), Outlook's settings, and the contract rig's side of the service."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from calendar_emulators.core import EmulatorServer
from calendar_emulators.graph import GraphEmulator
from hookspecs.types import HttpRequest
from ireserve_calendar_plugin.providers.outlook import OutlookProvider
from ireserve_calendar_plugin.providers.outlook.backend import OutlookBackend
from ireserve_calendar_plugin.providers.outlook.settings import OutlookSettingsSchema
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.ports import CalendarBackend
from ireserve_lab.provider_contract import ProviderRig
from tests.providers.harness import Harness
from tests.providers.harness import Switch

TENANT = "contoso.onmicrosoft.com"
USER = "alex@contoso.onmicrosoft.com"
ROOM = "room-001@contoso.onmicrosoft.com"
ROOM2 = "room-002@contoso.onmicrosoft.com"
REDIRECT_URI = "http://127.0.0.1:8765/calendar/oauth/callback"
DELTA = r"/calendarView/delta$"
ZONE = "Europe/Amsterdam"


@dataclass
class Graph(Harness, ProviderRig):
    """The Outlook harness; as a :class:`ProviderRig` its calendar under test is the delegated user's."""

    app: GraphEmulator

    def backend(self, **overrides: Any) -> OutlookBackend:
        return OutlookProvider().backend(self.ctx(**overrides))

    def app_backend(self, rooms: list[str] | None = None, **overrides: Any) -> OutlookBackend:
        """An application-mode backend over ``rooms`` (objects 101, 102 ...)."""
        settings = app_settings(self.url, rooms or [ROOM, ROOM2])
        return OutlookProvider().backend(self.ctx(settings=settings, **overrides))

    # -- the contract rig ------------------------------------------------------------------------
    def calendar(self, backend: CalendarBackend) -> CalendarRef:
        (calendar,) = backend.calendars()
        return calendar

    def person_creates(self, title: str, start: datetime, end: datetime) -> str:
        return str(self.app.person_create_event(USER, title, start, end, ZONE)["id"])

    def person_moves(self, event_id: str, start: datetime, end: datetime) -> None:
        self.app.person_move_event(USER, event_id, start, end, ZONE)

    def person_deletes(self, event_id: str) -> None:
        self.app.person_delete_event(USER, event_id)

    def live_event_ids(self) -> set[str]:
        return {e["id"] for e in self.app.events(USER) if not e.get("isCancelled")}

    def set_page_size(self, size: int) -> None:
        self.app.configure(delta_max_page_size=size)

    def list_calls(self) -> int:
        return self.app.requests.count(method="GET", path=DELTA)

    def invalidate_cursors(self) -> None:
        self.app.invalidate_delta_tokens(USER)

    def lose_next_create_answer(self) -> None:
        self.app.fail_next_event_post(504)

    def hook_url(self) -> str:
        return self.hook

    def pushes(self) -> list[HttpRequest]:
        assert self.app.flush_notifications()
        return list(self.switch.pushes)


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


@pytest.fixture
def graph(server: tuple[EmulatorServer, Switch]) -> Iterator[Graph]:
    emulator_server, switch = server
    app = GraphEmulator(
        allow_http_notifications=True,
        allow_loopback_redirects=True,
        notification_retry_horizon=0,
        graph_root=emulator_server.url,
    )
    app.seed_demo()
    provider = OutlookProvider()
    switch.plug(app, provider)
    harness = Graph(app, emulator_server, switch, provider, make_settings(emulator_server.url), REDIRECT_URI)
    try:
        yield harness
    finally:
        harness.close()
        app.close()


@pytest.fixture
def connected(graph: Graph) -> Graph:
    graph.connect()
    return graph
