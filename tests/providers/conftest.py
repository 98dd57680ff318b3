"""The loopback server both providers' tests share (each test plugs its own emulator in)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from calendar_emulators.core import EmulatorServer
from tests.providers.harness import Switch


@pytest.fixture(scope="session")
def server() -> Iterator[tuple[EmulatorServer, Switch]]:
    switch = Switch()
    server = EmulatorServer(switch).start()
    yield server, switch
    server.stop()
