"""raise_for_status: every row of the Google error table, from hand-built responses."""

from __future__ import annotations

import json

import pytest
import requests

from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import PreconditionFailedError
from ireserve_calendar_plugin.errors import ProviderError
from ireserve_calendar_plugin.errors import RateLimitedError
from ireserve_calendar_plugin.errors import RetryableError
from ireserve_calendar_plugin.errors import SyncTokenInvalidError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers.google.client import raise_for_status


def response(
    status: int, reason: str | None = None, *, headers: dict[str, str] | None = None, body: bytes | None = None
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.headers.update(headers or {})
    if body is not None:
        r._content = body
    elif reason is None:
        r._content = b""
    else:
        message = f"{reason} message"
        r._content = json.dumps(
            {
                "error": {
                    "errors": [{"domain": "global", "reason": reason, "message": message}],
                    "code": status,
                    "message": message,
                }
            }
        ).encode()
        r.headers["Content-Type"] = "application/json; charset=UTF-8"
    return r


@pytest.mark.parametrize("status", [200, 201, 204])
def test_success_passes(status: int) -> None:
    raise_for_status(response(status))


ROWS = [
    (401, "authError", PermanentError),
    (403, "rateLimitExceeded", RateLimitedError),
    (403, "userRateLimitExceeded", RateLimitedError),
    (403, "quotaExceeded", RateLimitedError),
    (429, "rateLimitExceeded", RateLimitedError),
    (429, None, RateLimitedError),
    (403, "insufficientPermissions", PermanentError),
    (403, "forbidden", PermanentError),
    (403, "requiredAccessLevel", PermanentError),
    (403, "forbiddenForNonOrganizer", PermanentError),
    (400, "timeRangeEmpty", PermanentError),
    (400, "cannotUseDefaultRemindersAndSpecifyOverride", PermanentError),
    (404, "notFound", PermanentError),
    (409, "duplicate", PermanentError),
    (410, "deleted", PermanentError),
    (410, "fullSyncRequired", SyncTokenInvalidError),
    (410, "updatedMinTooLongAgo", SyncTokenInvalidError),
    (412, "conditionNotMet", PreconditionFailedError),
    (500, "backendError", TransientError),
    (503, "backendError", TransientError),
    (504, None, TransientError),
    (408, None, TransientError),
]


@pytest.mark.parametrize(("status", "reason", "expected"), ROWS)
def test_error_rows(status: int, reason: str | None, expected: type[ProviderError]) -> None:
    with pytest.raises(ProviderError) as info:
        raise_for_status(response(status, reason))
    error = info.value
    assert type(error) is expected
    assert error.status == status and error.provider == "google"
    if reason:
        assert error.reason == reason
        assert reason in str(error)
    assert not isinstance(error, AuthExpiredError)  # a lost grant surfaces from the refresh, never here


def test_retryability_follows_the_type() -> None:
    for status, reason, expected in ROWS:
        retryable = issubclass(expected, RetryableError)
        assert retryable == (
            status in (408, 429, 500, 503, 504)
            or reason in ("rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded")
        )


def test_duplicate_without_body_still_says_duplicate() -> None:
    with pytest.raises(PermanentError) as info:
        raise_for_status(response(409))
    assert info.value.reason == "duplicate"


def test_retry_after_seconds_and_http_date() -> None:
    with pytest.raises(RateLimitedError) as info:
        raise_for_status(response(429, "rateLimitExceeded", headers={"Retry-After": "7"}))
    assert info.value.retry_after == 7.0
    with pytest.raises(RateLimitedError) as info:
        past = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
        raise_for_status(response(403, "userRateLimitExceeded", headers=past))
    assert info.value.retry_after == 0.0  # a date in the past: no wait, but known


def test_html_502_page_is_transient() -> None:
    with pytest.raises(TransientError) as info:
        raise_for_status(response(502, body=b"<!DOCTYPE html><title>Error 502 (Server Error)!!1</title>"))
    assert info.value.status == 502 and info.value.reason == ""


def test_new_style_error_without_errors_list() -> None:
    body = json.dumps({"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}).encode()
    with pytest.raises(PermanentError) as info:
        raise_for_status(response(404, body=body))
    assert info.value.status == 404 and info.value.reason == "NOT_FOUND"
