"""The admin form of an integration with its connect link, its buttons and its health.

Public API: :func:`config_form`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hookspecs.forms import ACTION_FIELD
from hookspecs.forms import TARGET_FIELD
from hookspecs.forms import ConfigForm
from hookspecs.forms import FormAction
from hookspecs.forms import FormLink
from hookspecs.types import HostApi
from hookspecs.types import Integration
from ireserve_calendar_plugin import discovery
from ireserve_calendar_plugin.actions import ActionName
from ireserve_calendar_plugin.actions import ActionResult
from ireserve_calendar_plugin.actions import run_action
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.choices import CachedChoices
from ireserve_calendar_plugin.choices import cached_choices
from ireserve_calendar_plugin.choices import queue_refresh
from ireserve_calendar_plugin.config.flow import BULK_FIELD
from ireserve_calendar_plugin.config.flow import admin_consent_url
from ireserve_calendar_plugin.config.flow import apply_bulk
from ireserve_calendar_plugin.config.flow import arrange
from ireserve_calendar_plugin.config.flow import bulk_field
from ireserve_calendar_plugin.config.flow import redirect_uri_field
from ireserve_calendar_plugin.config.form import SETTINGS_KEY
from ireserve_calendar_plugin.config.form import build_form
from ireserve_calendar_plugin.config.form import submit_form
from ireserve_calendar_plugin.conflicts import counts_by_calendar
from ireserve_calendar_plugin.conflicts import form_conflicts
from ireserve_calendar_plugin.conflicts import open_conflicts
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import ConfigDecryptError
from ireserve_calendar_plugin.health import integration_health
from ireserve_calendar_plugin.messages import ProblemKind
from ireserve_calendar_plugin.messages import message_for
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.runtime import engine_for
from ireserve_calendar_plugin.runtime import served_integrations
from ireserve_calendar_plugin.web.routes import CALLBACK_PATH
from ireserve_calendar_plugin.web.routes import connect_link

__all__ = ["config_form"]

log = logging.getLogger("ireserve_calendar_plugin.admin")


def _links(ctx: IntegrationContext, settings: Mapping[str, Any] | None) -> list[FormLink]:
    if settings and ctx.provider.name == "outlook" and settings.get("auth_mode") == "application":
        consent = admin_consent_url(settings, ctx.host.url_for(CALLBACK_PATH))
        return [FormLink("Grant admin consent in Microsoft Entra", consent, kind="secondary")] if consent else []
    if not settings or not ctx.provider.uses_authorization_code(settings):
        return []
    status = AuthStatus(ctx.store).get().get("state")
    label = "Reconnect account" if status in ("connected", "needs_reconnect") else "Connect account"
    return [FormLink(label, connect_link(ctx.host, ctx.integration.id))]


def _connected(ctx: IntegrationContext, settings: Mapping[str, Any] | None) -> bool:
    """Whether the provider can be asked anything: an account is connected, or none is needed."""
    if not settings:
        return False
    return not ctx.provider.uses_authorization_code(settings) or AuthStatus(ctx.store).get().get("state") == "connected"


def _remote_choices(
    ctx: IntegrationContext, settings: Mapping[str, Any] | None, cache: CachedChoices
) -> dict[str, list[tuple[str, str]]]:
    """What the connected account offered at the last refresh (from host storage: no provider call)."""
    if not settings or not _connected(ctx, settings):
        return {}
    offered = {k: list(v) for k, v in cache.choices.items()}
    # keep what is configured selectable even when the account no longer lists it
    for row in settings.get("calendar_mapping", []) or []:
        column = offered.get("calendar_mapping.calendar_id")
        if column is not None and row["calendar_id"] not in {value for value, _ in column}:
            column.append((row["calendar_id"], f"{row['calendar_id']} (not in the account)"))
    return offered


def _clashes(ctx: IntegrationContext, settings: Mapping[str, Any]) -> dict[str, str]:
    """Two integrations writing their event ids into the same booking field would overwrite each
    other's links (and so lose or duplicate events): each needs its own ``ires_field``."""
    field_name = settings.get("ires_field")
    for other in served_integrations(ctx.host):
        if other.integration.id == ctx.integration.id:
            continue
        stored = other.store.load(SETTINGS_KEY)
        if stored.exists and stored.data.get("ires_field") == field_name:
            return {
                "ires_field": f"Integration {other.integration.id} already stores its event ids in "
                f"{field_name!r}; choose another booking field."
            }
    return {}


