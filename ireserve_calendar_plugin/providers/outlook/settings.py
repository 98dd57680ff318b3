"""Settings of an Outlook / Microsoft 365 integration (delegated or application mode).

Public API: :class:`OutlookSettingsSchema`, :class:`RoomRow`, :data:`DEFAULT_URLS`,
:data:`ROOM_TEAMS_MESSAGE`, :func:`is_valid_tenant`, :func:`is_valid_upn`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from ireserve_calendar_plugin.config.schemas import BaseUrl
from ireserve_calendar_plugin.config.schemas import ProviderSettingsSchema
from ireserve_calendar_plugin.config.schemas import field_meta

__all__ = ["DEFAULT_URLS", "ROOM_TEAMS_MESSAGE", "OutlookSettingsSchema", "RoomRow", "is_valid_tenant", "is_valid_upn"]

DEFAULT_URLS = {
    "graph_base_url": "https://graph.microsoft.com",
    "login_base_url": "https://login.microsoftonline.com",
}

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_UPN = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._+'-]{0,62}[A-Za-z0-9_'-])?@"
    r"([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def is_valid_tenant(value: str, *, allow_multi: bool) -> bool:
    """A tenant GUID or verified domain; ``common``/``organizations`` only where multi-tenant is allowed."""
    if allow_multi and value in ("common", "organizations"):
        return True
    return bool(_GUID.match(value) or _DOMAIN.match(value))


def is_valid_upn(value: str) -> bool:
    """A mailbox UPN safe to put in a URL path: no ``/``, ``?``, ``#``, ``%`` or ``..``."""
    return bool(_UPN.match(value)) and ".." not in value


#: why application mode writes no Teams link (shown on the form when both options are on)
ROOM_TEAMS_MESSAGE = (
    "Room mailboxes have no Teams licence: events written to rooms get no Teams link. "
    "Turn off the meeting link for application mode."
)


class RoomRow(Schema):
    """One room mailbox (application mode) and the object its bookings land on."""

    upn = fields.String(required=True)
    object = fields.Integer(required=True, validate=validate.Range(min=1))

    @validates_schema
    def _upn(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if not is_valid_upn(data.get("upn", "")):
            raise ValidationError("Not a valid mailbox address (user@domain).", "upn")


class OutlookSettingsSchema(ProviderSettingsSchema):
    """Outlook: auth mode, tenant, the delegated user's object or the room -> object table."""

    auth_mode = fields.String(
        load_default="delegated",
        validate=validate.OneOf(["delegated", "application"]),
        metadata=field_meta(
            "Authentication mode",
            "Delegated: one user's calendar, two-way. Application: many room mailboxes, inbound only "
            "unless 'Write bookings to the room mailboxes' is on.",
            kind="select",
            section="Connection",
            choices=(("delegated", "Delegated (one calendar)"), ("application", "Application (room mailboxes)")),
        ),
    )
    tenant = fields.String(
        required=True,
        # part of the token endpoint's address ({login}/{tenant}/oauth2/v2.0/token): changing it is a
        # re-approval like a URL change (the client secret again, the grant dropped)
        metadata=field_meta(
            "Tenant",
            "Tenant id (GUID) or verified domain, e.g. contoso.onmicrosoft.com.",
            section="Connection",
            endpoint=True,
        ),
    )
    object_id = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1),
        metadata=field_meta(
            "Object",
            "Delegated mode: the object the user's calendar is synced with.",
            kind="select",
            section="Calendars",
            objects=True,
        ),
    )
    discover_pick = fields.String(
        load_default="",
        metadata=field_meta(
            "Add discovered rooms",
            "Application mode with Place.Read.All: pick all rooms, a room list or one room; on save each is mapped "
            "to the object of the same name.",
            kind="select",
            section="Calendars",
            remote=True,
        ),
    )
    rooms = fields.List(
        fields.Nested(RoomRow),
        load_default=list,
        metadata=field_meta(
            "Room mailboxes",
            "Application mode: one row per room mailbox (UPN) and the object it maps to.",
            kind="table",
            section="Calendars",
            columns=(("upn", "Room mailbox (UPN)", "text"), ("object", "Object", "select")),
        ),
    )
    room_outbound = fields.Boolean(
        load_default=False,
        metadata=field_meta(
            "Write bookings to the room mailboxes",
            "Application mode: create, move and delete events in each room's calendar for its bookings (the room "
            "is the organiser). Needs the application permission Calendars.ReadWrite with admin consent; with "
            "only Calendars.Read the rooms stay inbound and each room says so. Off: inbound only.",
            kind="boolean",
            section="Outbound",
        ),
    )
    max_concurrency = fields.Integer(
        load_default=4,
        validate=validate.Range(min=1, max=16),
        metadata=field_meta(
            "Concurrent requests",
            "Requests in flight at once per worker process: for the mailbox (delegated), for each room mailbox "
            "(application mode). Outlook allows 4 per mailbox.",
            kind="integer",
            section="Advanced",
        ),
    )
    request_timeout = fields.Integer(
        load_default=30,
        validate=validate.Range(min=2, max=120),
        metadata=field_meta(
            "Request timeout (s)",
            "A Graph request is given up after this long (then retried).",
            kind="integer",
            section="Advanced",
        ),
    )
    graph_base_url = BaseUrl(
        load_default=DEFAULT_URLS["graph_base_url"],
        metadata=field_meta("Graph base URL", "National clouds use their own host.", kind="url", section="Advanced"),
    )
    login_base_url = BaseUrl(
        load_default=DEFAULT_URLS["login_base_url"],
        metadata=field_meta("Login base URL", kind="url", section="Advanced"),
    )

    @validates_schema
    def _mode_rules(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        mode = data.get("auth_mode", "delegated")
        if not is_valid_tenant(data.get("tenant", ""), allow_multi=mode == "delegated"):
            raise ValidationError("Give the tenant id (GUID) or its verified domain.", "tenant")
        if mode == "delegated" and not data.get("object_id"):
            raise ValidationError("Delegated mode needs the object to sync with.", "object_id")
        if mode == "application":
            # no rooms yet is allowed: the admin saves the app's credentials first, then picks discovered rooms
            rooms = data.get("rooms") or []
            upns = [r["upn"].lower() for r in rooms]
            if len(set(upns)) != len(upns):
                raise ValidationError("A room mailbox is listed twice.", "rooms")
            if data.get("room_outbound") and data.get("meeting_link"):
                raise ValidationError(ROOM_TEAMS_MESSAGE, "meeting_link")
