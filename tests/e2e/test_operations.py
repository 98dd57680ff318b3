"""Operator commands: run due work now with progress; rotate the encryption key and drop the old one."""

from __future__ import annotations

import io
import sqlite3
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from calendar_emulators.google import DEMO_ROOM
from ireserve_devhost import ReferenceHost
from ireserve_devhost.operations import rotate_keys
from ireserve_devhost.operations import sync_now
from ireserve_lab.world import World


def _connected(world: World) -> Any:
    google, base = world.google()
    room = world.host.add_object("Room A")
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    for i in range(30):
        google.create_event(
            DEMO_ROOM, summary=f"E{i}", start=start + timedelta(hours=2 * i), end=start + timedelta(hours=2 * i + 1)
        )
    integration = world.integration(
        "g1",
        "google",
        {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "calendar_mapping": [{"object": str(room.id), "calendar_id": DEMO_ROOM}],
            **World.google_urls(base),
        },
    )
    world.connect(integration)  # queues the first sync; nothing has run yet
    return room


def _envelope_keys(db: Path) -> set[str]:
    rows = sqlite3.connect(db).execute("select key, value from config where value is not null").fetchall()
    # links hold no secret and are plain JSON (sync/links.py); every other value is sealed
    assert all(key.startswith("link/") for key, value in rows if not value.startswith("icp1."))
    return {value.split(".")[1] for _, value in rows if value.startswith("icp1.")}


def test_sync_now_runs_the_queued_first_sync_and_shows_progress(tmp_path: Path) -> None:
    db = tmp_path / "host.sqlite3"
    with World(db) as world:
        room = _connected(world)
        out = io.StringIO()
        assert sync_now(str(db), out=out) == 0
        assert len(world.host.list_bookings(room.id)) == 30
    text = out.getvalue()
    assert "sync: " in text and "job(s) done" in text
    assert "full (initial) round" in text  # the round's summary line, with its counts
    assert "created 30" in text


def test_rotate_keys_reencrypts_everything_and_the_old_key_can_go(tmp_path: Path) -> None:
    db = tmp_path / "host.sqlite3"
    with World(db) as world:
        _connected(world)
        world.settle()
        (before,) = _envelope_keys(db)
        out = io.StringIO()
        assert rotate_keys(str(db), drop_old=True, out=out, settle=0) == 0
        (after,) = _envelope_keys(db)
        assert after != before
        assert "every stored value is sealed with the new key" in out.getvalue()
    with ReferenceHost(str(db)) as host:
        assert list(host.keyring.keys) == [after]
        (integration,) = host.integrations.all()
        form = host.hooks.config_form(integration, None)
        assert form is not None and form.status.startswith("Connected")  # every secret still opens
