"""The authorization-code flow's safety parts: PKCE, and a state that is bound, expiring, single-use.

Public API: :func:`pkce_pair`, :class:`PendingAuthorization`, :class:`OAuthStates`, :func:`split_state`.

The ``state`` sent to the provider is ``<nonce>~<integration id>``. The nonce names a record in that
integration's encrypted config holding the PKCE verifier, the redirect URI and an expiry; the
callback consumes it by compare-and-set delete, so a replayed, forged or expired state exchanges
nothing.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from ireserve_calendar_plugin.config.store import SecureConfig

__all__ = ["OAuthStates", "PendingAuthorization", "pkce_pair", "split_state"]

STATE_TTL = timedelta(minutes=10)
_NONCE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def pkce_pair() -> tuple[str, str]:
    """A PKCE (RFC 7636) verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode().rstrip("=")
    return verifier, challenge


def split_state(state: str) -> tuple[str, str] | None:
    """``(nonce, integration id)`` of a well-formed state, else None."""
    nonce, sep, integration_id = state.partition("~")
    if not sep or not _NONCE.match(nonce) or not integration_id or len(integration_id) > 128:
        return None
    return nonce, integration_id


@dataclass(frozen=True)
class PendingAuthorization:
    """What the callback needs to finish a flow started by an admin."""

    state: str
    code_verifier: str
    code_challenge: str
    redirect_uri: str


class OAuthStates:
    """Creates and consumes the pending authorizations of one integration."""

    def __init__(self, store: SecureConfig) -> None:
        self._store = store

    def begin(self, redirect_uri: str, now: datetime) -> PendingAuthorization:
        nonce = secrets.token_urlsafe(32)
        verifier, challenge = pkce_pair()
        record = {"verifier": verifier, "redirect_uri": redirect_uri, "expires": (now + STATE_TTL).isoformat()}
        self._store.save(f"oauth/{nonce}", record, expected_version=0)
        self._sweep(now)
        return PendingAuthorization(f"{nonce}~{self._store.integration_id}", verifier, challenge, redirect_uri)

    def consume(self, nonce: str, now: datetime) -> PendingAuthorization | None:
        """Take the pending authorization (once). None when unknown, used or expired."""
        key = f"oauth/{nonce}"
        doc = self._store.load(key)
        if not doc.exists or not self._store.save(key, None, expected_version=doc.version):
            return None
        if datetime.fromisoformat(doc.data["expires"]) <= now:
            return None
        return PendingAuthorization(
            f"{nonce}~{self._store.integration_id}", doc.data["verifier"], "", doc.data["redirect_uri"]
        )

    def _sweep(self, now: datetime) -> None:
        """Drop abandoned flows so they do not pile up."""
        for key in self._store.list_keys("oauth/"):
            doc = self._store.load(key)
            if doc.exists and datetime.fromisoformat(doc.data["expires"]) <= now:
                self._store.save(key, None, expected_version=doc.version)
