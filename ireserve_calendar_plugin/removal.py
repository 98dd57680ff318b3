"""An integration the host deleted: its push channels stopped, then everything the plugin stored for it removed.

Public API: :func:`integration_removed`, :func:`run_forget`, :data:`JOB_FORGET`, :data:`REMOVED_KEY`,
:data:`FORGET_RETRY`.

The host calls ``on_integration_removed`` (see :mod:`hookspecs.spec`) once the integration is no longer
listed and before it deletes the integration's config. The plugin then touches host storage only: it
records the removal (:data:`REMOVED_KEY`, with the provider's name, so its jobs can still serve an
integration the host no longer lists), moves every calendar's push channels to the stop list
(:func:`~.sync.unwatch.take_channels`), queues ``calendar.forget`` and answers True: the host leaves the
config to the plugin.

The job stops each channel at the provider with the integration's own grant (best effort, as after a
disconnect: a refusal is logged in words, a transient failure is tried again later, at most
:data:`~.sync.unwatch.MAX_STOP_ATTEMPTS` times), then deletes every key the plugin stored: tokens,
settings, sync state, leases, schedule, parked and pending work. A job of that integration already
running may still write a key after that, so the job runs a second time, queued a lease length later,
and deletes what is left, the removal record last; after that ``config.keys`` of the integration is empty and the
host may reuse the id. Jobs queued for the integration find it gone and do nothing; its bookings, with
their links to events, stay as they are (the host keeps them).
"""

from __future__ import annotations

import logging
from datetime import datetime
from datetime import timedelta

from hookspecs.types import HostApi
from hookspecs.types import Integration
from hookspecs.types import Job
from ireserve_calendar_plugin.config.form import load_settings
from ireserve_calendar_plugin.config.store import Document
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import ConfigDecryptError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import RetryableError
from ireserve_calendar_plugin.messages import describe
from ireserve_calendar_plugin.messages import provider_title
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.runtime import backend_context
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.runtime import lease_ttl
from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.unwatch import PENDING_KEY
from ireserve_calendar_plugin.sync.unwatch import stop_taken
from ireserve_calendar_plugin.sync.unwatch import take_channels

__all__ = ["FORGET_RETRY", "JOB_FORGET", "REMOVED_KEY", "integration_removed", "run_forget"]

log = logging.getLogger("ireserve_calendar_plugin.removal")

JOB_FORGET = "calendar.forget"
#: ``{"provider": name, "at": ISO time, "wiped": ISO time of the first wipe}``: the removal in progress.
REMOVED_KEY = "removed"
#: When a channel stop met a transient failure, the job runs again this much later.
FORGET_RETRY = timedelta(minutes=5)


def _queue(host: HostApi, integration_id: str, provider: str, run_at: datetime | None = None) -> bool:
    return host.jobs.enqueue(
        JOB_FORGET,
        {"integration": integration_id, "provider": provider},
        dedupe_key=f"{JOB_FORGET}:{integration_id}",
        run_at=run_at,
    )


def integration_removed(host: HostApi, integration: Integration) -> bool | None:
    """The hook's body: record the removal, take the channels off their calendars, queue the job.
    Host storage only. Returns True (the plugin keeps the config until it deleted it), None when this
    plugin does not serve the integration."""
    ctx = context_for(host, integration)
    if ctx is None:
        return None
    ctx.store.save(REMOVED_KEY, {"provider": integration.provider, "at": host.now().isoformat()}, expected_version=None)
    take_channels(ctx.store)
    _queue(host, integration.id, integration.provider)
    return True


def _stop_channels(ctx: IntegrationContext) -> bool:
    """Stop the taken channels; False when some wait for another attempt."""
    if not ctx.store.load(PENDING_KEY, []).data:
        return True
    title = provider_title(ctx.provider.name)
    iid = ctx.integration.id

    def say(channel: Channel, exc: CalendarPluginError) -> None:
        said = describe(exc, provider=ctx.provider.name)
        # the host no longer lists the integration (nor keeps its log): the operator's log says it
        log.warning(
            "removed integration %s: a push channel could not be stopped at %s: %s It stops by itself when it "
            "expires (%s UTC). (detail: %s)",
            iid,
            title,
            said.what,
            f"{channel.expires:%Y-%m-%d %H:%M}",
            type(exc).__name__,
        )

    try:
        settings = load_settings(ctx.store, ctx.provider)
        backend = ctx.provider.backend(backend_context(ctx, settings))
    except ConfigError as exc:  # never configured, or unusable: nothing can be asked of the provider
        for item in list(ctx.store.load(PENDING_KEY, []).data or []):
            say(Channel.from_json(item["channel"]), exc)
        return True
    try:
        stop_taken(ctx.store, backend, say)
    except RetryableError:
        return False
    finally:
        backend.close()
    return True


def run_forget(host: HostApi, job: Job) -> None:
    """The job's body (see the module docstring). Idempotent; never touches bookings."""
    iid, provider = str(job.payload.get("integration", "")), str(job.payload.get("provider", ""))
    if not iid or host.integrations.get(iid) is not None:
        return  # listed (again): not removed, or the id was reused; nothing of it may be deleted
    store = SecureConfig(host.config, host.keyring, iid)
    try:
        record = store.load(REMOVED_KEY)
    except ConfigDecryptError:  # sealed with a key since dropped: nothing can be read, all can be deleted
        record = Document({}, 1)
    if not record.exists:
        return  # already done
    ctx = context_for(host, Integration(iid, provider, enabled=False))
    try:
        stopped = ctx is None or _stop_channels(ctx)
    except ConfigDecryptError:
        stopped = True
    if ctx is None:
        log.warning(
            "removed integration %s: no installed provider %r can stop its push channels; they expire by themselves",
            iid,
            provider,
        )
    if not stopped:  # a transient failure: tried again later
        _queue(host, iid, provider, host.now() + FORGET_RETRY)
        return
    _wipe(store, keep=REMOVED_KEY)
    if isinstance(record.data, dict) and record.data.get("wiped"):
        store.delete(REMOVED_KEY)  # the second pass deletes the last key: the host may reuse the id now
        log.info("removed integration %s: everything the plugin stored for it is deleted", iid)
        return
    store.save(REMOVED_KEY, {**(record.data or {}), "wiped": host.now().isoformat()}, expected_version=None)
    # once more after a lease length: a job of the integration that was running may still write a key
    _queue(host, iid, provider, host.now() + lease_ttl())


def _wipe(store: SecureConfig, *, keep: str) -> int:
    deleted = 0
    for key in store.list_keys():
        if key != keep:
            store.delete(key)
            deleted += 1
    return deleted
