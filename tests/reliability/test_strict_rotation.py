"""Strict refresh-token rotation: a refresh whose new token was never stored (issue 12).

Microsoft rotates refresh tokens on every refresh; with strict rotation (the Graph emulator's
``strict_refresh_rotation``, as some tenants enforce) the token sent is spent at once. A worker killed
after the token endpoint answered but before the new token was stored leaves only the spent one: the
grant is lost, and no code can bring it back. What the plugin owes the admin is to say so: the
integration shows "needs reconnect" with that reason, the token endpoint is not asked again in a loop,
and queued work waits for the reconnect.
"""

from __future__ import annotations

import pytest

from ireserve_calendar_plugin.auth.tokens import AccessTokens
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.runtime import engine_for
from ireserve_lab.world import World
from tests.reliability.conftest import Crash
from tests.reliability.conftest import make_rig


def test_a_refresh_killed_before_its_new_token_was_stored_needs_reconnect_with_the_reason(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig("outlook", world)
    rig.app.configure(strict_refresh_rotation=True)
    rig.connect()
    ctx = context_for(world.host, rig.integration)
    assert ctx is not None

    def killed(*args: object, **kwargs: object) -> bool:
        raise Crash("killed after the token endpoint answered, before the new refresh token was stored")

    world.advance(2 * 3600)  # the access token expired: the next call refreshes
    with monkeypatch.context() as patch:
        patch.setattr(AccessTokens, "_store_refreshed", killed)
        with engine_for(ctx) as engine, pytest.raises(Crash):
            engine.backend.tokens.get()  # type: ignore[attr-defined]
    assert not AuthStatus(ctx.store).needs_reconnect()  # nothing knows yet

    world.tick()
    world.settle()
    status = AuthStatus(ctx.store).get()
    assert status["state"] == "needs_reconnect"
    assert status["reason"].startswith("A token refresh did not complete"), status["reason"]
    form = world.host.hooks.config_form(rig.integration, None)
    assert form is not None and form.status.startswith("Needs reconnect: A token refresh did not complete"), form
    alerts = [e.message for e in world.host.integrations.entries(rig.integration.id) if e.level == "error"]
    assert len(alerts) == 1 and "A token refresh did not complete" in alerts[0], alerts

    before = rig.token_calls()
    for _ in range(3):  # never a silent failure loop: nothing asks the token endpoint again
        world.advance(3600)
        world.tick()
        world.settle()
    assert rig.token_calls() == before
