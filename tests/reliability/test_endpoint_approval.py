"""Changing an endpoint setting is a re-approval (issue 12), per provider, end to end.

Attack: an admin session (or a careless admin) changes only an endpoint URL of a connected integration
(Google's token or API base URL, Outlook's login or Graph base URL) to a second loopback server, leaving
the secret field empty. Today the save succeeded and the next token refresh POSTed the stored client
secret and refresh token there (the next page view sent the access token to a new API base).

Wanted: the save is refused with an error on the client secret saying why; with the secret typed again
it is accepted, the stored grant is dropped (status "not connected", one log line) and, whatever the
host does next (page views, cron, jobs, a booking change, time passing), the new server never receives
the secret, a refresh token or an access token.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.config.schemas import SECRET_MASK
from ireserve_calendar_plugin.runtime import context_for
from ireserve_lab.world import World
from tests.providers.loopback import serving
from tests.reliability.conftest import USER
from tests.reliability.conftest import make_rig

SECRET = "demo-secret"
#: per provider: the endpoint field changed, and the path the new server is given for it
MOVES = {
    "google": [("token_url", "/token"), ("api_base_url", "/calendar/v3")],
    "outlook": [("login_base_url", ""), ("graph_base_url", "")],
}


def _values(form: Any) -> dict[str, Any]:
    return {f.name: f for f in form.fields}


@pytest.mark.parametrize("which", [0, 1])
def test_an_endpoint_change_needs_the_secret_again_and_drops_the_grant(world: World, provider: str, which: int) -> None:
    field, path = MOVES[provider][which]
    rig = make_rig(provider, world)
    rig.connect()
    host, integration = world.host, rig.integration
    ctx = context_for(host, integration)
    assert ctx is not None
    tokens, _ = TokenStore(ctx.store).load()
    assert tokens is not None and tokens.refresh_token
    with serving(200) as thief:
        moved = thief.url + path
        for secret in ({}, {"client_secret": ""}, {"client_secret": SECRET_MASK}):
            form = host.hooks.config_form(integration, {field: moved, **secret})
            assert form is not None and not form.saved
            error = _values(form)["client_secret"].error
            assert "Enter the client secret again" in error and "new place" in error
        assert ctx.store.load("settings").data[field] != moved  # nothing was written
        assert TokenStore(ctx.store).load()[0] == tokens

        form = host.hooks.config_form(integration, {field: moved, "client_secret": SECRET})
        assert form is not None and form.saved, form.field_errors if form else None
        assert form.status.startswith("Not connected: endpoint settings changed")
        assert TokenStore(ctx.store).load()[0] is None
        logged = [e.message for e in host.integrations.entries(integration.id) if "endpoint settings" in e.message]
        assert len(logged) == 1 and "Connect the account again" in logged[0]

        # everything a host does next: page views, cron, jobs, a booking change, tokens expiring
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        host.bookings.create(
            object_id=rig.room.id,
            start=start,
            end=start + timedelta(hours=1),
            status="confirmed",
            title="After the move",
            channel="web",
            origin=USER,
        )
        for _ in range(2):
            host.hooks.config_form(integration, None)
            world.tick()
            world.settle()
            world.advance(3600)
        leaked = [
            r
            for r in thief.received
            if SECRET.encode() in r.body
            or tokens.refresh_token.encode() in r.body
            or tokens.access_token in r.headers.get("Authorization", "")
        ]
        assert leaked == []
        assert thief.received == []  # without a grant there is nothing to send at all


def test_other_settings_and_the_same_endpoint_need_no_secret(world: World, provider: str) -> None:
    field, _ = MOVES[provider][0]
    rig = make_rig(provider, world)
    rig.connect()
    host, integration = world.host, rig.integration
    ctx = context_for(host, integration)
    assert ctx is not None
    stored = ctx.store.load("settings").data[field]
    form = host.hooks.config_form(integration, {field: stored + "/", "cancel_status": "cancelled"})
    assert form is not None and form.saved, form.field_errors if form else None
    assert form.status.startswith("Connected")
    assert TokenStore(ctx.store).load()[0] is not None


def test_outlook_tenant_change_is_an_endpoint_change(world: World) -> None:
    """The tenant is part of the token endpoint's address: changing it without the secret is refused, and
    with it the grant is dropped, so the old refresh token is never sent to the other tenant."""
    rig = make_rig("outlook", world)
    rig.connect()
    host, integration = world.host, rig.integration
    ctx = context_for(host, integration)
    assert ctx is not None
    tokens, _ = TokenStore(ctx.store).load()
    assert tokens is not None and tokens.refresh_token
    other = "fabrikam.onmicrosoft.com"
    for secret in ({}, {"client_secret": ""}, {"client_secret": SECRET_MASK}):
        form = host.hooks.config_form(integration, {"tenant": other, **secret})
        assert form is not None and not form.saved
        error = _values(form)["client_secret"].error
        assert "You changed Tenant" in error and "Enter the client secret again" in error
    assert ctx.store.load("settings").data["tenant"] == rig.tenant
    assert TokenStore(ctx.store).load()[0] == tokens

    form = host.hooks.config_form(integration, {"tenant": other, "client_secret": SECRET})
    assert form is not None and form.saved, form.field_errors if form else None
    assert form.status.startswith("Not connected: endpoint settings changed (Tenant)")
    assert TokenStore(ctx.store).load()[0] is None
    for _ in range(2):
        world.tick()
        world.settle()
        world.advance(3600)
    assert rig.app.requests.count(path=other.replace(".", r"\.")) == 0