def _with_discovery(
    ctx: IntegrationContext, settings: Mapping[str, Any] | None, form: ConfigForm, unmatched: list[str] | None
) -> ConfigForm:
    """Offer the discovered rooms (from host storage; the discovery job is queued when there are none or
    they are old) and say what matched, what did not, or which permission would enable discovery."""
    if not settings or not ctx.provider.supports_discovery(settings):
        return form
    cache = discovery.cached_rooms(ctx)
    if discovery.wants_refresh(cache, ctx.host.now()):
        discovery.queue_discovery(ctx)
    choices = tuple(discovery.pick_choices(cache))
    note = discovery.discovery_note(ctx, settings, cache, unmatched)
    fields = tuple(
        replace(f, choices=choices or f.choices, value="", help=f"{f.help} {note}".strip())
        if f.name == discovery.PICK_FIELD
        else f
        for f in form.fields
    )
    return replace(form, fields=fields)


def _display_zone(ctx: IntegrationContext, settings: Mapping[str, Any] | None) -> str:
    """The zone to show integration-wide times in: the zone of the first mapped object, else UTC."""
    try:
        with engine_for(ctx) as engine:
            calendars = engine.backend.calendars()
    except CalendarPluginError:
        return "UTC"
    for calendar in calendars:
        if calendar.inbound_object_id is not None:
            obj = ctx.host.objects.get(calendar.inbound_object_id)
            if obj is not None:
                return obj.timezone
    return "UTC"


def _clock(moment: datetime, zone: str) -> str:
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        local = moment
    return f"{local:%b %d %H:%M} {local.tzname() or ''}".strip()


def _choices_note(ctx: IntegrationContext, cache: CachedChoices, zone: str) -> str:
    """ "Calendars as of 10:42 CET" (and the last refresh's failure), for the mapping field's help."""
    if cache.fetched is None and cache.failed is None:
        return "The account's calendars are being listed in the background; reload this page in a moment."
    parts = []
    if cache.fetched is not None:
        parts.append(f"Calendars as of {_clock(cache.fetched, zone)}.")
    if (
        cache.failed is not None
        and cache.failed_at is not None
        and (cache.fetched is None or cache.failed_at > cache.fetched)
    ):
        said = message_for(cache.failed, provider=ctx.provider.name)
        parts.append(f"Refreshing the list failed at {_clock(cache.failed_at, zone)}: {said.what}")
    return " ".join(parts)


def _with_note(form: ConfigForm, field_name: str, note: str) -> ConfigForm:
    if not note:
        return form
    fields = tuple(replace(f, help=f"{f.help} {note}".strip()) if f.name == field_name else f for f in form.fields)
    return replace(form, fields=fields)


def _actions(ctx: IntegrationContext, settings: Mapping[str, Any] | None) -> tuple[FormAction, ...]:
    if not _connected(ctx, settings):
        return ()
    refresh = FormAction(ActionName.REFRESH_CHOICES.value, "Refresh calendar list")
    if not ctx.provider.uses_authorization_code(settings or {}):
        return (refresh,)
    return (
        refresh,
        FormAction(
            ActionName.DISCONNECT.value,
            "Disconnect account",
            kind="danger",
            confirm="Disconnect the account? Syncing stops until an account is connected again.",
        ),
    )


