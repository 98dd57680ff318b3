"""Settings of a Google Calendar integration (delegated OAuth, object -> calendar mapping).

Public API: :class:`GoogleSettingsSchema`, :class:`CalendarMappingRow`, :data:`DEFAULT_URLS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates

from ireserve_calendar_plugin.config.schemas import BaseUrl
from ireserve_calendar_plugin.config.schemas import ProviderSettingsSchema
from ireserve_calendar_plugin.config.schemas import field_meta

__all__ = ["DEFAULT_URLS", "CalendarMappingRow", "GoogleSettingsSchema"]

#: The real service's endpoints; each can be overridden (emulator, proxies).
DEFAULT_URLS = {
    "api_base_url": "https://www.googleapis.com/calendar/v3",
    "auth_url": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_url": "https://oauth2.googleapis.com/token",
    "revoke_url": "https://oauth2.googleapis.com/revoke",
}

WILDCARD = "*"


class CalendarMappingRow(Schema):
    """One row of the object -> calendar table. ``object`` is an object id, or ``*`` for the default."""

    object = fields.String(required=True, validate=validate.Regexp(r"^(\*|[1-9][0-9]{0,17})$",
                                                                   error="An object id, or * for the default."))
    calendar_id = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class GoogleSettingsSchema(ProviderSettingsSchema):
    """Google Calendar: credentials, URLs, the object -> calendar table and request pacing."""

    calendar_mapping = fields.List(
        fields.Nested(CalendarMappingRow),
        load_default=list,
        metadata=field_meta(
            "Object -> calendar",
            "Per object the Google calendar id its bookings go to; * is the default for other objects.",
            kind="table",
            section="Calendars",
            columns=(("object", "Object", "select"), ("calendar_id", "Google calendar", "text")),
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
    requests_per_minute = fields.Integer(
        load_default=300,
        validate=validate.Range(min=1, max=600),
        metadata=field_meta(
            "Requests per minute",
            "Pace of API calls for this integration; Google allows 600 per user per minute.",
            kind="integer",
            section="Advanced",
        ),
    )
    api_base_url = BaseUrl(load_default=DEFAULT_URLS["api_base_url"],
                           metadata=field_meta("API base URL", kind="url", section="Advanced"))
    auth_url = BaseUrl(load_default=DEFAULT_URLS["auth_url"],
                       metadata=field_meta("Authorization URL", kind="url", section="Advanced"))
    token_url = BaseUrl(load_default=DEFAULT_URLS["token_url"],
                        metadata=field_meta("Token URL", kind="url", section="Advanced"))
    revoke_url = BaseUrl(load_default=DEFAULT_URLS["revoke_url"],
                         metadata=field_meta("Revocation URL", kind="url", section="Advanced"))

    @validates("calendar_mapping")
    def _one_row_per_object(self, rows: list[Mapping[str, Any]], **kwargs: Any) -> None:
        seen: set[str] = set()
        for row in rows:
            obj = row.get("object")
            if obj is None:
                continue  # the row's own error names what is missing
            if obj in seen:
                raise ValidationError(f"Object {obj} has more than one row.")
            seen.add(obj)
