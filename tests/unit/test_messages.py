"""Each error class the plugin meets reads as one sentence of what happened and one of what to do."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest

from hookspecs.forms import HealthState
from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import ConfigDecryptError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import NotConfiguredError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import RateLimitedError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.messages import ProblemKind
from ireserve_calendar_plugin.messages import classify
from ireserve_calendar_plugin.messages import describe
from ireserve_calendar_plugin.messages import message_for

CASES = [
    (
        AuthExpiredError("outlook: invalid_grant AADSTS50173", status=400, reason="invalid_grant"),
        False,
        ProblemKind.REVOKED_GRANT,
    ),
    (
        PermanentError("google: HTTP 403 insufficientPermissions", status=403, reason="insufficientPermissions"),
        False,
        ProblemKind.MISSING_PERMISSION,
    ),
    (
        PermanentError("outlook: HTTP 403 ErrorAccessDenied", status=403, reason="ErrorAccessDenied"),
        True,
        ProblemKind.MISSING_PERMISSION,
    ),
    (PermanentError("google: HTTP 404 notFound", status=404, reason="notFound"), False, ProblemKind.CALENDAR_NOT_FOUND),
    (
        PermanentError("outlook: HTTP 404 ErrorInvalidUser", status=404, reason="ErrorInvalidUser"),
        True,
        ProblemKind.ROOM_NOT_FOUND,
    ),
    (RateLimitedError("google: HTTP 429", status=429, retry_after=30), False, ProblemKind.THROTTLED),
    (TransientError("google: HTTP 503", status=503), False, ProblemKind.PROVIDER_DOWN),
    (TransientError("google: no answer (timeout)"), False, ProblemKind.PROVIDER_DOWN),
    (
        PermanentError("outlook: token endpoint rejected the client", status=401, reason="invalid_client"),
        False,
        ProblemKind.BAD_SETTINGS,
    ),
    (ConfigError("bad tenant"), False, ProblemKind.BAD_SETTINGS),
    (NotConfiguredError("no settings"), False, ProblemKind.NOT_CONFIGURED),
    (ConfigDecryptError("g1", "settings", "InvalidTag"), False, ProblemKind.DECRYPT_FAILURE),
]


@pytest.mark.parametrize(("error", "room", "kind"), CASES, ids=[k.value + ("-room" if r else "") for _, r, k in CASES])
def test_each_error_class_has_its_kind(error: Exception, room: bool, kind: ProblemKind) -> None:
    assert classify(error, room=room) is kind


@pytest.mark.parametrize("kind", list(ProblemKind))
def test_every_kind_says_what_happened_and_what_to_do_without_technical_detail(kind: ProblemKind) -> None:
    said = message_for(kind, provider="google", calendar="Room A")
    assert said.what.endswith(".") and said.next_step.endswith(".")
    assert said.what != said.next_step
    for jargon in ("HTTP", "Error:", "invalid_grant", "AADSTS", "notFound", "PermanentError"):
        assert jargon not in str(said)


def test_retry_times_are_in_the_objects_zone_not_utc() -> None:
    said = describe(
        TransientError("google: HTTP 503", status=503),
        provider="google",
        calendar="Room A",
        retry_at=datetime(2026, 12, 3, 9, 45, tzinfo=UTC),
        timezone="Europe/Amsterdam",
    )
    assert "10:45" in said.what and "09:45" not in said.what and "+00:00" not in said.what


def test_states_follow_the_kind() -> None:
    assert message_for(ProblemKind.REVOKED_GRANT, provider="outlook").state is HealthState.NOT_CONNECTED
    assert message_for(ProblemKind.CALENDAR_NOT_FOUND, provider="google").state is HealthState.ERROR
    assert message_for(ProblemKind.THROTTLED, provider="google").state is HealthState.WARNING
    assert "Microsoft 365" in message_for(ProblemKind.REVOKED_GRANT, provider="outlook").what
