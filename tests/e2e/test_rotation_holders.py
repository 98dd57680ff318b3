"""Key rotation and the integrations that are not running (issue 12's closing note, item 5).

Before: the plugin re-encrypted only enabled integrations (its cron tick and its jobs skipped disabled
ones), so one disabled integration made every ``rotate-keys --drop-old`` time out with exit 1 and a
guess ("Is a disabled integration holding them?"). Wanted: a disabled integration's stored values are
re-encrypted too; what still holds an old key is named, with what to do.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from calendar_emulators.google import DEMO_ROOM
from ireserve_devhost import ReferenceHost
from ireserve_devhost.operations import rotate_keys
from ireserve_lab.world import World


def _google(world: World, integration_id: str) -> None:
    _, base = world.google()
    room = world.host.add_object(f"Room {integration_id}")
    integration = world.integration(
        integration_id,
        "google",
        {
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "calendar_mapping": [{"object": str(room.id), "calendar_id": DEMO_ROOM}],
            **World.google_urls(base),
        },
    )
    world.connect(integration)
    world.settle()


def _keys_by_integration(db: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for iid, value in sqlite3.connect(db).execute("select integration_id, value from config where value is not null"):
        out.setdefault(iid, set()).add(value.split(".")[1])
    return out


def test_a_disabled_integration_is_reencrypted_and_the_old_key_can_go(tmp_path: Path) -> None:
    db = tmp_path / "host.sqlite3"
    with World(db) as world:
        _google(world, "g1")
        world.host.integrations.set_enabled("g1", False)
    out = io.StringIO()
    assert rotate_keys(str(db), drop_old=True, out=out, settle=0, wait=20, poll=0.1) == 0, out.getvalue()
    with ReferenceHost(str(db)) as host:
        assert _keys_by_integration(db) == {"g1": set(host.keyring.keys)}
        assert len(host.keyring.keys) == 1
        (integration,) = host.integrations.all()
        assert not integration.enabled
        form = host.hooks.config_form(integration, None)
        assert form is not None and form.status.startswith("Connected")  # every secret still opens


def test_what_still_holds_an_old_key_is_named_with_what_to_do(tmp_path: Path) -> None:
    db = tmp_path / "host.sqlite3"
    with World(db) as world:
        _google(world, "g1")
    with sqlite3.connect(db) as conn:  # its plugin was uninstalled since
        conn.execute("update integrations set provider = 'retired-provider' where id = 'g1'")
    out = io.StringIO()
    assert rotate_keys(str(db), drop_old=True, out=out, settle=0, wait=1, poll=0.1) == 1
    text = out.getvalue()
    assert "old keys kept" in text
    assert "integration 'g1'" in text and "no installed plugin serves its provider 'retired-provider'" in text
    assert "install that plugin, or delete the integration" in text
