"""What the hooks delegate to: booking changes, cron ticks and jobs, with the error policy.

Public API: :func:`booking_changed`, :func:`cron_tick`, :func:`run_job`, :func:`enqueue`,
:func:`resume_after_reconnect`.

Error policy of jobs (the plugin decides its own retries, so it can honour ``Retry-After`` and keep
work through a lost grant):

- a busy calendar (another worker holds its lease): queued again in a few seconds;
- rate limits and transient failures: recorded on the calendar's health, retried with exponential
  backoff and jitter, never before the provider's ``Retry-After``; a ``Retry-After`` the API client
  could not wait out holds every job of the integration (pushes and polls included) until it passed;
- a lost grant (``invalid_grant``): the integration is marked "needs reconnect" with one admin alert;
  outbound work is parked and re-queued when an admin reconnects; inbound resumes by itself then;
- a configuration problem or a permanent API error: recorded and logged for the admin, not retried
  in a loop; a calendar the provider lets us read but not write (:class:`WriteDeniedError`) keeps its
  message on its health row until a write there succeeds, and its reads go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta

from hookspecs.forms import BOOKING_NOTICE_PREFIX
from hookspecs.types import Booking
from hookspecs.types import BookingNotFoundError
from hookspecs.types import HostApi
from hookspecs.types import Job
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.choices import JOB_CHOICES
from ireserve_calendar_plugin.choices import refresh_choices
from ireserve_calendar_plugin.config.store import rotate_integration_keys
from ireserve_calendar_plugin.disconnect import DISCONNECTED
from ireserve_calendar_plugin.disconnect import JOB_REVOKE
from ireserve_calendar_plugin.disconnect import run_revoke
from ireserve_calendar_plugin.discovery import JOB_DISCOVER
from ireserve_calendar_plugin.discovery import refresh_rooms
from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import ConfigError
from ireserve_calendar_plugin.errors import RateLimitedError
from ireserve_calendar_plugin.errors import RetryableError
from ireserve_calendar_plugin.errors import StaleStateError
from ireserve_calendar_plugin.errors import WriteDeniedError
from ireserve_calendar_plugin.messages import ProblemKind
from ireserve_calendar_plugin.messages import booking_notice
from ireserve_calendar_plugin.messages import classify
from ireserve_calendar_plugin.messages import describe
from ireserve_calendar_plugin.messages import message_for
from ireserve_calendar_plugin.removal import JOB_FORGET
from ireserve_calendar_plugin.removal import run_forget
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.runtime import context_for
from ireserve_calendar_plugin.runtime import engine_for
from ireserve_calendar_plugin.runtime import served_integrations
from ireserve_calendar_plugin.sync.activity import ActivityLog
from ireserve_calendar_plugin.sync.activity import PendingWrites
from ireserve_calendar_plugin.sync.channels import ChannelForce
from ireserve_calendar_plugin.sync.echo import is_own_origin
from ireserve_calendar_plugin.sync.echo import origin_of
from ireserve_calendar_plugin.sync.echo import outbound_suppressed
from ireserve_calendar_plugin.sync.echo import own_round_write
from ireserve_calendar_plugin.sync.engine import JOB_CHANNEL
from ireserve_calendar_plugin.sync.engine import JOB_OUTBOUND
from ireserve_calendar_plugin.sync.engine import JOB_SYNC
from ireserve_calendar_plugin.sync.engine import QueuedJob
from ireserve_calendar_plugin.sync.engine import SyncEngine
from ireserve_calendar_plugin.sync.engine import Work
from ireserve_calendar_plugin.sync.engine import backoff_seconds
from ireserve_calendar_plugin.sync.engine import channel_job
from ireserve_calendar_plugin.sync.engine import outbound_job
from ireserve_calendar_plugin.sync.engine import sync_job
from ireserve_calendar_plugin.sync.inbound import BOOKING_CHANGES
from ireserve_calendar_plugin.sync.inbound import CalendarBusyError
from ireserve_calendar_plugin.sync.inbound import RoundResult
from ireserve_calendar_plugin.sync.links import LinkStore
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.unwatch import sweep_orphans

__all__ = [
    "booking_changed",
    "credentials_refused",
    "cron_tick",
    "enqueue",
    "rekey",
    "resume_after_reconnect",
    "run_job",
]

log = logging.getLogger("ireserve_calendar_plugin")

BUSY_RETRY = timedelta(seconds=5)
MAX_OUTBOUND_ATTEMPTS = 12
PARKED_KEY = "parked/outbound"
#: Which key of the host's key ring the integration's values were last re-encrypted with.
REKEY_MARKER = "keyring"
JOB_REKEY = "calendar.rekey"
JOB_SWEEP = "calendar.sweep"
#: When the integration's orphan channel entries were last swept (see :mod:`.sync.unwatch`), and how often.
SWEEP_KEY = "sweep"
SWEEP_EVERY = timedelta(hours=1)
#: Jobs that keep stored values in order: they run for disabled integrations too.
_HOUSEKEEPING = (JOB_REKEY, JOB_REVOKE, JOB_SWEEP)
#: Until when the provider asked this integration to send nothing (an ISO time, from a ``Retry-After``).
HOLD_KEY = "hold"


def enqueue(host: HostApi, job: QueuedJob) -> bool:
    return host.jobs.enqueue(job.name, job.payload, dedupe_key=job.dedupe_key, run_at=job.run_at)


# --------------------------------------------------------------------------- bookings


def booking_changed(host: HostApi, booking: Booking, origin: str) -> None:
    """Queue an outbound job for every integration that writes this booking's object, except the one
    whose own write this change is (echo). No API call happens in the hook."""
    if own_round_write(origin):
        return  # this process's round, alone on the host, applies it: nobody to tell, nothing to read
    for integration in host.integrations.all():
        iid = integration.id
        # the integration's own write (or one it applies now) needs no context at all: checked first,
        # as this runs for every booking an inbound round creates or moves
        if not integration.enabled or is_own_origin(origin, iid) or outbound_suppressed(iid):
            continue
        ctx = context_for(host, integration)
        if ctx is None:
            continue
        try:
            with engine_for(ctx) as engine:
                calendar = engine.backend.calendar_for_object(booking.object_id)
                linked = booking.fields.get(engine.options.ires_field)
        except ConfigError:
            continue
        if calendar is None and not linked:
            continue
        if calendar is not None and not calendar.outbound:
            where = calendar.label or "the calendar"
            host.integrations.log(
                iid,
                "info",
                f"Booking {booking.id} not written to {where}: this integration is inbound only (application mode).",
            )
            continue
        enqueue(host, outbound_job(iid, booking.id))


# --------------------------------------------------------------------------- cron


def cron_tick(host: HostApi, now: datetime) -> int:
    """Queue due polls, channel renewals, the hourly sweep of orphan channel entries and re-encryption
    after a key rotation (the last two for disabled integrations too: they keep stored values). Returns
    jobs queued."""
    queued = 0
    for ctx in served_integrations(host, disabled_too=True):
        iid = ctx.integration.id
        if ctx.store.load(REKEY_MARKER).data != host.keyring.current:
            queued += enqueue(host, QueuedJob(JOB_REKEY, {"integration": iid}, f"{JOB_REKEY}:{iid}"))
        swept = ctx.store.load(SWEEP_KEY).data
        if not isinstance(swept, str) or datetime.fromisoformat(swept) + SWEEP_EVERY <= now:
            queued += enqueue(host, QueuedJob(JOB_SWEEP, {"integration": iid}, f"{JOB_SWEEP}:{iid}"))
        if not ctx.integration.enabled or AuthStatus(ctx.store).needs_reconnect():
            continue
        try:
            with engine_for(ctx) as engine:
                jobs = engine.due(now)
        except ConfigError:
            continue
        except CalendarPluginError as exc:
            log.warning("cron: integration %s: %s", ctx.integration.id, type(exc).__name__)
            continue
        queued += sum(enqueue(host, job) for job in jobs)
    return queued


# --------------------------------------------------------------------------- jobs


def run_job(host: HostApi, job: Job) -> bool | None:
    """Run one of our jobs; None when the job is not ours."""
    if job.name == JOB_FORGET:  # for an integration the host no longer lists
        run_forget(host, job)
        return True
    if job.name not in (*_HOUSEKEEPING, JOB_SYNC, JOB_OUTBOUND, JOB_CHANNEL, JOB_CHOICES, JOB_DISCOVER):
        return None
    integration = host.integrations.get(job.payload.get("integration", ""))
    if integration is None or not (integration.enabled or job.name in _HOUSEKEEPING):
        return True  # nothing to do for a removed integration, nor syncing for a disabled one
    ctx = context_for(host, integration)
    if ctx is None:
        return None
    if job.name == JOB_REKEY:
        rekey(ctx)
        return True
    if job.name == JOB_SWEEP:
        sweep_orphans(ctx.store, host.now())
        ctx.store.save(SWEEP_KEY, host.now().isoformat(), expected_version=None)
        return True
    if job.name == JOB_DISCOVER:
        try:
            refresh_rooms(ctx)
        except ConfigError:
            pass  # not configured (any more): nothing to discover
        return True
    if job.name == JOB_CHOICES:
        refresh_choices(ctx)
        return True
    if job.name == JOB_REVOKE:
        run_revoke(ctx)
        return True
    held = _held_until(ctx)
    if held is not None and held > host.now():
        enqueue(host, _later(job, held))  # the provider's Retry-After has not passed: no call before it
        return True
    try:
        engine = engine_for(ctx)
    except ConfigError as exc:
        host.integrations.log(integration.id, "warning", f"Job {job.name} skipped: {exc}")
        return True
    with engine:
        if job.name == JOB_OUTBOUND:
            _run_outbound(ctx, engine, int(job.payload["booking"]), int(job.payload.get("attempt", "1")))
        else:
            _run_calendar_job(ctx, engine, job)
    return True


def rekey(ctx: IntegrationContext, progress: Callable[[int, int], None] | None = None) -> int:
    """Re-encrypt every stored value of the integration under the host's current key (after a rotation).

    Safe while sync runs (compare-and-set per value). Returns how many values were rewritten."""
    current = ctx.host.keyring.current
    LinkStore(ctx.store).migrate()  # links sealed by an older version become plain JSON (nothing to reseal)
    count = rotate_integration_keys(ctx.host.config, ctx.host.keyring, ctx.integration.id, progress)
    ctx.store.save(REKEY_MARKER, current, expected_version=None)
    if count:
        ctx.host.integrations.log(ctx.integration.id, "info", f"Re-encrypted {count} stored values with key {current}.")
    return count


def _run_calendar_job(ctx: IntegrationContext, engine: SyncEngine, job: Job) -> None:
    host, iid = ctx.host, ctx.integration.id
    key = job.payload["calendar"]
    what = Work.SYNC if job.name == JOB_SYNC else Work.CHANNEL
    activity = ActivityLog(ctx.store)
    try:
        if job.name == JOB_SYNC:
            result = engine.sync(key)
            activity.success(key, host.now(), changes=changes_of(result))
        else:
            outcome = engine.keep_channel(key, _force(job))
            if outcome.is_new:
                enqueue(host, sync_job(iid, key))  # a new channel: catch up on what it could not tell us
    except CalendarBusyError:
        enqueue(host, _again(job, host.now() + BUSY_RETRY))
    except StaleStateError:
        enqueue(host, _again(job, host.now() + BUSY_RETRY))
    except AuthExpiredError as exc:
        activity.failure(key, host.now(), problem=classify(exc).value, retry_at=None)
        _lost_grant(ctx, exc)
    except RetryableError as exc:
        _hold(ctx, exc)
        when = engine.record_failure(key, exc, retry_after=exc.retry_after, what=what)
        activity.failure(key, host.now(), problem=_problem(ctx, engine, key, exc), retry_at=when)
    except CalendarPluginError as exc:  # permanent API errors, configuration, anything else of ours
        when = engine.record_failure(key, exc, what=what)
        problem = _problem(ctx, engine, key, exc)
        activity.failure(key, host.now(), problem=problem, retry_at=when)
        log.warning("integration %s: %s of calendar %s failed: %s: %s", iid, what, key, type(exc).__name__, exc)
        name = next((c.label for c in engine.backend.calendars() if c.key == key), "") or "a calendar"
        said = message_for(ProblemKind(problem), provider=ctx.provider.name, calendar=name)
        line = f"{said.what} {said.next_step} (detail: {type(exc).__name__}: {str(exc)[:300]})"
        # the same failure again is on the health row, not a new log line every round (folded)
        if ctx.store.load(f"faillog/{key}/{what}").data != line:
            ctx.store.save(f"faillog/{key}/{what}", line, expected_version=None)
            host.integrations.log(iid, "error", line)


def _force(job: Job) -> ChannelForce:
    """The ``force`` of a channel job's payload (an unknown value, from an older or foreign job: none)."""
    try:
        return ChannelForce(job.payload.get("force", ""))
    except ValueError:
        return ChannelForce.NOTHING


