"""Provider limits across workers: slots per scope with expiry, and the shared Retry-After pause."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from hookspecs.types import KeyRing
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import RateLimitedError
from ireserve_calendar_plugin.providers.limits import SharedPause
from ireserve_calendar_plugin.providers.limits import SharedSlots
from ireserve_calendar_plugin.providers.outlook.backend import mailbox_of
from tests.unit.memory_config import MemoryConfig

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def _stores(n: int) -> list[SecureConfig]:
    """``n`` workers' views of one integration's storage (one config API, one key ring)."""
    config, ring = MemoryConfig(), KeyRing(current="k1", keys={"k1": os.urandom(32)})
    return [SecureConfig(config, ring, "o1") for _ in range(n)]


def test_a_scope_has_at_most_limit_slots_across_workers_and_a_given_back_slot_is_free_again() -> None:
    clock = Clock()
    workers = [SharedSlots(s, "mailbox:room-1", 4, ttl=timedelta(seconds=45), now=clock, sleep=clock.sleep)
               for s in _stores(5)]
    held = [w.try_take() for w in workers[:4]]
    assert all(held)
    assert workers[4].try_take() is None  # the fifth worker finds the mailbox full
    other = SharedSlots(_stores(1)[0], "mailbox:room-2", 4, ttl=timedelta(seconds=45), now=clock, sleep=clock.sleep)
    assert other.try_take()  # another scope is not affected
    workers[0].give_back(held[0] or "")
    assert workers[4].try_take() is not None


def test_the_slots_of_a_killed_worker_come_back_after_their_ttl() -> None:
    clock = Clock()
    store = _stores(1)[0]
    slots = SharedSlots(store, "user", 2, ttl=timedelta(seconds=45), now=clock, sleep=clock.sleep)
    assert slots.try_take() and slots.try_take()  # a worker took both and was killed
    assert slots.try_take() is None
    clock.now += timedelta(seconds=44)
    assert slots.try_take() is None  # a live request keeps its slot for the whole ttl
    token = slots.take()  # waits (polling) until the dead worker's slots expire
    assert token and T0 + timedelta(seconds=45) <= clock.now < T0 + timedelta(seconds=47)


def test_threads_sharing_a_scope_never_exceed_its_limit() -> None:
    stores = _stores(8)
    in_flight, peak, lock = 0, 0, threading.Lock()

    def work(store: SecureConfig) -> None:
        nonlocal in_flight, peak
        slots = SharedSlots(store, "mailbox:x", 3, ttl=timedelta(seconds=60), now=lambda: datetime.now(UTC),
                            sleep=time.sleep)
        for _ in range(10):
            with slots.held():
                with lock:
                    in_flight += 1
                    peak = max(peak, in_flight)
                time.sleep(0.002)
                with lock:
                    in_flight -= 1

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3


def test_a_retry_after_recorded_by_one_worker_is_honoured_by_every_worker() -> None:
    clock = Clock()
    first, second = (SharedPause(s, "outlook", max_wait=60, now=clock, sleep=clock.sleep) for s in _stores(2))
    second.wait()
    assert clock.sleeps == []  # no pause recorded: no wait
    first.hold(7)
    first.hold(3)  # a shorter Retry-After never shortens the pause
    second.wait()
    assert clock.sleeps == [7.0]
    second.wait()
    assert clock.sleeps == [7.0]  # over: nothing more to wait


def test_a_pause_longer_than_a_job_should_sleep_goes_back_to_the_queue() -> None:
    clock = Clock()
    first, second = (SharedPause(s, "outlook", max_wait=60, now=clock, sleep=clock.sleep) for s in _stores(2))
    first.hold(600)
    with pytest.raises(RateLimitedError) as caught:
        second.wait()
    assert caught.value.retry_after == pytest.approx(600)
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("url", "mailbox"),
    [
        ("https://graph.microsoft.com/v1.0/users/Room-1%40contoso.com/calendarView/delta", "room-1@contoso.com"),
        ("https://graph.microsoft.com/v1.0/users/room-2@contoso.com/events/AAA=", "room-2@contoso.com"),
        ("https://graph.microsoft.com/v1.0/me/events", "me"),
        ("https://graph.microsoft.com/v1.0/subscriptions/abc", None),
        ("https://graph.microsoft.com/v1.0/places/microsoft.graph.room", None),
    ],
)
def test_the_mailbox_of_a_graph_request(url: str, mailbox: str | None) -> None:
    assert mailbox_of(url, "https://graph.microsoft.com") == mailbox
