"""OAuth against the emulator: consent URL, code exchange, google-auth refresh, lost grants, revocation."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from ireserve_calendar_plugin.auth.tokens import AccessTokens
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers.google import GoogleProvider
from ireserve_calendar_plugin.providers.google import auth
from ireserve_calendar_plugin.sync.model import Window
from tests.providers.google.conftest import REDIRECT_URI
from tests.providers.google.conftest import ROOM
from tests.providers.google.conftest import USER
from tests.providers.google.conftest import Google


def test_authorization_url_parameters() -> None:
    settings = {"client_id": "my-client.apps.googleusercontent.com"}
    url = GoogleProvider().authorization_url(
        settings, redirect_uri="https://host/cb", state="n~i", code_challenge="c" * 43
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://accounts.google.com/o/oauth2/v2/auth"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "client_id": "my-client.apps.googleusercontent.com",
        "redirect_uri": "https://host/cb",
        "response_type": "code",
        "scope": "https://www.googleapis.com/auth/calendar.readonly https://www.googleapis.com/auth/calendar.events",
        "access_type": "offline",
        "prompt": "consent",
        "include_granted_scopes": "true",
        "state": "n~i",
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
    }


def test_code_exchange_gives_tokens_and_the_account(google: Google) -> None:
    code, verifier = google.consent_code()
    before = datetime.now(UTC)
    tokens = google.provider.exchange_code(google.ctx(), code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert tokens.access_token and tokens.refresh_token
    assert auth.SCOPE_EVENTS in tokens.scopes and auth.SCOPE_READONLY in tokens.scopes
    assert tokens.account == USER
    assert before + timedelta(seconds=3500) < tokens.expires_at < before + timedelta(seconds=3700)
    assert tokens.refresh_token not in repr(tokens)
    token_calls = [e for e in google.app.requests.entries() if e.path == "/token"]
    assert len(token_calls) == 1
    # a code is single use
    with pytest.raises(PermanentError) as info:
        google.provider.exchange_code(google.ctx(), code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert info.value.reason == "invalid_grant" and code not in str(info.value)


def test_wrong_verifier_is_refused(google: Google) -> None:
    code, _ = google.consent_code()
    with pytest.raises(PermanentError):
        google.provider.exchange_code(google.ctx(), code=code, redirect_uri=REDIRECT_URI, code_verifier="x" * 64)


def test_read_only_consent_is_refused_and_the_grant_revoked(google: Google) -> None:
    google.app.set_consent(scopes=[auth.SCOPE_READONLY])
    code, verifier = google.consent_code()
    with pytest.raises(ConfigError, match="Read-only connection"):
        google.provider.exchange_code(google.ctx(), code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert google.app.requests.count(method="POST", path="^/revoke$", status=200) == 1


def test_wrong_client_secret_is_a_config_error(google: Google) -> None:
    code, verifier = google.consent_code()
    ctx = google.ctx(settings={**google.settings, "client_secret": "wrong"})
    with pytest.raises(ConfigError) as info:
        google.provider.exchange_code(ctx, code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert "client_secret" in info.value.problems and "wrong" not in str(info.value)


def test_expired_access_token_is_refreshed_through_google_auth(connected: Google) -> None:
    backend = connected.backend()
    old, _ = TokenStore(connected.store).load()
    connected.app.expire_access_tokens()
    pages = list(backend.list_changes(backend.calendars()[0], None, Window.around(datetime.now(UTC))))
    assert pages[-1].cursor
    new, _ = TokenStore(connected.store).load()
    assert old is not None and new is not None
    assert new.access_token != old.access_token
    assert new.refresh_token == old.refresh_token  # Google does not rotate it
    assert new.account == USER and new.scopes == old.scopes
    assert new.expires_at > datetime.now(UTC) + timedelta(minutes=50)
    assert connected.app.requests.count(method="GET", path="/events$", status=401) == 1
    assert connected.app.requests.count(method="POST", path="^/token$") == 2  # exchange + one refresh
    assert backend.tokens.refreshes == 1


def test_refresh_ahead_of_expiry_without_a_401(connected: Google) -> None:
    later = datetime.now(UTC) + timedelta(hours=2)
    backend = connected.backend(now=lambda: later)
    list(backend.list_changes(backend.calendars()[0], None, Window.around(datetime.now(UTC))))
    assert connected.app.requests.count(status=401) == 0
    assert backend.tokens.refreshes == 1


def test_revoked_grant_means_reconnect(connected: Google) -> None:
    refresh_token = TokenStore(connected.store).load()[0].refresh_token  # type: ignore[union-attr]
    backend = connected.backend()
    connected.app.revoke_user_tokens(USER)
    calendar = backend.calendar_for_object(7)
    assert calendar is not None and calendar.remote_id == ROOM
    with pytest.raises(AuthExpiredError) as info:
        next(backend.list_changes(calendar, None, Window.around(datetime.now(UTC))))
    assert refresh_token and refresh_token not in str(info.value)
    assert info.value.__cause__ is not None and refresh_token not in str(info.value.__cause__)
    assert AuthStatus(connected.store).needs_reconnect()
    token_calls = connected.app.requests.count(method="POST", path="^/token$")
    with pytest.raises(AuthExpiredError):
        next(backend.list_changes(calendar, None, Window.around(datetime.now(UTC))))
    assert connected.app.requests.count(method="POST", path="^/token$") == token_calls  # no retry of a lost grant


def test_revoke_token_kills_the_grant(connected: Google) -> None:
    tokens, _ = TokenStore(connected.store).load()
    assert tokens is not None and tokens.refresh_token
    connected.provider.revoke_token(connected.ctx(), tokens.refresh_token)
    refresh = auth.refresher(connected.settings, connected.session, now=lambda: datetime.now(UTC))
    with pytest.raises(AuthExpiredError):
        refresh(tokens)
    # best effort: revoking again (Google answers 400) does not raise
    connected.provider.revoke_token(connected.ctx(), tokens.refresh_token)


def test_rejected_client_on_refresh_is_permanent_not_a_lost_grant(connected: Google) -> None:
    tokens, _ = TokenStore(connected.store).load()
    refresh = auth.refresher(
        {**connected.settings, "client_secret": "nope"}, connected.session, now=lambda: datetime.now(UTC)
    )
    with pytest.raises(PermanentError) as info:
        refresh(tokens)
    assert not isinstance(info.value, AuthExpiredError) and info.value.reason == "invalid_client"


def test_unreachable_token_endpoint_is_transient(connected: Google) -> None:
    tokens, _ = TokenStore(connected.store).load()
    refresh = auth.refresher(
        {**connected.settings, "token_url": "http://127.0.0.1:9/token"},
        connected.session,
        now=lambda: datetime.now(UTC),
    )
    with pytest.raises(TransientError):
        refresh(tokens)
    assert not AuthStatus(connected.store).needs_reconnect()


def test_exchange_without_an_injected_session(google: Google) -> None:
    code, verifier = google.consent_code()
    tokens = google.provider.exchange_code(
        google.ctx(session=None), code=code, redirect_uri=REDIRECT_URI, code_verifier=verifier
    )
    assert tokens.refresh_token and tokens.account == USER


def test_no_refresh_token_stored_is_not_configured(google: Google) -> None:
    backend = google.backend()
    with pytest.raises(ConfigError):  # NotConfiguredError
        next(backend.list_changes(backend.calendars()[0], None, Window.around(datetime.now(UTC))))
    assert google.app.requests.count() == 0


def test_access_tokens_use_the_refresher(connected: Google) -> None:
    later = datetime.now(UTC) + timedelta(hours=3)
    tokens = AccessTokens(
        connected.store, auth.refresher(connected.settings, connected.session, now=lambda: later), now=lambda: later
    )
    first = tokens.get()
    assert tokens.get() == first and tokens.refreshes == 1
