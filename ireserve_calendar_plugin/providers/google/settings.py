"""Settings of a Google Calendar integration (OAuth or a service account, object -> calendar mapping).

Public API: :class:`GoogleSettingsSchema`, :class:`CalendarMappingRow`, :class:`AuthMode`,
:data:`DEFAULT_URLS`, :func:`key_problem`.

Two ways to connect (``auth_mode``): ``oauth`` (the default: an admin signs in with a Google account,
client id and secret of a web application) or ``service_account`` (a Workspace service account with
domain-wide delegation acting as ``subject``, its JSON key pasted into the form; meant for resource
calendars). The key is a secret: stored encrypted, never shown again, and checked on save
(:func:`key_problem`: parseable JSON, type ``service_account``, a readable private key).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import google.auth.crypt
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates
from marshmallow import validates_schema

from ireserve_calendar_plugin.config.schemas import BaseUrl
from ireserve_calendar_plugin.config.schemas import ProviderSettingsSchema
from ireserve_calendar_plugin.config.schemas import field_meta

__all__ = ["DEFAULT_URLS", "AuthMode", "CalendarMappingRow", "GoogleSettingsSchema", "key_problem"]

#: The real service's endpoints; each can be overridden (emulator, proxies).
DEFAULT_URLS = {
    "api_base_url": "https://www.googleapis.com/calendar/v3",
    "auth_url": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_url": "https://oauth2.googleapis.com/token",
    "revoke_url": "https://oauth2.googleapis.com/revoke",
    "directory_base_url": "https://admin.googleapis.com",
}


class AuthMode(StrEnum):
    """How the integration authenticates."""

    OAUTH = "oauth"
    SERVICE_ACCOUNT = "service_account"


def key_problem(raw: str) -> str | None:
    """What is wrong with a pasted service-account key, in words (None: usable). Never echoes the key."""
    try:
        info = json.loads(raw)
    except ValueError:
        return "This is not a JSON key file: paste the whole .json file downloaded for the service account."
    if not isinstance(info, dict) or info.get("type") != "service_account":
        return "This JSON is not a service account key (its type is not service_account)."
    if not isinstance(info.get("client_email"), str) or "@" not in info["client_email"]:
        return "The key names no service account (client_email is missing)."
    if not isinstance(info.get("private_key"), str) or not info["private_key"].strip():
        return "The key holds no private key."
    try:
        google.auth.crypt.RSASigner.from_service_account_info(info)
    except (ValueError, TypeError, KeyError):
        return "The private key in this file cannot be read; download a new key for the service account."
    return None


class CalendarMappingRow(Schema):
    """One row of the object -> calendar table. ``object`` is an object id, or ``*`` for the default."""

    object = fields.String(
        required=True, validate=validate.Regexp(r"^(\*|[1-9][0-9]{0,17})$", error="An object id, or * for the default.")
    )
    calendar_id = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class GoogleSettingsSchema(ProviderSettingsSchema):
    """Google Calendar: credentials, URLs, the object -> calendar table and request pacing."""

    auth_mode = fields.String(
        load_default=AuthMode.OAUTH.value,
        validate=validate.OneOf([m.value for m in AuthMode]),
        metadata=field_meta(
            "Authentication mode",
            "OAuth: an admin connects a Google account. Service account: a Workspace service account with "
            "domain-wide delegation acts as the subject below (for resource calendars / rooms).",
            kind="select",
            section="Connection",
            choices=(
                (AuthMode.OAUTH.value, "OAuth (connect an account)"),
                (AuthMode.SERVICE_ACCOUNT.value, "Service account (Workspace resource calendars)"),
            ),
        ),
    )
    client_id = fields.String(
        load_default="",
        validate=validate.Length(max=256),
        metadata=field_meta(
            "Client id", "OAuth mode: the OAuth client id of your app registration.", section="Connection"
        ),
    )
    client_secret = fields.String(
        load_default="",
        validate=validate.Length(max=512),
        metadata=field_meta(
            "Client secret",
            "OAuth mode. Stored encrypted; never shown again.",
            kind="secret",
            section="Connection",
            secret=True,
        ),
    )
    service_account_key = fields.String(
        load_default="",
        validate=validate.Length(max=4096),
        metadata=field_meta(
            "Service account key (JSON)",
            "Service-account mode: paste the JSON key file. Stored encrypted; never shown again.",
            kind="secret",
            section="Connection",
            secret=True,
        ),
    )
    subject = fields.String(
        load_default="",
        validate=validate.Length(max=320),
        metadata=field_meta(
            "Act as (subject)",
            "Service-account mode: the Workspace admin (or delegated user) the "
            "service account acts as, e.g. admin@example.com.",
            section="Connection",
        ),
    )

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
    api_base_url = BaseUrl(
        load_default=DEFAULT_URLS["api_base_url"], metadata=field_meta("API base URL", kind="url", section="Advanced")
    )
    auth_url = BaseUrl(
        load_default=DEFAULT_URLS["auth_url"], metadata=field_meta("Authorization URL", kind="url", section="Advanced")
    )
    token_url = BaseUrl(
        load_default=DEFAULT_URLS["token_url"], metadata=field_meta("Token URL", kind="url", section="Advanced")
    )
    revoke_url = BaseUrl(
        load_default=DEFAULT_URLS["revoke_url"], metadata=field_meta("Revocation URL", kind="url", section="Advanced")
    )
    directory_base_url = BaseUrl(
        load_default=DEFAULT_URLS["directory_base_url"],
        metadata=field_meta(
            "Admin SDK base URL",
            "Service-account mode: where resource calendars are listed.",
            kind="url",
            section="Advanced",
        ),
    )
    discover_pick = fields.String(
        load_default="",
        metadata=field_meta(
            "Add discovered rooms",
            "Service-account mode with an admin subject: pick all resource calendars, a building or one room; on "
            "save each is mapped to the object of the same name.",
            kind="select",
            section="Calendars",
            remote=True,
        ),
    )

    @validates_schema
    def _mode_rules(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data.get("auth_mode", AuthMode.OAUTH.value) == AuthMode.OAUTH.value:
            if not data.get("client_id"):
                raise ValidationError("OAuth mode needs the client id.", "client_id")
            if not data.get("client_secret"):
                raise ValidationError("OAuth mode needs the client secret.", "client_secret")
            return
        problem = (
            key_problem(str(data.get("service_account_key") or ""))
            if data.get("service_account_key")
            else "Service-account mode needs the JSON key of the service account."
        )
        if problem:
            raise ValidationError(problem, "service_account_key")
        subject = str(data.get("subject") or "")
        if "@" not in subject or any(c in subject for c in " /?#%"):
            raise ValidationError(
                "Give the e-mail address of the Workspace admin the service account acts as.", "subject"
            )

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
