"""The host's floor for applying an initial sync: what the same pages cost with no engine in between.

Public API: :func:`record_pages`, :func:`floor_seconds`.

The floor is measured in the same run as the sync it is compared with, on the same listed pages: each
page's raw response body (recorded while the provider's own backend lists the window, see
:func:`record_pages`) is parsed (``json.loads``), every item is mapped to a provider-neutral event by the
provider's own mapping function, and the page's bookings, their event-id fields and one link row per event
are inserted into a fresh reference-host database in **one** SQLite transaction per page. That is the least
any engine could do to turn those pages into linked bookings on this host: no overlap checks, no
planning, no hooks, no encryption. Apply time (the sync minus fetching and parsing) is reported as a
multiple of it.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from ireserve_calendar_plugin.providers.google import mapping as google_mapping
from ireserve_calendar_plugin.providers.outlook import mapping as outlook_mapping
from ireserve_calendar_plugin.sync.model import RemoteEvent
from ireserve_devhost.db import Database
from ireserve_devhost.db import to_db_time

__all__ = ["floor_seconds", "record_pages"]

_ITEMS = {"google": "items", "outlook": "value"}
_MAP: dict[str, Callable[[Any], RemoteEvent]] = {
    "google": google_mapping.event_from_json,
    "outlook": outlook_mapping.event_from_json,
}


@contextmanager
def record_pages(path_part: str) -> Iterator[list[bytes]]:
    """Record the raw body of every response whose URL contains ``path_part`` (the listing calls)."""
    bodies: list[bytes] = []
    original = requests.adapters.HTTPAdapter.send

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = original(self, request, *args, **kwargs)
        if path_part in (request.url or ""):
            bodies.append(response.content)  # decoded (gzip undone): what the plugin parses
        return response

    requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
    try:
        yield bodies
    finally:
        requests.adapters.HTTPAdapter.send = original  # type: ignore[method-assign]


def floor_seconds(provider: str, pages: list[bytes], *, field: str = "external_id") -> tuple[float, int]:
    """Seconds to parse, map and insert ``pages`` (one transaction per page); and the bookings inserted."""
    key, to_event = _ITEMS[provider], _MAP[provider]
    with tempfile.TemporaryDirectory(prefix="floor-") as tmp:
        db = Database(str(Path(tmp) / "floor.sqlite3"))
        try:
            with db.transaction() as conn:
                object_id = conn.execute("INSERT INTO objects (name, timezone) VALUES ('Room A', 'UTC')").lastrowid
                conn.execute("INSERT INTO integrations (id, provider) VALUES ('floor', ?)", (provider,))
            now = to_db_time(_now())
            inserted = 0
            started = time.perf_counter()
            for body in pages:
                events = [to_event(item) for item in json.loads(body).get(key, [])]
                with db.transaction() as conn:
                    for event in events:
                        if event.deleted or event.start is None or event.end is None:
                            continue
                        booking_id = conn.execute(
                            "INSERT INTO bookings (object_id, start_utc, end_utc, all_day, status, title, channel,"
                            " created_at, created_by, updated_at, updated_by) VALUES (?, ?, ?, ?, 'confirmed', ?,"
                            " 'calendar', ?, 'calendar:floor', ?, 'calendar:floor')",
                            (
                                object_id,
                                to_db_time(event.start),
                                to_db_time(event.end),
                                int(event.all_day),
                                event.title,
                                now,
                                now,
                            ),
                        ).lastrowid
                        conn.execute(
                            "INSERT INTO booking_fields (booking_id, name, value) VALUES (?, ?, ?)",
                            (booking_id, field, event.id),
                        )
                        conn.execute(
                            "INSERT INTO config (integration_id, key, value, version) VALUES ('floor', ?, ?, 1)",
                            (f"link:{event.id}", json.dumps({"booking": booking_id, "etag": event.etag})),
                        )
                        inserted += 1
            return time.perf_counter() - started, inserted
        finally:
            db.close()


def _now() -> Any:
    from datetime import UTC
    from datetime import datetime

    return datetime.now(UTC)
