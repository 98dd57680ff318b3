"""raise_for_status and token_error: every row of the protocol's error tables, from hand-built responses."""

from __future__ import annotations

import json
from typing import Any
from typing import cast

import pytest
import requests

from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import PreconditionFailedError
from ireserve_calendar_plugin.errors import ProviderError
from ireserve_calendar_plugin.errors import RateLimitedError
from ireserve_calendar_plugin.errors import RetryableError
from ireserve_calendar_plugin.errors import SyncTokenInvalidError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.errors import UnsafeUrlError
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.outlook.auth import token_error
from ireserve_calendar_plugin.providers.outlook.client import OutlookClient
from ireserve_calendar_plugin.providers.outlook.client import error_code
from ireserve_calendar_plugin.providers.outlook.client import mailbox_path
from ireserve_calendar_plugin.providers.outlook.client import raise_for_status

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret.sig"


def response(
    status: int,
    code: str | None = None,
    *,
    message: str = "",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.headers.update(headers or {})
    if body is not None:
        r._content = body
    elif code is None:
        r._content = b""
    else:
        r._content = json.dumps(
            {
                "error": {
                    "code": code,
                    "message": message or f"{code} message",
                    "innerError": {
                        "date": "2024-05-01T10:00:00",
                        "request-id": "3f1c-req",
                        "client-request-id": "3f1c-req",
                    },
                }
            }
        ).encode()
        r.headers["Content-Type"] = "application/json"
    return r


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_success_passes(status: int) -> None:
    raise_for_status(response(status))


ROWS = [
    (400, "ErrorInvalidRequest", PermanentError),
    (400, "BadRequest", PermanentError),
    (400, "InvalidRequest", PermanentError),
    (401, "InvalidAuthenticationToken", PermanentError),
    (403, "ErrorAccessDenied", PermanentError),
    (404, "ErrorItemNotFound", PermanentError),
    (404, "ResourceNotFound", PermanentError),
    (404, "ErrorInvalidUser", PermanentError),
    (404, "MailboxNotEnabledForRESTAPI", PermanentError),
    (405, "BadRequest", PermanentError),
    (409, "ErrorIrresolvableConflict", PreconditionFailedError),
    (412, "ErrorIrresolvableConflict", PreconditionFailedError),
    # a 410 or a sync-state code means "token dead" only on the delta call (test_delta_keys_on_the_call)
    (410, "syncStateNotFound", PermanentError),
    (410, "resyncRequired", PermanentError),
    (410, None, PermanentError),
    (400, "SyncStateInvalid", PermanentError),
    (404, "syncStateNotFound", PermanentError),
    (429, "ApplicationThrottled", RateLimitedError),
    (429, "TooManyRequests", RateLimitedError),
    (429, None, RateLimitedError),
    (408, None, TransientError),
    (500, "ErrorInternalServerError", TransientError),
    (502, "UnknownError", TransientError),
    (503, "ServiceNotAvailable", TransientError),
    (504, "UnknownError", TransientError),
]


@pytest.mark.parametrize(("status", "code", "cls"), ROWS)
def test_error_rows(status: int, code: str | None, cls: type[ProviderError]) -> None:
    with pytest.raises(ProviderError) as info:
        raise_for_status(response(status, code))
    error = info.value
    assert type(error) is cls
    assert error.status == status and error.provider == "outlook"
    assert error.reason == (code or "")
    assert f"HTTP {status}" in str(error)
    if code:
        assert error.request_id == "3f1c-req"


def test_retry_after_is_carried() -> None:
    with pytest.raises(RateLimitedError) as info:
        raise_for_status(
            response(
                429,
                "ApplicationThrottled",
                message="Application is over its MailboxConcurrency limit.",
                headers={"Retry-After": "3"},
            )
        )
    assert info.value.retry_after == 3.0 and "MailboxConcurrency" in str(info.value)
    with pytest.raises(TransientError) as unavailable:
        raise_for_status(response(503, "ServiceNotAvailable", headers={"Retry-After": "12"}))
    assert unavailable.value.retry_after == 12.0 and isinstance(unavailable.value, RetryableError)


def test_non_json_bodies() -> None:
    with pytest.raises(TransientError) as info:
        raise_for_status(response(502, body=b"<html>Bad gateway</html>"))
    assert info.value.reason == "" and "HTTP 502" in str(info.value)
    assert error_code(response(400, body=b"[1, 2]")) == ("", "", "")
    assert error_code(response(400, body=json.dumps({"error": "invalid_request"}).encode()))[0] == "invalid_request"


def test_message_is_bounded_and_never_holds_the_request() -> None:
    r = response(400, "BadRequest", message="x" * 5000)
    r.request = requests.Request(
        "GET", "https://graph.microsoft.com/v1.0/me", headers={"Authorization": f"Bearer {TOKEN}"}
    ).prepare()
    with pytest.raises(PermanentError) as info:
        raise_for_status(r)
    assert len(str(info.value)) < 300 and TOKEN not in str(info.value)


class _Answering:
    """An ApiClient stand-in that answers every request with one canned error response."""

    def __init__(self, answer: requests.Response) -> None:
        self.answer = answer

    def request(self, method: str, url: str, **_: Any) -> requests.Response:
        raise_for_status(self.answer)
        return self.answer


DELTA_ROWS = [
    (410, "syncStateNotFound", SyncTokenInvalidError),
    (410, "resyncRequired", SyncTokenInvalidError),
    (410, None, SyncTokenInvalidError),
    (400, "SyncStateInvalid", SyncTokenInvalidError),
    (404, "syncStateNotFound", SyncTokenInvalidError),
    (404, "ErrorItemNotFound", PermanentError),
    (400, "BadRequest", PermanentError),
    (403, "ErrorAccessDenied", PermanentError),
]


@pytest.mark.parametrize(("status", "code", "cls"), DELTA_ROWS)
def test_delta_keys_on_the_call(status: int, code: str | None, cls: type[ProviderError]) -> None:
    """Only the delta call turns a 410 / sync-state code into "sync token invalid"; event calls keep
    the plain status, so a 410 on an event is "gone" without any caller undoing a mapping."""
    client = OutlookClient(cast(ApiClient, _Answering(response(status, code))), "https://graph.microsoft.com")
    link = "https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=abc"
    with pytest.raises(ProviderError) as info:
        client.delta("me", link=link)
    assert type(info.value) is cls and info.value.status == status and info.value.reason == (code or "")
    for call in (
        lambda: client.get_event("me", "evt"),
        lambda: client.delete_event("me", "evt"),
        lambda: client.patch_event("me", "evt", {}),
        lambda: client.delete_subscription("sub"),
    ):
        with pytest.raises(ProviderError) as other:
            call()
        assert type(other.value) is not SyncTokenInvalidError
        assert other.value.status == status


@pytest.mark.parametrize(
    ("mailbox", "path"),
    [
        ("me", "me"),
        ("room-001@contoso.onmicrosoft.com", "users/room-001@contoso.onmicrosoft.com"),
        ("o'brien@contoso.com", "users/o%27brien@contoso.com"),
    ],
)
def test_mailbox_path(mailbox: str, path: str) -> None:
    assert mailbox_path(mailbox) == path


@pytest.mark.parametrize(
    "mailbox",
    [
        "",
        "ME",
        "users/x@y.com",
        "a/b@contoso.com",
        "a?b@contoso.com",
        "a..b@c.com",
        "a@b",
        "a%2f@contoso.com",
        "a#b@contoso.com",
        "a b@contoso.com",
    ],
)
def test_mailbox_path_refuses(mailbox: str) -> None:
    with pytest.raises(UnsafeUrlError):
        mailbox_path(mailbox)


# --------------------------------------------------------------------------- token endpoint


def token_response(status: int, error: str, code: int, **extra: Any) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps(
        {
            "error": error,
            "error_description": f"AADSTS{code}: Something. refresh_token={TOKEN}\r\nTrace ID: 0000-trace\r\n"
            "Correlation ID: 1111-corr\r\nTimestamp: 2024-01-01 10:00:00Z",
            "error_codes": [code],
            "timestamp": "2024-01-01 10:00:00Z",
            "trace_id": "0000-trace",
            "correlation_id": "1111-corr",
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
            **extra,
        }
    ).encode()
    return r


TOKEN_ROWS = [
    ("refresh", 400, "invalid_grant", 70008, AuthExpiredError),
    ("refresh", 400, "invalid_grant", 700082, AuthExpiredError),
    ("refresh", 400, "invalid_grant", 50173, AuthExpiredError),
    ("refresh", 400, "interaction_required", 50076, AuthExpiredError),
    ("refresh", 400, "consent_required", 65001, AuthExpiredError),
    ("refresh", 401, "invalid_client", 7000222, PermanentError),
    ("refresh", 400, "unauthorized_client", 700016, PermanentError),
    ("refresh", 503, "temporarily_unavailable", 90033, TransientError),
    ("refresh", 500, "server_error", 90000, TransientError),
    ("refresh", 400, "invalid_scope", 70011, PermanentError),
    ("code", 400, "invalid_grant", 54005, PermanentError),
    ("code", 401, "invalid_client", 7000215, ConfigError),
    ("code", 400, "temporarily_unavailable", 90033, TransientError),
    ("app", 401, "invalid_client", 7000215, PermanentError),
    ("app", 400, "invalid_grant", 70008, PermanentError),
    ("app", 400, "invalid_request", 90002, PermanentError),
]


@pytest.mark.parametrize(("grant", "status", "error", "code", "cls"), TOKEN_ROWS)
def test_token_errors(grant: str, status: int, error: str, code: int, cls: type[Exception]) -> None:
    found = token_error(token_response(status, error, code), grant=grant)
    assert type(found) is cls
    text = str(found)
    assert f"AADSTS{code}" in text or isinstance(found, ConfigError)
    assert TOKEN not in text and "trace" not in text.lower() and "1111-corr" not in text
    if isinstance(found, ProviderError):
        assert found.reason == error
    if isinstance(found, ConfigError):
        assert "client_secret" in found.problems


def test_token_error_without_json() -> None:
    r = requests.Response()
    r.status_code = 502
    r._content = b"<html>proxy</html>"
    r.headers["Retry-After"] = "4"
    found = token_error(r, grant="refresh")
    assert isinstance(found, TransientError) and found.retry_after == 4.0 and "HTTP 502" in str(found)
