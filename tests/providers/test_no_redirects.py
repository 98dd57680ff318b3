"""No request carrying a credential ever follows a redirect (issue 12), on both providers.

Each endpoint (token requests, API calls, revocation) is a real loopback server answering 307 to a
second loopback server that records what reaches it. Wanted: the recorder receives nothing (no
secret, no refresh token, no access token), and the redirect is a :class:`RedirectRefusedError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
import requests

from hookspecs.types import KeyRing
from ireserve_calendar_plugin.auth.tokens import TokenSet
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import RedirectRefusedError
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.google import GoogleProvider
from ireserve_calendar_plugin.providers.google import auth as google_auth
from ireserve_calendar_plugin.providers.outlook import OutlookProvider
from ireserve_calendar_plugin.providers.outlook import auth as outlook_auth
from ireserve_calendar_plugin.sync.model import Window
from tests.providers.loopback import redirect_to_recorder
from tests.unit.memory_config import MemoryConfig

SECRET = "client-secret-canary"
REFRESH = "refresh-token-canary"
ACCESS = "access-token-canary"


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(params=[307, 302, 308])
def redirect(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    with redirect_to_recorder(int(request.param)) as pair:
        yield pair


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def store() -> SecureConfig:
    return SecureConfig(MemoryConfig(), KeyRing(current="k1", keys={"k1": os.urandom(32)}), "int-1")


def google_settings(base: str, api: str | None = None) -> dict[str, Any]:
    return {
        "client_id": "cid",
        "client_secret": SECRET,
        "api_base_url": api or f"{base}/calendar/v3",
        "auth_url": f"{base}/auth",
        "token_url": f"{base}/token",
        "revoke_url": f"{base}/revoke",
        "calendar_mapping": [{"object": "1", "calendar_id": "room@example.com"}],
    }


def outlook_settings(base: str) -> dict[str, Any]:
    return {
        "client_id": "cid",
        "client_secret": SECRET,
        "tenant": "contoso.onmicrosoft.com",
        "auth_mode": "delegated",
        "object_id": 1,
        "graph_base_url": base,
        "login_base_url": base,
    }


def assert_nothing_leaked(recorder: Any) -> None:
    assert recorder.received == [], [(r.method, r.path) for r in recorder.received]


def test_google_refresh_through_google_auth_does_not_follow(redirect: Any, session: requests.Session) -> None:
    redirector, recorder = redirect
    refresh = google_auth.refresher(google_settings(redirector.url), session, now=now)
    with pytest.raises(RedirectRefusedError):
        refresh(TokenSet("", now(), REFRESH))
    assert len(redirector.received) == 1  # asked once, not retried, not followed
    assert_nothing_leaked(recorder)


def test_google_code_exchange_and_revocation_do_not_follow(redirect: Any, session: requests.Session) -> None:
    redirector, recorder = redirect
    settings = google_settings(redirector.url)
    with pytest.raises(RedirectRefusedError):
        google_auth.exchange_code(
            settings, session, code="c", redirect_uri="http://127.0.0.1/cb", code_verifier="v", now=now()
        )
    assert google_auth.revoke(settings, session, REFRESH) is False
    assert_nothing_leaked(recorder)


def test_outlook_token_requests_do_not_follow(redirect: Any, session: requests.Session) -> None:
    redirector, recorder = redirect
    settings = outlook_settings(redirector.url)
    refresh = outlook_auth.refresher(settings, session, now=now, sleep=lambda _s: None)
    with pytest.raises(RedirectRefusedError):
        refresh(TokenSet("", now(), REFRESH))
    with pytest.raises(RedirectRefusedError):
        outlook_auth.exchange_code(
            settings,
            session,
            code="c",
            redirect_uri="http://127.0.0.1/cb",
            code_verifier="v",
            now=now(),
            sleep=lambda _s: None,
        )
    app = outlook_auth.client_credentials(
        {**settings, "auth_mode": "application"}, session, store(), now=now, sleep=lambda _s: None
    )
    with pytest.raises(RedirectRefusedError):
        app(None)
    assert len(redirector.received) == 3  # one request each: a redirect is not retried either
    assert_nothing_leaked(recorder)


def _connected(settings: dict[str, Any]) -> BackendContext:
    config = store()
    TokenStore(config).save(TokenSet(ACCESS, now() + timedelta(hours=1), REFRESH), expected_version=None)
    return BackendContext(
        host=None,
        integration_id="int-1",
        settings=settings,
        store=config,  # type: ignore[arg-type]
        now=now,
        sleep=lambda _s: None,
    )


def test_api_calls_do_not_follow(redirect: Any) -> None:
    redirector, recorder = redirect
    window = Window(now(), now() + timedelta(days=7))
    google = GoogleProvider().backend(_connected(google_settings(redirector.url)))
    outlook = OutlookProvider().backend(_connected(outlook_settings(redirector.url)))
    try:
        for backend in (google, outlook):
            with pytest.raises(RedirectRefusedError) as info:
                list(backend.list_changes(backend.calendars()[0], None, window))
            assert info.value.status == redirect_status(redirector)
            assert ACCESS not in str(info.value)
    finally:
        google.close()
        outlook.close()
    assert len(redirector.received) == 2
    assert_nothing_leaked(recorder)


def redirect_status(server: Any) -> int:
    return int(server.status)
