"""The reliability rig of the CalDAV provider: a real Radicale behind the fault-injecting proxy.

:class:`CalDavRig` has the surface the suites use of :class:`~tests.reliability.conftest.GoogleRig`.
Where a Google run has an emulator (``rig.app``: its fault plan, request log, clock and push
deliverer), a CalDAV run has :class:`ProxyApp`: the same fault plan and request log, kept by
:class:`~ireserve_lab.faultproxy.FaultProxy` in front of Radicale, stamped with the World's clock, and a
push deliverer that is never used (CalDAV has no push: the plugin polls). The person edits the calendar
with python-caldav directly on Radicale, past the proxy and its faults.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from datetime import date
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calendar_emulators.core import Deliverer
from calendar_emulators.core import Fault
from ireserve_lab.caldav_person import CalendarApp
from ireserve_lab.caldav_person import PersonEvent
from ireserve_lab.faultproxy import FaultProxy
from ireserve_lab.radicale import RadicaleServer
from ireserve_lab.world import World

__all__ = ["CalDavRig", "ProxyApp"]

_accounts = itertools.count(1)
_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))


class ProxyApp:
    """What the suites read of ``rig.app``, answered by the fault proxy in front of Radicale."""

    def __init__(self, proxy: FaultProxy, world: World) -> None:
        self.proxy = proxy
        self.faults = proxy.plan
        self.requests = proxy.log
        self.clock = SimpleNamespace(now=world.clock)
        self.deliverer = Deliverer()  # never sent anything: CalDAV has no push

    @property
    def in_flight(self) -> int:
        return self.proxy.in_flight

    def close(self) -> None:
        self.deliverer.close()


class CalDavRig:
    """A CalDAV integration ``c1`` on a fresh World: one room object mapped to a fresh Radicale account's
    "work" calendar, reached through a fault proxy. ``stack`` closes the proxy after the test."""

    name = "caldav"
    throttles_with_403 = False  # a CalDAV 403 is a refusal, never a rate limit
    api_prefix = r"^/"
    token_path = r"^/\.no-token-endpoint$"  # HTTP Basic: there is no token endpoint to fail
    #: a real server on a busy machine answers in tens of milliseconds, sometimes hundreds: a client
    #: timeout of 0.2 s (the emulator runs') would add timeouts nobody planned
    client_timeout = 1.0
    #: on top of the suite's rates: writes whose answer is lost after the server stored them (the
    #: proxy's "lost"), the fault that tests an idempotent create (``If-None-Match``) and delete
    extra_faults = (
        (0.1, Fault(kind="lost", status=503, method="PUT")),
        (0.1, Fault(kind="lost", status=502, method="DELETE")),
    )

    def __init__(
        self,
        world: World,
        *,
        radicale: RadicaleServer,
        stack: contextlib.ExitStack,
        timezone: str = "Europe/Amsterdam",
        settings: dict[str, Any] | None = None,
        integration_id: str = "c1",
        seed: int = 0,
    ) -> None:
        self.world = world
        self.host = world.host
        self.radicale = radicale
        self.user = f"reliability{next(_accounts)}"
        password = f"{self.user}-app-password"
        radicale.add_user(self.user, password)
        self.calendar_id = radicale.make_calendar(self.user, "work", "Work")
        self.proxy = stack.enter_context(FaultProxy(radicale.url, clock=world.clock))
        self.proxy.hold_at_least = self.client_timeout + 0.3
        self.app = ProxyApp(self.proxy, world)
        stack.callback(self.app.close)
        self.person = CalendarApp(radicale.url, self.calendar_id, self.user, password)
        stack.callback(self.person.close)
        self._seen: dict[tuple[str, str], list[Any]] = {}
        self._creates = itertools.count()
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)
        self.room = self.host.add_object("Room A", timezone=timezone)
        self.integration = world.integration(
            integration_id,
            "caldav",
            {
                "server_url": self.proxy.url,
                "username": self.user,
                "app_password": password,
                "calendar_mapping": [{"object": str(self.room.id), "calendar_id": self.calendar_id}],
                **(settings or {}),
            },
        )

    # -- connection -----------------------------------------------------------------------------
    def connect(self) -> str:
        """Nothing to consent to (an app password): the saved settings' discovery job connects."""
        self.world.settle()
        return ""

    def shorten_client_timeout(self, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
        """API calls give up after :attr:`client_timeout` (at least ``seconds``); a "timeout" fault holds
        its request longer than that before Radicale gets it."""
        from ireserve_calendar_plugin.providers.caldav.backend import CalDavBackend

        wait = max(seconds, self.client_timeout)
        original = CalDavBackend.__init__

        @functools.wraps(original)
        def init(backend: Any, *args: Any, **kwargs: Any) -> None:
            original(backend, *args, **kwargs)
            backend.api.timeout = wait

        monkeypatch.setattr(CalDavBackend, "__init__", init)

    def write_methods(self) -> tuple[Any, tuple[str, ...]]:
        from ireserve_calendar_plugin.providers.caldav.backend import CalDavBackend

        return CalDavBackend, ("create_event", "update_event", "delete_event")

    def calendar_key(self) -> str:
        from ireserve_calendar_plugin.providers.caldav.backend import calendar_key

        return calendar_key(self.calendar_id)

    # -- a person edits the calendar ------------------------------------------------------------
    def _when(self, moment: datetime, all_day: bool) -> datetime | date:
        return moment.astimezone(self.zone).date() if all_day else moment

    def person_create(self, title: str, start: datetime, end: datetime, all_day: bool = False) -> str:
        uid = f"person-{self.user}-{next(_accounts)}"
        if next(self._creates) % 3 == 2:
            # the server prunes its token history now and then: Radicale keeps honouring the token of an
            # unchanged calendar, so the prune is followed by a change, and the next poll meets a refusal
            self.invalidate_cursor()
        return self.person.create(PersonEvent(uid, title, self._when(start, all_day), self._when(end, all_day)))

    def person_move(self, event_id: str, start: datetime, end: datetime, all_day: bool = False) -> None:
        self.person.move(event_id, self._when(start, all_day), self._when(end, all_day))

    def person_cancel(self, event_id: str) -> None:
        self.person.cancel(event_id)

    def person_delete(self, event_id: str) -> None:
        self.person.delete(event_id)

    def events(self) -> list[Any]:
        """Every member of the calendar as a person sees it (``STATUS:CANCELLED`` ones not live)."""
        return [event for name, text in self.person.members().items() for event in self._parsed(name, text)]

    def _parsed(self, name: str, text: str) -> list[Any]:
        """The member's events (parsed once per version: our members carry a VTIMEZONE, slow to parse)."""
        from icalendar import Calendar

        from tests.reliability.conftest import SeenEvent

        known = self._seen.get((name, text))
        if known is not None:
            return known
        out = []
        for component in Calendar.from_ical(text).walk("VEVENT"):
            start, all_day = self._time(component.decoded("DTSTART"))
            end, _ = self._time(component.decoded("DTEND"))
            raw = str(component.get("X-IRESERVE-BOOKING-ID", ""))
            out.append(
                SeenEvent(
                    name,
                    str(component.get("SUMMARY", "")),
                    start,
                    end,
                    all_day,
                    str(component.get("STATUS", "")).upper() != "CANCELLED",
                    int(raw) if raw.isdigit() else None,
                )
            )
        self._seen[(name, text)] = out
        return out

    def _time(self, value: Any) -> tuple[datetime, bool]:
        if isinstance(value, datetime):
            return (value if value.tzinfo else value.replace(tzinfo=self.zone)), False
        if isinstance(value, date):
            return datetime.combine(value, datetime.min.time(), self.zone), True
        return _EPOCH, False

    # -- faults ---------------------------------------------------------------------------------
    def invalidate_cursor(self) -> None:
        self.radicale.forget_sync_tokens(self.calendar_id)

    def expire_access_tokens(self) -> None:
        """HTTP Basic with an app password: there is no access token to expire."""

    # -- counting -------------------------------------------------------------------------------
    def api_writes(self, *, succeeded: bool = False) -> int:
        """Member writes (PUT, DELETE) the proxy saw (only 2xx ones with ``succeeded``)."""
        return sum(
            1
            for e in self.proxy.log.entries()
            if e.method in ("PUT", "DELETE") and (not succeeded or 200 <= e.status < 300)
        )
