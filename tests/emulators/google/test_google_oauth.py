"""The emulator's OAuth 2.0 endpoints: authorization code + PKCE, refresh, revoke, token expiry."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests

from calendar_emulators.core import EmulatorServer
from calendar_emulators.google import GoogleCalendarEmulator
from tests.emulators.google.conftest import CLIENT_ID
from tests.emulators.google.conftest import CLIENT_SECRET
from tests.emulators.google.conftest import EVENTS
from tests.emulators.google.conftest import OTHER_USER
from tests.emulators.google.conftest import READONLY
from tests.emulators.google.conftest import REDIRECT_URI
from tests.emulators.google.conftest import USER
from tests.emulators.google.conftest import Api

SCOPES = f"{READONLY} {EVENTS}"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize(server: EmulatorServer, **params: str) -> requests.Response:
    query = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": SCOPES,
        "state": "xyz-123",
        **params,
    }
    return requests.get(server.url + "/o/oauth2/v2/auth", params=query, allow_redirects=False, timeout=5)


def redirect_params(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(server: EmulatorServer, code: str, **extra: str) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT_URI,
        **extra,
    }
    return requests.post(server.url + "/token", data=form, timeout=5)


def refresh(server: EmulatorServer, refresh_token: str) -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    return requests.post(server.url + "/token", data=form, timeout=5)


def full_flow(server: EmulatorServer, **params: str) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    back = redirect_params(
        authorize(server, code_challenge=challenge, code_challenge_method="S256", access_type="offline", **params)
    )
    response = exchange(server, back["code"], code_verifier=verifier)
    assert response.status_code == 200, response.text
    return response.json()


def calendar_list(server: EmulatorServer, access_token: str) -> requests.Response:
    return Api(server.url, access_token).get("/users/me/calendarList")


# --------------------------------------------------------------------------- authorization endpoint


def test_consent_redirects_back_with_code_scope_and_unchanged_state(server: EmulatorServer) -> None:
    back = redirect_params(authorize(server, state="opaque/state+with=chars"))
    assert back["state"] == "opaque/state+with=chars"
    assert back["code"].startswith("4/")
    assert set(back["scope"].split()) == {READONLY, EVENTS}


def test_unknown_client_gets_an_error_page_not_a_redirect(server: EmulatorServer) -> None:
    response = authorize(server, client_id="nobody")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Error 401: invalid_client" in response.text


def test_unregistered_redirect_uri_gets_a_400_page(server: EmulatorServer) -> None:
    response = authorize(server, redirect_uri=REDIRECT_URI + "/")  # a trailing slash is another URI
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "redirect_uri_mismatch" in response.text


def test_consent_can_grant_only_a_subset_of_the_scopes(
    emulator: GoogleCalendarEmulator, server: EmulatorServer
) -> None:
    emulator.set_consent(scopes=[READONLY])
    back = redirect_params(authorize(server, access_type="offline"))
    assert back["scope"] == READONLY
    token = exchange(server, back["code"]).json()
    assert token["scope"] == READONLY
    write = Api(server.url, token["access_token"]).post(
        "/calendars/primary/events",
        json={"start": {"date": "2030-01-01"}, "end": {"date": "2030-01-02"}},
    )
    assert write.status_code == 403
    assert write.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"


def test_denied_consent_redirects_with_access_denied(emulator: GoogleCalendarEmulator, server: EmulatorServer) -> None:
    emulator.set_consent(deny=True)
    back = redirect_params(authorize(server))
    assert back == {"error": "access_denied", "state": "xyz-123"}


def test_login_hint_picks_the_user(server: EmulatorServer) -> None:
    token = full_flow(server, login_hint=OTHER_USER)
    items = calendar_list(server, token["access_token"]).json()["items"]
    primary = [item for item in items if item.get("primary")]
    assert [item["id"] for item in primary] == [OTHER_USER]


def test_loopback_redirects_are_accepted_only_when_enabled(
    emulator: GoogleCalendarEmulator, server: EmulatorServer
) -> None:
    loopback = "http://127.0.0.1:8765/cb"
    assert authorize(server, redirect_uri=loopback).status_code == 400
    emulator.oauth.allow_loopback_redirects = True
    response = authorize(server, redirect_uri=loopback)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(loopback + "?")
    assert authorize(server, redirect_uri="http://evil.example/cb").status_code == 400


# --------------------------------------------------------------------------- token endpoint


def test_code_exchange_with_pkce_returns_tokens_that_work(server: EmulatorServer) -> None:
    token = full_flow(server)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3599
    assert token["refresh_token"]
    assert set(token["scope"].split()) == {READONLY, EVENTS}
    assert calendar_list(server, token["access_token"]).status_code == 200


def test_wrong_pkce_verifier_is_invalid_grant(server: EmulatorServer) -> None:
    _, challenge = pkce_pair()
    back = redirect_params(authorize(server, code_challenge=challenge, code_challenge_method="S256"))
    response = exchange(server, back["code"], code_verifier=pkce_pair()[0])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    missing = exchange(server, back["code"])
    assert missing.status_code == 400
    assert missing.json() == {"error": "invalid_grant", "error_description": "Missing code verifier."}


def test_a_code_is_single_use(server: EmulatorServer) -> None:
    back = redirect_params(authorize(server))
    assert exchange(server, back["code"]).status_code == 200
    replay = exchange(server, back["code"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_a_code_expires_after_ten_minutes(emulator: GoogleCalendarEmulator, server: EmulatorServer) -> None:
    back = redirect_params(authorize(server))
    emulator.clock.advance(601)
    response = exchange(server, back["code"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


def test_redirect_uri_must_match_at_the_token_endpoint(server: EmulatorServer) -> None:
    back = redirect_params(authorize(server))
    response = exchange(server, back["code"], redirect_uri="https://app.example.com/other")
    assert response.status_code == 400
    assert response.json()["error"] == "redirect_uri_mismatch"


def test_wrong_client_secret_is_invalid_client_401(server: EmulatorServer) -> None:
    back = redirect_params(authorize(server))
    response = exchange(server, back["code"], client_secret="wrong")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "Unauthorized"}


def test_refresh_token_only_with_offline_access_and_first_consent(server: EmulatorServer) -> None:
    online = exchange(server, redirect_params(authorize(server))["code"]).json()
    assert "refresh_token" not in online
    first = exchange(server, redirect_params(authorize(server, access_type="offline"))["code"]).json()
    assert "refresh_token" in first
    again = exchange(server, redirect_params(authorize(server, access_type="offline"))["code"]).json()
    assert "refresh_token" not in again
    forced = exchange(
        server, redirect_params(authorize(server, access_type="offline", prompt="consent"))["code"]
    ).json()
    assert forced["refresh_token"] != first["refresh_token"]


def test_refresh_does_not_rotate_the_refresh_token(server: EmulatorServer) -> None:
    token = full_flow(server)
    first = refresh(server, token["refresh_token"])
    assert first.status_code == 200
    body = first.json()
    assert "refresh_token" not in body
    assert body["access_token"] != token["access_token"]
    assert body["expires_in"] == 3599
    assert refresh(server, token["refresh_token"]).status_code == 200  # the same refresh token again


def test_access_tokens_expire_after_the_ttl(emulator: GoogleCalendarEmulator, server: EmulatorServer) -> None:
    token = full_flow(server)
    emulator.clock.advance(3598)
    assert calendar_list(server, token["access_token"]).status_code == 200
    emulator.clock.advance(2)
    response = calendar_list(server, token["access_token"])
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["errors"][0]["reason"] == "authError"
    assert error["errors"][0]["location"] == "Authorization"
    assert calendar_list(server, refresh(server, token["refresh_token"]).json()["access_token"]).status_code == 200


def test_access_token_ttl_is_configurable() -> None:
    app = GoogleCalendarEmulator(access_token_ttl=60)
    try:
        app.add_client("c", "s", ["https://x.example/cb"])
        app.add_user(USER)
        assert app.issue_tokens(USER, "c", [READONLY])["expires_in"] == 60
    finally:
        app.close()


def test_control_can_expire_access_tokens_early(emulator: GoogleCalendarEmulator, server: EmulatorServer) -> None:
    token = full_flow(server)
    assert emulator.expire_access_tokens(USER) >= 1
    assert calendar_list(server, token["access_token"]).status_code == 401
    assert refresh(server, token["refresh_token"]).status_code == 200


def test_missing_token_is_401(server: EmulatorServer) -> None:
    response = requests.get(server.url + "/calendar/v3/users/me/calendarList", timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401


# --------------------------------------------------------------------------- revoke


def test_revoking_the_refresh_token_kills_its_access_tokens(server: EmulatorServer) -> None:
    token = full_flow(server)
    assert requests.post(server.url + "/revoke", params={"token": token["refresh_token"]}, timeout=5).status_code == 200
    assert calendar_list(server, token["access_token"]).status_code == 401
    response = refresh(server, token["refresh_token"])
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


def test_revoking_an_access_token_kills_its_refresh_token(server: EmulatorServer) -> None:
    token = full_flow(server)
    form = {"token": token["access_token"]}
    assert requests.post(server.url + "/revoke", data=form, timeout=5).status_code == 200
    assert refresh(server, token["refresh_token"]).json()["error"] == "invalid_grant"
    again = requests.post(server.url + "/revoke", data=form, timeout=5)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_token"


def test_revoke_user_tokens_control(emulator: GoogleCalendarEmulator, server: EmulatorServer) -> None:
    token = full_flow(server)
    assert emulator.revoke_user_tokens(USER) >= 2
    assert refresh(server, token["refresh_token"]).json()["error"] == "invalid_grant"
    # after a revocation the next offline consent is a "first time" again: a new refresh token
    assert "refresh_token" in full_flow(server)


def test_the_oldest_refresh_token_dies_past_the_limit(emulator: GoogleCalendarEmulator, server: EmulatorServer) -> None:
    emulator.oauth.max_refresh_tokens = 2
    first, second, third = (emulator.issue_tokens(USER, CLIENT_ID, [READONLY]) for _ in range(3))
    assert refresh(server, first["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(server, second["refresh_token"]).status_code == 200
    assert refresh(server, third["refresh_token"]).status_code == 200


# --------------------------------------------------------------------------- google-auth as the client


def test_google_auth_credentials_refresh_against_the_emulator(
    emulator: GoogleCalendarEmulator, server: EmulatorServer
) -> None:
    google_requests = pytest.importorskip("google.auth.transport.requests")
    credentials_module = pytest.importorskip("google.oauth2.credentials")
    issued = emulator.issue_tokens(USER, CLIENT_ID, [READONLY, EVENTS])
    credentials = credentials_module.Credentials(
        token=None,
        refresh_token=issued["refresh_token"],
        token_uri=server.url + "/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        scopes=[READONLY, EVENTS],
    )
    credentials.refresh(google_requests.Request())
    assert credentials.token and credentials.valid
    assert credentials.expiry is not None
    assert calendar_list(server, credentials.token).status_code == 200

    emulator.revoke_user_tokens(USER)
    exceptions = pytest.importorskip("google.auth.exceptions")
    with pytest.raises(exceptions.RefreshError, match="invalid_grant"):
        credentials.refresh(google_requests.Request())


def test_expiry_follows_a_frozen_process_clock(emulator: GoogleCalendarEmulator, server: EmulatorServer) -> None:
    freezegun = pytest.importorskip("freezegun")
    with freezegun.freeze_time("2030-01-01 12:00:00") as frozen:
        token = full_flow(server)
        frozen.tick(3598)
        assert calendar_list(server, token["access_token"]).status_code == 200
        frozen.tick(2)
        assert calendar_list(server, token["access_token"]).status_code == 401


def test_prompt_none_and_incremental_authorization(server: EmulatorServer) -> None:
    back = redirect_params(authorize(server, prompt="none"))
    assert back["error"] == "interaction_required"  # nothing granted yet, and no screen may be shown
    redirect_params(authorize(server, scope=READONLY))
    silent = redirect_params(authorize(server, scope=READONLY, prompt="none"))
    assert silent["scope"] == READONLY
    both = redirect_params(authorize(server, scope=EVENTS, include_granted_scopes="true"))
    assert set(both["scope"].split()) == {READONLY, EVENTS}