def changes_of(result: RoundResult) -> int:
    """How many bookings a round changed (created, moved, cancelled, unlinked)."""
    return sum(n for name, n in result.counts.items() if name in BOOKING_CHANGES)


def _problem(ctx: IntegrationContext, engine: SyncEngine, calendar_key: str, exc: BaseException) -> str:
    """The problem kind of a failure on one calendar (a room mailbox's 404 is "room not found")."""
    room = ctx.provider.name == "outlook" and any(
        c.key == calendar_key and c.remote_id != "me" for c in engine.backend.calendars()
    )
    return classify(exc, room=room).value


def _run_outbound(ctx: IntegrationContext, engine: SyncEngine, booking_id: int, attempt: int) -> None:
    host, iid = ctx.host, ctx.integration.id
    try:
        written = engine.push_booking(booking_id)
    except (CalendarBusyError, StaleStateError):
        enqueue(host, outbound_job(iid, booking_id, host.now() + BUSY_RETRY, attempt))
    except AuthExpiredError as exc:
        _park(ctx, booking_id)
        _write_failed(ctx, engine, booking_id, exc, retry_at=None)
        _lost_grant(ctx, exc)
    except RetryableError as exc:
        _hold(ctx, exc)
        if attempt >= MAX_OUTBOUND_ATTEMPTS:
            _park(ctx, booking_id)
            _write_failed(ctx, engine, booking_id, exc, retry_at=None)
            host.integrations.log(
                iid,
                "error",
                f"Booking {booking_id} could not be written after {attempt} "
                f"attempts ({type(exc).__name__}); parked until the next reconnect or resync.",
            )
            return
        delay = max(backoff_seconds(attempt, base=5.0, cap=900.0), exc.retry_after or 0.0)
        retry_at = host.now() + timedelta(seconds=delay)
        enqueue(host, outbound_job(iid, booking_id, retry_at, attempt + 1))
        _write_failed(ctx, engine, booking_id, exc, retry_at=retry_at)
    except WriteDeniedError as exc:
        # recorded on the calendar (and told to the admin once) by the outbound worker; not retried
        host.integrations.log(
            iid,
            "info",
            f"Booking {booking_id} not written to {exc.calendar or 'its calendar'}: no write permission there.",
        )
    except CalendarPluginError as exc:  # permanent API errors, configuration, anything else of ours
        _write_failed(ctx, engine, booking_id, exc, retry_at=None)
        log.warning("integration %s: booking %s not written: %s: %s", iid, booking_id, type(exc).__name__, exc)
        said = message_for(classify(exc), provider=ctx.provider.name)
        host.integrations.log(
            iid,
            "error",
            f"Booking {booking_id} could not be written: {said.what} "
            f"{said.next_step} (detail: {type(exc).__name__}: {str(exc)[:300]})",
        )
    else:
        _write_done(ctx, engine, booking_id, written)


