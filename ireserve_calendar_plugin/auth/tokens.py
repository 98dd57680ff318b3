"""Access and refresh tokens in host storage, shared by every worker, refreshed by compare-and-set.

Public API: :class:`TokenSet`, :class:`TokenStore`, :class:`AccessTokens`, :class:`AuthStatus`.

Tokens live encrypted in the integration's config (``tokens``), never in process memory alone, so
any worker on any machine uses the same access token and only one refreshes it when it nears
expiry (a short lease; the others wait for its result). A refresh that hits a lost grant
(``invalid_grant``) marks the integration "needs reconnect" once, with one admin-visible alert, and
stops every further attempt until an admin reconnects.

Tokens are tagged with the endpoints that issued them (:attr:`TokenSet.issuer`: the provider's endpoint
settings, e.g. token URL and API base, or login URL and tenant, when they were obtained). A stored token
whose tag differs from the current endpoint settings is never sent anywhere: for an account's grant the
integration reads "not connected" with the reason in words (connect again); an app-only token is simply
fetched anew with the credentials the admin approved for the new endpoints. This holds even when the
settings changed in a way that did not drop the tokens first (a save racing a sign-in, another editor,
a restored backup). Tokens stored before tags existed carry none (``issuer`` None): they are trusted as
issued under the current settings, which the re-approval rule of the settings form has guaranteed since
it exists, and are used until their next refresh, whose result is tagged. So an untagged access token
is sent to the configured API until it expires, and an untagged refresh token is sent once, to the
configured token URL; from then on the tag decides.

Strict refresh-token rotation (Microsoft; the Graph emulator's ``strict_refresh_rotation``): each
refresh spends the refresh token it sends. A worker killed after the token endpoint answered but
before the new token was stored (or whose answer was lost on the wire) leaves only the spent token,
and the grant is gone. This cannot be repaired without the admin; it is made visible instead: before
each refresh a hash of the refresh token it sends is written under ``<key>/refreshing`` and removed
once the outcome is stored (or the provider answered a refusal), so when the next refresh with that
same token is refused as ``invalid_grant`` the "needs reconnect" reason says that a refresh did not
complete, never a silent retry loop.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import Any

from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import NotConfiguredError
from ireserve_calendar_plugin.errors import ProviderError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.sync.state import Leases

__all__ = ["RETIRED_KEY", "AccessTokens", "AuthStatus", "TokenSet", "TokenStore"]

#: The config key of a disconnected account's grant, kept only until the job that stops its push channels
#: ran (:mod:`ireserve_calendar_plugin.disconnect`). Tokens under it never change the integration's status.
RETIRED_KEY = "revoke/grant"
#: Refresh this long before the access token expires.
REFRESH_SKEW = timedelta(minutes=5)
#: The "needs reconnect" reason when a refresh token was spent by a refresh whose outcome was never stored.
INTERRUPTED_REFRESH = (
    "A token refresh did not complete after the provider replaced the refresh token (a worker stopped or "
    "the answer was lost); with strict rotation the stored one is spent. Connect the account again"
)


def _fingerprint(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint gave us. ``expires_at`` is aware; ``refresh_token`` None for app-only."""

    access_token: str
    expires_at: datetime
    refresh_token: str | None = None
    scopes: tuple[str, ...] = ()
    account: str = ""
    #: the endpoint settings it was issued under (see the module docstring); None: stored before tags existed
    issuer: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "access_token": self.access_token,
            "expires_at": self.expires_at.isoformat(),
            "refresh_token": self.refresh_token,
            "scopes": list(self.scopes),
            "account": self.account,
        }
        if self.issuer is not None:
            data["issuer"] = dict(self.issuer)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenSet:
        issuer = data.get("issuer")
        return cls(
            data["access_token"],
            datetime.fromisoformat(data["expires_at"]),
            data.get("refresh_token"),
            tuple(data.get("scopes", ())),
            data.get("account", ""),
            {str(k): str(v) for k, v in issuer.items()} if isinstance(issuer, dict) else None,
        )

    def issued_elsewhere(self, issuer: Mapping[str, str] | None) -> list[str]:
        """The endpoint settings whose value differs from the ones this was issued under ([] when untagged,
        or when ``issuer`` is None: nothing to compare)."""
        if self.issuer is None or issuer is None:
            return []
        return sorted(name for name in {*self.issuer, *issuer} if self.issuer.get(name) != issuer.get(name))

    def fresh(self, now: datetime) -> bool:
        return bool(self.access_token) and self.expires_at - REFRESH_SKEW > now

    def __repr__(self) -> str:  # never print tokens
        return f"TokenSet(expires_at={self.expires_at.isoformat()}, scopes={self.scopes}, account={self.account!r})"


