"""Settings of a CalDAV integration: server, account, object -> calendar mapping, poll interval.

Public API: :class:`CalDavSettingsSchema`, :class:`CalendarMappingRow`, :func:`calendar_path`,
:data:`WILDCARD`, :data:`DEFAULT_POLL_MINUTES`.

Needs nothing beyond the plugin's own dependencies (marshmallow), so the admin form works, and says
what is missing, even before the ``[caldav]`` extra is installed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlsplit

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate
from marshmallow import validates
from marshmallow import validates_schema

from ireserve_calendar_plugin.config.schemas import BaseUrl
from ireserve_calendar_plugin.config.schemas import ProviderSettingsSchema
from ireserve_calendar_plugin.config.schemas import field_meta

__all__ = ["DEFAULT_POLL_MINUTES", "WILDCARD", "CalDavSettingsSchema", "CalendarMappingRow", "calendar_path"]

from ireserve_calendar_plugin.providers.calendar_table import WILDCARD

#: CalDAV has no push: calendars are polled this often unless the admin sets another interval.
DEFAULT_POLL_MINUTES = 5

_SEGMENT = re.compile(r"^[^\x00-\x1f\x7f?#\\]+$")


def calendar_path(value: str, server_url: str | None = None) -> str:
    """A calendar collection's absolute path (``/dav/calendars/alice/work/``), from a path or a full URL
    on the server's own host. Raises :class:`ValueError` for anything else."""
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        if server_url is None:
            raise ValueError("Give the calendar's path on the server.")
        server = urlsplit(server_url)
        if (parts.scheme, parts.hostname, parts.port) != (server.scheme, server.hostname, server.port):
            raise ValueError("The calendar must live on the configured server.")
        text = parts.path
    if parts.query or parts.fragment or not text.startswith("/"):
        raise ValueError("Give the calendar's path on the server, starting with /.")
    segments = [s for s in text.split("/") if s]
    if not segments or any(s in (".", "..") or not _SEGMENT.match(unquote(s)) for s in segments):
        raise ValueError("Not a usable calendar path.")
    return "/" + "/".join(segments) + "/"


class CalendarMappingRow(Schema):
    """One row of the object -> calendar table: an object id (or ``*``) and a calendar's path."""

    object = fields.String(
        required=True, validate=validate.Regexp(r"^(\*|[1-9][0-9]{0,17})$", error="An object id, or * for the default.")
    )
    calendar_id = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class CalDavSettingsSchema(ProviderSettingsSchema):
    """CalDAV: server URL, username and app password (Basic auth over https), the object -> calendar
    table (as for Google), the poll interval and the shared sync options. No OAuth client."""

    class Meta:
        exclude = ("client_id", "client_secret")

    server_url = BaseUrl(
        required=True,
        metadata=field_meta(
            "Server URL",
            "The CalDAV server, e.g. https://cloud.example.com/remote.php/dav (Nextcloud), "
            "https://caldav.fastmail.com/dav/ or https://caldav.icloud.com/. Plain http only on loopback.",
            kind="url",
            section="Connection",
        ),
    )
    username = fields.String(
        required=True,
        validate=validate.Length(min=1, max=256),
        metadata=field_meta("Username", "The account's login name.", section="Connection"),
    )
    app_password = fields.String(
        required=True,
        validate=validate.Length(min=1, max=512),
        metadata=field_meta(
            "App password",
            "An app-specific password made for this integration. Stored encrypted; never shown again.",
            kind="secret",
            section="Connection",
            secret=True,
        ),
    )
    calendar_mapping = fields.List(
        fields.Nested(CalendarMappingRow),
        load_default=list,
        metadata=field_meta(
            "Object -> calendar",
            "Per object the calendar its bookings go to (its path on the server, offered once the account's "
            "calendars were discovered); * is the default for other objects.",
            kind="table",
            section="Calendars",
            columns=(("object", "Object", "select"), ("calendar_id", "Calendar", "text")),
        ),
    )
    inbound_object_id = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1),
        metadata=field_meta(
            "Object for new events of the default calendar",
            "New events in a calendar mapped only through * become bookings on this object (empty: they are "
            "not imported; bookings already linked still follow their events).",
            kind="select",
            section="Calendars",
            objects=True,
        ),
    )
    poll_interval_minutes = fields.Integer(
        load_default=DEFAULT_POLL_MINUTES,
        validate=validate.Range(min=1, max=1440),
        metadata=field_meta(
            "Poll interval (minutes)",
            "CalDAV has no push: each calendar is asked for changes this often (one request when nothing changed).",
            kind="integer",
            section="Advanced",
        ),
    )

    @validates("calendar_mapping")
    def _one_row_per_object(self, rows: list[Mapping[str, Any]], **kwargs: Any) -> None:
        seen: set[str] = set()
        for row in rows:
            obj = row.get("object")
            if obj is None:
                continue
            if obj in seen:
                raise ValidationError(f"Object {obj} has more than one row.")
            seen.add(obj)

    @validates_schema
    def _calendar_paths(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        for number, row in enumerate(data.get("calendar_mapping") or [], 1):
            try:
                calendar_path(str(row["calendar_id"]), data.get("server_url"))
            except ValueError as exc:
                raise ValidationError(f"row {number}: {exc}", "calendar_mapping") from None

    @post_load
    def _normalised_paths(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        rows = data.get("calendar_mapping") or []
        data["calendar_mapping"] = [
            {**row, "calendar_id": calendar_path(str(row["calendar_id"]), data.get("server_url"))} for row in rows
        ]
        return data
