"""Shared rig of the reliability and security suite: scale, figures, a clock-moving sleep, crashes, providers.

The suites in this directory are end to end (the World: reference host + plugin by entry point +
emulators over real HTTP) and each can fail. Their fast, fixed-seed versions run in the normal
``python -m pytest -q``; the long versions run with ``--run-long`` (give it with this directory on the
command line: ``python -m pytest tests/reliability --run-long -s``) or with ``IRESERVE_LONG=1``, print
their figures and write them to ``benchmarks/results/reliability-<suite>.json``.

Nothing here waits on real time for time-based behaviour: every retry wait, pacing wait and token wait
goes through :class:`ClockSleep`, which records it and moves the World's shared clock instead.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from ireserve_calendar_plugin import runtime
from ireserve_calendar_plugin.auth.tokens import AccessTokens
from ireserve_lab.world import World

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
USER = "user:1"

#: The providers every suite is parametrized by. Outlook joins once its backend and stories exist.
PROVIDERS = ("google", "outlook")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-long",
        action="store_true",
        default=False,
        help="run the long versions of tests/reliability and write their figures",
    )


def _long_requested(config: pytest.Config) -> bool:
    try:
        flag = bool(config.getoption("--run-long"))
    except ValueError:  # the option is only known when this conftest was loaded at start-up
        flag = False
    return flag or os.environ.get("IRESERVE_LONG", "") not in ("", "0")


@pytest.fixture(scope="session")
def long_run(pytestconfig: pytest.Config) -> bool:
    """True for the long versions (``--run-long`` or ``IRESERVE_LONG=1``)."""
    return _long_requested(pytestconfig)


def outlook_ready() -> bool:
    """The Outlook provider is complete enough for these suites: its backend and its stories exist."""
    return (ROOT / "ireserve_calendar_plugin/providers/outlook/backend.py").exists() and (
        ROOT / "tests/e2e/test_outlook_stories.py"
    ).exists()


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    """Each suite runs per provider; Outlook is skipped (with the reason) until it is ready."""
    name = str(request.param)
    if name == "outlook" and not outlook_ready():
        pytest.skip("Outlook provider not ready yet (no providers/outlook/backend.py or e2e stories)")
    return name


# --------------------------------------------------------------------------- figures


def report(suite: str, figures: dict[str, Any], *, long_run: bool) -> None:
    """Print a suite's figures (visible with ``-s``) and, for long runs, write them as JSON."""
    stamped = {"suite": suite, "long": long_run, "date": datetime.now(UTC).strftime("%Y-%m-%d"), **figures}
    print(f"\n[reliability:{suite}] " + json.dumps(stamped, sort_keys=True, default=str))
    if long_run:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"reliability-{suite}.json").write_text(json.dumps(stamped, indent=2, sort_keys=True, default=str))


# --------------------------------------------------------------------------- waiting without waiting


class ClockSleep:
    """A ``sleep`` that records each wait and moves the World's clock (host and emulators) to its end.

    The clock moves to ``now + seconds`` as seen when the wait began, if it is not there yet: several
    threads waiting at once move it once, as real waits overlapping in time would.
    """

    def __init__(self, world: World) -> None:
        self.world = world
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        wake = self.world.clock() + timedelta(seconds=max(0.0, seconds))
        with self._lock:
            self.waits.append(float(seconds))
            behind = (wake - self.world.clock()).total_seconds()
            if behind > 0:
                self.world.advance(behind)

    @property
    def total(self) -> float:
        return sum(self.waits)


def install_clock_sleep(monkeypatch: pytest.MonkeyPatch, world: World) -> ClockSleep:
    """Route every wait of the plugin through a :class:`ClockSleep`: the API client's retries and pacing
    (``BackendContext.sleep``), the token lease wait, and google-auth's own token-endpoint backoff."""
    sleeper = ClockSleep(world)
    original = runtime.backend_context

    def backend_context(ctx: Any, settings: dict[str, Any]) -> Any:
        return dataclasses.replace(original(ctx, settings), sleep=sleeper)

    monkeypatch.setattr(runtime, "backend_context", backend_context)
    original_init = AccessTokens.__init__

    @functools.wraps(original_init)
    def tokens_init(self: AccessTokens, *args: Any, **kwargs: Any) -> None:
        kwargs["wait"] = sleeper
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(AccessTokens, "__init__", tokens_init)
    import google.auth._exponential_backoff as backoff

    monkeypatch.setattr(backoff, "time", SimpleNamespace(sleep=sleeper, monotonic=time.monotonic))
    return sleeper


# --------------------------------------------------------------------------- crashes


