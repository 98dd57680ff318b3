"""An integration deleted by the host (issue 12's closing note, item 4; the optional hook
``on_integration_removed``).

Before: the contract had no word for it. The reference host deleted the integration's config with it,
so the Google watch channel / Graph subscription stayed live at the provider (notifications refused
for days) and nothing could stop it. Wanted, through the reference host's admin delete: the click asks
the provider nothing; a job stops the channels with the integration's grant, then deletes everything the
plugin stored (tokens, settings, state, leases, schedule, queued work finds the integration gone);
bookings stay untouched; the id can be used again once the config is empty, not before.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from werkzeug.test import Client

from ireserve_calendar_plugin.removal import JOB_FORGET
from ireserve_calendar_plugin.removal import REMOVED_KEY
from ireserve_calendar_plugin.runtime import lease_ttl
from ireserve_devhost import HostApp
from ireserve_devhost.form_data import CSRF_FIELD
from ireserve_lab.world import World
from tests.devhost.test_devhost_admin import dom
from tests.reliability.conftest import USER
from tests.reliability.conftest import make_rig
from tests.reliability.test_disconnect_channels import live_channels


def _delete_in_the_admin(world: World, integration_id: str) -> None:
    client = Client(HostApp(world.host))
    page = dom(client.get(f"/admin/integrations/{integration_id}"))
    token = page.find_all("input", name=CSRF_FIELD)[0].attrs["value"] or ""
    response = client.post(f"/admin/integrations/{integration_id}/delete", data={CSRF_FIELD: token, "confirmed": "yes"})
    assert response.status_code == 303


def test_hook_on_integration_removed(world: World, provider: str) -> None:
    rig = make_rig(provider, world)
    rig.connect()
    host, iid = world.host, rig.integration.id
    start = world.clock().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    booking = host.bookings.create(
        object_id=rig.room.id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="Stays",
        channel="web",
        origin=USER,
    )
    world.settle()
    booking = host.bookings.get(booking.id)
    live = live_channels(rig)
    assert live and host.config.keys(iid)

    _delete_in_the_admin(world, iid)
    assert host.integrations.get(iid) is None
    assert live_channels(rig) == live  # the click asked the provider nothing
    assert REMOVED_KEY in host.config.keys(iid)  # kept for the plugin, which cleans up
    with pytest.raises(ValueError, match="still cleaning up"):
        host.add_integration(iid, provider)

    world.run_jobs()  # what is due now
    assert live_channels(rig) == []  # the provider stops notifying
    assert host.config.keys(iid) == [REMOVED_KEY]  # the rest waits for jobs that may still be running
    (again,) = host.jobs.all(state="queued", name=JOB_FORGET)
    assert again.run_at >= world.clock() + lease_ttl() - timedelta(seconds=5)
    world.advance(lease_ttl().total_seconds() + 1)
    world.run_jobs()
    assert host.config.keys(iid) == []
    assert not host.jobs.all(state="failed")
    assert host.bookings.get(booking.id) == booking  # bookings are the host's: untouched
    host.add_integration(iid, provider)  # the id is free again


def test_a_refused_stop_is_said_in_words_and_does_not_keep_the_config(
    world: World, provider: str, caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(provider, world)
    rig.connect()
    rig.revoke_grant()
    rig.expire_access_tokens()
    _delete_in_the_admin(world, rig.integration.id)
    world.settle()
    world.advance(lease_ttl().total_seconds() + 1)
    world.settle()
    assert world.host.config.keys(rig.integration.id) == []
    assert not world.host.jobs.all(state="failed")
    said = [r.getMessage() for r in caplog.records if "could not be stopped" in r.getMessage()]
    assert said and "stops by itself when it expires" in said[0]  # the operator's log: the host keeps none


def test_what_no_key_opens_any_more_is_deleted_too(world: World) -> None:
    """A removal whose values were sealed with a key since dropped (or whose provider is uninstalled) still
    ends with an empty config, so the id is not blocked for good."""
    rig = make_rig("google", world)
    rig.connect()
    iid = rig.integration.id
    _delete_in_the_admin(world, iid)
    world.host.rotate_key()
    for kid in [k for k in world.host.keyring.keys if k != world.host.keyring.current]:
        world.host.drop_key(kid)
    world.settle()
    assert world.host.config.keys(iid) == []
    assert not world.host.jobs.all(state="failed")
