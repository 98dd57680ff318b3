"""The reference host calls every hook with the documented arguments, through its typed façade."""

from __future__ import annotations

import inspect
import logging
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from hookspecs import ConfigForm
from hookspecs import HostApi
from hookspecs import HttpRequest
from hookspecs import HttpResponse
from hookspecs import Integration
from hookspecs import hookimpl
from hookspecs import spec
from hookspecs import types as contract
from ireserve_devhost import HostHooks
from ireserve_devhost import ReferenceHost
from ireserve_devhost import Worker

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)  # the start of the conftest clock


def _book(host: ReferenceHost, room: int, hours: int = 0, status: str = "confirmed", origin: str = "user:7"):
    return host.bookings.create(
        object_id=room,
        start=T0 + timedelta(hours=hours),
        end=T0 + timedelta(hours=hours + 1),
        status=status,
        title="Stand-up",
        channel="web",
        origin=origin,
    )


# --------------------------------------------------------------------------- the contract's shape


def test_the_facade_has_one_method_per_hookspec() -> None:
    hooks = {name for name, _ in inspect.getmembers(spec, inspect.isfunction) if name.startswith("on_")}
    assert hooks == {
        "on_booking_status_changed",
        "on_cron_tick",
        "on_http_route",
        "on_config_form",
        "on_job",
        "on_integration_removed",
    }
    for hook in hooks:
        method = getattr(HostHooks, hook.removeprefix("on_"))
        spec_args = [p for p in inspect.signature(getattr(spec, hook)).parameters if p != "host"]
        assert [p for p in inspect.signature(method).parameters if p != "self"] == spec_args


def test_the_host_provides_everything_of_the_host_api(host: ReferenceHost) -> None:
    for protocol_name in ("BookingApi", "CustomerApi", "ObjectApi", "IntegrationApi", "ConfigApi", "JobQueue"):
        protocol = getattr(contract, protocol_name)
        attribute = {
            "BookingApi": host.bookings,
            "CustomerApi": host.customers,
            "ObjectApi": host.objects,
            "IntegrationApi": host.integrations,
            "ConfigApi": host.config,
            "JobQueue": host.jobs,
        }[protocol_name]
        for member, function in vars(protocol).items():
            if inspect.isfunction(function) and not member.startswith("_"):
                ours = inspect.signature(getattr(attribute, member))
                theirs = inspect.signature(function)
                assert list(ours.parameters) == [p for p in theirs.parameters if p != "self"], member
    for member in HostApi.__annotations__:
        assert hasattr(host, member)
    assert isinstance(host.bookings, contract.BookingApi)
    assert isinstance(host.keyring, contract.KeyRing)


# --------------------------------------------------------------------------- on_booking_status_changed


def test_create_fires_with_no_old_status_and_the_writers_origin(host: ReferenceHost, plugin: Any, room: int) -> None:
    booking = _book(host, room, origin="calendar:gcal")
    [call] = plugin.of("on_booking_status_changed")
    assert call == {
        "host": host,
        "booking": booking,
        "old_status": None,
        "new_status": "confirmed",
        "origin": "calendar:gcal",
    }


def test_set_status_fires_with_old_and_new_status(host: ReferenceHost, plugin: Any, room: int) -> None:
    booking = _book(host, room)
    changed = host.bookings.set_status(booking.id, "cancelled", origin="user:9")
    call = plugin.of("on_booking_status_changed")[-1]
    assert (call["old_status"], call["new_status"], call["origin"]) == ("confirmed", "cancelled", "user:9")
    assert call["booking"] == changed
    assert changed.status == "cancelled" and changed.version == booking.version + 1


def test_update_times_fires_with_the_status_unchanged(host: ReferenceHost, plugin: Any, room: int) -> None:
    booking = _book(host, room)
    moved = host.bookings.update_times(
        booking.id, start=T0 + timedelta(hours=3), end=T0 + timedelta(hours=4), origin="system"
    )
    call = plugin.of("on_booking_status_changed")[-1]
    assert (call["old_status"], call["new_status"], call["origin"]) == ("confirmed", "confirmed", "system")
    assert call["booking"] == moved and moved.start == T0 + timedelta(hours=3)


def test_writes_that_change_nothing_do_not_fire(host: ReferenceHost, plugin: Any, room: int) -> None:
    booking = _book(host, room)
    same_status = host.bookings.set_status(booking.id, "confirmed", origin="system")
    same_times = host.bookings.update_times(booking.id, start=booking.start, end=booking.end, origin="system")
    assert len(plugin.of("on_booking_status_changed")) == 1
    assert same_status.version == same_times.version == booking.version