class Crash(BaseException):  # noqa: N818 - a simulated process death, like KeyboardInterrupt
    """A worker "dies" here: not an Exception, so no product ``except Exception`` catches it."""


class Crasher:
    """Makes the worker thread die at named points, at random (seeded), while armed.

    Between the crash and the next run nothing the dying worker would not have done happens: lease
    releases in ``finally`` blocks are skipped, so the calendar lease and the job lease stay taken
    until they expire, exactly as after a killed process.
    """

    def __init__(self, rng: Any, probability: float) -> None:
        self.rng = rng
        self.probability = probability
        self.scale: dict[str, float] = {}
        self.armed = False
        self.dying = False
        self.thread = threading.get_ident()
        self.counts: Counter[str] = Counter()
        self.forced: set[str] = set()

    def force(self, point: str) -> None:
        """Crash at the next pass through ``point`` (so every kind of point dies at least once)."""
        self.forced.add(point)

    def maybe(self, point: str) -> None:
        if self.armed and not self.dying and threading.get_ident() == self.thread:
            roll = self.rng.random()
            if point in self.forced or roll < self.probability * self.scale.get(point, 1.0):
                self.forced.discard(point)
                self.counts[point] += 1
                self.dying = True
                raise Crash(point)

    def wrap(
        self,
        monkeypatch: pytest.MonkeyPatch,
        owner: Any,
        name: str,
        point: str,
        *,
        after: bool = False,
        scale: float = 1.0,
    ) -> None:
        """Crash at ``point`` before (or ``after``) each call of ``owner.name``; ``scale`` multiplies the
        probability (points passed once per event rather than once per job get a smaller one)."""
        original = getattr(owner, name)
        self.scale[point] = scale

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not after:
                self.maybe(point)
            result = original(*args, **kwargs)
            if after:
                self.maybe(point)
            return result

        monkeypatch.setattr(owner, name, wrapper)

    def skip_while_dying(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
        """A cleanup (``finally``) call that a killed process would never make."""
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if self.dying and threading.get_ident() == self.thread:
                return None
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)


# --------------------------------------------------------------------------- provider rigs


@dataclass(frozen=True)
class SeenEvent:
    """An event as a calendar person sees it, provider-neutral. All-day times are the object's local
    midnights; ``booking_id`` is the id our plugin stamped on it (None for a person's own event)."""

    id: str
    title: str
    start: datetime
    end: datetime
    all_day: bool
    live: bool
    booking_id: int | None


