"""``ireserve-devhost status``: health from any plugin's form, and the exit codes operators script on."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pluggy
import pytest

from hookspecs import ConfigForm
from hookspecs import Integration
from hookspecs import hookimpl
from hookspecs.forms import HealthRow
from hookspecs.forms import HealthState
from ireserve_devhost import ReferenceHost
from ireserve_devhost.cli import main
from ireserve_devhost.status import EXIT_ATTENTION
from ireserve_devhost.status import EXIT_OK
from ireserve_devhost.status import EXIT_USAGE
from ireserve_devhost.status import collect
from ireserve_devhost.status import exit_code
from ireserve_devhost.status import render_json
from ireserve_devhost.status import render_text
from ireserve_devhost.status import run_status

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
FUTURE = "2024-05-08T08:00:00+00:00"  # the host clock of these tests is 2024-05-01 08:00 UTC
PAST = "2024-05-01T07:59:59+00:00"


def row(**changes: str) -> dict[str, str]:
    base = {
        "calendar": "room-1",
        "state": "idle",
        "last_sync": "2024-05-01T07:55:00+00:00",
        "channel_expires": FUTURE,
        "last_error": "",
    }
    return {**base, **changes}


class HealthPlugin:
    """Serves provider ``fake``: each integration's status line and health rows come from ``forms``."""

    def __init__(self) -> None:
        self.forms: dict[str, tuple[str, tuple[dict[str, str], ...]]] = {}

    @hookimpl
    def on_config_form(self, host: Any, integration: Integration, submitted: Mapping[str, object] | None) -> Any:
        if integration.provider != "fake":
            return None
        if integration.id == "broken":
            raise RuntimeError("plugin bug")
        status, health = self.forms[integration.id]
        return ConfigForm(integration_id=integration.id, title="Fake", status=status, health=health)


@pytest.fixture
def health(pm: pluggy.PluginManager) -> Iterator[HealthPlugin]:
    plugin = HealthPlugin()
    pm.register(plugin, name="health")
    yield plugin
    pm.unregister(plugin)


def _code(host: ReferenceHost, plugin: HealthPlugin, status: str, *rows: dict[str, str]) -> int:
    host.add_integration("one", provider="fake")
    plugin.forms["one"] = (status, rows)
    return exit_code(collect(host))


def test_healthy_integrations_exit_0(host: ReferenceHost, health: HealthPlugin) -> None:
    assert (
        _code(host, health, "Connected (alice@example.com)", row(), row(calendar="room-2", channel_expires="none"))
        == EXIT_OK
    )


@pytest.mark.parametrize(
    "status",
    ["Needs reconnect: the account revoked access", "Not ready: the client id is missing"],
)
def test_needs_reconnect_or_not_ready_exit_1(host: ReferenceHost, health: HealthPlugin, status: str) -> None:
    assert _code(host, health, status) == EXIT_ATTENTION


def test_a_calendar_with_an_error_exits_1(host: ReferenceHost, health: HealthPlugin) -> None:
    assert _code(host, health, "Connected", row(), row(calendar="room-2", last_error="HTTP 403")) == EXIT_ATTENTION
    [report] = collect(host)
    assert report.problems == ("room-2: last error: HTTP 403",)


def test_an_expired_push_channel_exits_1(host: ReferenceHost, health: HealthPlugin) -> None:
    assert _code(host, health, "Connected", row(channel_expires=PAST)) == EXIT_ATTENTION
    health.forms["one"] = ("Connected", (row(channel_expires="2024-05-01T09:00:00"),))  # naive: read as UTC
    assert exit_code(collect(host)) == EXIT_OK


def test_disabled_integrations_never_need_attention(host: ReferenceHost, health: HealthPlugin) -> None:
    host.add_integration("off", provider="fake", enabled=False)
    health.forms["off"] = ("Needs reconnect: revoked", (row(last_error="boom"),))
    [report] = collect(host)
    assert report.status == "Needs reconnect: revoked" and not report.needs_attention
    assert exit_code([report]) == EXIT_OK


def test_no_plugin_or_a_failing_plugin_needs_attention(host: ReferenceHost, health: HealthPlugin) -> None:
    host.add_integration("broken", provider="fake")
    host.add_integration("orphan", provider="nobody")
    reports = {r.integration.id: r for r in collect(host)}
    assert reports["broken"].status == "Plugin error: RuntimeError" and reports["broken"].needs_attention
    assert "No installed plugin" in reports["orphan"].status and reports["orphan"].needs_attention