class TokenStore:
    """The encrypted ``tokens`` document (or another key, e.g. one app-only token per tenant)."""

    def __init__(self, store: SecureConfig, key: str = "tokens") -> None:
        self._store = store
        self.key = key

    def load(self) -> tuple[TokenSet | None, int]:
        doc = self._store.load(self.key)
        return (TokenSet.from_json(doc.data) if doc.exists else None), doc.version

    def save(self, tokens: TokenSet | None, *, expected_version: int | None) -> bool:
        return self._store.save(self.key, tokens.to_json() if tokens else None, expected_version=expected_version)


class AuthStatus:
    """Whether the integration's grant works: ``connected``, ``needs_reconnect`` or ``not_connected``."""

    KEY = "auth"

    def __init__(self, store: SecureConfig) -> None:
        self._store = store

    def get(self) -> dict[str, Any]:
        return dict(self._store.load(self.KEY, {"state": "not_connected"}).data or {"state": "not_connected"})

    def needs_reconnect(self) -> bool:
        return self.get().get("state") == "needs_reconnect"

    def mark_needs_reconnect(self, reason: str, now: datetime, *, interrupted: bool = False) -> bool:
        """Record the lost grant. Returns True only for the first caller. ``interrupted``: the grant was
        lost to a refresh that never completed (strict rotation), so ``reason`` is what the admin reads."""
        first = False

        def change(data: dict[str, Any] | None) -> dict[str, Any]:
            nonlocal first
            data = dict(data or {})
            first = data.get("state") != "needs_reconnect"
            if first:
                data.update(state="needs_reconnect", reason=reason[:300], since=now.isoformat())
                if interrupted:
                    data["interrupted"] = True
            return data

        self._store.update(self.KEY, change, default={})
        return first

    def claim_alert(self) -> bool:
        """True exactly once per lost grant: the caller that gets True tells the admin."""
        claimed = False

        def change(data: dict[str, Any] | None) -> dict[str, Any]:
            nonlocal claimed
            data = dict(data or {})
            claimed = data.get("state") == "needs_reconnect" and not data.get("alerted")
            if claimed:
                data["alerted"] = True
            return data

        self._store.update(self.KEY, change, default={})
        return claimed

    def mark_not_connected(self, reason: str, now: datetime) -> None:
        """The grant was dropped on purpose (for example an endpoint setting changed): connect again."""
        self._store.update(
            self.KEY, lambda _: {"state": "not_connected", "reason": reason[:300], "since": now.isoformat()}, default={}
        )

    def mark_connected(self, account: str, now: datetime) -> None:
        self._store.update(
            self.KEY, lambda _: {"state": "connected", "account": account, "since": now.isoformat()}, default={}
        )


