"""Google push channels, end to end over real HTTP (issue 12).

- A notification with the right channel id and token but another ``X-Goog-Resource-ID`` than the one
  events.watch returned is refused (403) and queues nothing; the genuine one is accepted.
- The channel's first message (``sync``) may reach the host before the events.watch answer reaches the
  plugin; it must be answered 2xx (Google counts anything else as a failed delivery). The plugin
  chooses the channel id and token itself and indexes them before calling watch; a watch that fails
  takes its reservation back (a later notice naming it is refused).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from calendar_emulators.core import Fault
from calendar_emulators.google import DEMO_ROOM
from ireserve_calendar_plugin.providers.google.backend import calendar_key
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.runtime import push_address
from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.state import StateStore
from ireserve_lab.world import World


class Rig:
    def __init__(self, world: World, **emulator: Any) -> None:
        self.world = world
        self.host = world.host
        self.google, base = world.google(**emulator)
        room = self.host.add_object("Room A", timezone="Europe/Amsterdam")
        self.integration = world.integration(
            "g1",
            "google",
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "calendar_mapping": [{"object": str(room.id), "calendar_id": DEMO_ROOM}],
                **World.google_urls(base),
            },
        )
        ctx = context_for(self.host, self.integration)
        assert ctx is not None
        self.ctx = ctx

    def channel(self) -> Channel:
        data = StateStore(self.ctx.store).load(calendar_key(DEMO_ROOM)).channel
        assert data, "no channel was made"
        return Channel.from_json(data)

    def push(self, channel_id: str, token: str, resource: str | None, state: str = "exists") -> int:
        headers = {
            "X-Goog-Channel-ID": channel_id,
            "X-Goog-Channel-Token": token,
            "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": "7",
        }
        if resource is not None:
            headers["X-Goog-Resource-ID"] = resource
        return requests.post(push_address(self.ctx), headers=headers, timeout=10).status_code

    def queued_syncs(self) -> int:
        return self.world.run_jobs()


@pytest.fixture
def world(tmp_path: Any) -> Iterator[World]:
    with World(tmp_path / "host.sqlite3") as w:
        yield w


def test_a_push_with_another_resource_id_is_refused(world: World) -> None:
    rig = Rig(world)
    world.connect(rig.integration)
    world.settle()
    channel = rig.channel()
    assert channel.resource  # what events.watch returned is kept with the channel
    assert rig.push(channel.id, channel.secret, channel.resource + "x") == 403
    assert rig.push(channel.id, channel.secret, None) == 403
    assert rig.push(channel.id, channel.secret, "A" * 300) == 403
    assert rig.queued_syncs() == 0  # nothing was queued by the forged ones
    assert rig.push(channel.id, channel.secret, channel.resource) == 200
    assert rig.queued_syncs() == 1


def test_the_sync_message_before_the_watch_answer_is_acknowledged(world: World) -> None:
    rig = Rig(world, sync_before_response=True)
    world.connect(rig.integration)
    world.settle()
    channel = rig.channel()
    syncs = [status for url, status in rig.google.deliverer.delivered if url == push_address(rig.ctx)]
    assert syncs and all(200 <= status < 300 for status in syncs), syncs
    # once watch answered, the channel's resource id is checked like any other
    assert rig.push(channel.id, channel.secret, channel.resource + "x") == 403


def test_a_failed_watch_takes_its_reservation_back(world: World) -> None:
    rig = Rig(world)
    rig.google.faults.add(Fault(status=400, path="/watch$", method="POST", times=1))
    world.connect(rig.integration)
    world.settle()
    assert rig.google.faults.injected >= 1
    assert StateStore(rig.ctx.store).load(calendar_key(DEMO_ROOM)).channel is None
    assert rig.ctx.store.list_keys("chan/") == []  # no reservation outlives its failed call
