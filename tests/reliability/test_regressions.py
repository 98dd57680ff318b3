"""Deterministic reproductions of the bugs the randomized suites found, one story each (Google).

Each test failed before its fix in the product and passes after it:

- our own deleted event, seen again in a full listing with its booking id, cancelled the booking that
  had been confirmed again meanwhile (rule 1 fallbacks matched a deleted event);
- a delete whose outcome was lost (worker died after the DELETE) left a "linked" link behind, and the
  tombstone then cancelled the booking that had been confirmed again (now: link state ``deleting``);
- two outbound jobs of one booking planned at the same time made two events (the plan was made
  before taking the calendar lease and not checked under it);
- a ``Retry-After`` longer than the API client waits was not honoured by the next job of the
  integration (a push or a poll queued a sync that called the API at once);
- a worker that died while refreshing the access token (its token lease still held) made every other
  worker declare the grant lost: "needs reconnect" and an admin alert, though the grant was fine;
- Graph notifications nested thousands deep made the push route answer 500 (``RecursionError``);
- the reference host answered a body cut short or broken chunked encoding with a 500, and dropped the
  connection (a crash in its request logger) for a request line it could not parse.

The time suite (``test_time.py``) pins its own counterexamples with ``@example``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from calendar_emulators.core import Fault
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.runtime import engine_for
from ireserve_calendar_plugin.services import enqueue
from ireserve_calendar_plugin.sync.engine import outbound_job
from ireserve_calendar_plugin.sync.engine import sync_job
from ireserve_calendar_plugin.sync.links import LinkState
from ireserve_calendar_plugin.sync.links import LinkStore
from ireserve_calendar_plugin.sync.state import Leases
from ireserve_lab.world import World
from tests.reliability.conftest import USER
from tests.reliability.conftest import Crash
from tests.reliability.conftest import GoogleRig
from tests.reliability.conftest import hour_after
from tests.reliability.conftest import install_clock_sleep


@pytest.fixture
def rig(world: World, monkeypatch: pytest.MonkeyPatch) -> GoogleRig:
    rig = GoogleRig(world)
    rig.connect()
    install_clock_sleep(monkeypatch, world)
    return rig


def _book(rig: GoogleRig, hours: float = 24) -> Any:
    start = hour_after(rig.world.clock(), hours)
    return rig.host.bookings.create(
        object_id=rig.room.id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="Team",
        channel="web",
        origin=USER,
    )


def _live(rig: GoogleRig) -> list[Any]:
    return [e for e in rig.events() if e.live]


def test_our_old_tombstone_in_a_full_listing_does_not_cancel_a_reconfirmed_booking(rig: GoogleRig) -> None:
    booking = _book(rig)
    rig.world.settle()
    rig.host.bookings.set_status(booking.id, "cancelled", origin=USER)
    rig.world.settle()
    assert _live(rig) == []
    rig.host.bookings.set_status(booking.id, "confirmed", origin=USER)  # its outbound job is not run yet
    rig.invalidate_cursor()
    ctx = context_for(rig.host, rig.integration)
    assert ctx is not None
    with engine_for(ctx) as engine:
        engine.sync(rig.calendar_key())  # a full listing: the deleted event comes back with its booking id
    assert rig.host.bookings.get(booking.id).status == "confirmed"
    rig.world.settle()
    (event,) = _live(rig)
    assert rig.host.bookings.get(booking.id).fields["external_id"] == event.id


def test_a_delete_whose_outcome_was_lost_does_not_cancel_the_booking_confirmed_again(
    rig: GoogleRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ireserve_calendar_plugin.providers.google.backend import GoogleBackend

    booking = _book(rig)
    rig.world.settle()
    original = GoogleBackend.delete_event

    def delete_then_die(self: GoogleBackend, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        raise Crash("after the DELETE, before any record")

    with monkeypatch.context() as patch:
        patch.setattr(GoogleBackend, "delete_event", delete_then_die)
        patch.setattr(Leases, "release", lambda self, lease: None)  # a dead worker releases nothing
        rig.host.bookings.set_status(booking.id, "cancelled", origin=USER)
        with pytest.raises(Crash):
            rig.world.run_jobs()
    rig.world.advance(301)  # the dead worker's leases expire
    link = LinkStore(SecureConfig(rig.host.config, rig.host.keyring, rig.integration.id)).get(
        rig.calendar_key(), booking.id
    )
    assert link is not None and link.state == LinkState.DELETING  # the only record of the lost delete
    rig.host.bookings.set_status(booking.id, "confirmed", origin=USER)  # its outbound job is not run yet
    # the tombstone is read while the link still says "deleting" (before the outbound job finishes the
    # delete and relinks): only the rule "our own deletion only unlinks" keeps the booking confirmed
    ctx = context_for(rig.host, rig.integration)
    assert ctx is not None
    with engine_for(ctx) as engine:
        result = engine.sync(rig.calendar_key())
    assert result.counts.get("unlinked") == 1, result.counts
    assert rig.host.bookings.get(booking.id).status == "confirmed"
    rig.world.settle()
    assert rig.host.bookings.get(booking.id).status == "confirmed"
    (event,) = _live(rig)
    assert rig.host.bookings.get(booking.id).fields["external_id"] == event.id


def test_two_outbound_jobs_planned_together_make_one_event(rig: GoogleRig, monkeypatch: pytest.MonkeyPatch) -> None:
    booking = _book(rig)  # queues its outbound job
    job = outbound_job(rig.integration.id, booking.id)
    acquire = Leases.acquire

    def the_other_worker_first(leases: Leases, *args: Any, **kwargs: Any) -> Any:
        # our job has planned "create"; another worker runs the same job before we take the lease
        monkeypatch.setattr(Leases, "acquire", acquire)
        rig.host.jobs.enqueue(job.name, job.payload, dedupe_key="second-worker")
        rig.world.run_jobs()
        return acquire(leases, *args, **kwargs)

    monkeypatch.setattr(Leases, "acquire", the_other_worker_first)
    rig.world.settle()
    assert len(_live(rig)) == 1
    assert rig.app.requests.count(method="POST", path=r"/events$", status=200) == 1


def test_a_retry_after_longer_than_the_client_waits_holds_every_job(rig: GoogleRig) -> None:
    _book(rig)
    rig.world.settle()
    rig.app.faults.add(Fault(status=429, retry_after=120, method="GET", path=r"/events$"))
    enqueue(rig.host, sync_job(rig.integration.id, rig.calendar_key()))
    rig.world.run_jobs()
    (faulted,) = [e for e in rig.app.requests.entries() if e.fault == "429"]
    start = hour_after(rig.world.clock(), 48)
    rig.person_create("pushed meanwhile", start, start + timedelta(hours=1))  # a push queues a sync now
    rig.world.wait_for_pushes()
    rig.world.run_jobs()
    rig.world.advance(60)
    rig.world.tick()
    rig.world.run_jobs()
    gaps = [
        (e.started - faulted.started).total_seconds()
        for e in rig.app.requests.entries()
        if e.method == "GET" and e.path.endswith("/events") and e.started > faulted.started
    ]
    assert all(gap >= 120 for gap in gaps), gaps
    rig.world.advance(61)
    rig.world.settle()
    assert any(b.title == "pushed meanwhile" for b in rig.host.list_bookings(rig.room.id))


def test_a_worker_dying_mid_refresh_does_not_lose_the_grant(rig: GoogleRig) -> None:
    store = SecureConfig(rig.host.config, rig.host.keyring, rig.integration.id)
    tokens, version = TokenStore(store).load()
    assert tokens is not None
    stale = type(tokens)(
        tokens.access_token,
        rig.world.clock() - timedelta(minutes=1),
        tokens.refresh_token,
        tokens.scopes,
        tokens.account,
    )
    assert TokenStore(store).save(stale, expected_version=version)
    assert Leases(store).acquire("token-tokens", rig.world.clock(), timedelta(seconds=30))  # the dead refresher's
    booking = _book(rig)
    rig.world.run_jobs()
    assert AuthStatus(store).get()["state"] == "connected"
    assert not [e for e in rig.host.integration_log(rig.integration.id) if e.level == "error"]
    rig.world.advance(60)
    rig.world.settle()
    (event,) = _live(rig)
    assert rig.host.bookings.get(booking.id).fields["external_id"] == event.id


def test_outlook_push_nested_a_hundred_thousand_deep_is_a_clean_400() -> None:
    from hookspecs.types import HttpRequest
    from ireserve_calendar_plugin.providers.outlook.push import parse_push

    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"value":' * 100_000 + b"1" + b"}" * 100_000):
        parsed = parse_push(HttpRequest("POST", "/calendar/push/outlook/o1", body=body))
        assert parsed.ack_status == 400 and not parsed.notices


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"POST /ext/calendar/push/google/g1 HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n{", 400),
        (b"POST /ext/calendar/push/google/g1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n", 400),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
    ],
)
def test_the_host_answers_broken_http_with_a_4xx(world: World, raw: bytes, status: int) -> None:
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(world.server.url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()) or answer.startswith(f"HTTP/1.0 {status} ".encode())