def test_text_and_json_output(host: ReferenceHost, health: HealthPlugin) -> None:
    host.add_integration("one", provider="fake", name="Team")
    health.forms["one"] = ("Connected", (row(last_error="bad\x1b[31m red"),))
    reports = collect(host)
    text = render_text(reports)
    assert text.splitlines()[0] == "one Team (fake, enabled): NEEDS ATTENTION"
    assert "  status: Connected" in text
    assert any(line.split()[:3] == ["calendar", "state", "last_sync"] for line in text.splitlines())
    assert "\x1b" not in text  # no terminal escapes from calendar text
    doc = json.loads(render_json(reports))
    assert doc["needs_attention"] is True
    [item] = doc["integrations"]
    assert item["id"] == "one" and item["status"] == "Connected"
    assert item["health"][0]["last_error"] == "bad\x1b[31m red"  # JSON escapes it itself
    assert render_text([]) == "No integrations configured.\n"


def test_the_command_on_a_database_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "host.db"
    with ReferenceHost(db) as host:  # the installed plugins, by entry point
        host.add_integration("gcal", provider="google", name="Team calendar")
    # an enabled integration that is not configured cannot sync: the plugin says so in its typed state
    assert main(["status", "--db", str(db)]) == EXIT_ATTENTION
    out = capsys.readouterr().out
    assert "gcal Team calendar (google, enabled): NEEDS ATTENTION" in out
    assert "status: Not configured [not_configured]" in out

    with ReferenceHost(db) as host:
        host.add_integration("dav", provider="exchange")
        host.integrations.set_enabled("gcal", False)
    assert main(["status", "--db", str(db), "--json"]) == EXIT_ATTENTION
    doc = json.loads(capsys.readouterr().out)
    assert [(i["id"], i["needs_attention"]) for i in doc["integrations"]] == [("dav", True), ("gcal", False)]
    assert [i["state"] for i in doc["integrations"]] == [None, "not_configured"]


def test_a_missing_database_is_a_usage_error(tmp_path: Path) -> None:
    err = io.StringIO()
    assert run_status(str(tmp_path / "nope.db"), out=io.StringIO(), err=err) == EXIT_USAGE
    assert "no host database" in err.getvalue()
    assert not (tmp_path / "nope.db").exists()


# --------------------------------------------------------------------------- typed health


class TypedHealthPlugin:
    """Serves provider ``typed``: a form with a typed state and one calendar row in that state."""

    def __init__(self) -> None:
        self.state = HealthState.OK

    @hookimpl
    def on_config_form(self, host: Any, integration: Integration, submitted: Mapping[str, object] | None) -> Any:
        if integration.provider != "typed":
            return None
        row = HealthRow(
            "Room <A>",
            self.state,
            message="Said in words." if self.state != HealthState.OK else "",
            next_step="Do this.",
            last_success=T0,
            last_failure=None,
            timezone="Europe/Amsterdam",
        )
        return ConfigForm(
            integration_id=integration.id,
            title="Typed",
            status="Line.",
            state=self.state,
            next_step="Look.",
            rows=(row,),
        )


@pytest.mark.parametrize("state", list(HealthState))
def test_every_attention_state_exits_1_and_the_others_0(
    host: ReferenceHost, pm: pluggy.PluginManager, state: HealthState
) -> None:
    plugin = TypedHealthPlugin()
    plugin.state = state
    pm.register(plugin, name="typed")
    host.add_integration("t", provider="typed")
    reports = collect(host)
    wanted = (
        EXIT_ATTENTION
        if state in (HealthState.WARNING, HealthState.NOT_CONFIGURED, HealthState.NOT_CONNECTED, HealthState.ERROR)
        else EXIT_OK
    )
    assert exit_code(reports) == wanted
    if wanted == EXIT_ATTENTION:
        assert "Room <A>: Said in words. Do this." in reports[0].problems
    host.integrations.set_enabled("t", False)
    assert exit_code(collect(host)) == EXIT_OK  # a disabled integration never needs attention


def test_the_json_has_typed_calendars_and_null_for_absent_times(
    host: ReferenceHost, pm: pluggy.PluginManager, health: HealthPlugin
) -> None:
    pm.register(TypedHealthPlugin(), name="typed")
    host.add_integration("t", provider="typed")
    host.add_integration("old", provider="fake")
    health.forms["old"] = ("Connected", (row(last_sync="never"),))
    doc = json.loads(render_json(collect(host)))
    old, typed = doc["integrations"]
    assert old["state"] is None and old["health"][0]["last_sync"] is None  # not the string "never"
    [calendar] = typed["calendars"]
    assert calendar == {
        "name": "Room <A>",
        "state": "ok",
        "message": "",
        "next_step": "Do this.",
        "last_success": T0.isoformat(),
        "last_failure": None,
        "pending_writes": 0,
        "conflicts": 0,
        "channel": "not_used",
        "channel_expires": None,
        "timezone": "Europe/Amsterdam",
    }
    assert (typed["state"], typed["status"], typed["next_step"], typed["conflicts"]) == ("ok", "Line.", "Look.", 0)