def _flow(
    ctx: IntegrationContext, form: ConfigForm, settings: Mapping[str, Any] | None, bulk_text: str, bulk_error: str
) -> ConfigForm:
    """Connection first (with the redirect URI to register), then the mapping (with its paste box), then
    the options, collapsed."""
    form = arrange(form)
    extra = []
    if ctx.provider.name in ("google", "outlook") and (
        ctx.provider.uses_authorization_code(settings or {}) or (settings or {}).get("auth_mode") == "application"
    ):
        extra.append(redirect_uri_field(ctx.host.url_for(CALLBACK_PATH), ctx.provider.name))
    bulk = bulk_field(ctx.provider.settings_schema(), bulk_text if bulk_error else "", bulk_error)
    if bulk is not None:
        extra.append(bulk)
    errors = tuple(e for e in form.errors if not e.startswith(f"{BULK_FIELD}: "))
    return arrange(replace(form, fields=form.fields + tuple(extra), errors=errors))


def config_form(host: HostApi, integration: Integration, submitted: Mapping[str, object] | None) -> ConfigForm | None:
    """The integration's form (see :mod:`hookspecs.forms`). Reads host storage only: no provider call."""
    ctx = context_for(host, integration)
    if ctx is None:
        return None
    try:
        return _config_form(ctx, submitted)
    except ConfigDecryptError as exc:
        # a stored value no longer opens: say so in words (the detail, naming the key, goes to the log)
        log.warning("integration %s: %s", integration.id, exc)
        said = message_for(ProblemKind.DECRYPT_FAILURE, provider=ctx.provider.name)
        form = build_form(host, integration, ctx.provider, None)
        return replace(
            form, errors=(said.what,), state=said.state, status=f"Error: {said.what}", next_step=said.next_step
        )


def _config_form(ctx: IntegrationContext, submitted: Mapping[str, object] | None) -> ConfigForm:
    host, integration = ctx.host, ctx.integration
    unmatched: list[str] | None = None
    bulk_text = bulk_error = ""
    result = ActionResult()
    if submitted is not None and ACTION_FIELD in submitted:
        result = run_action(ctx, str(submitted.get(ACTION_FIELD) or ""), str(submitted.get(TARGET_FIELD) or ""))
        submitted = None
    cache = cached_choices(ctx)
    if submitted is None:
        settings = ctx.store.load(SETTINGS_KEY).data
        form = build_form(
            host,
            integration,
            ctx.provider,
            settings,
            links=_links(ctx, settings),
            remote_choices=_remote_choices(ctx, settings, cache),
        )
    else:
        bulk_text = str(submitted.get(BULK_FIELD) or "")
        submitted, unmatched = discovery.apply_pick(ctx, submitted)
        submitted, bulk_error = apply_bulk(
            host, ctx.provider.settings_schema(), ctx.store.load(SETTINGS_KEY).data or {}, submitted
        )

        def checks(data: Mapping[str, Any]) -> dict[str, str]:
            return {BULK_FIELD: bulk_error} if bulk_error else _clashes(ctx, data)

        form, settings = submit_form(host, integration, ctx.provider, ctx.store, submitted, extra_checks=checks)
        if settings is not None:
            if _connected(ctx, settings):
                queue_refresh(ctx)  # the mapping may name calendars the listing does not know yet
            form = build_form(
                host,
                integration,
                ctx.provider,
                settings,
                saved=True,
                links=_links(ctx, settings),
                remote_choices=_remote_choices(ctx, settings, cache),
            )
    if _connected(ctx, settings):
        if cache.fetched is None and cache.failed is None:
            queue_refresh(ctx)  # never listed yet: ask a worker, not this page
        form = _with_note(form, "calendar_mapping", _choices_note(ctx, cache, _display_zone(ctx, settings)))
    form = _with_discovery(ctx, settings, form, unmatched)
    form = _flow(ctx, form, settings, bulk_text, bulk_error)
    entries = open_conflicts(ctx) if settings else []
    health = integration_health(ctx, settings, cache, counts_by_calendar(entries))
    return replace(
        form,
        status=health.status,
        health=health.legacy,
        state=health.state,
        next_step=health.next_step,
        rows=health.rows,
        conflicts=form_conflicts(ctx, entries, health.calendars),
        actions=_actions(ctx, settings),
        notices=result.notices,
        errors=form.errors + result.errors,
    )
