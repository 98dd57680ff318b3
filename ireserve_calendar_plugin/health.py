"""An integration's health as the admin form shows it, built from host storage only (no provider call).

Public API: :class:`IntegrationHealth`, :func:`integration_health`, :func:`calendar_name`.

Per calendar: connected or not (and why), the last successful round, the last failure with its time
and kind (in words, with the next step), failed writes waiting for a retry, unresolved conflicts, the
push channel's state and 24 hours of activity. The integration's state is the worst of its connection
and its calendars: it never reads "Connected" over a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hookspecs.forms import ActivityHour
from hookspecs.forms import ChannelState
from hookspecs.forms import HealthRow
from hookspecs.forms import HealthState
from hookspecs.forms import worst_state
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.choices import CachedChoices
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.messages import ProblemKind
from ireserve_calendar_plugin.messages import classify
from ireserve_calendar_plugin.messages import message_for
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.runtime import engine_for
from ireserve_calendar_plugin.sync.activity import ActivityLog
from ireserve_calendar_plugin.sync.activity import PendingWrites
from ireserve_calendar_plugin.sync.denials import WriteDenials
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.state import StateStore

__all__ = ["IntegrationHealth", "calendar_name", "integration_health"]

#: A problem the plugin retries by itself turns from "warning" into "error" after this many failures in a row.
FAILURES_BEFORE_ERROR = 3

_STATE_WORDS = {
    HealthState.WARNING: "Warning",
    HealthState.ERROR: "Error",
    HealthState.NOT_CONNECTED: "Not connected",
    HealthState.NOT_CONFIGURED: "Not configured",
}


@dataclass(frozen=True)
class IntegrationHealth:
    """The form's health: the worst ``state``, its ``status`` line and ``next_step``, the typed ``rows`` and the
    older untyped ``legacy`` rows."""

    state: HealthState
    status: str
    next_step: str
    rows: tuple[HealthRow, ...] = ()
    legacy: tuple[dict[str, str], ...] = ()
    #: calendar key -> (display name, time zone), for whatever else names calendars (the conflicts)
    calendars: dict[str, tuple[str, str]] = field(default_factory=dict)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _local_iso(moment: datetime | None, zone: str) -> str:
    return moment.astimezone(_zone(zone)).isoformat(timespec="seconds") if moment else "never"


def _clock(moment: datetime | None, zone: str) -> str:
    return f"{moment.astimezone(_zone(zone)):%H:%M}" if moment else ""


def calendar_name(ctx: IntegrationContext, calendar: CalendarRef, cache: CachedChoices, account: str) -> str:
    """A calendar's display name: the provider's name for it, a room's object, never an internal key."""
    if calendar.remote_id == "me":
        return f"Calendar of {account}" if account else "The connected account's calendar"
    listed = cache.label_of("calendar_mapping.calendar_id", calendar.remote_id).removesuffix(" (read-only)")
    if listed != calendar.remote_id:
        return listed
    if ctx.provider.name == "outlook" and calendar.inbound_object_id is not None:
        obj = ctx.host.objects.get(calendar.inbound_object_id)
        if obj is not None:
            return f"{obj.name} ({calendar.remote_id})"
    return calendar.label or calendar.remote_id


def _channel(raw: dict[str, Any] | None, uses_push: bool, now: datetime) -> tuple[ChannelState, datetime | None]:
    if not uses_push:
        return ChannelState.NOT_USED, None
    if not raw:
        return ChannelState.NONE, None
    channel = Channel.from_json(raw)
    return (ChannelState.EXPIRED if channel.expires <= now else ChannelState.ACTIVE), channel.expires


