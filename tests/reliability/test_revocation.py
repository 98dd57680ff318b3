"""Revocation: a lost grant stops the integration cleanly, once, and reconnecting loses and doubles nothing.

What it proves, per provider, when the account's grant is revoked (the token endpoint answers
``invalid_grant``) while bookings and events keep changing on both sides:

- after the first permanent failure the token endpoint is never called again, however many jobs,
  pushes and cron ticks follow (0 retries);
- exactly one admin-visible alert, and the status reads "needs reconnect";
- 0 events created or deleted, and 0 bookings changed, as a side effect of the outage;
- reconnecting writes what was parked and picks up what the calendar did, with 0 duplicates: every
  booking has exactly one event and every event exactly one booking.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ireserve_lab.world import World
from tests.reliability.conftest import USER
from tests.reliability.conftest import hour_after
from tests.reliability.conftest import install_clock_sleep
from tests.reliability.conftest import make_rig
from tests.reliability.conftest import report


def test_revoked_grant_stops_once_and_reconnecting_duplicates_nothing(
    world: World, provider: str, monkeypatch: pytest.MonkeyPatch, long_run: bool
) -> None:
    rig = make_rig(provider, world, settings={"allow_booking_update": True})
    rig.connect()
    install_clock_sleep(monkeypatch, world)
    host = world.host
    start = hour_after(world.clock(), 30)
    before = [
        host.bookings.create(
            object_id=rig.room.id,
            start=start + timedelta(hours=2 * i),
            end=start + timedelta(hours=2 * i + 1),
            status="confirmed",
            title=f"before-{i}",
            channel="web",
            origin=USER,
        )
        for i in range(3)
    ]
    world.settle()

    rig.revoke_grant()
    rig.expire_access_tokens()
    writes, token_calls = rig.api_writes(succeeded=True), rig.token_calls()
    versions = {b.id: b.version for b in host.list_bookings()}
    during = [
        host.bookings.create(
            object_id=rig.room.id,
            start=start + timedelta(days=1, hours=2 * i),
            end=start + timedelta(days=1, hours=2 * i + 1),
            status="confirmed",
            title=f"during-{i}",
            channel="web",
            origin=USER,
        )
        for i in range(3)
    ]
    host.bookings.set_status(before[0].id, "cancelled", origin=USER)
    host.bookings.update_times(
        before[1].id, start=start + timedelta(days=2), end=start + timedelta(days=2, hours=1), origin=USER
    )
    person = [
        rig.person_create(
            f"person-{i}", start + timedelta(days=3, hours=2 * i), start + timedelta(days=3, hours=2 * i + 1)
        )
        for i in range(2)
    ]
    world.settle()
    first_failure_calls = rig.token_calls() - token_calls
    for i in range(6 if long_run else 3):  # polls, renewals, pushes: nothing may try the grant again
        world.advance(31 * 60)
        world.tick()
        later = start + timedelta(days=9, hours=2 * i)
        rig.person_create(f"more-{i}", later, later + timedelta(hours=1))
        world.settle()
    retries = rig.token_calls() - token_calls - first_failure_calls
    form = host.hooks.config_form(rig.integration, None)
    alerts = [e for e in host.integration_log(rig.integration.id) if e.level == "error"]
    side_effect_writes = rig.api_writes(succeeded=True) - writes
    changed_by_people = (before[0].id, before[1].id)
    changed_by_plugin = [
        b.id
        for b in host.list_bookings()
        if b.id in versions and b.version != versions[b.id] and b.id not in changed_by_people
    ]

    rig.connect()
    world.advance(60)
    world.tick()
    world.settle()
    live = [e for e in rig.events() if e.live]
    bookings = host.list_bookings(rig.room.id)
    linked = [b for b in bookings if b.status != "cancelled"]
    by_booking = {
        b.id: [e for e in live if e.booking_id == b.id or e.id == b.fields.get("external_id")] for b in linked
    }
    figures = {
        "provider": provider,
        "token_calls_at_first_failure": first_failure_calls,
        "token_retries_after_it": retries,
        "alerts": len(alerts),
        "status": form.status if form else None,
        "side_effect_api_writes": side_effect_writes,
        "bookings_changed_by_the_outage": len(changed_by_plugin),
        "bookings": len(bookings),
        "live_events": len(live),
        "duplicates": sum(max(0, len(v) - 1) for v in by_booking.values()),
        "missing_events": sum(1 for v in by_booking.values() if not v),
    }
    report(f"revocation-{provider}", figures, long_run=long_run)
    assert first_failure_calls >= 1 and retries == 0
    assert len(alerts) == 1 and "econnect" in alerts[0].message
    assert form is not None and form.status.lower().startswith("needs reconnect")
    assert side_effect_writes == 0 and not changed_by_plugin
    assert figures["duplicates"] == 0 and figures["missing_events"] == 0
    assert len(live) == len(linked)
    titles = {b.title for b in linked}
    assert {b.title for b in during} <= titles and {"person-0", "person-1"} <= titles and person
    assert host.bookings.get(before[0].id).status == "cancelled"
    assert host.bookings.get(before[1].id).start == start + timedelta(days=2)
