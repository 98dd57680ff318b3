"""The form's order and flow: connection first, then the mapping, then the options collapsed under
"Advanced"; the redirect URI to register; and bulk entry of mappings (paste a list).

Public API: :func:`arrange`, :func:`redirect_uri_field`, :func:`admin_consent_url`, :func:`bulk_field`,
:func:`apply_bulk`, :data:`BULK_FIELD`.

The provider schemas name their groups freely (``Connection``, ``Calendars``, ``Statuses``, ...);
:func:`arrange` maps them onto the contract's :data:`hookspecs.forms.SECTIONS` and orders the fields so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from marshmallow import Schema

from hookspecs.forms import SECTIONS
from hookspecs.forms import ConfigForm
from hookspecs.forms import FormField
from hookspecs.types import HostApi

__all__ = ["BULK_FIELD", "admin_consent_url", "apply_bulk", "arrange", "bulk_field", "redirect_uri_field"]

#: The textarea where an admin pastes mapping rows, one per line.
BULK_FIELD = "bulk_mapping"
_REDIRECT_FIELD = "redirect_uri"
_CONNECTION = {"connection"}
_MAPPING = {"calendars", "rooms", "mapping"}
_SPLIT = re.compile(r"\s*[,;\t]\s*")


def arrange(form: ConfigForm) -> ConfigForm:
    """Put every field in a contract section (connection, mapping, options) and in that order; the options
    (all of them have defaults) are marked advanced, so a host shows them collapsed."""
    arranged = []
    for f in form.fields:
        group = f.section.strip().lower()
        if group in _CONNECTION:
            arranged.append(replace(f, section="connection"))
        elif group in _MAPPING:
            arranged.append(replace(f, section="mapping"))
        else:
            arranged.append(replace(f, section="options", advanced=not f.required))
    arranged.sort(key=lambda f: SECTIONS.index(f.section))  # stable: schema order within a section
    return replace(form, fields=tuple(arranged))


def redirect_uri_field(callback_url: str, provider: str) -> FormField:
    """The redirect URI to paste into the provider's console, as a read-only field."""
    where = {
        "google": "Google Cloud Console: APIs & Services > Credentials > your OAuth client (type Web application) "
        "> Authorized redirect URIs",
        "outlook": "Microsoft Entra admin center: App registrations > your app > Authentication > Web > Redirect URIs",
    }.get(provider, "the OAuth client's settings at the provider")
    return FormField(
        _REDIRECT_FIELD,
        "Redirect URI",
        "readonly",
        callback_url,
        section="connection",
        help=f"Register exactly this address in {where}.",
    )


def admin_consent_url(settings: Mapping[str, Any], redirect_uri: str) -> str:
    """Microsoft's admin-consent page for application mode (an admin of the tenant grants the app's
    application permissions there), or "" when the tenant or client id is missing."""
    tenant, client_id = str(settings.get("tenant") or ""), str(settings.get("client_id") or "")
    if not tenant or not client_id:
        return ""
    base = str(settings.get("login_base_url") or "https://login.microsoftonline.com").rstrip("/")
    return f"{base}/{tenant}/adminconsent?" + urlencode({"client_id": client_id, "redirect_uri": redirect_uri})


def _table(schema: Schema) -> tuple[str, tuple[str, str]] | None:
    """The mapping table of a schema: its name and (object column, remote column)."""
    for name, f in schema.fields.items():
        columns = [c[0] for c in f.metadata.get("columns", ())]
        if f.metadata.get("kind") == "table" and "object" in columns and len(columns) == 2:
            remote = next(c for c in columns if c != "object")
            return name, ("object", remote)
    return None


def bulk_field(schema: Schema, value: str = "", error: str = "") -> FormField | None:
    """The textarea for pasting mapping rows, when the schema has a mapping table."""
    table = _table(schema)
    if table is None:
        return None
    label = schema.fields[table[0]].metadata.get("label", table[0])
    return FormField(
        BULK_FIELD,
        f"Add to {label} (paste a list)",
        "textarea",
        value,
        section="mapping",
        error=error,
        placeholder="Room A, room-a@example.com",
        help="One row per line: the object's name (or id), a comma, then the calendar id or room "
        "address. Rows are added to the table above when you save.",
    )


def apply_bulk(
    host: HostApi, schema: Schema, stored: Mapping[str, Any], submitted: Mapping[str, object]
) -> tuple[dict[str, object], str]:
    """Lay pasted rows over the submitted (or stored) mapping table. Returns the submission without the
    pasted text, and an error for the admin ("" when every line was understood; then nothing is dropped)."""
    values = dict(submitted)
    text = str(values.pop(BULK_FIELD, "") or "").strip()
    table = _table(schema)
    if not text or table is None:
        return values, ""
    name, (object_column, remote_column) = table
    objects = host.objects.all()
    by_name = {o.name.casefold(): o for o in objects}
    by_id = {str(o.id): o for o in objects}
    current = values.get(name, stored.get(name))
    rows = [dict(r) for r in current] if isinstance(current, list) else []
    known = {(str(r.get(object_column)), str(r.get(remote_column)).lower()) for r in rows}
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = _SPLIT.split(line.strip(), maxsplit=1)
        if len(parts) != 2 or not parts[1]:
            problems.append(f"line {number}: give the object, a comma, then the calendar or room")
            continue
        obj = by_name.get(parts[0].casefold()) or by_id.get(parts[0])
        if obj is None:
            problems.append(f"line {number}: no object is called {parts[0][:60]!r}")
            continue
        if (str(obj.id), parts[1].lower()) not in known:
            rows.append({object_column: str(obj.id), remote_column: parts[1]})
            known.add((str(obj.id), parts[1].lower()))
    if problems:
        return values, "Nothing was added: " + "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "") + "."
    values[name] = rows
    return values, ""