def _row(
    ctx: IntegrationContext,
    calendar: CalendarRef,
    name: str,
    *,
    uses_push: bool,
    pending: list[datetime | None],
    conflicts: int,
    denial: str,
) -> tuple[HealthRow, dict[str, str]]:
    now = ctx.host.now()
    obj = ctx.host.objects.get(calendar.inbound_object_id) if calendar.inbound_object_id is not None else None
    zone = obj.timezone if obj else "UTC"
    facts = ActivityLog(ctx.store).load(calendar.key)
    state = StateStore(ctx.store).load(calendar.key)
    last_success = max((t for t in (facts.last_success, state.last_sync) if t), default=None)
    channel, expires = _channel(state.channel, uses_push, now)

    health = HealthState.PENDING if last_success is None else HealthState.OK
    failure = ""
    what: list[str] = []
    steps: list[str] = []
    if facts.failing:
        kind = ProblemKind(facts.problem) if facts.problem in set(ProblemKind) else ProblemKind.UNKNOWN
        said = message_for(kind, provider=ctx.provider.name, calendar=name, retry_at=facts.retry_at, timezone=zone)
        failed = said.state
        if kind.retries_by_itself and facts.failures_in_a_row >= FAILURES_BEFORE_ERROR:
            failed = HealthState.ERROR
        health = worst_state([health, failed])
        failure = f"{said.what} (failed at {_clock(facts.last_failure, zone)})"
        what.append(failure)
        steps.append(said.next_step)
    if denial:
        health = worst_state([health, HealthState.ERROR])
        what.append(denial)
    if pending:
        health = worst_state([health, HealthState.WARNING])
        retries = sorted(t for t in pending if t is not None)
        when = f"; next retry at {_clock(retries[0], zone)}" if retries else "; not retried until this is fixed"
        what.append(f"{len(pending)} booking{'s' if len(pending) > 1 else ''} not written to the calendar yet{when}.")
    if conflicts:
        health = worst_state([health, HealthState.WARNING])
        what.append(f"{conflicts} change{'s' if conflicts > 1 else ''} from the calendar could not be applied.")
        steps.append("Review them under Conflicts.")
    if channel is ChannelState.EXPIRED:
        health = worst_state([health, HealthState.WARNING])
        what.append("Push notifications stopped; changes arrive by polling every 30 minutes.")
        steps.append("It is renewed automatically; if this stays, check that the host's public address is reachable.")
    row = HealthRow(
        name=name,
        state=health,
        message=" ".join(what),
        next_step=" ".join(dict.fromkeys(steps)),
        last_success=last_success,
        last_failure=facts.last_failure,
        pending_writes=len(pending),
        conflicts=conflicts,
        channel=channel,
        channel_expires=expires,
        timezone=zone,
        activity=tuple(ActivityHour(start, r, c, f) for start, r, c, f in facts.last_hours(now)),
    )
    legacy = {
        "calendar": calendar.label or calendar.key,
        "state": state.phase,
        "last_sync": _local_iso(last_success, zone),
        "channel_expires": _local_iso(expires, zone) if expires else "none",
        "last_error": failure,
    }
    if calendar.outbound:
        legacy["writes"] = denial or "ok"
    return row, legacy


def integration_health(
    ctx: IntegrationContext,
    settings: Mapping[str, Any] | None,
    cache: CachedChoices,
    conflicts: Mapping[str, int] | None = None,
) -> IntegrationHealth:
    """The integration's health. ``conflicts`` counts unresolved conflicts by calendar key."""
    if not settings:
        said = message_for(ProblemKind.NOT_CONFIGURED, provider=ctx.provider.name)
        return IntegrationHealth(HealthState.NOT_CONFIGURED, "Not configured", said.next_step)
    try:
        with engine_for(ctx) as engine:
            calendars = engine.backend.calendars()
            uses_push = bool(engine.push_address)
    except CalendarPluginError as exc:
        said = message_for(classify(exc), provider=ctx.provider.name)
        return IntegrationHealth(said.state, f"Not ready: {said.what}", said.next_step)
    auth = AuthStatus(ctx.store).get()
    account = str(auth.get("account") or cache.account or "")
    connection = HealthState.OK
    status, next_step = "", ""
    if ctx.provider.uses_authorization_code(settings) and auth.get("state") != "connected":
        connection = HealthState.NOT_CONNECTED
        if auth.get("state") == "needs_reconnect":
            said = message_for(ProblemKind.REVOKED_GRANT, provider=ctx.provider.name)
            what = str(auth.get("reason")) if auth.get("interrupted") else said.what  # strict rotation
            status, next_step = f"Needs reconnect: {what}", said.next_step
        else:
            reason = f": {auth['reason']}" if auth.get("reason") else ""
            status, next_step = "Not connected" + reason, "Click Connect account and sign in to start syncing."

    pending_by_calendar: dict[str, list[datetime | None]] = {}
    for write in PendingWrites(ctx.store).all():
        pending_by_calendar.setdefault(write.calendar_key, []).append(write.retry_at)
    denials = WriteDenials(ctx.store)
    rows, legacy = [], []
    names: dict[str, tuple[str, str]] = {}
    for calendar in calendars:
        row, old = _row(
            ctx,
            calendar,
            calendar_name(ctx, calendar, cache, account),
            uses_push=uses_push,
            pending=pending_by_calendar.get(calendar.key, []),
            conflicts=(conflicts or {}).get(calendar.key, 0),
            denial=denials.message(calendar.key) if calendar.outbound else "",
        )
        if connection is HealthState.NOT_CONNECTED:
            row = HealthRow(**{**row.__dict__, "state": worst_state([row.state, connection])})
        rows.append(row)
        legacy.append(old)
        names[calendar.key] = (row.name, row.timezone)

    state = worst_state([connection, *(r.state for r in rows)])
    if not status:
        troubled = [r for r in rows if r.state.needs_attention]
        if troubled:
            worst = max(troubled, key=lambda r: r.state.severity)
            count = f"{len(troubled)} of {len(rows)} calendars need attention" if len(rows) > 1 else worst.name
            status = f"{_STATE_WORDS.get(state, state.value)}: {count}: {worst.message}"
            next_step = worst.next_step
        else:
            word = "Connected" if auth.get("state") == "connected" else "Set up"
            status = f"{word} ({account})" if account else word
            if state is HealthState.PENDING:
                status += "; first sync pending"
    if not calendars:
        status += "; no calendars mapped"
    denied = sum(1 for row in legacy if row.get("writes", "ok") != "ok")
    if denied:
        status += f"; {denied} calendar{'s' if denied > 1 else ''} may be read but not written (see Writes)"
    return IntegrationHealth(state, status, next_step, tuple(rows), tuple(legacy), names)
