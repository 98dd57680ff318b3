"""Plugins reach the reference host only through the ``ireserve`` entry-point group, as in production."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pluggy
import pytest

from hookspecs import PROJECT_NAME
from ireserve_devhost import ReferenceHost
from ireserve_devhost import get_plugin_manager
from ireserve_devhost.hooks import DISABLED_PLUGINS_ENV

FAKE_MODULE = "fake_ireserve_plugin_for_devhost_tests"


def test_the_calendar_plugin_loads_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DISABLED_PLUGINS_ENV, raising=False)
    module = pytest.importorskip("ireserve_calendar_plugin.plugin", reason="the plugin module is not importable yet")
    pm = get_plugin_manager()
    assert pm.get_plugin("calendar") is module
    [(plugin, dist)] = [(p, d) for p, d in pm.list_plugin_distinfo() if p is module]
    assert dist.project_name == "ireserve-calendar-plugin"


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, object]]]:
    """Install a third-party plugin as the only distribution on the system; yield what it records."""
    (tmp_path / f"{FAKE_MODULE}.py").write_text(
        textwrap.dedent(
            """
            from hookspecs import hookimpl

            calls = []

            @hookimpl
            def on_booking_status_changed(booking, new_status, origin):
                calls.append(("status", (booking.id, new_status, origin)))

            @hookimpl
            def on_cron_tick(now):
                calls.append(("cron", now))
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    entry_point = importlib.metadata.EntryPoint(name="fake", value=FAKE_MODULE, group=PROJECT_NAME)

    class FakeDistribution:
        entry_points = (entry_point,)

    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [FakeDistribution()])
    monkeypatch.delenv(DISABLED_PLUGINS_ENV, raising=False)
    try:
        yield importlib.import_module(FAKE_MODULE).calls
    finally:
        sys.modules.pop(FAKE_MODULE, None)


def test_a_host_without_a_plugin_manager_loads_entry_points(fake_distribution: list[tuple[str, object]]) -> None:
    with ReferenceHost() as host:
        assert host.pm.get_plugin("fake") is sys.modules[FAKE_MODULE]
        room = host.add_object("Room").id
        booking = host.bookings.create(
            object_id=room,
            start=datetime(2024, 5, 1, 8, tzinfo=UTC),
            end=datetime(2024, 5, 1, 9, tzinfo=UTC),
            status="confirmed",
            title="",
            channel="web",
            origin="user:1",
        )
        host.cron_tick(datetime(2024, 5, 1, 8, tzinfo=UTC))
    assert fake_distribution == [
        ("status", (booking.id, "confirmed", "user:1")),
        ("cron", datetime(2024, 5, 1, 8, tzinfo=UTC)),
    ]


def test_disabled_plugins_are_not_loaded(
    fake_distribution: list[tuple[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DISABLED_PLUGINS_ENV, "other, fake")
    pm = get_plugin_manager()
    assert pm.is_blocked("fake") and pm.get_plugin("fake") is None
    assert get_plugin_manager(disabled=[]).get_plugin("fake") is not None


def test_a_plugin_implementing_an_unknown_hook_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "bad_ireserve_plugin_for_devhost_tests"
    (tmp_path / f"{name}.py").write_text("from hookspecs import hookimpl\n\n@hookimpl\ndef on_typo(host):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry_point = importlib.metadata.EntryPoint(name="bad", value=name, group=PROJECT_NAME)

    class BadDistribution:
        entry_points = (entry_point,)

    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [BadDistribution()])
    try:
        with pytest.raises(pluggy.PluginValidationError):
            get_plugin_manager(disabled=[])
    finally:
        sys.modules.pop(name, None)
