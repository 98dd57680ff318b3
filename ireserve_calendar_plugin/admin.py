"""The admin form of an integration with its connect link and its health.

Public API: :func:`config_form`, :func:`health`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hookspecs.forms import ConfigForm
from hookspecs.forms import FormLink
from hookspecs.types import HostApi
from hookspecs.types import Integration
from ireserve_calendar_plugin import services
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.config.form import SETTINGS_KEY
from ireserve_calendar_plugin.config.form import build_form
from ireserve_calendar_plugin.config.form import submit_form
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.runtime import backend_context
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.runtime import engine_for
from ireserve_calendar_plugin.runtime import served_integrations
from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.state import StateStore
from ireserve_calendar_plugin.web.routes import connect_link

__all__ = ["config_form", "health"]

log = logging.getLogger("ireserve_calendar_plugin.admin")


def _links(ctx: IntegrationContext, settings: Mapping[str, Any] | None) -> list[FormLink]:
    if not settings or not ctx.provider.uses_authorization_code(settings):
        return []
    status = AuthStatus(ctx.store).get().get("state")
    label = "Reconnect account" if status in ("connected", "needs_reconnect") else "Connect account"
    return [FormLink(label, connect_link(ctx.host, ctx.integration.id))]


def _remote_choices(ctx: IntegrationContext, settings: Mapping[str, Any] | None) -> dict[str, list[tuple[str, str]]]:
    """What the connected account offers (its calendars); nothing when not connected or unreachable."""
    if not settings or AuthStatus(ctx.store).get().get("state") != "connected":
        return {}
    try:
        offered = ctx.provider.form_choices(backend_context(ctx, dict(settings)))
    except CalendarPluginError as exc:
        log.info("integration %s: could not list the account's calendars (%s)", ctx.integration.id,
                 type(exc).__name__)
        return {}
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
            return {"ires_field": f"Integration {other.integration.id} already stores its event ids in "
                    f"{field_name!r}; choose another booking field."}
    return {}


def health(ctx: IntegrationContext) -> tuple[str, list[dict[str, str]]]:
    """A one-line status and one row per calendar: label, phase, last sync, channel expiry, last error."""
    auth = AuthStatus(ctx.store).get()
    try:
        with engine_for(ctx) as engine:
            calendars = engine.backend.calendars()
    except CalendarPluginError as exc:
        return f"Not ready: {exc}", []
    states = StateStore(ctx.store)
    rows = []
    for calendar in calendars:
        state = states.load(calendar.key)
        channel = Channel.from_json(state.channel) if state.channel else None
        rows.append({
            "calendar": calendar.label or calendar.key,
            "state": state.phase,
            "last_sync": state.last_sync.isoformat(timespec="seconds") if state.last_sync else "never",
            "channel_expires": channel.expires.isoformat(timespec="seconds") if channel else "none",
            "last_error": state.last_error,
        })
    account = f" ({auth['account']})" if auth.get("account") else ""
    line = {"connected": f"Connected{account}", "needs_reconnect": "Needs reconnect: " + auth.get("reason", ""),
            }.get(auth.get("state", ""), "Not connected")
    if not calendars:
        line += "; no calendars mapped"
    return line, rows


def config_form(host: HostApi, integration: Integration, submitted: Mapping[str, object] | None) -> ConfigForm | None:
    ctx = context_for(host, integration)
    if ctx is None:
        return None
    if submitted is None:
        settings = ctx.store.load(SETTINGS_KEY).data
        form = build_form(host, integration, ctx.provider, settings, links=_links(ctx, settings),
                          remote_choices=_remote_choices(ctx, settings))
    else:
        form, settings = submit_form(host, integration, ctx.provider, ctx.store, submitted,
                                     extra_checks=lambda data: _clashes(ctx, data))
        if settings is not None:
            if ctx.provider.discovery_job:
                services.enqueue(host, services.discovery_job(integration.id))
            form = build_form(host, integration, ctx.provider, settings, saved=True, links=_links(ctx, settings),
                              remote_choices=_remote_choices(ctx, settings))
    status, rows = health(ctx) if settings else ("Not configured", [])
    return ConfigForm(**{**form.__dict__, "status": status, "health": tuple(rows)})
