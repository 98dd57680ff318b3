"""``ireserve-devhost status``: every integration's health from its admin form, for operators and cron.

Public API: :func:`collect`, :func:`exit_code`, :func:`problems`, :func:`render_text`, :func:`render_json`,
:func:`run_status`, :class:`IntegrationReport`, :data:`EXIT_OK`, :data:`EXIT_ATTENTION`,
:data:`EXIT_USAGE`.

Only the host side of the contract is used: for each integration the host asks its plugins for the
admin form (``HostHooks.config_form(integration, None)``). A form with a typed ``state``
(:class:`hookspecs.forms.HealthState`) is taken at its word: an enabled integration needs attention in
every state whose ``needs_attention`` is true (warning, not_configured, not_connected, error), and the
problems listed are its status and next step, each calendar needing attention with its message, and the
conflicts waiting. A form without one (an older plugin) is judged from its ``status`` line and untyped
``health`` rows: attention when the status starts with "Needs reconnect" or "Not ready", a row has a
non-empty ``last_error`` or a ``channel_expires`` in the past. No plugin serving an enabled integration,
or its plugin failing to describe it, also needs attention. Disabled integrations are listed but never
need attention. The JSON document is described in docs/host-integration.md; absent times are null.

Above the integrations come the problems of the live host processes on the database (:mod:`.health`):
one that cannot read its keys, or whose plugin routes or jobs raised in the last minutes (a host that
cannot decrypt fails every push with 500 while this process, with its own keys, decrypts fine). Any
of them also makes the exit status 1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from hookspecs.forms import ChannelState
from hookspecs.forms import ConfigForm
from hookspecs.forms import HealthRow
from hookspecs.forms import HealthState
from hookspecs.types import Integration
from ireserve_devhost.dialect import is_database_url
from ireserve_devhost.health import process_problems
from ireserve_devhost.health import process_reports
from ireserve_devhost.health import wall_clock
from ireserve_devhost.host import ReferenceHost

__all__ = [
    "EXIT_ATTENTION",
    "EXIT_OK",
    "EXIT_USAGE",
    "IntegrationReport",
    "collect",
    "exit_code",
    "problems",
    "render_json",
    "render_text",
    "run_status",
]

EXIT_OK = 0
#: At least one enabled integration needs attention.
EXIT_ATTENTION = 1
#: The database could not be opened (missing file).
EXIT_USAGE = 2

_ATTENTION_PREFIXES = ("Needs reconnect", "Not ready")
_ABSENT = frozenset({"", "never", "none", "-"})
# Control characters (C0, DEL, C1) in plugin or calendar text must not reach the operator's terminal.
_CONTROL = dict.fromkeys((*range(0x00, 0x20), *range(0x7F, 0xA0)), "\N{REPLACEMENT CHARACTER}")


@dataclass(frozen=True)
class IntegrationReport:
    """What the status command knows about one integration."""

    integration: Integration
    status: str
    health: tuple[Mapping[str, str], ...] = ()
    problems: tuple[str, ...] = field(default=())
    state: str | None = None
    next_step: str = ""
    rows: tuple[HealthRow, ...] = ()
    conflicts: int = 0

    @property
    def needs_attention(self) -> bool:
        return bool(self.problems)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.integration.id,
            "provider": self.integration.provider,
            "name": self.integration.name,
            "enabled": self.integration.enabled,
            "state": self.state,
            "status": self.status,
            "next_step": self.next_step,
            "calendars": [_row_dict(row) for row in self.rows],
            "conflicts": self.conflicts,
            "health": [{key: _absent_as_null(value) for key, value in row.items()} for row in self.health],
            "needs_attention": self.needs_attention,
            "problems": list(self.problems),
        }


def _row_dict(row: HealthRow) -> dict[str, object]:
    return {
        "name": row.name,
        "state": HealthState(row.state).value,
        "message": row.message,
        "next_step": row.next_step,
        "last_success": _iso(row.last_success),
        "last_failure": _iso(row.last_failure),
        "pending_writes": row.pending_writes,
        "conflicts": row.conflicts,
        "channel": ChannelState(row.channel).value,
        "channel_expires": _iso(row.channel_expires),
        "timezone": row.timezone,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _absent_as_null(value: str) -> str | None:
    """An untyped health value that says "no time" ("never", "none", "") is null in JSON."""
    return None if value.strip().lower() in _ABSENT else value


def typed_problems(form: ConfigForm) -> list[str]:
    """The reasons a form with a typed state needs attention: its status and next step, each calendar in a
    state that needs attention with its message, and the conflicts waiting (empty: healthy)."""
    if form.state is None or not HealthState(form.state).needs_attention:
        return []
    found = [" ".join(part for part in (form.status, form.next_step) if part) or HealthState(form.state).value]
    for row in form.rows:
        if HealthState(row.state).needs_attention:
            said = " ".join(part for part in (row.message, row.next_step) if part) or HealthState(row.state).value
            found.append(f"{row.name}: {said}")
    if form.conflicts:
        found.append(f"{len(form.conflicts)} conflict(s) wait for review on the integration's page")
    return found


def problems(status: str, health: Sequence[Mapping[str, str]], now: datetime) -> list[str]:
    """The reasons a form's status and health rows need an operator's attention (empty: healthy)."""
    found = []
    if status.startswith(_ATTENTION_PREFIXES):
        found.append(status)
    for row in health:
        label = row.get("calendar") or "a calendar"
        if str(row.get("last_error") or "").strip():
            found.append(f"{label}: last error: {row['last_error']}")
        expires = _time(row.get("channel_expires"))
        if expires is not None and expires <= now:
            found.append(f"{label}: push channel expired at {row['channel_expires']}")
    return found


def collect(host: ReferenceHost) -> list[IntegrationReport]:
    """Ask the host's plugins for every integration's form and judge its status and health."""
    reports = []
    now = host.now()
    for integration in host.integrations.all():
        try:
            form = host.hooks.config_form(integration, None)
        except Exception as exc:  # a broken plugin is itself something to look at
            status = f"Plugin error: {type(exc).__name__}"
            reports.append(IntegrationReport(integration, status, (), _if_enabled(integration, [status])))
            continue
        if form is None:
            status = f"No installed plugin serves provider {integration.provider!r}"
            reports.append(IntegrationReport(integration, status, (), _if_enabled(integration, [status])))
            continue
        health = tuple({str(k): str(v) for k, v in row.items()} for row in form.health)
        found = problems(form.status, health, now) if form.state is None else typed_problems(form)
        state = None if form.state is None else HealthState(form.state).value
        reports.append(
            IntegrationReport(
                integration,
                form.status,
                health,
                _if_enabled(integration, found),
                state,
                form.next_step,
                tuple(form.rows),
                len(form.conflicts),
            )
        )
    return reports


def exit_code(reports: Sequence[IntegrationReport]) -> int:
    """:data:`EXIT_ATTENTION` when any report needs attention, else :data:`EXIT_OK`."""
    return EXIT_ATTENTION if any(r.needs_attention for r in reports) else EXIT_OK


def render_json(reports: Sequence[IntegrationReport], host_problems: Sequence[str] = ()) -> str:
    """The reports as one JSON document: ``{"needs_attention": bool, "integrations": [...], "host": [...]}``."""
    doc = {
        "needs_attention": any(r.needs_attention for r in reports) or bool(host_problems),
        "integrations": [r.as_dict() for r in reports],
        "host": list(host_problems),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def render_text(reports: Sequence[IntegrationReport]) -> str:
    """The reports for a terminal: a heading and status per integration, its health as a table."""
    if not reports:
        return "No integrations configured.\n"
    blocks = []
    for report in reports:
        integration = report.integration
        state = "enabled" if integration.enabled else "disabled"
        name = f" {integration.name}" if integration.name else ""
        verdict = "NEEDS ATTENTION" if report.needs_attention else "ok"
        lines = [
            _clean(f"{integration.id}{name} ({integration.provider}, {state}): {verdict}"),
            "  status: " + _clean(report.status or "-") + (f" [{report.state}]" if report.state else ""),
        ]
        if report.next_step:
            lines.append("  next step: " + _clean(report.next_step))
        lines += ["  " + line for line in _table([_text_row(row) for row in report.rows] or report.health)]
        lines += ["  ! " + _clean(problem) for problem in report.problems]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def run_status(
    db_path: str,
    *,
    as_json: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    key_file: str | None = None,
) -> int:
    """Open the reference host on ``db_path``, print the reports, return the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not is_database_url(db_path) and not os.path.isfile(db_path):
        print(f"ireserve-devhost status: no host database at {db_path!r}", file=err)
        return EXIT_USAGE
    with ReferenceHost(db_path, key_file=key_file) as host:
        reports = collect(host)
        host_problems = process_problems(process_reports(host.db), wall_clock())
    if as_json:
        out.write(render_json(reports, host_problems) + "\n")
    else:
        out.write("".join(f"! {_clean(problem)}\n" for problem in host_problems) + ("\n" if host_problems else ""))
        out.write(render_text(reports))
    return EXIT_ATTENTION if host_problems else exit_code(reports)


# ---------------------------------------------------------------------- helpers


def _if_enabled(integration: Integration, found: list[str]) -> tuple[str, ...]:
    return tuple(found) if integration.enabled else ()


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None  # "none", "never" and other words are not times
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _text_row(row: HealthRow) -> dict[str, str]:
    return {
        "calendar": row.name,
        "state": HealthState(row.state).value,
        "last_success": _local(row.last_success, row.timezone),
        "last_failure": _local(row.last_failure, row.timezone),
        "waiting": str(row.pending_writes),
        "conflicts": str(row.conflicts),
        "channel": ChannelState(row.channel).value,
        "message": " ".join(part for part in (row.message, row.next_step) if part),
    }


def _local(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return "never"
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        local = moment
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".strip()


def _clean(text: str) -> str:
    return text.translate(_CONTROL)


def _table(rows: Sequence[Mapping[str, str]]) -> list[str]:
    if not rows:
        return []
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    cells = [[_clean(key) for key in columns]] + [[_clean(str(row.get(key, ""))) for key in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells]
