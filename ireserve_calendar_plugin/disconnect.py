"""Disconnecting an account: drop its tokens at once, stop its push channels and revoke the grant in a job.

Public API: :func:`disconnect`, :func:`queue_revoke`, :func:`run_revoke`, :data:`JOB_REVOKE`,
:data:`DISCONNECTED`.

The admin's click only touches host storage: the tokens are deleted (nothing syncs with them any
more), every calendar's push channels move to a stop list (:func:`~.sync.unwatch.take_channels`), the
grant is kept aside under :data:`~.auth.tokens.RETIRED_KEY` only to stop them, and the refresh token moves
to a revocation list (encrypted like every stored value). The ``calendar.revoke`` job first stops the
channels at the provider with the retired grant (Google ``channels.stop``, Graph subscription delete)
and drops their ``chan/<id>`` entries, so the provider stops sending notifications; a channel the
provider will not stop is told to the admin in words and expires by itself. Then it forgets the
retired grant and empties the revocation list by calling the provider's revocation endpoint. A
revocation that fails transiently stays listed and the job raises (the host retries it with backoff);
one the provider refuses for good is dropped (the grant is unusable to us either way). Each token
leaves the list once its revocation is done or refused, so a job run twice at most asks the provider
twice, which revocation endpoints accept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ireserve_calendar_plugin.auth.tokens import RETIRED_KEY
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.auth.tokens import TokenSet
from ireserve_calendar_plugin.auth.tokens import TokenStore
from ireserve_calendar_plugin.choices import CHOICES_KEY
from ireserve_calendar_plugin.config.form import load_settings
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import RetryableError
from ireserve_calendar_plugin.messages import describe
from ireserve_calendar_plugin.messages import provider_title
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.runtime import backend_context
from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.unwatch import PENDING_KEY
from ireserve_calendar_plugin.sync.unwatch import StopOutcome
from ireserve_calendar_plugin.sync.unwatch import stop_taken
from ireserve_calendar_plugin.sync.unwatch import take_channels

__all__ = ["DISCONNECTED", "JOB_REVOKE", "disconnect", "queue_revoke", "run_revoke", "stop_channels"]

log = logging.getLogger("ireserve_calendar_plugin.disconnect")

JOB_REVOKE = "calendar.revoke"
#: The ``AuthStatus`` state after an admin disconnected on purpose (not an alert: nothing was lost).
DISCONNECTED = "disconnected"
_PENDING = "revoke/pending"


def _listed(entry: Any) -> tuple[str, Mapping[str, str] | None]:
    """A revocation list entry: the token and the endpoint settings it was issued under (None: untagged)."""
    if isinstance(entry, dict):
        issuer = entry.get("issuer")
        return str(entry.get("token", "")), issuer if isinstance(issuer, dict) else None
    return str(entry), None


def _list_for_revocation(ctx: IntegrationContext, refresh_token: str, issuer: Mapping[str, str] | None) -> None:
    def add(listed: list[Any] | None) -> list[Any]:
        kept = [e for e in listed or [] if _listed(e)[0] != refresh_token]
        return [*kept, {"token": refresh_token, "issuer": dict(issuer) if issuer is not None else None}]

    ctx.store.update(_PENDING, add, default=[])


def queue_revoke(ctx: IntegrationContext, refresh_token: str, issuer: Mapping[str, str] | None = None) -> bool:
    """List ``refresh_token`` (issued under the endpoint settings ``issuer``) for revocation and queue the
    job that revokes it. It is only ever sent to the revocation endpoint of those same settings."""
    _list_for_revocation(ctx, refresh_token, issuer)
    return _queue_job(ctx)


def _queue_job(ctx: IntegrationContext) -> bool:
    iid = ctx.integration.id
    return ctx.host.jobs.enqueue(JOB_REVOKE, {"integration": iid}, dedupe_key=f"{JOB_REVOKE}:{iid}")


def disconnect(ctx: IntegrationContext) -> bool:
    """Drop the account's tokens now, queue the stop of its push channels and the revocation of its grant.
    Returns whether there was a grant. Host storage only."""
    store = TokenStore(ctx.store)
    tokens, _ = store.load()
    if tokens is not None:  # kept aside only to stop the channels (the job forgets it)
        TokenStore(ctx.store, RETIRED_KEY).save(tokens, expected_version=None)
    store.save(None, expected_version=None)
    ctx.store.save(AuthStatus.KEY, {"state": DISCONNECTED, "since": ctx.host.now().isoformat()}, expected_version=None)
    ctx.store.save(CHOICES_KEY, None, expected_version=None)
    if tokens is not None:
        take_channels(ctx.store)
        if tokens.refresh_token:
            _list_for_revocation(ctx, tokens.refresh_token, tokens.issuer)
        _queue_job(ctx)
    ctx.host.integrations.log(
        ctx.integration.id,
        "info",
        "Account disconnected by an admin; its push channels are being stopped and its grant "
        "revoked at the provider. Nothing is synced until an account is connected again.",
    )
    return tokens is not None


def stop_channels(ctx: IntegrationContext, settings: dict[str, Any]) -> int:
    """Stop the channels :func:`take_channels` listed, with the retired grant. Returns how many stopped.
    Raises :class:`RetryableError` when some must be tried again later."""
    if not ctx.store.load(PENDING_KEY, []).data:
        return 0
    title = provider_title(ctx.provider.name)

    def say(channel: Channel, exc: CalendarPluginError) -> None:
        said = describe(exc, provider=ctx.provider.name)
        ctx.host.integrations.log(
            ctx.integration.id,
            "warning",
            f"A push channel could not be stopped at {title}: {said.what} It stops by itself when it expires "
            f"({channel.expires:%Y-%m-%d %H:%M} UTC); its notifications are refused until then. "
            f"(detail: {type(exc).__name__})",
        )

    try:
        backend = ctx.provider.backend(replace(backend_context(ctx, settings), token_key=RETIRED_KEY))
    except ConfigError as exc:  # no usable settings: nothing can be asked of the provider
        for item in list(ctx.store.load(PENDING_KEY, []).data or []):
            say(Channel.from_json(item["channel"]), exc)
            ctx.store.delete(f"chan/{item['channel']['id']}")
        ctx.store.delete(PENDING_KEY)
        return 0
    try:
        return stop_taken(ctx.store, backend, say)[StopOutcome.STOPPED]
    finally:
        backend.close()


def run_revoke(ctx: IntegrationContext) -> int:
    """The job's body: stop the disconnected account's push channels, forget its retired grant, then
    revoke every listed token. Returns how many tokens were revoked."""
    try:
        settings = load_settings(ctx.store, ctx.provider)
    except ConfigError:
        settings = {}
    stop_channels(ctx, settings)  # raises while some wait for another attempt: the grant is still needed
    ctx.store.delete(RETIRED_KEY)
    listed: list[Any] = list(ctx.store.load(_PENDING, []).data or [])
    if not listed:
        return 0
    bctx = backend_context(ctx, settings)
    revoked = 0
    for entry in listed:
        token, issuer = _listed(entry)
        moved = TokenSet("", bctx.now(), token, issuer=issuer).issued_elsewhere(bctx.issuer)
        try:
            if moved:  # never sent to endpoints other than those that issued it
                log.info(
                    "integration %s: a token listed for revocation was issued under other endpoint settings (%s); "
                    "dropped unsent",
                    ctx.integration.id,
                    ", ".join(moved),
                )
            else:
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

        def drop(now_listed: list[Any] | None, done: str = token) -> list[Any]:
            return [e for e in (now_listed or []) if _listed(e)[0] != done]

        ctx.store.update(_PENDING, drop, default=[])
    return revoked
