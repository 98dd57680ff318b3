"""The CalDAV contract rig: a fresh account on the session's real Radicale, behind a fault proxy.

The backend talks to Radicale through :class:`~ireserve_lab.faultproxy.FaultProxy` (which can lose an
answer on purpose); the "person" edits the calendar directly with python-caldav
(:class:`~ireserve_lab.caldav_person.CalendarApp`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest

from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.caldav import CalDavProvider
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.ports import CalendarBackend
from ireserve_lab.caldav_person import CalendarApp
from ireserve_lab.caldav_person import PersonEvent
from ireserve_lab.faultproxy import FaultProxy
from ireserve_lab.provider_contract import ProviderRig
from ireserve_lab.provider_contract import Unsupported
from ireserve_lab.radicale import RadicaleServer
from tests.providers.harness import Sleeps
from tests.providers.harness import new_store

_accounts = itertools.count(1)
OBJECT = 7


class CalDav(ProviderRig):
    """A Radicale user with one calendar ("work"), mapped to object 7; the backend reaches it through a
    fault proxy. Radicale answers a ``sync-collection`` in one response (it has no RFC 6578 result
    limit), so the backend cuts its pages from that one answer."""

    def __init__(self, radicale: RadicaleServer, proxy: FaultProxy) -> None:
        self.radicale = radicale
        self.proxy = proxy
        self.user = f"contract{next(_accounts)}"
        self.password = f"{self.user}-app-password"
        radicale.add_user(self.user, self.password)
        self.path = radicale.make_calendar(self.user, "work", "Work")
        self.provider = CalDavProvider()
        self.store: SecureConfig = new_store()
        self.sleeps = Sleeps()
        self.settings: dict[str, Any] = {
            "server_url": proxy.url,
            "username": self.user,
            "app_password": self.password,
            "calendar_mapping": [{"object": str(OBJECT), "calendar_id": self.path}],
        }
        self.app = CalendarApp(radicale.url, self.path, self.user, self.password)
        self._backends: list[Any] = []
        self._page_events: int | None = None
        self.lost_planned = 0

    @property
    def waits(self) -> list[float]:  # type: ignore[override]
        return self.sleeps.waits

    def backend(self) -> CalendarBackend:
        from ireserve_calendar_plugin.providers.caldav.backend import CalDavBackend  # needs the [caldav] extra

        ctx = BackendContext(
            host=None,  # type: ignore[arg-type] - the backend reads the host only for an object's zone
            integration_id="int-1",
            settings=self.settings,
            store=self.store,
            now=lambda: datetime.now(UTC),
            sleep=self.sleeps,
        )
        made = CalDavBackend(ctx)
        if self._page_events is not None:
            made.page_events = self._page_events
        self._backends.append(made)
        return made

    def calendar(self, backend: CalendarBackend) -> CalendarRef:
        calendar = backend.calendar_for_object(OBJECT)
        assert calendar is not None and calendar.remote_id == self.path
        return calendar

    def person_creates(self, title: str, start: datetime, end: datetime) -> str:
        return self.app.create(PersonEvent(f"person-{next(_accounts)}", title, start, end))

    def person_moves(self, event_id: str, start: datetime, end: datetime) -> None:
        self.app.move(event_id, start, end)

    def person_deletes(self, event_id: str) -> None:
        self.app.delete(event_id)

    def live_event_ids(self) -> set[str]:
        return {name for name, text in self.app.members().items() if "STATUS:CANCELLED" not in text}

    def set_page_size(self, size: int) -> None:
        self._page_events = size
        for made in self._backends:
            made.page_events = size

    def list_calls(self) -> int:
        raise Unsupported(
            "Radicale answers a sync-collection in one response (no RFC 6578 result limit): the backend's "
            "pages are cut from that one answer, so there is no request per page to count"
        )

    def invalidate_cursors(self) -> None:
        self.radicale.forget_sync_tokens(self.path)

    def lose_next_create_answer(self) -> None:
        self.proxy.lose_next_answer("PUT", status=503, path=r"^" + self.path)
        self.lost_planned += 1

    def lost_answers(self) -> int:
        """Answers the proxy really lost (a planned loss that never happened proves nothing)."""
        return sum(1 for e in self.proxy.log.entries() if e.fault == "lost")

    def hook_url(self) -> str:
        raise Unsupported("CalDAV has no push notifications: the plugin polls every poll_interval_minutes")

    def pushes(self) -> list[Any]:
        raise Unsupported("CalDAV has no push notifications: the plugin polls every poll_interval_minutes")

    def close(self) -> None:
        self.app.close()


@pytest.fixture
def caldav_rig(radicale: RadicaleServer) -> Iterator[CalDav]:
    with FaultProxy(radicale.url) as proxy:
        rig = CalDav(radicale, proxy)
        try:
            yield rig
        finally:
            rig.close()
        assert rig.lost_answers() == rig.lost_planned, "a planned lost answer never happened"