def notice_field(integration_id: str) -> str:
    """The booking field holding this integration's notice about a failed write (see hookspecs.forms)."""
    return f"{BOOKING_NOTICE_PREFIX}{origin_of(integration_id)}"


def _booking_and_calendar(
    ctx: IntegrationContext, engine: SyncEngine, booking_id: int
) -> tuple[Booking | None, CalendarRef | None]:
    try:
        booking = ctx.host.bookings.get(booking_id)
    except BookingNotFoundError:
        return None, None
    return booking, engine.backend.calendar_for_object(booking.object_id)


def _write_failed(
    ctx: IntegrationContext, engine: SyncEngine, booking_id: int, exc: BaseException, *, retry_at: datetime | None
) -> None:
    """Record a failed write: on the booking (a notice), in the pending writes, in the calendar's activity."""
    booking, calendar = _booking_and_calendar(ctx, engine, booking_id)
    if booking is None or calendar is None:
        return
    host = ctx.host
    problem = _problem(ctx, engine, calendar.key, exc)
    PendingWrites(ctx.store).add(booking_id, calendar.key, problem, host.now(), retry_at)
    ActivityLog(ctx.store).failure(calendar.key, host.now(), problem=problem, retry_at=retry_at)
    obj = host.objects.get(booking.object_id)
    text = booking_notice(
        ProblemKind(problem), provider=ctx.provider.name, retry_at=retry_at, timezone=obj.timezone if obj else "UTC"
    )
    if booking.fields.get(notice_field(ctx.integration.id)) != text:
        host.bookings.set_field(booking_id, notice_field(ctx.integration.id), text, origin=ctx.origin)


