"""What the admin form shows from the provider (the account's calendars, its label), cached by a job.

Public API: :class:`CachedChoices`, :func:`cached_choices`, :func:`queue_refresh`, :func:`refresh_choices`,
:data:`JOB_CHOICES`, :data:`CHOICES_KEY`.

Building the form never calls the provider (a frozen provider would freeze every admin page): it reads
the last listing from the integration's store, with the time it was taken, and queues a refresh job
when there is none yet. The job (``calendar.choices``) asks the provider and stores what it answered;
a failed listing keeps the previous one and records why, so the form can say "calendars as of 10:42;
the last refresh failed: ...". The job is idempotent: running it twice stores the same listing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.config.form import load_settings
from ireserve_calendar_plugin.errors import AuthExpiredError
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.messages import ProblemKind
from ireserve_calendar_plugin.messages import classify
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.runtime import backend_context

__all__ = ["CHOICES_KEY", "JOB_CHOICES", "CachedChoices", "cached_choices", "queue_refresh", "refresh_choices"]

log = logging.getLogger("ireserve_calendar_plugin.choices")

#: The job that re-reads the account's calendars and label.
JOB_CHOICES = "calendar.choices"
#: Where the listing lives in the integration's store.
CHOICES_KEY = "cache/choices"


@dataclass(frozen=True)
class CachedChoices:
    """The last listing: ``choices`` keyed ``table.column`` (as :meth:`CalendarProvider.form_choices`
    returns them), the account label, when it was taken (None: never), and the last refresh's failure
    (a :class:`ProblemKind`, None when it worked; the form words it)."""

    choices: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    account: str = ""
    fetched: datetime | None = None
    failed: ProblemKind | None = None
    failed_at: datetime | None = None

    def label_of(self, column: str, value: str) -> str:
        """The display name offered for ``value`` in ``column`` (``value`` itself when unknown)."""
        return next((label for v, label in self.choices.get(column, ()) if v == value), value)


def cached_choices(ctx: IntegrationContext) -> CachedChoices:
    """Read the cached listing (no provider call)."""
    data: dict[str, Any] = ctx.store.load(CHOICES_KEY, {}).data or {}
    return CachedChoices(
        choices={k: [(str(v), str(label)) for v, label in rows] for k, rows in (data.get("choices") or {}).items()},
        account=str(data.get("account") or ""),
        fetched=datetime.fromisoformat(data["fetched"]) if data.get("fetched") else None,
        failed=ProblemKind(data["failed"]) if data.get("failed") in set(ProblemKind) else None,
        failed_at=datetime.fromisoformat(data["failed_at"]) if data.get("failed_at") else None,
    )


def queue_refresh(ctx: IntegrationContext) -> bool:
    """Queue the refresh job (deduplicated: a refresh already waiting absorbs this one)."""
    iid = ctx.integration.id
    return ctx.host.jobs.enqueue(JOB_CHOICES, {"integration": iid}, dedupe_key=f"{JOB_CHOICES}:{iid}")


def refresh_choices(ctx: IntegrationContext) -> CachedChoices:
    """The job's body: ask the provider for its choices and the account label, and store them.

    A failure is recorded beside the previous listing (kept) and not raised: the admin sees it on the
    form and can retry; a job queue retrying it in a loop would only hammer a provider that is down."""
    now = ctx.host.now()
    was_lost = AuthStatus(ctx.store).needs_reconnect()
    try:
        bctx = backend_context(ctx, load_settings(ctx.store, ctx.provider))
        choices = ctx.provider.form_choices(bctx)
        account = ctx.provider.account_label(bctx)
    except CalendarPluginError as exc:
        log.info(
            "integration %s: listing the account's calendars failed: %s: %s",
            ctx.integration.id,
            type(exc).__name__,
            exc,
        )
        kind = classify(exc).value
        if isinstance(exc, AuthExpiredError):
            # refused credentials (a wrong app password): the integration needs new ones, said once in
            # words, and its work waits, as when the sync path meets them
            from ireserve_calendar_plugin.services import credentials_refused

            credentials_refused(ctx, exc)

        def failed(data: dict[str, Any] | None) -> dict[str, Any]:
            return {**(data or {}), "failed": kind, "failed_at": now.isoformat()}

        ctx.store.update(CHOICES_KEY, failed, default={})
        return cached_choices(ctx)
    doc = {
        "choices": {k: [list(pair) for pair in rows] for k, rows in choices.items()},
        "account": account,
        "fetched": now.isoformat(),
        "failed": "",
        "failed_at": None,
    }
    ctx.store.save(CHOICES_KEY, doc, expected_version=None)
    if was_lost and not AuthStatus(ctx.store).needs_reconnect():
        # the listing proved new credentials (a provider without a sign-in, e.g. a new app password):
        # the work parked while they were refused resumes, as after a reconnect
        from ireserve_calendar_plugin.services import resume_after_reconnect

        resume_after_reconnect(ctx)
    return cached_choices(ctx)
