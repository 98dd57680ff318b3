"""Fixtures for the reference host's tests: a manual clock, hosts on memory or file, a recording plugin.

The hosts here get a plugin manager without entry points, so these tests exercise the host alone;
``test_devhost_entrypoints.py`` covers loading by entry point.

Storage contract tests run on both backends: a module (or test) marked ``@pytest.mark.backends`` runs
once on SQLite and once on PostgreSQL (``backend`` is ``"sqlite"`` or ``"postgresql"``); its ``host``
is then a ``:memory:`` host or one on a fresh PostgreSQL schema, its ``file_host`` one on a SQLite
file or on PostgreSQL, and ``db_location`` says where (so a test can open a second host on it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pluggy
import pytest

from hookspecs import ConfigForm
from hookspecs import HttpRequest
from hookspecs import HttpResponse
from hookspecs import Integration
from hookspecs import Job
from hookspecs import hookimpl
from ireserve_devhost import ReferenceHost
from ireserve_devhost import get_plugin_manager

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

#: The storage backends a ``@pytest.mark.backends`` test runs on.
BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("backends") and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


class ManualClock:
    """A host clock that only moves when a test says so."""

    def __init__(self, start: datetime = T0) -> None:
        self.current = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.current

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self.current += timedelta(**delta)
            return self.current


class RecordingPlugin:
    """A throwaway plugin: records every hook call; tests set what it answers."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self.http_answer: Callable[[HttpRequest], HttpResponse | None] = lambda request: None
        self.job_answer: Callable[[Job], bool | None] = lambda job: True
        self.form_answer: Callable[[Integration], ConfigForm | None] = lambda integration: None
        self.on_status_change: Callable[..., None] = lambda **kwargs: None
        self.on_cron: Callable[..., None] = lambda **kwargs: None

    def _record(self, hook: str, **kwargs: Any) -> None:
        with self.lock:
            self.calls.append((hook, kwargs))

    def of(self, hook: str) -> list[dict[str, Any]]:
        with self.lock:
            return [kwargs for name, kwargs in self.calls if name == hook]

    @hookimpl
    def on_booking_status_changed(self, host: Any, booking: Any, old_status: Any, new_status: Any, origin: Any) -> None:
        self._record(
            "on_booking_status_changed",
            host=host,
            booking=booking,
            old_status=old_status,
            new_status=new_status,
            origin=origin,
        )
        self.on_status_change(host=host, booking=booking, old_status=old_status, new_status=new_status, origin=origin)

    @hookimpl
    def on_cron_tick(self, host: Any, now: datetime) -> None:
        self._record("on_cron_tick", host=host, now=now)
        self.on_cron(host=host, now=now)

    @hookimpl
    def on_http_route(self, host: Any, request: HttpRequest) -> HttpResponse | None:
        self._record("on_http_route", host=host, request=request)
        return self.http_answer(request)

    @hookimpl
    def on_config_form(self, host: Any, integration: Integration, submitted: Mapping[str, object] | None) -> Any:
        self._record("on_config_form", host=host, integration=integration, submitted=submitted)
        return self.form_answer(integration)

    @hookimpl
    def on_job(self, host: Any, job: Job) -> bool | None:
        self._record("on_job", host=host, job=job)
        return self.job_answer(job)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def pm() -> pluggy.PluginManager:
    return get_plugin_manager(entrypoints=False, disabled=())


@pytest.fixture
def plugin(pm: pluggy.PluginManager) -> Iterator[RecordingPlugin]:
    recorder = RecordingPlugin()
    pm.register(recorder, name="recorder")
    yield recorder
    pm.unregister(recorder)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"``, or each of :data:`BACKENDS` in a ``@pytest.mark.backends`` test."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def host_options(backend: str, tmp_path: Path) -> dict[str, Any]:
    """What a host on this backend needs beside its location (a PostgreSQL host names its key file)."""
    return {} if backend == "sqlite" else {"key_file": tmp_path / "host.keys.json"}


@pytest.fixture
def host(
    pm: pluggy.PluginManager,
    clock: ManualClock,
    backend: str,
    host_options: dict[str, Any],
    request: pytest.FixtureRequest,
) -> Iterator[ReferenceHost]:
    location = ":memory:" if backend == "sqlite" else request.getfixturevalue("pg_url")
    with ReferenceHost(location, plugin_manager=pm, clock=clock, **host_options) as reference_host:
        yield reference_host


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "host.db"


@pytest.fixture
def db_location(backend: str, db_file: Path, request: pytest.FixtureRequest) -> str | Path:
    """Where a durable host of this backend lives: a SQLite file, or a fresh PostgreSQL schema's URL."""
    return db_file if backend == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
def file_host(
    pm: pluggy.PluginManager, clock: ManualClock, db_location: str | Path, host_options: dict[str, Any]
) -> Iterator[ReferenceHost]:
    with ReferenceHost(db_location, plugin_manager=pm, clock=clock, **host_options) as reference_host:
        yield reference_host


@pytest.fixture
def room(host: ReferenceHost) -> int:
    return host.add_object("Room 1", "Europe/Amsterdam").id