def _write_done(ctx: IntegrationContext, engine: SyncEngine, booking_id: int, written: list[str]) -> None:
    """A write went through (or nothing was left to write): clear what a failure left behind."""
    if not written and not PendingWrites(ctx.store).get(booking_id):
        return
    booking, calendar = _booking_and_calendar(ctx, engine, booking_id)
    if (
        PendingWrites(ctx.store).resolve(booking_id)
        and booking is not None
        and booking.fields.get(notice_field(ctx.integration.id))
    ):
        ctx.host.bookings.set_field(booking_id, notice_field(ctx.integration.id), None, origin=ctx.origin)
    if written and calendar is not None:
        ActivityLog(ctx.store).success(calendar.key, ctx.host.now(), changes=len(written))


def _held_until(ctx: IntegrationContext) -> datetime | None:
    value = ctx.store.load(HOLD_KEY).data
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _hold(ctx: IntegrationContext, exc: RetryableError) -> None:
    """Remember a ``Retry-After`` the API client gave up waiting for: it holds the whole integration."""
    if not isinstance(exc, RateLimitedError) or not exc.retry_after:
        return
    until = ctx.host.now() + timedelta(seconds=exc.retry_after)

    def later(value: str | None) -> str:
        return value if value and datetime.fromisoformat(value) >= until else until.isoformat()

    ctx.store.update(HOLD_KEY, later, default=None)


