"""Disconnecting an account: drop its tokens at once, revoke the grant at the provider in a job.

Public API: :func:`disconnect`, :func:`queue_revoke`, :func:`run_revoke`, :data:`JOB_REVOKE`,
:data:`DISCONNECTED`.

The admin's click only touches host storage: the tokens are deleted and the refresh token moves to a
revocation list (encrypted like every stored value), which the ``calendar.revoke`` job empties by
calling the provider's revocation endpoint. A revocation that fails transiently stays listed and the
job raises (the host retries it with backoff); one the provider refuses for good is dropped (the grant
is unusable to us either way). Each token leaves the list once its revocation is done or refused, so a
job run twice at most asks the provider twice, which revocation endpoints accept.
"""

from __future__ import annotations

import logging
from typing import Any

from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.choices import CHOICES_KEY
from ireserve_calendar_plugin.config.form import load_settings
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import RetryableError
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.runtime import backend_context

__all__ = ["DISCONNECTED", "JOB_REVOKE", "disconnect", "queue_revoke", "run_revoke"]

log = logging.getLogger("ireserve_calendar_plugin.disconnect")

JOB_REVOKE = "calendar.revoke"
#: The ``AuthStatus`` state after an admin disconnected on purpose (not an alert: nothing was lost).
DISCONNECTED = "disconnected"
_PENDING = "revoke/pending"


def queue_revoke(ctx: IntegrationContext, refresh_token: str) -> bool:
    """List ``refresh_token`` for revocation and queue the job that revokes it."""
    ctx.store.update(_PENDING, lambda tokens: sorted({*(tokens or []), refresh_token}), default=[])
    iid = ctx.integration.id
    return ctx.host.jobs.enqueue(JOB_REVOKE, {"integration": iid}, dedupe_key=f"{JOB_REVOKE}:{iid}")


def disconnect(ctx: IntegrationContext) -> bool:
    """Drop the account's tokens now and queue their revocation. Returns whether there was a grant."""
    store = TokenStore(ctx.store)
    tokens, _ = store.load()
    store.save(None, expected_version=None)
    ctx.store.save(AuthStatus.KEY, {"state": DISCONNECTED, "since": ctx.host.now().isoformat()}, expected_version=None)
    ctx.store.save(CHOICES_KEY, None, expected_version=None)
    if tokens is not None and tokens.refresh_token:
        queue_revoke(ctx, tokens.refresh_token)
    ctx.host.integrations.log(
        ctx.integration.id,
        "info",
        "Account disconnected by an admin; its grant is being "
        "revoked at the provider. Nothing is synced until an account is connected again.",
    )
    return tokens is not None


def run_revoke(ctx: IntegrationContext) -> int:
    """The job's body: revoke every listed token. Returns how many were revoked."""
    tokens: list[str] = list(ctx.store.load(_PENDING, []).data or [])
    if not tokens:
        return 0
    try:
        bctx = backend_context(ctx, load_settings(ctx.store, ctx.provider))
    except ConfigError:
        bctx = backend_context(ctx, {})
    revoked = 0
    for token in tokens:
        try:
            ctx.provider.revoke_token(bctx, token)
            revoked += 1
        except RetryableError:
            raise  # stays listed; the host retries the job later
        except CalendarPluginError as exc:
            log.info(
                "integration %s: the provider refused a revocation (%s); dropped",
                ctx.integration.id,
                type(exc).__name__,
            )

        def drop(listed: list[Any] | None, done: str = token) -> list[Any]:
            return [t for t in (listed or []) if t != done]

        ctx.store.update(_PENDING, drop, default=[])
    return revoked
