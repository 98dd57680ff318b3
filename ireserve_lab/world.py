"""An offline world: the reference host, the plugin (by entry point) and the emulators, wired together.

Public API: :class:`World`.

Used by the demo, the end-to-end tests and the benchmarks, so all three exercise exactly what a real
deployment runs: the host serves the plugin's routes over HTTP, the emulators push notifications to
them, jobs run through the host's queue, and every API call crosses a socket on 127.0.0.1.
This module is an edge of the project (like ``cli``): the plugin core never imports it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from calendar_emulators.core import EmulatorServer
from hookspecs.types import Integration
from ireserve_devhost import HostServer
from ireserve_devhost import ReferenceHost
from ireserve_devhost import Worker
from ireserve_devhost import get_plugin_manager

__all__ = ["ShiftedClock", "World"]


class ShiftedClock:
    """The real clock plus an offset that :meth:`advance` grows: an injected clock for days-long stories."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class World:
    """The reference host on a SQLite file (or PostgreSQL) served on loopback, plus emulators started on demand.

    ``host.url_for`` points at the served host, so channels and subscriptions the plugin registers
    reach its routes. Cron and the worker are driven explicitly (:meth:`tick`, :meth:`run_jobs`) so a
    story is deterministic; :meth:`settle` runs both until nothing is left to do.
    """

    def __init__(
        self,
        db_path: str | Path,
        *,
        keyring: Any = None,
        key_file: str | Path | None = None,
        job_queue: Any = None,
        virtual_sleep: bool = False,
    ) -> None:
        # db_path: a SQLite file, or a postgresql:// URL (then the keys come from key_file, or
        # $IRESERVE_DEVHOST_KEY_FILE, or keyring)
        self.clock = ShiftedClock()
        # virtual_sleep: the plugin's waits (request pacing, retry backoff) move every clock of the world
        # forward instead of sleeping, so minutes of pacing pass in milliseconds (meant for one worker)
        self.host = ReferenceHost(
            str(db_path),
            plugin_manager=get_plugin_manager(),
            keyring=keyring,
            key_file=key_file,
            clock=self.clock,
            job_queue=job_queue,
            sleep=self.advance if virtual_sleep else None,
        )
        self.server = HostServer(self.host, cron_interval=None, workers=0).start()
        self.worker = Worker(self.host)
        self.http = requests.Session()
        self._emulators: list[tuple[Any, EmulatorServer]] = []

    # -- emulators --------------------------------------------------------------------------------
    def google(self, **options: Any) -> tuple[Any, str]:
        """Start a Google emulator seeded with the demo client and user; returns (app, base URL)."""
        from calendar_emulators.google import GoogleCalendarEmulator

        app = GoogleCalendarEmulator(allow_http_push=True, allow_loopback_redirects=True, **options)
        app.clock.advance(self.clock.offset.total_seconds())
        app.seed_demo()
        server = EmulatorServer(app).start()
        self._emulators.append((app, server))
        return app, server.url

    def graph(self, **options: Any) -> tuple[Any, str]:
        """Start a Graph emulator seeded with the demo tenant, user and rooms; returns (app, base URL)."""
        from calendar_emulators.graph import GraphEmulator

        app = GraphEmulator(allow_http_notifications=True, allow_loopback_redirects=True, **options)
        app.clock.advance(self.clock.offset.total_seconds())
        app.seed_demo()
        server = EmulatorServer(app).start()
        if "graph_root" not in options:
            # the emulator plays a national cloud rooted at its own URL: ``.default`` and the delegated
            # resource scopes name that root, as they would for graph.microsoft.us
            app.configure(graph_root=server.url)
        self._emulators.append((app, server))
        return app, server.url

    @staticmethod
    def google_urls(base: str) -> dict[str, str]:
        return {
            "api_base_url": f"{base}/calendar/v3",
            "auth_url": f"{base}/o/oauth2/v2/auth",
            "token_url": f"{base}/token",
            "revoke_url": f"{base}/revoke",
        }

    @staticmethod
    def graph_urls(base: str) -> dict[str, str]:
        return {"graph_base_url": base, "login_base_url": base}

    # -- admin actions ----------------------------------------------------------------------------
    def integration(self, integration_id: str, provider: str, settings: Mapping[str, Any]) -> Integration:
        """Add an integration and save its settings through the plugin's form (as an admin would)."""
        integration = self.host.add_integration(integration_id, provider, name=integration_id)
        form = self.host.hooks.config_form(integration, dict(settings))
        if form is None or not form.saved:
            problems = form.field_errors if form else "no plugin answered"
            raise ValueError(f"settings of {integration_id} were refused: {problems} {form.errors if form else ''}")
        return integration

    def connect(self, integration: Integration) -> str:
        """Click "connect" on the admin form and follow the provider's consent back. Returns the final page."""
        form = self.host.hooks.config_form(integration, None)
        assert form is not None and form.links, "the form offers no connect link"
        url = form.links[0].url
        for _ in range(5):
            response = self.http.get(url, allow_redirects=False, timeout=10)
            if response.status_code not in (301, 302, 303, 307):
                break
            url = response.headers["Location"]
        if response.status_code != 200:
            raise RuntimeError(f"connecting failed with HTTP {response.status_code}: {_text(response.text)}")
        return _text(response.text)

    # -- time passes --------------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move the host's and every emulator's clock forward together (tokens, channels, schedules)."""
        self.clock.advance(seconds)
        for app, _ in self._emulators:
            app.clock.advance(seconds)

    def tick(self) -> None:
        """One cron tick of the host."""
        self.host.cron_tick()

    def run_jobs(self, max_jobs: int = 100_000, *, include_future: bool = False) -> int:
        return self.worker.run_until_idle(max_jobs=max_jobs, include_future=include_future)

    def wait_for_pushes(self, timeout: float = 10.0) -> None:
        """Wait until the emulators delivered what they queued to the host's routes (Graph's batching
        window is cut short: what it holds back is sent now)."""
        for app, _ in self._emulators:
            flush = getattr(app, "flush_notifications", None)
            if flush is not None:
                flush(timeout)
            else:
                app.deliverer.wait_idle(timeout)

    def settle(self, rounds: int = 20) -> int:
        """Deliver pushes and run jobs until quiet (also jobs scheduled a few seconds ahead). Returns jobs run."""
        total = 0
        for _ in range(rounds):
            self.wait_for_pushes()
            ran = self.run_jobs(include_future=True)
            total += ran
            if ran == 0:
                self.wait_for_pushes()
                if self.run_jobs(include_future=True) == 0:
                    break
            time.sleep(0.01)
        return total

    def close(self) -> None:
        for app, server in self._emulators:
            server.stop()
            app.close()
        self.server.stop()
        self.http.close()
        self.host.close()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost")