def test_fields_and_remarks_do_not_fire(host: ReferenceHost, plugin: Any, room: int) -> None:
    booking = _book(host, room)
    host.bookings.set_field(booking.id, "external_id", "evt-1", origin="calendar:gcal")
    host.bookings.add_remark(booking.id, "moved by Google", origin="calendar:gcal")
    assert len(plugin.of("on_booking_status_changed")) == 1


def test_the_hook_runs_after_the_commit(file_host: ReferenceHost, plugin: Any) -> None:
    room = file_host.add_object("Room").id
    seen: list[Any] = []
    # Inside the hook the change must be visible and the database free for the plugin's own writes.
    plugin.on_status_change = lambda host, booking, **_: seen.append(
        host.bookings.set_field(booking.id, "seen", "yes", origin="calendar:x")
    )
    booking = _book(file_host, room)
    assert seen[0].fields == {"seen": "yes"} and seen[0].status == booking.status
    assert file_host.bookings.get(booking.id).fields == {"seen": "yes"}


def test_a_failing_hook_is_logged_and_does_not_undo_the_write(
    host: ReferenceHost, plugin: Any, room: int, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(**_: Any) -> None:
        raise RuntimeError("plugin bug")

    plugin.on_status_change = explode
    with caplog.at_level(logging.ERROR):
        booking = _book(host, room)
    assert host.bookings.get(booking.id).status == "confirmed"
    assert "plugin bug" in caplog.text


# --------------------------------------------------------------------------- on_cron_tick


def test_cron_tick_passes_the_host_and_an_aware_now(host: ReferenceHost, plugin: Any, clock) -> None:
    host.cron_tick()
    host.cron_tick(T0 + timedelta(minutes=5))
    assert plugin.of("on_cron_tick") == [
        {"host": host, "now": clock()},
        {"host": host, "now": T0 + timedelta(minutes=5)},
    ]
    with pytest.raises(ValueError, match="timezone-aware"):
        host.cron_tick(T0.replace(tzinfo=None))


def test_a_failing_cron_tick_is_logged(host: ReferenceHost, plugin: Any, caplog: pytest.LogCaptureFixture) -> None:
    def explode(**_: Any) -> None:
        raise RuntimeError("tick broke")

    plugin.on_cron = explode
    with caplog.at_level(logging.ERROR):
        host.cron_tick()
    assert "tick broke" in caplog.text


# --------------------------------------------------------------------------- on_config_form, on_job, on_http_route


def test_config_form_returns_the_first_form_that_is_not_none(host: ReferenceHost, plugin: Any) -> None:
    integration = host.integrations.add_integration("gcal", provider="google", name="Team")
    assert host.hooks.config_form(integration, None) is None

    class FormPlugin:
        @hookimpl
        def on_config_form(self, host: Any, integration: Integration, submitted: Any) -> ConfigForm | None:
            if integration.provider != "google":
                return None
            return ConfigForm(integration_id=integration.id, title="Google", saved=submitted is not None)

    other = FormPlugin()
    host.pm.register(other)
    try:
        form = host.hooks.config_form(integration, {"calendar": "primary"})
    finally:
        host.pm.unregister(other)
    assert form == ConfigForm(integration_id="gcal", title="Google", saved=True)
    assert plugin.of("on_config_form")[-1] == {
        "host": host,
        "integration": integration,
        "submitted": {"calendar": "primary"},
    }


def test_on_job_receives_the_queued_job(host: ReferenceHost, plugin: Any) -> None:
    host.jobs.enqueue("calendar.sync", {"integration": "gcal", "calendar": "c1"})
    assert Worker(host).run_until_idle() == 1
    [call] = plugin.of("on_job")
    assert call["host"] is host
    job = call["job"]
    assert (job.name, dict(job.payload), job.attempt) == ("calendar.sync", {"integration": "gcal", "calendar": "c1"}, 1)


def test_http_route_returns_the_plugins_answer(host: ReferenceHost, plugin: Any) -> None:
    plugin.http_answer = lambda request: HttpResponse(204) if request.path == "/mine" else None
    assert host.hooks.http_route(HttpRequest("GET", "/mine")) == HttpResponse(204)
    assert host.hooks.http_route(HttpRequest("GET", "/other")) is None
    assert [c["request"].path for c in plugin.of("on_http_route")] == ["/mine", "/other"]
