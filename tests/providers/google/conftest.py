"""Fixtures of the Google provider tests: the Calendar v3 emulator behind the shared server
(``tests/providers/harness.py``), Google's settings, and the contract rig's side of the service."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from calendar_emulators.core import EmulatorServer
from calendar_emulators.google import GoogleCalendarEmulator
from hookspecs.types import HttpRequest
from ireserve_calendar_plugin.providers.google import GoogleProvider
from ireserve_calendar_plugin.providers.google.backend import GoogleBackend
from ireserve_calendar_plugin.providers.google.settings import GoogleSettingsSchema
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.ports import CalendarBackend
from ireserve_lab.provider_contract import ProviderRig
from tests.providers.harness import Harness
from tests.providers.harness import Switch

USER = "demo@example.com"
ROOM = "room-a@group.calendar.google.com"
REDIRECT_URI = "http://127.0.0.1:8765/calendar/google/callback"
LIST_PATH = r"/calendars/[^/]+/events$"


@dataclass
class Google(Harness, ProviderRig):
    """The Google harness; as a :class:`ProviderRig` its calendar under test is the room (object 7)."""

    app: GoogleCalendarEmulator

    def backend(self, **overrides: Any) -> GoogleBackend:
        return GoogleProvider().backend(self.ctx(**overrides))

    # -- the contract rig ------------------------------------------------------------------------
    def calendar(self, backend: CalendarBackend) -> CalendarRef:
        calendar = backend.calendar_for_object(7)
        assert calendar is not None and calendar.remote_id == ROOM
        return calendar

    def person_creates(self, title: str, start: datetime, end: datetime) -> str:
        made = self.app.create_event(ROOM, summary=title, start=start, end=end, time_zone="Europe/Amsterdam")
        return str(made["id"])

    def person_moves(self, event_id: str, start: datetime, end: datetime) -> None:
        self.app.move_event(ROOM, event_id, start, end, "Europe/Amsterdam")

    def person_deletes(self, event_id: str) -> None:
        self.app.delete_event(ROOM, event_id)

    def live_event_ids(self) -> set[str]:
        return {e["id"] for e in self.app.events(ROOM) if e.get("status") != "cancelled"}

    def set_page_size(self, size: int) -> None:
        self.app.set_paging(page_cap=size)

    def list_calls(self) -> int:
        return self.app.requests.count(method="GET", path=LIST_PATH)

    def invalidate_cursors(self) -> None:
        self.app.invalidate_sync_tokens(ROOM)

    def lose_next_create_answer(self) -> None:
        self.app.lose_next_insert(status=503, calendar_id=ROOM)

    def hook_url(self) -> str:
        return self.hook

    def pushes(self) -> list[HttpRequest]:
        self.app.deliverer.wait_idle()
        return list(self.switch.pushes)


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


@pytest.fixture
def google(server: tuple[EmulatorServer, Switch]) -> Iterator[Google]:
    emulator_server, switch = server
    app = GoogleCalendarEmulator(allow_http_push=True)
    app.seed_demo([REDIRECT_URI])
    provider = GoogleProvider()
    switch.plug(app, provider)
    harness = Google(app, emulator_server, switch, provider, make_settings(emulator_server.url), REDIRECT_URI)
    try:
        yield harness
    finally:
        harness.close()
        app.close()


@pytest.fixture
def connected(google: Google) -> Google:
    google.connect()
    return google
