"""The admin form a plugin returns from ``on_config_form``: a host-renderable description.

Public API: :class:`FormField`, :class:`FormColumn`, :class:`FormLink`, :class:`FormAction`,
:class:`ConfigForm`, the health vocabulary :class:`HealthState`, :class:`ChannelState`,
:class:`HealthRow`, :class:`ActivityHour`, :class:`Conflict`, the helpers :func:`worst_state`, and the
constants :data:`FIELD_KINDS`, :data:`SECTIONS`, :data:`ACTION_FIELD`, :data:`TARGET_FIELD`,
:data:`BOOKING_NOTICE_PREFIX`.

Rendering
---------
A host renders a :class:`ConfigForm` without knowing the plugin: one input per :class:`FormField` by its
``kind``, the current ``value`` (secrets arrive masked and are never sent back in clear), ``choices``
for selects, ``help`` under the field and ``error`` next to it. Fields come in the order the plugin
wants them shown, grouped by ``section`` (one of :data:`SECTIONS`, in that order: connection first);
fields with ``advanced=True`` go in a collapsed "Advanced" group (for example an HTML ``<details>``).
Submitted data goes back to the same hook as a mapping of field name to string (or list of strings for
``multiselect``, list of row mappings for ``table``).

Health
------
``ConfigForm.state`` is the worst state of the integration (:func:`worst_state` of its calendars and of
its connection), ``status`` the one line that says it in words, ``next_step`` what the admin should do
about it (empty when nothing). ``rows`` holds one :class:`HealthRow` per calendar or room, named by
its display name; times are aware datetimes (None: never), which the host shows in the row's
``timezone``. ``rows[i].activity`` is the last 24 hours, one :class:`ActivityHour` per hour, oldest
first, for a small chart. ``conflicts`` is the review queue of inbound changes the plugin could not
apply. Everything in a form is read from host storage: building a form never waits on a calendar
provider, so a host may build it for every page view.

Actions
-------
A :class:`FormAction` is a button. The host submits it back through ``on_config_form`` with
``submitted = {ACTION_FIELD: action.name, TARGET_FIELD: action.target}`` (plus the host's own
bookkeeping such as CSRF tokens), never with the settings fields; the plugin runs or queues the
action, saves no settings, and returns the form with ``notices`` (what it did) or ``errors``.

Booking notices
---------------
A plugin that could not bring a booking in step (for example an outbound write that failed and will
be retried) sets a free field named ``BOOKING_NOTICE_PREFIX + <something>`` on the booking, holding one
plain-text sentence ("Not in Google Calendar yet: Google did not answer; retrying at 10:45."), and
clears it (``set_field(..., None)``) once resolved. Hosts show such fields prominently, as text, on
the booking's page and row.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "ACTION_FIELD",
    "BOOKING_NOTICE_PREFIX",
    "FIELD_KINDS",
    "SECTIONS",
    "TARGET_FIELD",
    "ActivityHour",
    "ChannelState",
    "ConfigForm",
    "Conflict",
    "FormAction",
    "FormColumn",
    "FormField",
    "FormLink",
    "HealthRow",
    "HealthState",
    "worst_state",
]

#: The input kinds a host must be able to render. ``textarea`` is multi-line text (bulk entry: one
#: item per line); ``readonly`` is a value to show and copy (for example the redirect URI to paste into
#: the provider's console), never submitted.
FIELD_KINDS = ("text", "secret", "integer", "boolean", "select", "multiselect", "table", "url", "textarea", "readonly")

#: The sections of a form, in the order a host shows them. ``FormField.section`` is one of these
#: (an unknown or empty section is shown with ``options``).
SECTIONS = ("connection", "mapping", "options")

#: The submitted key naming the :class:`FormAction` a button stands for.
ACTION_FIELD = "_action"
#: The submitted key carrying the action's ``target`` (for example a conflict id).
TARGET_FIELD = "_target"

#: Free booking fields whose name starts with this are notices for the booking's page (see above).
BOOKING_NOTICE_PREFIX = "notice:"


class HealthState(StrEnum):
    """How an integration or one of its calendars is doing, from best to worst (see :attr:`severity`).

    ``ok``: synced and nothing waits; ``pending``: configured but not synced yet; ``warning``: works,
    but something needs a look (a retry is pending, conflicts wait for review, a push channel is
    missing); ``not_configured``: settings missing; ``not_connected``: no usable account or grant
    (never connected, revoked, expired); ``error``: the last attempt failed and will not fix itself
    without someone acting, or keeps failing.
    """

    OK = "ok"
    PENDING = "pending"
    WARNING = "warning"
    NOT_CONFIGURED = "not_configured"
    NOT_CONNECTED = "not_connected"
    ERROR = "error"

    @property
    def severity(self) -> int:
        """0 for ``ok`` up to 5 for ``error``: compare states with it."""
        return list(HealthState).index(self)

    @property
    def needs_attention(self) -> bool:
        """True for every state an operator should act on (``warning`` and worse, except ``pending``)."""
        return self.severity >= HealthState.WARNING.severity


def worst_state(states: Iterable[HealthState], default: HealthState = HealthState.OK) -> HealthState:
    """The most severe of ``states`` (``default`` when there are none)."""
    return max(states, key=lambda s: s.severity, default=default)


class ChannelState(StrEnum):
    """The push channel (Google watch channel, Graph subscription) of one calendar.

    ``active``: notifications arrive; ``expiring``: renewal is due and not done yet; ``expired`` /
    ``failed``: no notifications, changes arrive by polling only (every 30 minutes); ``none``: none
    yet; ``not_used``: the integration does not use push (no public https address).
    """

    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    FAILED = "failed"
    NONE = "none"
    NOT_USED = "not_used"


@dataclass(frozen=True)
class ActivityHour:
    """One hour of a calendar's activity: ``start`` (aware, on the hour) and counts in that hour.

    ``rounds``: sync rounds and outbound writes that ran; ``changes``: bookings or events changed;
    ``failures``: attempts that failed."""

    start: datetime
    rounds: int = 0
    changes: int = 0
    failures: int = 0


@dataclass(frozen=True)
class HealthRow:
    """The health of one calendar (or room) of an integration, in an admin's words.

    ``name`` is the calendar's display name (never an internal key). ``message`` says what happened
    and ``next_step`` what to do (both empty when all is well). ``last_success`` / ``last_failure``
    are the last successful round and the last failed attempt (aware, None: never);
    ``pending_writes`` counts bookings whose write to this calendar failed and waits for a retry;
    ``conflicts`` counts its unresolved conflicts; ``channel`` is its push channel's state
    (``channel_expires`` when it has one); ``timezone`` is the IANA zone to show its times in (its
    object's). ``activity``: the last 24 hours, oldest first.
    """

    name: str
    state: HealthState
    message: str = ""
    next_step: str = ""
    last_success: datetime | None = None
    last_failure: datetime | None = None
    pending_writes: int = 0
    conflicts: int = 0
    channel: ChannelState = ChannelState.NOT_USED
    channel_expires: datetime | None = None
    timezone: str = "UTC"
    activity: tuple[ActivityHour, ...] = ()


@dataclass(frozen=True)
class FormColumn:
    """One column of a ``table`` field (for example object -> calendar rows)."""

    name: str
    label: str
    kind: str = "text"
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FormField:
    """One input. ``choices`` are ``(value, label)`` pairs; ``value`` is the current value as the
    host should show it (a masked placeholder for secrets that are set). ``section`` is one of
    :data:`SECTIONS`; ``advanced`` fields are shown collapsed; ``placeholder`` is an example value."""

    name: str
    label: str
    kind: str
    value: object = None
    required: bool = False
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    columns: tuple[FormColumn, ...] = ()
    error: str = ""
    section: str = ""
    advanced: bool = False
    placeholder: str = ""


@dataclass(frozen=True)
class FormLink:
    """An action the host shows as a button or link (for example "Connect Google account").

    ``kind`` is ``primary`` or ``secondary``. The host links to ``url`` as given (it leaves the host:
    a connect link, the provider's admin-consent page)."""

    label: str
    url: str
    kind: str = "primary"


@dataclass(frozen=True)
class FormAction:
    """A button that posts back to ``on_config_form`` (see the module docstring, "Actions").

    ``name`` is what the plugin runs (``"refresh_choices"``, ``"conflict.apply"`` ...), ``target``
    what it acts on (empty, or an id the plugin gave, for example a :class:`Conflict` id); ``confirm``,
    when set, is a question the host asks before submitting (for destructive actions); ``kind`` is
    ``primary``, ``secondary`` or ``danger``."""

    name: str
    label: str
    target: str = ""
    confirm: str = ""
    kind: str = "secondary"


@dataclass(frozen=True)
class Conflict:
    """One inbound change the plugin could not apply, waiting for an admin's decision.

    ``id`` is stable while the conflict lasts; ``calendar`` is the calendar's display name;
    ``summary`` one sentence of what is wrong; ``calendar_wants`` and ``host_has`` describe both
    sides in words (times already in the object's zone); ``booking_id`` the booking concerned (None
    for an event that would be a new booking); ``detected`` when it was first seen (aware);
    ``actions`` the buttons (apply anyway, keep the booking, dismiss).
    """

    id: str
    calendar: str
    summary: str
    calendar_wants: str
    host_has: str
    booking_id: int | None
    detected: datetime
    actions: tuple[FormAction, ...] = ()


@dataclass(frozen=True)
class ConfigForm:
    """The whole form of one integration, as the plugin wants it shown.

    ``saved`` is True when submitted data was validated and stored; ``errors`` holds form-wide errors
    (field errors sit on the fields); ``notices`` what an action did. ``status`` is a short health line
    for the admin and ``state`` its :class:`HealthState` (the worst of the integration), ``next_step``
    what to do about it. ``rows`` are the typed per-calendar health rows and ``conflicts`` the review
    queue; ``actions`` the integration-wide buttons (refresh the calendar list, disconnect ...).

    ``state`` None means the plugin reports no typed health (a host then judges ``status`` and
    ``health`` itself). ``health`` is the older untyped form of ``rows`` (one ``{column: text}``
    mapping per calendar), kept while hosts move to ``rows``.
    """

    integration_id: str
    title: str
    fields: tuple[FormField, ...] = ()
    links: tuple[FormLink, ...] = ()
    errors: tuple[str, ...] = ()
    saved: bool = False
    status: str = ""
    health: tuple[dict[str, str], ...] = field(default_factory=tuple)
    state: HealthState | None = None
    next_step: str = ""
    rows: tuple[HealthRow, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    actions: tuple[FormAction, ...] = ()
    notices: tuple[str, ...] = ()

    @property
    def field_errors(self) -> dict[str, str]:
        """Return ``{field name: error}`` for the fields that have one."""
        return {f.name: f.error for f in self.fields if f.error}
