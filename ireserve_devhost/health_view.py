"""How the admin pages show what a plugin reports about its health: words, colours, local times, a chart.

Public API: :func:`state_of`, :func:`state_words`, :func:`local_time`, :func:`activity_bars`,
:class:`Bar`, :data:`DISABLED`, :data:`UNKNOWN`.

A form with a typed :attr:`~hookspecs.forms.ConfigForm.state` is shown as the plugin says. A form without
one (an older plugin) is judged by the host from its status line and untyped health rows
(:func:`.status.problems`): ``error`` when something needs attention, else ``ok``; the page never says
"Connected" in green over a failure. This module knows nothing of HTML; the templates draw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

from hookspecs.forms import ActivityHour
from hookspecs.forms import ConfigForm
from hookspecs.forms import HealthState

__all__ = ["DISABLED", "UNKNOWN", "Bar", "activity_bars", "local_time", "state_of", "state_words"]

#: The state shown for a disabled integration (it is not judged).
DISABLED = "disabled"
#: The state shown when no plugin answers for an integration, or its plugin failed.
UNKNOWN = "unknown"

_WORDS = {
    HealthState.OK.value: "Working",
    HealthState.PENDING.value: "Waiting for the first sync",
    HealthState.WARNING.value: "Needs a look",
    HealthState.NOT_CONFIGURED.value: "Not configured",
    HealthState.NOT_CONNECTED.value: "Not connected",
    HealthState.ERROR.value: "Failing",
    DISABLED: "Disabled",
    UNKNOWN: "Unknown: no plugin answers",
}

#: Width and height of one hour's bar in the activity strip, in pixels.
BAR_WIDTH = 10
BAR_HEIGHT = 22


def state_of(form: ConfigForm | None, *, judged_problems: Sequence[str] = ()) -> str:
    """The state to show for a form: the plugin's typed state, or the host's judgement of an untyped one."""
    if form is None:
        return UNKNOWN
    if form.state is not None:
        return HealthState(form.state).value
    return HealthState.ERROR.value if judged_problems else HealthState.OK.value


def state_words(state: str) -> str:
    """The state in an admin's words ("Failing", "Not connected", ...)."""
    return _WORDS.get(state, state.replace("_", " ").capitalize())


def local_time(moment: datetime | None, zone: str, now: datetime) -> str:
    """``moment`` in ``zone`` for a person: "14:05 CET" today, "Dec 02 14:05 CET" otherwise, "never" for None."""
    if moment is None:
        return "never"
    try:
        tz = ZoneInfo(zone)
    except (KeyError, ValueError):
        tz = ZoneInfo("UTC")
    local, today = moment.astimezone(tz), now.astimezone(tz).date()
    label = f"{local:%H:%M}" if local.date() == today else f"{local:%b %d %H:%M}"
    return f"{label} {local.tzname() or ''}".strip()


@dataclass(frozen=True)
class Bar:
    """One hour of the activity strip: where it sits, its colour class and its tooltip."""

    x: int
    css: str
    title: str


def activity_bars(hours: Sequence[ActivityHour], zone: str, now: datetime) -> list[Bar]:
    """The last 24 hours as bars, oldest left: ``fail`` (a failure in that hour), ``change`` (something
    was synced), ``round`` (rounds ran, nothing changed), ``idle`` (nothing ran)."""
    bars = []
    for index, hour in enumerate(hours[-24:]):
        if hour.failures:
            css = "fail"
        elif hour.changes:
            css = "change"
        elif hour.rounds:
            css = "round"
        else:
            css = "idle"
        end = hour.start + timedelta(hours=1)
        title = (
            f"{local_time(hour.start, zone, now)} to {local_time(end, zone, now)}: {hour.rounds} "
            f"round{'s' if hour.rounds != 1 else ''}, {hour.changes} change{'s' if hour.changes != 1 else ''}, "
            f"{hour.failures} failure{'s' if hour.failures != 1 else ''}"
        )
        bars.append(Bar(index * BAR_WIDTH, css, title))
    return bars
