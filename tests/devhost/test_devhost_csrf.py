"""The admin forms' anti-CSRF tokens: signed with keys from the host's key file, time-limited, no state.

A form opened before a restart still posts; an old form, a forged token and a token of another host
are refused with 403 and nothing is written.
"""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pluggy
from werkzeug.test import Client

from ireserve_devhost import HostApp
from ireserve_devhost import ReferenceHost
from ireserve_devhost.csrf import CSRF_MAX_AGE
from ireserve_devhost.form_data import CSRF_FIELD
from tests.devhost.conftest import ManualClock

ROOT = Path(__file__).resolve().parents[2]


def _add_object(app: HostApp, token: str, name: str) -> int:
    return Client(app).post("/admin/objects", data={CSRF_FIELD: token, "name": name, "timezone": "UTC"}).status_code


def test_a_form_opened_before_a_restart_still_posts(
    pm: pluggy.PluginManager, clock: ManualClock, db_file: Path
) -> None:
    with ReferenceHost(db_file, plugin_manager=pm, clock=clock) as before:
        token = HostApp(before).pages.csrf_token
    clock.advance(hours=1)
    with ReferenceHost(db_file, plugin_manager=pm, clock=clock) as after:
        assert _add_object(HostApp(after), token, "Room 1") == 303
        assert [o.name for o in after.objects.all()] == ["Room 1"]


def test_an_old_form_is_refused_and_says_why(file_host: ReferenceHost, clock: ManualClock) -> None:
    app = HostApp(file_host)
    token = app.pages.csrf_token
    clock.advance(seconds=CSRF_MAX_AGE - 60)
    assert _add_object(app, token, "Still fresh") == 303
    clock.advance(seconds=120)
    response = Client(app).post("/admin/objects", data={CSRF_FIELD: token, "name": "Too late", "timezone": "UTC"})
    assert response.status_code == 403
    assert "more than 12 hours ago" in response.get_data(as_text=True)
    assert [o.name for o in file_host.objects.all()] == ["Still fresh"]


def test_forged_and_foreign_tokens_are_refused(
    pm: pluggy.PluginManager, clock: ManualClock, file_host: ReferenceHost, tmp_path: Path
) -> None:
    app = HostApp(file_host)
    good = app.pages.csrf_token
    payload, stamp, signature = good.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with ReferenceHost(tmp_path / "other.db", plugin_manager=pm, clock=clock) as other:
        foreign = HostApp(other).pages.csrf_token
    for token in (f"{payload}.{stamp}.{flipped}", foreign, "x" * 600, good + "x"):
        response = Client(app).post("/admin/objects", data={CSRF_FIELD: token, "name": "Forged", "timezone": "UTC"})
        assert response.status_code == 403, token
        assert "did not come from this host" in response.get_data(as_text=True)
    assert file_host.objects.all() == []


def test_a_key_rotation_keeps_open_forms_valid(file_host: ReferenceHost) -> None:
    app = HostApp(file_host)
    token = app.pages.csrf_token
    file_host.rotate_key()
    assert _add_object(app, token, "After rotation") == 303
    assert app.pages.csrf_token != token


def test_every_template_is_package_data() -> None:
    config = tomllib.loads((ROOT / "ireserve_devhost" / "pyproject.toml").read_text("utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["ireserve_devhost"]
    files = [
        p.relative_to(ROOT / "ireserve_devhost").as_posix() for p in (ROOT / "ireserve_devhost" / "templates").iterdir()
    ]
    assert files and all(any(fnmatch(name, glob) for glob in globs) for name in files), files
