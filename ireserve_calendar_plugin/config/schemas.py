"""Marshmallow schemas of an integration's settings: the shared sync options and the credentials base.

Public API: :class:`SyncOptionsSchema`, :class:`ProviderSettingsSchema`, :class:`StatusList`,
:class:`BaseUrl`, :func:`field_meta`, :data:`SECRET_MASK`.

Each provider extends :class:`ProviderSettingsSchema` with its own fields. Field ``metadata`` drives
the admin form (:mod:`.form`): ``label``, ``help``, ``kind`` (a :data:`hookspecs.forms.FIELD_KINDS`
value), ``section`` and ``secret``. Loaded data is plain JSON (strings, ints, bools, lists, dicts).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

__all__ = [
    "SECRET_MASK",
    "BaseUrl",
    "ProviderSettingsSchema",
    "StatusList",
    "SyncOptionsSchema",
    "field_meta",
    "is_loopback_host",
]

#: What a form shows instead of a stored secret. Submitting it back keeps the stored value.
SECRET_MASK = "********"

_STATUS = re.compile(r"^[\w .:/-]{1,64}$", re.UNICODE)
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def field_meta(label: str, help: str = "", kind: str = "text", section: str = "", **extra: Any) -> dict[str, Any]:
    """Build the ``metadata`` of a schema field for the admin form."""
    return {"label": label, "help": help, "kind": kind, "section": section, **extra}


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses (where plain http is acceptable)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class StatusList(fields.Field[list[str]]):
    """A list of booking statuses, given as a list or as a comma-separated string."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValidationError("Give a list of statuses, or statuses separated by commas.")
        out: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise ValidationError("Each status must be text.")
            status = item.strip()
            if not status:
                continue
            if not _STATUS.match(status):
                raise ValidationError(f"{status[:40]!r} is not a valid status name.")
            if status not in out:
                out.append(status)
        return out

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return ", ".join(value or [])


class BaseUrl(fields.String):
    """An API base URL: https, or plain http only on loopback (emulators). No query, no fragment,
    no credentials. The trailing slash is dropped."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip().rstrip("/")
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise ValidationError("Not a valid URL.") from None
        del port
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValidationError("Give an absolute https:// URL.")
        if parts.scheme == "http" and not is_loopback_host(parts.hostname):
            raise ValidationError("Plain http is only allowed for loopback addresses (local emulators).")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValidationError("The URL may not carry a query, a fragment or credentials.")
        return text


def _booking_field_name(value: str) -> None:
    if not _FIELD_NAME.match(value):
        raise ValidationError("A booking field name: letters, digits and _, starting with a letter.")


class SyncOptionsSchema(Schema):
    """The sync options both seeds share (status rules, update rules, meeting link, reminders)."""

    create_on_statuses = StatusList(
        load_default=lambda: ["confirmed"],
        metadata=field_meta(
            "Create calendar entry on status",
            "A booking gets a calendar event when it reaches one of these statuses (comma-separated).",
            section="Outbound",
        ),
    )
    delete_on_statuses = StatusList(
        load_default=list,
        metadata=field_meta(
            "Delete calendar entry on status",
            "The event is deleted when the booking reaches one of these statuses. The cancel status always deletes.",
            section="Outbound",
        ),
    )
    cancel_status = fields.String(
        load_default="cancelled",
        validate=validate.Regexp(_STATUS),
        metadata=field_meta(
            "Cancel status",
            "Status given to a booking whose event was cancelled or deleted in the calendar.",
            section="Statuses",
        ),
    )
    inbound_status = fields.String(
        load_default="confirmed",
        validate=validate.Regexp(_STATUS),
        metadata=field_meta("Inbound status", "Status of bookings created from calendar events.", section="Statuses"),
    )
    status_with_customer = fields.String(
        load_default="",
        validate=validate.Regexp(r"^$|" + _STATUS.pattern),
        metadata=field_meta(
            "Status with customer",
            "Status for inbound bookings whose organiser is a known customer (empty: use the inbound status).",
            section="Statuses",
        ),
    )
    lock_statuses = StatusList(
        load_default=list,
        metadata=field_meta(
            "Lock statuses",
            "Bookings in these statuses are never cancelled or unlinked by a calendar change.",
            section="Statuses",
        ),
    )
    allow_booking_update = fields.Boolean(
        load_default=False,
        metadata=field_meta(
            "Allow booking update",
            "Let calendar changes move bookings that were not created through this integration.",
            kind="boolean",
            section="Inbound",
        ),
    )
    ignore_validation_errors = fields.Boolean(
        load_default=False,
        metadata=field_meta(
            "Ignore validation errors on update",
            "Apply a calendar move even when it conflicts with another booking (otherwise it is written as a remark).",
            kind="boolean",
            section="Inbound",
        ),
    )
    ires_field = fields.String(
        load_default="external_id",
        validate=_booking_field_name,
        metadata=field_meta(
            "Booking field for the event id",
            "The booking field that holds the linked calendar event id.",
            section="Inbound",
        ),
    )
    meeting_link = fields.Boolean(
        load_default=False,
        metadata=field_meta(
            "Create a meeting link", "Add a video meeting to new events.", kind="boolean", section="Outbound"
        ),
    )
    meeting_url_field = fields.String(
        load_default="meeting_url",
        validate=_booking_field_name,
        metadata=field_meta(
            "Booking field for the join URL", "Where the meeting join URL is stored.", section="Outbound"
        ),
    )
    popup_reminder_minutes = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=40320),
        metadata=field_meta(
            "Popup reminder (minutes before)", "Empty: no popup reminder.", kind="integer", section="Outbound"
        ),
    )
    email_reminder_minutes = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=40320),
        metadata=field_meta(
            "E-mail reminder (minutes before)", "Empty: no e-mail reminder.", kind="integer", section="Outbound"
        ),
    )
    customer_as_attendee = fields.Boolean(
        load_default=False,
        metadata=field_meta(
            "Customer as attendee", "Invite the booking's customer to the event.", kind="boolean", section="Outbound"
        ),
    )


class ProviderSettingsSchema(SyncOptionsSchema):
    """Base of a provider's settings: OAuth client credentials plus the shared sync options."""

    client_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=256),
        metadata=field_meta("Client id", "The OAuth client id of your app registration.", section="Connection"),
    )
    client_secret = fields.String(
        required=True,
        validate=validate.Length(min=1, max=512),
        metadata=field_meta(
            "Client secret", "Stored encrypted; never shown again.", kind="secret", section="Connection", secret=True
        ),
    )

    @validates_schema
    def _statuses_consistent(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        cancel = data.get("cancel_status")
        if cancel and cancel in (data.get("create_on_statuses") or []):
            raise ValidationError("The cancel status cannot also create events.", "create_on_statuses")
        if data.get("ires_field") and data.get("ires_field") == data.get("meeting_url_field"):
            raise ValidationError("The join URL needs its own booking field.", "meeting_url_field")
