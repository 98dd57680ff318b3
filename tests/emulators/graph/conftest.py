"""Fixtures for the Graph emulator tests: a fresh seeded emulator per test behind one loopback server,
a webhook receiver, and clients holding tokens obtained through the real OAuth flows over HTTP.

Servers are shared by the whole directory (stopping a werkzeug server waits for its 0.5 s poll); each
test gets its own ``GraphEmulator`` swapped in behind them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calendar_emulators.core import EmulatorServer
from calendar_emulators.graph import GraphEmulator
from tests.emulators.graph import models
from tests.emulators.graph.graph_helpers import Client
from tests.emulators.graph.graph_helpers import Receiver
from tests.emulators.graph.graph_helpers import Switch
from tests.emulators.graph.graph_helpers import client_credentials
from tests.emulators.graph.graph_helpers import user_tokens


@pytest.fixture(scope="session")
def _switch() -> Switch:
    return Switch()


@pytest.fixture(scope="session")
def _server(_switch: Switch) -> Iterator[EmulatorServer]:
    server = EmulatorServer(_switch).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _receiver_server() -> Iterator[tuple[EmulatorServer, Receiver]]:
    receiver = Receiver()
    server = EmulatorServer(receiver).start()
    yield server, receiver
    server.stop()


@pytest.fixture
def graph(_switch: Switch) -> Iterator[GraphEmulator]:
    """A fresh emulator with the demo tenant; failed notifications are not retried. Every Graph answer
    it served is read into msgraph-sdk's models when the test ends (see ``models.py``)."""
    app = GraphEmulator(allow_http_notifications=True, allow_loopback_redirects=True, notification_retry_horizon=0)
    app.seed_demo()
    _switch.capture.clear()
    _switch.app = app
    yield app
    _switch.app = None
    app.close()
    assert models.wire_problems(_switch.capture.served) == []


@pytest.fixture
def base(graph: GraphEmulator, _server: EmulatorServer) -> str:
    return _server.url


@pytest.fixture
def receiver(_receiver_server: tuple[EmulatorServer, Receiver]) -> Receiver:
    _receiver_server[1].reset()
    return _receiver_server[1]


@pytest.fixture
def hook_url(_receiver_server: tuple[EmulatorServer, Receiver]) -> str:
    return _receiver_server[0].url


@pytest.fixture
def app_client(base: str) -> Client:
    """App-only (client credentials) client of the demo app; it has Calendars.Read."""
    response = client_credentials(base)
    assert response.status_code == 200, response.text
    return Client(base, response.json()["access_token"])


@pytest.fixture
def user_client(base: str) -> Client:
    """Delegated client signed in as alex with Calendars.ReadWrite."""
    return Client(base, user_tokens(base)["access_token"])
