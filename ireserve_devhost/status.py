"""``ireserve-devhost status``: every integration's health from its admin form, for operators and cron.

Public API: :func:`collect`, :func:`exit_code`, :func:`problems`, :func:`render_text`, :func:`render_json`,
:func:`run_status`, :class:`IntegrationReport`, :data:`EXIT_OK`, :data:`EXIT_ATTENTION`,
:data:`EXIT_USAGE`.

Only the host side of the contract is used: for each integration the host asks its plugins for the
admin form (``HostHooks.config_form(integration, None)``) and reads the form's ``status`` line and
``health`` rows, so this works for any plugin that fills them. An enabled integration needs attention
when its status starts with "Needs reconnect" or "Not ready", when a health row has a non-empty
``last_error``, when a row's ``channel_expires`` is a time in the past, when no plugin serves it, or
when its plugin fails to describe it. Disabled integrations are listed but never need attention.

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

from hookspecs.types import Integration
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
# Control characters (C0, DEL, C1) in plugin or calendar text must not reach the operator's terminal.
_CONTROL = dict.fromkeys((*range(0x00, 0x20), *range(0x7F, 0xA0)), "\N{REPLACEMENT CHARACTER}")


@dataclass(frozen=True)
class IntegrationReport:
    """What the status command knows about one integration."""

    integration: Integration
    status: str
    health: tuple[Mapping[str, str], ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def needs_attention(self) -> bool:
        return bool(self.problems)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.integration.id,
            "provider": self.integration.provider,
            "name": self.integration.name,
            "enabled": self.integration.enabled,
            "status": self.status,
            "health": [dict(row) for row in self.health],
            "needs_attention": self.needs_attention,
            "problems": list(self.problems),
        }


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
        found = problems(form.status, health, now)
        reports.append(IntegrationReport(integration, form.status, health, _if_enabled(integration, found)))
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
            "  status: " + _clean(report.status or "-"),
        ]
        lines += ["  " + line for line in _table(report.health)]
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
    if not os.path.isfile(db_path):
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
