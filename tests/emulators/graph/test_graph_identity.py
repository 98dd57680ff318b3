"""The identity platform endpoints: authorize, the three grants, PKCE and the AADSTS error bodies."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
import requests

from calendar_emulators.graph import DEMO_TENANT_ID
from calendar_emulators.graph import GraphEmulator
from tests.emulators.graph.graph_helpers import REDIRECT
from tests.emulators.graph.graph_helpers import TENANT
from tests.emulators.graph.graph_helpers import USER
from tests.emulators.graph.graph_helpers import authorize
from tests.emulators.graph.graph_helpers import client_credentials
from tests.emulators.graph.graph_helpers import pkce_pair
from tests.emulators.graph.graph_helpers import redirect_params
from tests.emulators.graph.graph_helpers import token_request
from tests.emulators.graph.graph_helpers import user_tokens


def assert_aad_error(response: requests.Response, status: int, error: str, code: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "\r\nTrace ID: " in body["error_description"] and "\r\nCorrelation ID: " in body["error_description"]
    assert body["error_uri"].endswith(f"error?code={code}")
    for key in ("timestamp", "trace_id", "correlation_id"):
        assert body[key]
    return body


def redeem(base: str, code: str, verifier: str | None = None, redirect_uri: str = REDIRECT) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "client_id": "demo-client",
        "client_secret": "demo-secret",
        "code": code,
        "redirect_uri": redirect_uri,
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    return token_request(base, **form)


def refresh(base: str, refresh_token: str, **extra: str) -> requests.Response:
    return token_request(
        base,
        grant_type="refresh_token",
        client_id="demo-client",
        client_secret="demo-secret",
        refresh_token=refresh_token,
        **extra,
    )


# --------------------------------------------------------------------------- authorize


def test_authorize_redirects_back_with_code_and_unchanged_state(base: str) -> None:
    params = redirect_params(authorize(base, state="a b&c=d/é"))
    assert params["state"] == "a b&c=d/é"
    assert params["code"]
    location = authorize(base, state="s").headers["Location"]
    assert location.startswith(REDIRECT + "?")


def test_authorize_by_tenant_guid_and_common(base: str) -> None:
    assert "code" in redirect_params(authorize(base, tenant=DEMO_TENANT_ID))
    assert "code" in redirect_params(authorize(base, tenant="common"))


def test_authorize_denied_consent_redirects_with_access_denied(graph: GraphEmulator, base: str) -> None:
    graph.configure(deny_authorize=True)
    params = redirect_params(authorize(base, state="xyz"))
    assert params["error"] == "access_denied"
    assert params["state"] == "xyz"
    assert "code" not in params


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"client_id": "nobody"}, 700016),
        ({"redirect_uri": "https://evil.example/cb"}, 50011),
    ],
)
def test_authorize_unknown_client_or_redirect_is_a_400_page_not_a_redirect(base: str, params: dict, code: int) -> None:
    response = authorize(base, **params)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert f"AADSTS{code}" in response.text


def test_authorize_unknown_tenant_is_a_400_page(base: str) -> None:
    response = authorize(base, tenant="nope.onmicrosoft.com")
    assert response.status_code == 400 and "AADSTS90002" in response.text


def test_authorize_without_loopback_knob_requires_registered_uri_but_ignores_loopback_port(
    graph: GraphEmulator, base: str
) -> None:
    graph.configure(allow_loopback_redirects=False)
    assert authorize(base, redirect_uri="http://127.0.0.1:8765/elsewhere").status_code == 400
    # http://127.0.0.1/oauth/callback is registered: the loopback port does not matter
    assert "code" in redirect_params(authorize(base, redirect_uri="http://127.0.0.1:4321/oauth/callback"))


def test_authorize_bad_response_type_redirects_with_error(base: str) -> None:
    params = redirect_params(authorize(base, response_type="token", state="q"))
    assert params["error"] == "unsupported_response_type" and params["state"] == "q"


# --------------------------------------------------------------------------- authorization_code


def test_code_flow_with_pkce_gives_access_and_refresh_token(base: str) -> None:
    body = user_tokens(base)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
    assert body["refresh_token"] and body["access_token"].count(".") == 2
    assert "https://graph.microsoft.com/Calendars.ReadWrite" in body["scope"].split()


def test_no_refresh_token_without_offline_access(base: str) -> None:
    body = user_tokens(base, scope="User.Read Calendars.ReadWrite")
    assert "refresh_token" not in body


def test_code_is_single_use(base: str) -> None:
    code = redirect_params(authorize(base))["code"]
    assert redeem(base, code).status_code == 200
    assert_aad_error(redeem(base, code), 400, "invalid_grant", 54005)


def test_code_expires_after_ten_minutes(graph: GraphEmulator, base: str) -> None:
    code = redirect_params(authorize(base))["code"]
    graph.clock.advance(601)
    assert_aad_error(redeem(base, code), 400, "invalid_grant", 70008)


def test_code_redirect_uri_must_match(base: str) -> None:
    code = redirect_params(authorize(base))["code"]
    assert_aad_error(redeem(base, code, redirect_uri="http://127.0.0.1:8765/other"), 400, "invalid_grant", 50011)


def test_pkce_verifier_is_checked(base: str) -> None:
    verifier, challenge = pkce_pair()
    code = redirect_params(authorize(base, code_challenge=challenge, code_challenge_method="S256"))["code"]
    assert_aad_error(redeem(base, code, verifier="x" * 50), 400, "invalid_grant", 501481)
    code = redirect_params(authorize(base, code_challenge=challenge, code_challenge_method="S256"))["code"]
    assert_aad_error(redeem(base, code), 400, "invalid_grant", 50148)
    code = redirect_params(authorize(base, code_challenge=challenge, code_challenge_method="S256"))["code"]
    assert redeem(base, code, verifier=verifier).status_code == 200


def test_pkce_bad_method_is_an_error_redirect(base: str) -> None:
    params = redirect_params(authorize(base, code_challenge="a" * 43, code_challenge_method="S512"))
    assert params["error"] == "invalid_request" and "AADSTS50149" in params["error_description"]


def test_garbage_code_is_malformed(base: str) -> None:
    assert_aad_error(redeem(base, "not-a-code"), 400, "invalid_grant", 9002313)


# --------------------------------------------------------------------------- refresh_token


def test_refresh_always_rotates_and_old_token_keeps_working(base: str) -> None:
    first = user_tokens(base)["refresh_token"]
    second = refresh(base, first).json()
    assert second["refresh_token"] != first and second["access_token"]
    again = refresh(base, first)
    assert again.status_code == 200 and again.json()["refresh_token"] not in (first, second["refresh_token"])


def test_strict_rotation_knob_kills_used_refresh_tokens(graph: GraphEmulator, base: str) -> None:
    graph.configure(strict_refresh_rotation=True)
    first = user_tokens(base)["refresh_token"]
    second = refresh(base, first).json()["refresh_token"]
    assert_aad_error(refresh(base, first), 400, "invalid_grant", 70008)
    assert refresh(base, second).status_code == 200


def test_revoked_refresh_token(graph: GraphEmulator, base: str) -> None:
    rt = user_tokens(base)["refresh_token"]
    assert graph.revoke_refresh_tokens(user=USER) == 1
    assert_aad_error(refresh(base, rt), 400, "invalid_grant", 50173)


def test_refresh_token_expires_after_90_days_of_inactivity(graph: GraphEmulator, base: str) -> None:
    rt = user_tokens(base)["refresh_token"]
    graph.clock.advance(89 * 86400)
    rt = refresh(base, rt).json()["refresh_token"]  # use slides the window
    graph.clock.advance(89 * 86400)
    rt2 = refresh(base, rt).json()["refresh_token"]
    graph.clock.advance(91 * 86400)
    body = assert_aad_error(refresh(base, rt2), 400, "invalid_grant", 700082)
    assert "inactive for 90.00:00:00" in body["error_description"]


@pytest.mark.parametrize(
    ("preset", "status", "error", "code"),
    [
        ("interaction_required", 400, "interaction_required", 50076),
        ("expired", 400, "invalid_grant", 70008),
        ("inactive", 400, "invalid_grant", 700082),
        ("secret_expired", 401, "invalid_client", 7000222),
    ],
)
def test_injected_token_errors(
    graph: GraphEmulator, base: str, preset: str, status: int, error: str, code: int
) -> None:
    rt = user_tokens(base)["refresh_token"]
    graph.inject_token_error(preset, grant_type="refresh_token")
    assert_aad_error(refresh(base, rt), status, error, code)
    assert refresh(base, rt).status_code == 200  # one-shot


def test_refresh_cannot_widen_scope(base: str) -> None:
    rt = user_tokens(base, scope="offline_access User.Read")["refresh_token"]
    assert_aad_error(refresh(base, rt, scope="Calendars.ReadWrite"), 400, "invalid_grant", 65001)


# --------------------------------------------------------------------------- client_credentials


def test_client_credentials_gives_an_hour_long_token_without_refresh_token(base: str) -> None:
    response = client_credentials(base)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
    assert "refresh_token" not in body and "scope" not in body
    assert response.headers["Cache-Control"].startswith("no-store")


def test_access_token_ttl_is_configurable(base: str, graph: GraphEmulator) -> None:
    graph.configure(access_token_ttl=600)
    assert client_credentials(base).json()["expires_in"] == 600


def test_client_credentials_by_tenant_guid_and_basic_auth(base: str) -> None:
    assert client_credentials(base, tenant=DEMO_TENANT_ID).status_code == 200
    response = requests.post(
        f"{base}/{TENANT}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"},
        auth=("demo-client", "demo-secret"),
        timeout=5,
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "status", "error", "code"),
    [
        ({"secret": "wrong"}, 401, "invalid_client", 7000215),
        ({"client_id": "nobody"}, 400, "unauthorized_client", 700016),
        ({"tenant": "nope.onmicrosoft.com"}, 400, "invalid_request", 90002),
        ({"tenant": "common"}, 400, "invalid_request", 50059),
        ({"scope": "https://graph.microsoft.com/Calendars.Read"}, 400, "invalid_scope", 1002012),
        ({"scope": "https://graph.microsoft.us/.default"}, 400, "invalid_resource", 500011),
    ],
)
def test_client_credentials_errors(base: str, kwargs: dict, status: int, error: str, code: int) -> None:
    assert_aad_error(client_credentials(base, **kwargs), status, error, code)


def test_expired_client_secret(graph: GraphEmulator, base: str) -> None:
    graph.set_client_secret("demo-client", "old-secret", datetime.now(UTC) - timedelta(days=1))
    assert_aad_error(client_credentials(base, secret="old-secret"), 401, "invalid_client", 7000222)


def test_unsupported_grant_and_get_method(base: str) -> None:
    response = token_request(base, grant_type="password", client_id="demo-client", client_secret="demo-secret")
    assert_aad_error(response, 400, "unsupported_grant_type", 70003)
    assert_aad_error(requests.get(f"{base}/{TENANT}/oauth2/v2.0/token", timeout=5), 400, "invalid_request", 900561)


def test_correlation_id_echoes_client_request_id(base: str) -> None:
    response = requests.post(
        f"{base}/{TENANT}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "bad"},
        headers={"client-request-id": "11111111-2222-3333-4444-555555555555"},
        timeout=5,
    )
    assert response.json()["correlation_id"] == "11111111-2222-3333-4444-555555555555"


def test_token_requests_are_counted_per_tenant(graph: GraphEmulator, base: str) -> None:
    other = graph.add_tenant("fabrikam.onmicrosoft.com")
    graph.add_app("fab-app", other.id, secret="s", application=["Calendars.Read"])
    for _ in range(3):
        client_credentials(base)
    client_credentials(base, tenant="fabrikam.onmicrosoft.com", client_id="fab-app", secret="s")
    client_credentials(base, secret="wrong")
    assert graph.token_request_count(TENANT) == 4
    assert graph.token_request_count(DEMO_TENANT_ID, grant_type="client_credentials") == 4
    assert graph.token_request_count("fabrikam.onmicrosoft.com") == 1
    count = requests.get(f"{base}/_emulator/token-requests", params={"tenant": TENANT}, timeout=5).json()
    assert count == {"count": 4}


def test_openid_configuration_points_back_at_the_emulator(base: str) -> None:
    body = requests.get(f"{base}/{TENANT}/v2.0/.well-known/openid-configuration", timeout=5).json()
    assert body["token_endpoint"] == f"{base}/{TENANT}/oauth2/v2.0/token"
    assert json.dumps(body["code_challenge_methods_supported"]) == '["plain", "S256"]'
