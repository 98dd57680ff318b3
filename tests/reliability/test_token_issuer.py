"""Stored tokens are tagged with the endpoints that issued them (issue 12's closing note, item 3).

Attack: the endpoint settings change in a way that did not drop the stored grant first. The case that
happens for real is a sign-in racing a settings save: the OAuth callback exchanged the code under the
old settings while an admin saved new endpoints (with the secret, so the form dropped the grant), and
the callback stores its tokens after that. Before, the next refresh POSTed that refresh token (and the
approved secret) to the new token URL, and page views sent its access token to the new API base.

Wanted: a token whose tag differs from the current endpoint settings is never sent; the integration
reads "not connected" with the reason in words. Tokens stored before tags existed keep working and
are tagged by their next refresh (the documented upgrade rule, ``auth/tokens.py``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from hookspecs.forms import ACTION_FIELD
from hookspecs.types import KeyRing
from ireserve_calendar_plugin.auth.tokens import AccessTokens
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.auth.tokens import TokenSet
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.runtime import context_for
from ireserve_lab.world import World
from tests.providers.loopback import serving
from tests.reliability.conftest import USER
from tests.reliability.conftest import make_rig
from tests.reliability.test_endpoint_approval import MOVES
from tests.reliability.test_endpoint_approval import SECRET
from tests.unit.memory_config import MemoryConfig


def test_a_grant_stored_after_an_endpoint_change_is_never_sent(world: World, provider: str) -> None:
    field, path = MOVES[provider][0]  # the token endpoint
    rig = make_rig(provider, world)
    rig.connect()
    host, integration = world.host, rig.integration
    ctx = context_for(host, integration)
    assert ctx is not None
    racing, _ = TokenStore(ctx.store).load()  # what a sign-in begun under the old settings got
    assert racing is not None and racing.issuer and racing.refresh_token
    with serving(200) as thief:
        form = host.hooks.config_form(integration, {field: thief.url + path, "client_secret": SECRET})
        assert form is not None and form.saved
        TokenStore(ctx.store).save(racing, expected_version=None)  # ... and stored its tokens after the save
        AuthStatus(ctx.store).mark_connected(racing.account, world.clock())
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        host.bookings.create(
            object_id=rig.room.id,
            start=start,
            end=start + timedelta(hours=1),
            status="confirmed",
            title="After the race",
            channel="web",
            origin=USER,
        )
        for _ in range(2):
            host.hooks.config_form(integration, None)
            world.tick()
            world.settle()
            world.advance(3600)
        assert thief.received == []
    form = host.hooks.config_form(integration, None)
    assert form is not None
    assert form.status.startswith("Not connected: the stored authorization was issued under other endpoint settings")
    assert field in form.status


def test_tokens_from_before_tags_keep_working_and_are_tagged_by_their_next_refresh(world: World, provider: str) -> None:
    rig = make_rig(provider, world)
    rig.connect()
    ctx = context_for(world.host, rig.integration)
    assert ctx is not None
    tokens, _ = TokenStore(ctx.store).load()
    assert tokens is not None and tokens.issuer
    untagged = replace(tokens, issuer=None, expires_at=world.clock() - timedelta(minutes=1))
    TokenStore(ctx.store).save(untagged, expected_version=None)
    calls = rig.token_calls()
    start = world.clock().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    booking = world.host.bookings.create(
        object_id=rig.room.id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="Legacy token",
        channel="web",
        origin=USER,
    )
    world.settle()
    assert rig.token_calls() == calls + 1  # the untagged refresh token was used, once
    refreshed, _ = TokenStore(ctx.store).load()
    assert refreshed is not None and refreshed.issuer == tokens.issuer
    assert any(e.booking_id == booking.id and e.live for e in rig.events())


def test_an_app_only_token_of_other_endpoints_is_fetched_anew_not_sent() -> None:
    store = SecureConfig(MemoryConfig(), KeyRing("k1", {"k1": b"k" * 32}), "o1")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    old = {"login_base_url": "https://old.example", "tenant": "a.example.com"}
    new = {"login_base_url": "https://login.microsoftonline.com", "tenant": "a.example.com"}
    TokenStore(store, "app_token").save(
        TokenSet("old-access", now + timedelta(hours=1), None, issuer=old), expected_version=None
    )
    fetched: list[TokenSet | None] = []

    def refresh(current: TokenSet | None) -> TokenSet:
        fetched.append(current)
        return TokenSet("new-access", now + timedelta(hours=1))

    tokens = AccessTokens(store, refresh, now=lambda: now, key="app_token", needs_grant=False, issuer=new)
    assert tokens.get() == "new-access"
    assert fetched == [None]  # the old token was not handed on either
    assert TokenStore(store, "app_token").load()[0].issuer == new  # type: ignore[union-attr]


def test_a_disconnected_grant_is_not_revoked_nor_used_at_endpoints_changed_meanwhile(world: World) -> None:
    """Disconnect queues a job holding the grant (to stop the channels, then revoke it); endpoints changed
    before that job ran receive neither the refresh token nor an access token."""
    rig = make_rig("google", world)
    rig.connect()
    host, integration = world.host, rig.integration
    form = host.hooks.config_form(integration, {ACTION_FIELD: "disconnect"})
    assert form is not None and not form.errors
    with serving(200) as thief:
        moved = {"revoke_url": thief.url + "/revoke", "api_base_url": thief.url + "/calendar/v3"}
        form = host.hooks.config_form(integration, {**moved, "client_secret": SECRET})
        assert form is not None and form.saved
        world.settle()
        assert thief.received == []
    assert rig.app.requests.count(method="POST", path=r"/revoke$") == 0
    said = [e.message for e in host.integrations.entries(integration.id) if "could not be stopped" in e.message]
    assert said  # the channel is left to expire, and the admin is told
    assert not host.jobs.all(state="failed")
