"""Google service accounts with domain-wide delegation: tokens from the JWT-bearer grant, errors in words.

Public API: :func:`service_account_tokens`, :func:`grant_error`, :data:`CALENDAR_TOKEN_KEY`,
:data:`DIRECTORY_TOKEN_KEY`, :data:`SCOPE_DIRECTORY`, :data:`FAILURE_MEMO`.

``google.oauth2.service_account.Credentials`` with ``subject`` signs an RS256 assertion with the pasted
key and trades it at the *configured* token URL (never the ``token_uri`` written in the key file, so a
key cannot send itself elsewhere). One access token per integration and purpose (calendar or Admin SDK
directory) lives in host storage (:data:`CALENDAR_TOKEN_KEY`, :data:`DIRECTORY_TOKEN_KEY`), shared by
every worker through :class:`AccessTokens` and refreshed five minutes before it expires; there is no
refresh token. Separate tokens keep a missing directory delegation from stopping calendar sync.

A refused grant is remembered for :data:`FAILURE_MEMO` (keyed by a hash of key, subject and scopes),
so 500 resource calendars do not each ask Google to refuse them again; saving other settings clears it.
Messages say what to do, and the error's ``reason`` names the case for the admin's words
(:mod:`ireserve_calendar_plugin.messages`): ``unauthorized_client`` = ``delegation_not_granted`` (with the
client id and scopes to enter in the Admin console), ``invalid_grant`` "Invalid email or User ID" =
``subject_not_in_domain``, a bad signature or unknown account = ``key_refused``. Never a key or a token
in a message or a log line.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import google.auth.crypt
import google.auth.exceptions
import google.oauth2.service_account
import requests

from ireserve_calendar_plugin.auth.tokens import AccessTokens
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.auth.tokens import TokenSet
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers.google.auth import _Transport
from ireserve_calendar_plugin.providers.google.client import PROVIDER
from ireserve_calendar_plugin.providers.google.settings import DEFAULT_URLS

__all__ = [
    "CALENDAR_TOKEN_KEY",
    "DIRECTORY_TOKEN_KEY",
    "FAILURE_MEMO",
    "SCOPE_DIRECTORY",
    "grant_error",
    "service_account_tokens",
]

log = logging.getLogger("ireserve_calendar_plugin.google")

CALENDAR_TOKEN_KEY = "sa_token"
DIRECTORY_TOKEN_KEY = "sa_directory_token"
SCOPE_DIRECTORY = "https://www.googleapis.com/auth/admin.directory.resource.calendar.readonly"
FAILURE_MEMO = timedelta(minutes=5)
#: lifetime of the signed assertion (Google accepts at most an hour)
ASSERTION_LIFETIME = 3600
_FAILURE_PREFIX = "sa_failure/"


def _fingerprint(settings: Mapping[str, Any], scopes: tuple[str, ...]) -> str:
    raw = "\n".join(
        [
            str(settings.get("service_account_key") or ""),
            str(settings.get("subject") or ""),
            str(settings.get("token_url") or ""),
            *scopes,
        ]
    )
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def grant_error(
    exc: google.auth.exceptions.RefreshError, settings: Mapping[str, Any], scopes: tuple[str, ...]
) -> CalendarPluginError:
    """Our error for a refused JWT-bearer grant, saying what to fix."""
    data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], Mapping) else {}
    raw_error, raw_description = data.get("error"), data.get("error_description")
    error = raw_error if isinstance(raw_error, str) else ""
    description = raw_description if isinstance(raw_description, str) else ""
    subject = str(settings.get("subject") or "")
    if getattr(exc, "retryable", False):
        return TransientError(
            f"google: the token endpoint is unavailable ({error or 'no detail'})", provider=PROVIDER, reason=error
        )
    if error == "unauthorized_client":
        client_id = _client_id(settings)
        names = ",".join(scopes)
        return PermanentError(
            f"google: domain-wide delegation is not granted: in the Admin console (Security > API controls > "
            f"Domain-wide delegation) authorise client id {client_id} for {names}",
            provider=PROVIDER,
            status=401,
            reason="delegation_not_granted",
        )
    if error == "invalid_grant" and "email" in description.lower():
        return PermanentError(
            f"google: the subject {subject} is not a user of the Workspace domain; give the "
            "address of a Workspace admin",
            provider=PROVIDER,
            status=400,
            reason="subject_not_in_domain",
        )
    if error == "invalid_grant" and ("signature" in description.lower() or "not found" in description.lower()):
        return PermanentError(
            "google: Google does not accept this service account key (deleted, replaced, or "
            "the service account is gone); paste a current JSON key",
            provider=PROVIDER,
            status=400,
            reason="key_refused",
        )
    return PermanentError(
        f"google: the service account's token request was refused ({error or 'no detail'}: {description[:150]})",
        provider=PROVIDER,
        status=400,
        reason=error,
    )


def _client_id(settings: Mapping[str, Any]) -> str:
    try:
        return str(json.loads(str(settings.get("service_account_key") or "{}")).get("client_id") or "?")
    except ValueError:
        return "?"


def _refresher(
    settings: Mapping[str, Any],
    session: requests.Session,
    store: SecureConfig,
    scopes: tuple[str, ...],
    now: Callable[[], datetime],
) -> Callable[[TokenSet | None], TokenSet]:
    transport = _Transport(session=session)
    token_url = str(settings.get("token_url") or DEFAULT_URLS["token_url"])
    fingerprint = _fingerprint(settings, scopes)
    memo_key = _FAILURE_PREFIX + hashlib.sha256(" ".join(scopes).encode()).hexdigest()[:12]

    def refresh(_current: TokenSet | None) -> TokenSet:
        memo = store.load(memo_key)
        remembered = memo.data if memo.exists and isinstance(memo.data, dict) else {}
        if remembered.get("fingerprint") == fingerprint and datetime.fromisoformat(str(remembered["until"])) > now():
            raise PermanentError(
                str(remembered.get("message") or "google: the service account was refused"),
                provider=PROVIDER,
                status=int(remembered.get("status") or 0),
                reason=str(remembered.get("reason") or ""),
            )
        info = json.loads(str(settings["service_account_key"]))
        issued = int(now().timestamp())  # our clock, not the process's: the assertion's iat/exp
        credentials = google.oauth2.service_account.Credentials(
            google.auth.crypt.RSASigner.from_service_account_info(info),
            str(info["client_email"]),
            token_url,
            scopes=list(scopes),
            subject=str(settings.get("subject") or "") or None,
            additional_claims={"iat": issued, "exp": issued + ASSERTION_LIFETIME},
        )
        try:
            credentials.refresh(transport)
        except google.auth.exceptions.RefreshError as exc:
            error = grant_error(exc, settings, scopes)
            if isinstance(error, PermanentError):
                store.save(
                    memo_key,
                    {
                        "fingerprint": fingerprint,
                        "until": (now() + FAILURE_MEMO).isoformat(),
                        "message": str(error)[:600],
                        "status": error.status,
                        "reason": error.reason,
                    },
                    expected_version=None,
                )
            raise error from None
        except google.auth.exceptions.TransportError as exc:
            raise TransientError(
                f"google: the token endpoint did not answer ({type(exc).__name__})", provider=PROVIDER
            ) from exc
        if not credentials.token:
            raise TransientError("google: the token endpoint sent no access token", provider=PROVIDER)
        if memo.exists:
            store.delete(memo_key)
        left = (
            (credentials.expiry.replace(tzinfo=UTC) - datetime.now(UTC))
            if credentials.expiry
            else timedelta(seconds=3599)
        )
        status = AuthStatus(store)
        if status.get().get("state") != "connected":  # the admin form's status line; written once
            status.mark_connected(f"service account as {settings.get('subject')}", now())
        return TokenSet(str(credentials.token), now() + left, None, scopes, "")

    return refresh


def service_account_tokens(
    settings: Mapping[str, Any],
    session: requests.Session,
    store: SecureConfig,
    *,
    scopes: tuple[str, ...],
    key: str,
    now: Callable[[], datetime],
    wait: Callable[[float], None],
    issuer: Mapping[str, str] | None = None,
) -> AccessTokens:
    """The shared access token of one purpose (``key``) of a service-account integration (tagged ``issuer``)."""
    return AccessTokens(
        store,
        _refresher(settings, session, store, scopes, now),
        now=now,
        key=key,
        needs_grant=False,
        wait=wait,
        issuer=issuer,
    )
