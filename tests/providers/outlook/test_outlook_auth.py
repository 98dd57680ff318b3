"""The identity platform against the emulator: consent URL, code exchange, rotating refresh tokens
(stored by compare-and-set), lost grants, and the one shared client-credentials token."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from ireserve_calendar_plugin.auth.tokens import AccessTokens
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.auth.tokens import TokenSet
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers.outlook import OutlookProvider
from ireserve_calendar_plugin.providers.outlook import auth
from ireserve_calendar_plugin.providers.outlook.backend import APP_TOKEN_KEY
from ireserve_calendar_plugin.sync.model import Window
from tests.providers.outlook.conftest import REDIRECT_URI
from tests.providers.outlook.conftest import ROOM
from tests.providers.outlook.conftest import ROOM2
from tests.providers.outlook.conftest import TENANT
from tests.providers.outlook.conftest import USER
from tests.providers.outlook.conftest import Graph
from tests.providers.outlook.conftest import app_settings
from tests.providers.outlook.conftest import make_settings

CODE = "authorization_code"


def window() -> Window:
    return Window.around(datetime.now(UTC))


def stored(graph: Graph) -> TokenSet:
    tokens, _ = TokenStore(graph.store).load()
    assert tokens is not None
    return tokens


def token_calls(graph: Graph, grant: str | None = None) -> int:
    return graph.app.token_request_count(grant_type=grant)


# --------------------------------------------------------------------------- consent URL


def test_authorization_url_for_the_global_cloud() -> None:
    settings = {"client_id": "app-id", "tenant": "contoso.onmicrosoft.com"}
    url = OutlookProvider().authorization_url(
        settings, redirect_uri="https://host/cb", state="n~i", code_challenge="c" * 43
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize"
    )
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "client_id": "app-id",
        "response_type": "code",
        "redirect_uri": "https://host/cb",
        "response_mode": "query",
        "scope": "offline_access User.Read Calendars.ReadWrite",
        "state": "n~i",
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
    }


def test_national_clouds_use_full_resource_scopes() -> None:
    settings = {
        "client_id": "app-id",
        "tenant": "organizations",
        "graph_base_url": "https://graph.microsoft.us",
        "login_base_url": "https://login.microsoftonline.us",
    }
    url = OutlookProvider().authorization_url(
        settings, redirect_uri="https://host/cb", state="s", code_challenge="c" * 43
    )
    assert url.startswith("https://login.microsoftonline.us/organizations/oauth2/v2.0/authorize?")
    assert parse_qs(urlsplit(url).query)["scope"] == [
        "offline_access https://graph.microsoft.us/User.Read https://graph.microsoft.us/Calendars.ReadWrite"
    ]
    assert auth.app_scope(settings) == "https://graph.microsoft.us/.default"


def test_application_mode_has_nothing_to_connect(graph: Graph) -> None:
    settings = app_settings(graph.url, [ROOM])
    assert not graph.provider.uses_authorization_code(settings)
    assert graph.provider.uses_authorization_code(graph.settings)
    with pytest.raises(ConfigError):
        graph.provider.authorization_url(settings, redirect_uri="https://h/cb", state="s", code_challenge="c" * 43)


@pytest.mark.parametrize("tenant", ["contoso.onmicrosoft.com/../evil", "a?b=1", "x/y", ""])
def test_a_bad_tenant_is_refused_before_any_url(tenant: str) -> None:
    with pytest.raises(ConfigError):
        OutlookProvider().authorization_url(
            {"client_id": "x", "tenant": tenant}, redirect_uri="https://h/cb", state="s", code_challenge="c" * 43
        )


# --------------------------------------------------------------------------- delegated


def test_code_exchange_gives_tokens_and_the_account(graph: Graph) -> None:
    code, verifier = graph.consent_code()
    before = datetime.now(UTC)
    tokens = graph.provider.exchange_code(graph.ctx(), code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert tokens.access_token and tokens.refresh_token and tokens.account == USER
    assert f"{graph.url}/Calendars.ReadWrite" in tokens.scopes  # the emulator plays a national cloud
    assert before + timedelta(seconds=3500) < tokens.expires_at < before + timedelta(seconds=3700)
    assert tokens.refresh_token not in repr(tokens)
    assert token_calls(graph, CODE) == 1
    assert graph.app.requests.count(method="GET", path=r"^/v1.0/me$", status=200) == 1
    with pytest.raises(PermanentError) as info:  # a code is single use
        graph.provider.exchange_code(graph.ctx(), code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert info.value.reason == "invalid_grant" and code not in str(info.value) and "AADSTS54005" in str(info.value)


def test_wrong_verifier_is_refused(graph: Graph) -> None:
    code, _ = graph.consent_code()
    with pytest.raises(PermanentError) as info:
        graph.provider.exchange_code(graph.ctx(), code=code, redirect_uri=REDIRECT_URI, code_verifier="x" * 64)
    assert not isinstance(info.value, AuthExpiredError)


def test_wrong_client_secret_is_a_config_error(graph: Graph) -> None:
    code, verifier = graph.consent_code()
    ctx = graph.ctx(settings={**graph.settings, "client_secret": "wrong-secret-value"})
    with pytest.raises(ConfigError) as info:
        graph.provider.exchange_code(ctx, code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert "client_secret" in info.value.problems and "wrong-secret-value" not in str(info.value)
    assert "AADSTS7000215" in str(info.value)


def test_exchange_without_an_injected_session(graph: Graph) -> None:
    code, verifier = graph.consent_code()
    tokens = graph.provider.exchange_code(
        graph.ctx(session=None), code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier
    )
    assert tokens.refresh_token and tokens.account == USER


def test_refresh_rotates_and_the_new_refresh_token_is_stored(connected: Graph) -> None:
    connected.app.configure(strict_refresh_rotation=True)  # an old refresh token stops working once used
    old = stored(connected)
    backend = connected.backend()
    connected.app.expire_access_tokens()
    pages = list(backend.list_changes(backend.calendars()[0], None, window()))
    assert pages[-1].cursor
    new = stored(connected)
    assert new.access_token != old.access_token
    assert new.refresh_token and new.refresh_token != old.refresh_token  # rotated, and kept
    assert new.account == USER and new.expires_at > datetime.now(UTC) + timedelta(minutes=50)
    assert token_calls(connected, "refresh_token") == 1 and backend.tokens.refreshes == 1
    # the next refresh uses the rotated token (the old one would now be refused)
    later = datetime.now(UTC) + timedelta(hours=2)
    again = connected.backend(now=lambda: later)
    list(again.list_changes(again.calendars()[0], None, window()))
    assert stored(connected).refresh_token not in (old.refresh_token, new.refresh_token)
    assert token_calls(connected, "refresh_token") == 2


def test_a_crash_between_receiving_and_storing_keeps_the_old_token(connected: Graph) -> None:
    old = stored(connected)
    real = auth.refresher(connected.settings, connected.session, now=lambda: datetime.now(UTC))

    def crashing(current: TokenSet | None) -> TokenSet:
        real(current)
        raise KeyboardInterrupt  # the worker dies with the new tokens in hand

    later = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(KeyboardInterrupt):
        AccessTokens(connected.store, crashing, now=lambda: later).get()
    assert stored(connected).refresh_token == old.refresh_token  # the old, still valid one
    # the lease of the dead worker expires; the next worker refreshes with the old token, which still works
    much_later = later + timedelta(minutes=1)
    tokens = AccessTokens(
        connected.store,
        auth.refresher(connected.settings, connected.session, now=lambda: much_later),
        now=lambda: much_later,
    )
    assert tokens.get()
    assert stored(connected).refresh_token not in (None, old.refresh_token)


def test_a_stale_mark_written_meanwhile_does_not_lose_the_rotated_token(connected: Graph) -> None:
    old = stored(connected)
    real = auth.refresher(connected.settings, connected.session, now=lambda: datetime.now(UTC))
    later = datetime.now(UTC) + timedelta(hours=2)
    tokens: list[AccessTokens] = []

    def racing(current: TokenSet | None) -> TokenSet:
        new = real(current)
        tokens[0].invalidate(old.access_token)  # another worker's 401 lands between our read and our write
        return new

    tokens.append(AccessTokens(connected.store, racing, now=lambda: later))
    access = tokens[0].get()
    now_stored = stored(connected)
    assert now_stored.access_token == access and now_stored.refresh_token != old.refresh_token


def test_a_reconnect_written_meanwhile_wins_over_a_refresh(connected: Graph) -> None:
    old = stored(connected)
    real = auth.refresher(connected.settings, connected.session, now=lambda: datetime.now(UTC))
    later = datetime.now(UTC) + timedelta(hours=2)
    fresh = TokenSet("reconnected-access", later + timedelta(hours=1), "reconnected-refresh", (), USER)

    def racing(current: TokenSet | None) -> TokenSet:
        new = real(current)
        TokenStore(connected.store).save(fresh, expected_version=None)  # an admin reconnected meanwhile
        return new

    AccessTokens(connected.store, racing, now=lambda: later).get()
    assert stored(connected).refresh_token == "reconnected-refresh" != old.refresh_token


def test_refresh_ahead_of_expiry_without_a_401(connected: Graph) -> None:
    later = datetime.now(UTC) + timedelta(minutes=56)  # inside the five-minute margin
    backend = connected.backend(now=lambda: later)
    list(backend.list_changes(backend.calendars()[0], None, window()))
    assert connected.app.requests.count(status=401) == 0 and backend.tokens.refreshes == 1


@pytest.mark.parametrize("how", ["revoked", "interaction_required", "consent_required", "inactive"])
def test_a_lost_grant_means_reconnect_and_no_retries(connected: Graph, how: str) -> None:
    refresh_token = stored(connected).refresh_token
    backend = connected.backend()
    if how == "revoked":
        connected.app.revoke_refresh_tokens(USER)
    else:
        connected.app.inject_token_error(how, times=5, grant_type="refresh_token")
    connected.app.expire_access_tokens()
    with pytest.raises(AuthExpiredError) as info:
        next(backend.list_changes(backend.calendars()[0], None, window()))
    assert refresh_token and refresh_token not in str(info.value) and "Trace ID" not in str(info.value)
    assert AuthStatus(connected.store).needs_reconnect()
    calls = token_calls(connected)
    with pytest.raises(AuthExpiredError):
        next(backend.list_changes(backend.calendars()[0], None, window()))
    assert token_calls(connected) == calls  # a lost grant is never retried
    assert connected.sleeps.waits == []


def test_a_transient_token_endpoint_is_retried(connected: Graph) -> None:
    connected.app.inject_token_error("temporarily_unavailable", times=2, grant_type="refresh_token")
    backend = connected.backend()
    connected.app.expire_access_tokens()
    assert list(backend.list_changes(backend.calendars()[0], None, window()))[-1].cursor
    assert connected.sleeps.waits == [0.5, 1.0]
    assert not AuthStatus(connected.store).needs_reconnect()


def test_an_unreachable_token_endpoint_is_transient(connected: Graph) -> None:
    refresh = auth.refresher(
        {**connected.settings, "login_base_url": "http://127.0.0.1:9"},
        connected.session,
        now=lambda: datetime.now(UTC),
        sleep=connected.sleeps,
    )
    with pytest.raises(TransientError):
        refresh(stored(connected))
    assert len(connected.sleeps.waits) == 2


def test_no_refresh_token_stored_is_not_configured(graph: Graph) -> None:
    backend = graph.backend()
    with pytest.raises(ConfigError):  # NotConfiguredError
        next(backend.list_changes(backend.calendars()[0], None, window()))
    assert graph.app.requests.count() == 0


# --------------------------------------------------------------------------- application


def test_one_app_token_for_every_room_and_job(graph: Graph) -> None:
    rooms = [f"room-00{i}@{TENANT}" for i in range(1, 6)]
    for _ in range(3):  # three "jobs", each with its own backend (as the engine builds them)
        backend = graph.app_backend(rooms)
        for room in backend.calendars():
            assert list(backend.list_changes(room, None, window()))[-1].cursor
    assert graph.app.token_request_count(grant_type="client_credentials") == 1
    assert token_calls(graph) == 1
    saved, _ = TokenStore(graph.store, APP_TOKEN_KEY).load()
    assert saved is not None and saved.refresh_token is None and saved.scopes == (f"{graph.url}/.default",)
    assert TokenStore(graph.store).load()[0] is None  # the delegated slot stays untouched


def test_the_app_token_is_renewed_before_it_expires(graph: Graph) -> None:
    backend = graph.app_backend()
    list(backend.list_changes(backend.calendars()[0], None, window()))
    later = datetime.now(UTC) + timedelta(minutes=56)
    renewed = graph.app_backend(now=lambda: later)
    list(renewed.list_changes(renewed.calendars()[1], None, window()))
    assert graph.app.token_request_count(grant_type="client_credentials") == 2
    assert graph.app.requests.count(status=401) == 0


def test_a_rejected_app_token_is_renewed_once(graph: Graph) -> None:
    backend = graph.app_backend()
    list(backend.list_changes(backend.calendars()[0], None, window()))
    graph.app.expire_access_tokens(client_id="demo-client")
    list(backend.list_changes(backend.calendars()[1], None, window()))
    assert graph.app.token_request_count(grant_type="client_credentials") == 2


def test_a_refused_client_is_remembered_not_asked_again(graph: Graph) -> None:
    settings = app_settings(graph.url, [ROOM, ROOM2], client_secret="wrong-secret-value")
    for room in graph.backend(settings=settings).calendars():
        backend = graph.backend(settings=settings)
        with pytest.raises(PermanentError) as info:
            next(backend.list_changes(room, None, window()))
        assert info.value.reason == "invalid_client" and "wrong-secret-value" not in str(info.value)
        assert not isinstance(info.value, AuthExpiredError)
    assert graph.app.token_request_count(grant_type="client_credentials") == 1
    assert not AuthStatus(graph.store).needs_reconnect()  # nothing to reconnect in application mode
    fixed = graph.app_backend()  # the admin saved the right secret: asked at once
    assert list(fixed.list_changes(fixed.calendars()[0], None, window()))[-1].cursor
    assert graph.app.token_request_count(grant_type="client_credentials") == 2
    assert not graph.store.load(auth.FAILURE_KEY).exists


def test_the_memory_of_a_refusal_expires(graph: Graph) -> None:
    settings = app_settings(graph.url, [ROOM], client_secret="wrong")
    with pytest.raises(PermanentError):
        next(
            graph.backend(settings=settings).list_changes(
                graph.backend(settings=settings).calendars()[0], None, window()
            )
        )
    later = datetime.now(UTC) + timedelta(minutes=6)
    backend = graph.backend(settings=settings, now=lambda: later)
    with pytest.raises(PermanentError):
        next(backend.list_changes(backend.calendars()[0], None, window()))
    assert graph.app.token_request_count(grant_type="client_credentials") == 2


def test_application_tokens_need_a_real_tenant(graph: Graph) -> None:
    settings = {**app_settings(graph.url, [ROOM]), "tenant": "common"}
    backend = graph.backend(settings=settings)
    with pytest.raises(ConfigError):
        next(backend.list_changes(backend.calendars()[0], None, window()))
    assert token_calls(graph) == 0


def test_settings_schema_knows_both_modes(graph: Graph) -> None:
    assert make_settings(graph.url)["auth_mode"] == "delegated"
    assert app_settings(graph.url, [ROOM])["rooms"] == [{"upn": ROOM, "object": 101}]
