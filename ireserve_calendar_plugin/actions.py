"""The admin form's buttons (:class:`hookspecs.forms.FormAction`): what each one does when submitted.

Public API: :class:`ActionName`, :class:`ActionResult`, :func:`run_action`.

An action is submitted through ``on_config_form`` as ``{ACTION_FIELD: name, TARGET_FIELD: target}``.
Actions never wait on the provider: cheap ones run at once against host storage, slow ones are queued
as jobs (the refresh of the account's calendars, revoking a grant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ireserve_calendar_plugin.choices import queue_refresh
from ireserve_calendar_plugin.conflicts import decide
from ireserve_calendar_plugin.disconnect import disconnect
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.sync.conflicts import Choice

__all__ = ["ActionName", "ActionResult", "run_action"]


class ActionName(StrEnum):
    """The actions this plugin offers (``FormAction.name``)."""

    REFRESH_CHOICES = "refresh_choices"
    DISCONNECT = "disconnect"
    CONFLICT_APPLY = "conflict.apply"
    CONFLICT_KEEP = "conflict.keep"
    CONFLICT_DISMISS = "conflict.dismiss"


@dataclass(frozen=True)
class ActionResult:
    """What an action did (``notices``) or why it did nothing (``errors``)."""

    notices: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


def _refresh(ctx: IntegrationContext, target: str) -> ActionResult:
    queue_refresh(ctx)
    return ActionResult(
        notices=("The calendar list will be refreshed in the background; reload this page in a moment.",)
    )


def _disconnect(ctx: IntegrationContext, target: str) -> ActionResult:
    if not disconnect(ctx):
        return ActionResult(notices=("No account was connected; nothing to revoke.",))
    return ActionResult(
        notices=(
            "The account was disconnected: its tokens were deleted here, and the grant "
            "is being revoked at the provider.",
        )
    )


def _conflict(choice: Choice) -> Callable[[IntegrationContext, str], ActionResult]:
    def run(ctx: IntegrationContext, target: str) -> ActionResult:
        outcome = decide(ctx, choice, target)
        return ActionResult(
            notices=(outcome.notice,) if outcome.notice else (), errors=(outcome.error,) if outcome.error else ()
        )

    return run


_ACTIONS: dict[ActionName, Callable[[IntegrationContext, str], ActionResult]] = {
    ActionName.REFRESH_CHOICES: _refresh,
    ActionName.DISCONNECT: _disconnect,
    ActionName.CONFLICT_APPLY: _conflict(Choice.APPLY),
    ActionName.CONFLICT_KEEP: _conflict(Choice.KEEP),
    ActionName.CONFLICT_DISMISS: _conflict(Choice.DISMISS),
}


def run_action(ctx: IntegrationContext, name: str, target: str) -> ActionResult:
    """Run one submitted action; an unknown name is an error for the admin, not an exception."""
    try:
        action = _ACTIONS[ActionName(name)]
    except (ValueError, KeyError):
        return ActionResult(errors=(f"Unknown action {name[:40]!r}; nothing was done.",))
    return action(ctx, target[:200])