def _later(job: Job, run_at: datetime) -> QueuedJob:
    if job.name == JOB_OUTBOUND:
        return outbound_job(
            job.payload["integration"], int(job.payload["booking"]), run_at, int(job.payload.get("attempt", "1"))
        )
    return _again(job, run_at)


def _again(job: Job, run_at: datetime) -> QueuedJob:
    payload = dict(job.payload)
    dedupe = f"{job.name}:{payload['integration']}:{payload.get('calendar', '')}"
    return QueuedJob(job.name, payload, dedupe, run_at)


def credentials_refused(ctx: IntegrationContext, exc: AuthExpiredError) -> None:
    """The provider refused the integration's credentials outside a sync (the calendar-list job): mark
    it as needing new ones and tell the admin once, in words, exactly as the sync path does (each
    calendar's health row says it too, until a round succeeds)."""
    try:
        with engine_for(ctx) as engine:
            keys = [calendar.key for calendar in engine.backend.calendars()]
    except CalendarPluginError:
        keys = []
    activity = ActivityLog(ctx.store)
    for key in keys:
        activity.failure(key, ctx.host.now(), problem=classify(exc).value, retry_at=None)
    _lost_grant(ctx, exc)


def _lost_grant(ctx: IntegrationContext, exc: AuthExpiredError) -> None:
    status = AuthStatus(ctx.store)
    if status.get().get("state") == DISCONNECTED:
        return  # an admin disconnected on purpose: nothing was lost, no alert
    status.mark_needs_reconnect(str(exc), ctx.host.now())
    if status.claim_alert():
        said = str(describe(exc, provider=ctx.provider.name))
        if status.get().get("interrupted"):  # strict rotation: say why the grant is gone
            said = f"{said} Why: {status.get().get('reason')}."
        ctx.host.integrations.log(ctx.integration.id, "error", said)


def _park(ctx: IntegrationContext, booking_id: int) -> None:
    ctx.store.update(PARKED_KEY, lambda ids: sorted({*(ids or []), booking_id}), default=[])


def resume_after_reconnect(ctx: IntegrationContext) -> int:
    """Re-queue parked outbound work and a sync of every calendar. Returns jobs queued."""
    parked: list[int] = []

    def take(ids: list[int] | None) -> list[int]:
        parked[:] = list(ids or [])
        return []

    ctx.store.update(PARKED_KEY, take, default=[])
    queued = sum(enqueue(ctx.host, outbound_job(ctx.integration.id, b)) for b in parked)
    try:
        with engine_for(ctx) as engine:
            calendars, pushes = engine.backend.calendars(), bool(engine.push_address)
    except ConfigError:
        return queued
    for calendar in calendars:
        # the channel first: its catch-up sync is then absorbed by the one queued right after
        if pushes:
            queued += enqueue(ctx.host, channel_job(ctx.integration.id, calendar.key))
        queued += enqueue(ctx.host, sync_job(ctx.integration.id, calendar.key))
    return queued
