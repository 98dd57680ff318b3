"""The BackendContext both providers' test rigs hand their backends (no host: these tests stop below it)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

import requests

from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.providers.base import BackendContext


def backend_context(
    settings: Mapping[str, Any],
    store: SecureConfig,
    sleep: Callable[[float], None],
    session: requests.Session,
    overrides: Mapping[str, Any],
) -> BackendContext:
    """The rig's context; ``overrides`` may replace any field (settings included)."""
    values: dict[str, Any] = {
        "host": None,
        "integration_id": "int-1",
        "settings": settings,
        "store": store,
        "now": lambda: datetime.now(UTC),
        "sleep": sleep,
        "session": session,
    }
    values.update(overrides)
    return BackendContext(**values)