class AccessTokens:
    """Hands out a valid access token, refreshing it when needed, once across all workers.

    ``refresh`` takes the stored :class:`TokenSet` (None in app-only mode) and returns a new one; it
    raises :class:`AuthExpiredError` when the grant is gone. Google keeps the refresh token (a new
    one is not returned), Microsoft rotates it: ``refresh`` returns whatever must be stored.
    """

    def __init__(
        self,
        store: SecureConfig,
        refresh: Callable[[TokenSet | None], TokenSet],
        *,
        now: Callable[[], datetime],
        key: str = "tokens",
        needs_grant: bool = True,
        wait: Callable[[float], None] = time.sleep,
        issuer: Mapping[str, str] | None = None,
    ) -> None:
        self._store = store
        self._tokens = TokenStore(store, key)
        self._status = AuthStatus(store)
        self._leases = Leases(store)
        self._refresh = refresh
        self._now = now
        self._key = key
        self._needs_grant = needs_grant
        self._wait = wait
        self._account = key != RETIRED_KEY  # whose failures are the integration's status
        self._issuer = dict(issuer) if issuer is not None else None
        self.refreshes = 0

    def get(self) -> str:
        """A valid access token (refreshing first if it expires within five minutes)."""
        for _ in range(50):
            tokens, version = self._tokens.load()
            now = self._now()
            if tokens is not None and tokens.issued_elsewhere(self._issuer):
                if self._needs_grant:
                    self._refuse_elsewhere(tokens)
                tokens = None  # app-only: fetched anew with the credentials approved for these endpoints
            if self._needs_grant and (tokens is None or not tokens.refresh_token):
                raise NotConfiguredError("the integration is not connected to an account yet")
            if self._needs_grant and self._account and self._status.needs_reconnect():
                raise AuthExpiredError("the account must be reconnected by an admin")
            if tokens is not None and tokens.fresh(now):
                return tokens.access_token
            lease = self._leases.acquire(f"token-{self._key}", now, timedelta(seconds=30))
            if lease is None:
                self._wait(0.1)  # another worker is refreshing; use its result
                continue
            try:
                return self._refresh_under_lease(tokens, version)
            finally:
                self._leases.release(lease)
        # another worker holds the refresh lease (slow, or died mid-refresh; the lease then expires by
        # itself): the grant is fine, so this is a retry-later, never a lost grant ("needs reconnect")
        raise TransientError("another worker is refreshing the access token; try again shortly")

    def _refuse_elsewhere(self, tokens: TokenSet) -> None:
        """A grant issued under other endpoint settings: never sent; the integration is not connected."""
        moved = ", ".join(tokens.issued_elsewhere(self._issuer))
        reason = (
            f"the stored authorization was issued under other endpoint settings ({moved}) and is never sent "
            "to the current ones; connect the account again"
        )
        if self._account and self._status.get().get("state") != "not_connected":
            self._status.mark_not_connected(reason, self._now())
        raise NotConfiguredError(f"Not connected: {reason}.")

    def _refresh_under_lease(self, tokens: TokenSet | None, version: int) -> str:
        again, version_now = self._tokens.load()
        if again is not None and again.issued_elsewhere(self._issuer):
            if self._needs_grant:
                self._refuse_elsewhere(again)
            again = None
        if again is not None and again.fresh(self._now()) and version_now != version:
            return again.access_token  # refreshed by someone else between our read and our lease
        marker_key = f"{self._key}/refreshing"
        marker = _fingerprint(again.refresh_token) if again is not None and again.refresh_token else None
        interrupted = marker is not None and self._store.load(marker_key).data == marker
        if marker is not None:
            self._store.save(marker_key, marker, expected_version=None)
        try:
            new = self._refresh(again)
        except AuthExpiredError as exc:
            reason = str(exc)
            if interrupted:
                reason = f"{INTERRUPTED_REFRESH} ({reason})"
            if self._account:  # no further attempt until reconnect
                self._status.mark_needs_reconnect(reason, self._now(), interrupted=interrupted)
            self._store.delete(marker_key)
            if interrupted:
                raise AuthExpiredError(reason, provider=exc.provider, status=exc.status, reason=exc.reason) from exc
            raise
        except ProviderError as exc:
            if exc.status:  # the provider answered a refusal: it spent nothing
                self._store.delete(marker_key)
            raise
        self.refreshes += 1
        if again is not None and new.refresh_token is None and again.refresh_token:
            new = replace(new, refresh_token=again.refresh_token)  # Google does not rotate
        if self._issuer is not None:
            new = replace(new, issuer=self._issuer)  # issued just now, by the endpoints configured now
        self._store_refreshed(again, new, version_now)
        if marker is not None:
            self._store.delete(marker_key)
        return new.access_token

    def _store_refreshed(self, used: TokenSet | None, new: TokenSet, version: int) -> bool:
        """Store what a refresh returned, by compare-and-set, in one write (the old refresh token stays
        stored until the new one replaces it; Microsoft rotates them on every refresh).

        A lost race is retried while the stored document still holds the refresh token this refresh
        used (another worker only marked the access token stale, say). If the grant itself changed
        meanwhile (an admin reconnected, or the integration was disconnected), that write wins and
        ours is dropped. Returns whether ours was stored.
        """
        used_refresh = used.refresh_token if used is not None else None
        for _ in range(10):
            if self._tokens.save(new, expected_version=version):
                return True
            current, version = self._tokens.load()
            if current is None and used is not None:
                return False  # disconnected meanwhile: do not bring the grant back
            if current is not None and current.refresh_token != used_refresh:
                return False  # a newer grant was stored meanwhile: it wins
        return False

    def invalidate(self, access_token: str) -> None:
        """The service rejected ``access_token`` (401): make the next :meth:`get` refresh."""
        tokens, version = self._tokens.load()
        if tokens is not None and tokens.access_token == access_token:
            self._tokens.save(replace(tokens, expires_at=self._now() - timedelta(seconds=1)), expected_version=version)