class GoogleRig:
    """A connected Google integration ``g1`` on a fresh World: one room object mapped to the demo room
    calendar, person edits, fault switches and request counts."""

    name = "google"
    #: Google also throttles with 403 ``rateLimitExceeded`` (Graph never does: its 403 is a real refusal)
    throttles_with_403 = True
    api_prefix = r"^/calendar/v3/"
    token_path = r"^/token$"
    write_path = r"^/calendar/v3/calendars/[^/]+/events(/[^/]+)?$"

    def __init__(
        self,
        world: World,
        *,
        timezone: str = "Europe/Amsterdam",
        settings: dict[str, Any] | None = None,
        client_id: str = "demo-client",
        client_secret: str = "demo-secret",
        integration_id: str = "g1",
        seed: int = 0,
    ) -> None:
        from calendar_emulators.google import DEMO_ROOM

        self.world = world
        self.host = world.host
        self.app, self.base = world.google(seed=seed)
        if client_id != "demo-client":
            self.app.add_client(client_id, client_secret)
        self.calendar_id = DEMO_ROOM
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)
        self.room = self.host.add_object("Room A", timezone=timezone)
        self.integration = world.integration(
            integration_id,
            "google",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "calendar_mapping": [{"object": str(self.room.id), "calendar_id": DEMO_ROOM}],
                **World.google_urls(self.base),
                **(settings or {}),
            },
        )

    # -- connection -----------------------------------------------------------------------------
    def connect(self) -> str:
        page = self.world.connect(self.integration)
        self.world.settle()
        return page

    def shorten_client_timeout(self, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
        """API calls give up after ``seconds`` (the product default is 30 s) so timeouts stay cheap."""
        backend_class, _ = self.write_methods()
        original = backend_class.__init__

        @functools.wraps(original)
        def init(backend: Any, *args: Any, **kwargs: Any) -> None:
            original(backend, *args, **kwargs)
            backend.api.timeout = seconds

        monkeypatch.setattr(backend_class, "__init__", init)

    def write_methods(self) -> tuple[Any, tuple[str, ...]]:
        """Where the backend's remote writes are (for "crash after the API write, before any record")."""
        from ireserve_calendar_plugin.providers.google.backend import GoogleBackend

        return GoogleBackend, ("create_event", "update_event", "delete_event")

    def calendar_key(self) -> str:
        """The engine's key of the room calendar."""
        from ireserve_calendar_plugin.providers.google.backend import calendar_key

        return calendar_key(self.calendar_id)

    def latest_cursor(self) -> str | None:
        """The last sync token the emulator issued for the room calendar (its own record)."""
        with self.app.lock:
            issued = [token for token, state in self.app.lister._syncs.items() if state.calendar_id == self.calendar_id]
        return issued[-1] if issued else None

    def cursor_is_latest(self, cursor: str | None) -> bool:
        return cursor is not None and cursor == self.latest_cursor()

    # -- a person edits the calendar ------------------------------------------------------------
    def _when(self, moment: datetime, all_day: bool) -> Any:
        return moment.astimezone(self.zone).date() if all_day else moment

    def person_create(self, title: str, start: datetime, end: datetime, all_day: bool = False) -> str:
        created = self.app.create_event(
            self.calendar_id, summary=title, start=self._when(start, all_day), end=self._when(end, all_day)
        )
        return str(created["id"])

    def person_move(self, event_id: str, start: datetime, end: datetime, all_day: bool = False) -> None:
        self.app.move_event(self.calendar_id, event_id, self._when(start, all_day), self._when(end, all_day))

    def person_cancel(self, event_id: str) -> None:
        self.app.cancel_event(self.calendar_id, event_id)

    def person_delete(self, event_id: str) -> None:
        self.app.delete_event(self.calendar_id, event_id)

    def events(self) -> list[SeenEvent]:
        """Every event of the room calendar (cancelled ones with ``live=False``)."""
        out = []
        for body in self.app.events(self.calendar_id):
            live = body.get("status") != "cancelled"
            start, start_all_day = self._time(body.get("start"))
            end, _ = self._time(body.get("end"))
            props = (body.get("extendedProperties") or {}).get("private") or {}
            raw = props.get("ireserveBookingId")
            out.append(
                SeenEvent(
                    str(body["id"]),
                    str(body.get("summary", "")),
                    start or _EPOCH,
                    end or _EPOCH,
                    start_all_day,
                    live,
                    int(raw) if raw and raw.isdigit() else None,
                )
            )
        return out

    def _time(self, value: Any) -> tuple[datetime | None, bool]:
        if not isinstance(value, dict):
            return None, False
        if value.get("date"):
            return datetime.combine(date.fromisoformat(value["date"]), datetime.min.time(), self.zone), True
        if value.get("dateTime"):
            return datetime.fromisoformat(value["dateTime"]), False
        return None, False

    # -- faults ---------------------------------------------------------------------------------
    def invalidate_cursor(self) -> None:
        self.app.invalidate_sync_tokens(self.calendar_id)

    def expire_access_tokens(self) -> None:
        self.app.expire_access_tokens()

    def revoke_grant(self) -> None:
        from calendar_emulators.google import DEMO_USER

        self.app.revoke_user_tokens(DEMO_USER)

    def follow_foreign_links(self, monkeypatch: pytest.MonkeyPatch, foreign: str) -> None:
        """Make the provider and the admin hand the plugin places outside the configured host: page
        tokens that are URLs of ``foreign``, and calendar ids carrying ``/ ? @ .. # %``. Queues syncs."""
        lister = self.app.lister
        original = lister._respond

        def respond(*args: Any, **kwargs: Any) -> dict[str, Any]:
            out = original(*args, **kwargs)
            out.pop("nextSyncToken", None)
            out["nextPageToken"] = f"{foreign}/calendar/v3/calendars/x/events?pageToken=steal"
            return out

        monkeypatch.setattr(lister, "_respond", respond)
        rows = [{"object": str(self.room.id), "calendar_id": self.calendar_id}]
        for number, calendar_id in enumerate(
            (f"a/../../{foreign}", "b?x=@evil", f"c@{foreign[7:]}", "../..", "#frag", "%2e%2e%2f", f"{foreign}/x")
        ):
            obj = self.host.add_object(f"Trick {number}")
            rows.append({"object": str(obj.id), "calendar_id": calendar_id})
        form = self.host.hooks.config_form(self.integration, {"calendar_mapping": rows})
        assert form is not None and form.saved, form.field_errors if form else None
        self.invalidate_cursor()
        self.world.tick()

    # -- counting -------------------------------------------------------------------------------
    def api_writes(self, *, succeeded: bool = False) -> int:
        """Event writes (insert, patch, update, delete) the emulator answered (only 2xx ones with
        ``succeeded``; else refused and faulted ones too)."""
        pattern = re.compile(self.write_path)
        return sum(
            1
            for e in self.app.requests.entries()
            if e.method in ("POST", "PATCH", "PUT", "DELETE")
            and pattern.search(e.path)
            and not e.path.endswith("/watch")
            and (not succeeded or 200 <= e.status < 300)
        )

    def token_calls(self) -> int:
        return self.app.requests.count(method="POST", path=self.token_path)

    def event_creates(self) -> int:
        """Event inserts the provider accepted."""
        return sum(
            1
            for e in self.app.requests.entries()
            if e.method == "POST" and e.path.endswith("/events") and 200 <= e.status < 300
        )

    def issued_secrets(self) -> set[str]:
        """Every access token, refresh token and authorization code the emulator issued, and every
        channel token it was given (the emulator's own records)."""
        oauth = self.app.oauth
        with self.app.lock:
            found = set(oauth._access) | set(oauth._refresh) | set(oauth._codes)
        found |= {str(c["token"]) for c in self.app.channels() if c.get("token")}
        return {s for s in found if s}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class OutlookRig(GoogleRig):
    """A connected Outlook integration ``o1`` (delegated: alex's calendar <-> one room object) on a fresh
    World, with the same surface as :class:`GoogleRig`."""

    name = "outlook"
    throttles_with_403 = False
    api_prefix = r"^/v1\.0/"
    token_path = r"/oauth2/v2\.0/token$"
    write_path = r"^/v1\.0/me/events(/[^/]+)?$"
    tenant = "contoso.onmicrosoft.com"
    user = "alex@contoso.onmicrosoft.com"

    def __init__(  # noqa: PLR0913 - the same options as GoogleRig
        self,
        world: World,
        *,
        timezone: str = "Europe/Amsterdam",
        settings: dict[str, Any] | None = None,
        client_id: str = "demo-client",
        client_secret: str = "demo-secret",
        integration_id: str = "o1",
        seed: int = 0,
    ) -> None:
        self.world = world
        self.host = world.host
        self.app, self.base = world.graph(seed=seed)
        if client_id != "demo-client":
            self.app.add_app(
                client_id, self.tenant, secret=client_secret, redirect_uris=["http://127.0.0.1/oauth/callback"]
            )
        self.calendar_id = self.user
        self.timezone = timezone
        self.zone = ZoneInfo(timezone)
        self.room = self.host.add_object("Room A", timezone=timezone)
        self.integration = world.integration(
            integration_id,
            "outlook",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "auth_mode": "delegated",
                "tenant": self.tenant,
                "object_id": str(self.room.id),
                **World.graph_urls(self.base),
                **(settings or {}),
            },
        )

    def write_methods(self) -> tuple[Any, tuple[str, ...]]:
        from ireserve_calendar_plugin.providers.outlook.backend import OutlookBackend

        return OutlookBackend, ("create_event", "update_event", "delete_event")

    def calendar_key(self) -> str:
        from ireserve_calendar_plugin.providers.outlook.backend import ME

        return ME

    def latest_cursor(self) -> str | None:
        """The last delta token Graph issued for alex's calendar (the stored delta link carries it)."""
        mailbox = self.app._mailbox(self.user).id
        with self.app.lock:
            issued = [token for token, state in self.app.delta._c.states.items() if state.mailbox_id == mailbox]
        return issued[-1] if issued else None

    def cursor_is_latest(self, cursor: str | None) -> bool:
        latest = self.latest_cursor()
        return bool(cursor and latest and f"deltatoken={latest}" in cursor)

    # -- a person edits the calendar ------------------------------------------------------------
    def person_create(self, title: str, start: datetime, end: datetime, all_day: bool = False) -> str:
        zone = self.timezone if all_day else "UTC"
        made = self.app.person_create_event(
            self.user, title, self._when(start, all_day), self._when(end, all_day), zone, all_day=all_day
        )
        return str(made["id"])

    def person_move(self, event_id: str, start: datetime, end: datetime, all_day: bool = False) -> None:
        self.app.person_move_event(
            self.user,
            event_id,
            self._when(start, all_day),
            self._when(end, all_day),
            self.timezone if all_day else "UTC",
        )

    def person_cancel(self, event_id: str) -> None:
        self.app.person_cancel_event(self.user, event_id)

    def person_delete(self, event_id: str) -> None:
        self.app.person_delete_event(self.user, event_id)

    def events(self) -> list[SeenEvent]:
        """Alex's events (Graph keeps no tombstones: cancelled ones are ``isCancelled``)."""
        out = []
        for body in self.app.events(self.user):
            all_day = body.get("isAllDay") is True
            start, end = self._graph_time(body.get("start"), all_day), self._graph_time(body.get("end"), all_day)
            raw = next(
                (
                    p.get("value")
                    for p in body.get("singleValueExtendedProperties") or []
                    if str(p.get("id", "")).lower().endswith("ireservebookingid")
                ),
                None,
            )
            out.append(
                SeenEvent(
                    str(body["id"]),
                    str(body.get("subject", "")),
                    start,
                    end,
                    all_day,
                    body.get("isCancelled") is not True,
                    int(raw) if raw and raw.isdigit() else None,
                )
            )
        return out

    def _graph_time(self, value: Any, all_day: bool) -> datetime:
        if not isinstance(value, dict) or not value.get("dateTime"):
            return _EPOCH
        text = str(value["dateTime"])
        if all_day:
            return datetime.combine(date.fromisoformat(text[:10]), datetime.min.time(), self.zone)
        zone = ZoneInfo(str(value.get("timeZone") or "UTC"))
        return datetime.fromisoformat(text[:19]).replace(tzinfo=zone)

    # -- faults ---------------------------------------------------------------------------------
    def invalidate_cursor(self) -> None:
        self.app.invalidate_delta_tokens(self.user)

    def expire_access_tokens(self) -> None:
        self.app.expire_access_tokens()

    def revoke_grant(self) -> None:
        self.app.revoke_refresh_tokens(user=self.user)

    def issued_secrets(self) -> set[str]:
        identity = self.app.identity
        with self.app.lock:
            found = set(identity.codes) | set(identity.access_tokens) | set(identity.refresh_tokens)
        found |= {str(sub["clientState"]) for sub in self.app.list_subscriptions() if sub.get("clientState")}
        return {s for s in found if s}

    def follow_foreign_links(self, monkeypatch: pytest.MonkeyPatch, foreign: str) -> None:
        """Graph hands the plugin ``@odata.nextLink`` URLs of ``foreign`` (and lookalikes of the real
        host), and the admin enters tenants and mailboxes carrying ``/ ? @ ..``. Queues syncs."""
        delta = self.app.delta
        good = urlsplit(self.base)
        links = iter(
            [
                f"{foreign}/v1.0/me/calendarView/delta?$skiptoken=steal",
                f"http://{good.hostname}:{good.port}@{urlsplit(foreign).netloc}/v1.0/me/calendarView/delta",
                f"{self.base}/v1.0/../../steal",
                f"{self.base}.evil.example/v1.0/me/calendarView/delta",
            ]
            * 50
        )

        def next_link(base: str, cursor: Any) -> str:
            return next(links)

        monkeypatch.setattr(delta, "_next", next_link)
        self.app.configure(delta_page_size=1)
        for tenant in (
            f"contoso.onmicrosoft.com/../../{foreign}",
            "contoso.onmicrosoft.com?x=@evil",
            "..",
            f"evil@{urlsplit(foreign).netloc}",
        ):
            form = self.host.hooks.config_form(self.integration, {"tenant": tenant})
            assert form is not None and not form.saved, f"tenant {tenant!r} was accepted"
        for upn in (f"room/../../x@{urlsplit(foreign).netloc}", "room?x=1@contoso.onmicrosoft.com", "..@x", "a@b/.."):
            form = self.host.hooks.config_form(
                self.integration, {"auth_mode": "application", "rooms": [{"upn": upn, "object": str(self.room.id)}]}
            )
            assert form is not None and not form.saved, f"mailbox {upn!r} was accepted"
        self.invalidate_cursor()
        soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
        self.person_create("paged", soon, soon + timedelta(hours=1))
        self.world.tick()


def make_rig(provider: str, world: World, **options: Any) -> GoogleRig:
    """The rig of one provider: a connected-to-be integration on ``world`` and the provider's emulator."""
    if provider == "google":
        return GoogleRig(world, **options)
    if provider == "outlook":
        return OutlookRig(world, **options)
    if provider == "caldav":  # options: radicale= (the session's server), stack= (closes the proxy)
        from tests.reliability.caldav_rig import CalDavRig

        return CalDavRig(world, **options)  # type: ignore[return-value]
    raise NotImplementedError(f"no reliability rig for provider {provider!r}")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(tmp_path / "host.sqlite3") as w:
        yield w


def hour_after(moment: datetime, hours: float = 24) -> datetime:
    """A whole hour at least ``hours`` after ``moment`` (booking times are whole minutes)."""
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)
