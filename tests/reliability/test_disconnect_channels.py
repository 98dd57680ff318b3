"""Disconnecting an account stops its push channels at the provider (issue 12's closing note, item 1).

Attack / careless admin: disconnect a connected integration. Before, the tokens were dropped and the grant
revoked, but the Google watch channel / Graph subscription stayed live: the provider went on sending
notifications for days, and the ``chan/<id>`` index entries stayed in the config for good.

Wanted: the click touches host storage only (no provider call while the admin waits); the job stops
every channel at the provider with the retired grant and drops its index entry; a provider that refuses
is told to the admin in words (no crash, the job is done); and orphan index entries (left by a worker
killed between indexing and storing a channel, or by earlier versions) are swept by the hourly job.
"""

from __future__ import annotations

from typing import Any

import pytest

from hookspecs.forms import ACTION_FIELD
from ireserve_calendar_plugin.auth.tokens import RETIRED_KEY
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.sync.state import StateStore
from ireserve_calendar_plugin.sync.unwatch import ORPHAN_GRACE
from ireserve_lab.world import World
from tests.reliability.conftest import make_rig


def live_channels(rig: Any) -> list[str]:
    """The channel / subscription ids the emulator would still notify."""
    if rig.name == "google":
        return [c["id"] for c in rig.app.channels() if not c["stopped"] and not c["expired"]]
    return [s.id for s in rig.app.subscriptions.all()]


def _connected(world: World, provider: str) -> tuple[Any, Any]:
    rig = make_rig(provider, world)
    rig.connect()
    ctx = context_for(world.host, rig.integration)
    assert ctx is not None
    assert live_channels(rig), "the connected integration has a push channel"
    assert ctx.store.list_keys("chan/")
    return rig, ctx


def test_disconnect_stops_the_channels_in_a_job_and_drops_their_entries(world: World, provider: str) -> None:
    rig, ctx = _connected(world, provider)
    live = live_channels(rig)
    form = world.host.hooks.config_form(rig.integration, {ACTION_FIELD: "disconnect"})
    assert form is not None and form.notices and not form.errors
    assert live_channels(rig) == live  # the click asked the provider nothing
    states = StateStore(ctx.store)
    assert all(states.load(k).channel is None for k in states.keys())  # noqa: SIM118

    world.settle()
    assert live_channels(rig) == []
    assert ctx.store.list_keys("chan/") == []
    assert not ctx.store.load(RETIRED_KEY).exists  # the grant kept to stop them is forgotten
    assert not [e for e in world.host.integrations.entries(rig.integration.id) if e.level == "error"]
    status = world.host.hooks.config_form(rig.integration, None)
    assert status is not None and "needs reconnect" not in status.status.lower()

    rig.connect()  # connecting again makes a new channel
    assert len(live_channels(rig)) == 1 and live_channels(rig) != live


def test_a_provider_refusing_the_stop_is_said_in_words(world: World, provider: str) -> None:
    rig, ctx = _connected(world, provider)
    rig.revoke_grant()
    rig.expire_access_tokens()
    form = world.host.hooks.config_form(rig.integration, {ACTION_FIELD: "disconnect"})
    assert form is not None and not form.errors
    world.settle()
    log = world.host.integrations.entries(rig.integration.id)
    said = [e.message for e in log if "could not be stopped" in e.message]
    assert said and "expires" in said[0] and "Traceback" not in said[0]
    assert ctx.store.list_keys("chan/") == []
    assert not world.host.jobs.all(state="failed")
    status = world.host.hooks.config_form(rig.integration, None)
    assert status is not None and "needs reconnect" not in status.status.lower()


@pytest.mark.parametrize("legacy", [True, False])
def test_orphan_channel_entries_are_swept_after_a_grace(world: World, provider: str, legacy: bool) -> None:
    rig, ctx = _connected(world, provider)
    kept = ctx.store.list_keys("chan/")
    orphan = {"calendar": "gdeadbeef", "secret": "s"} if legacy else {"calendar": "g1", "secret": "s", "resource": "r"}
    ctx.store.save("chan/orphan-1", orphan, expected_version=None)
    world.tick()
    world.settle()
    assert "chan/orphan-1" in ctx.store.list_keys("chan/")  # a channel being created right now looks the same
    world.advance(ORPHAN_GRACE.total_seconds() + 60)
    world.tick()
    world.settle()
    assert ctx.store.list_keys("chan/") == kept  # the orphan gone, the live channel's entry kept
    assert live_channels(rig)
