"""The admin form of an integration, built from its provider's settings schema.

Public API: :func:`build_form`, :func:`submit_form`, :data:`SETTINGS_KEY`, :func:`load_settings`.

Showing: every schema field becomes a :class:`~hookspecs.forms.FormField`; stored secrets are shown as
:data:`~.schemas.SECRET_MASK`. Submitting: the submitted values are laid over the stored ones (so a
host may send only what changed, and a secret left as the mask or empty keeps its stored value), the
result is validated by the schema and by the provider's host-aware checks, and either stored whole,
encrypted, by compare-and-set, or not at all with per-field errors.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields

from hookspecs.forms import ConfigForm
from hookspecs.forms import FormColumn
from hookspecs.forms import FormField
from hookspecs.forms import FormLink
from hookspecs.types import HostApi
from hookspecs.types import Integration
from ireserve_calendar_plugin.config.schemas import SECRET_MASK
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import NotConfiguredError
from ireserve_calendar_plugin.providers.base import CalendarProvider

__all__ = ["SETTINGS_KEY", "build_form", "load_settings", "submit_form"]

#: The config key holding an integration's validated settings (one encrypted JSON document).
SETTINGS_KEY = "settings"

_MAX_TEXT = 4096

Choices = Sequence[tuple[str, str]]


def load_settings(store: SecureConfig, provider: CalendarProvider) -> dict[str, Any]:
    """Return the stored settings, or raise :class:`NotConfiguredError` if the admin never saved any."""
    doc = store.load(SETTINGS_KEY)
    if not doc.exists:
        raise NotConfiguredError(f"integration {store.integration_id!r} has not been configured yet")
    return dict(doc.data)


def _secret_names(schema: Schema) -> set[str]:
    return {name for name, f in schema.fields.items() if f.metadata.get("secret")}


def _object_choices(host: HostApi, wildcard: bool) -> tuple[tuple[str, str], ...]:
    objects = tuple((str(o.id), o.name) for o in host.objects.all())
    return ((("*", "* (default)"),) if wildcard else ()) + objects


def _display_value(field: fields.Field[Any], name: str, value: Any, secret: bool) -> Any:
    if secret:
        return SECRET_MASK if value else ""
    if value is None:
        return ""
    if field.metadata.get("kind") == "table":
        return [dict(row) for row in value]
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def _column(host: HostApi, table: str, spec: tuple[str, str, str], remote: Mapping[str, Choices]) -> FormColumn:
    name, label, kind = spec
    if name == "object":
        return FormColumn(name, label, kind, _object_choices(host, wildcard=table == "calendar_mapping"))
    offered = remote.get(f"{table}.{name}", ())
    return FormColumn(name, label, "select" if offered else kind, tuple(offered))


def _form_field(
    host: HostApi, name: str, field: fields.Field[Any], value: Any, secret: bool, error: str,
    remote: Mapping[str, Choices],
) -> FormField:
    meta = field.metadata
    kind = meta.get("kind", "text")
    choices = tuple(meta.get("choices", ()))
    columns: tuple[FormColumn, ...] = ()
    if kind == "table":
        columns = tuple(_column(host, name, spec, remote) for spec in meta.get("columns", ()))
    elif meta.get("objects"):
        choices = (("", "(none)"),) + _object_choices(host, wildcard=False) if not field.required else \
            _object_choices(host, wildcard=False)
    return FormField(
        name=name,
        label=meta.get("label", name),
        kind=kind,
        value=_display_value(field, name, value, secret),
        required=field.required,
        help=meta.get("help", ""),
        choices=choices,
        columns=columns,
        error=error,
        section=meta.get("section", ""),
    )


def build_form(
    host: HostApi,
    integration: Integration,
    provider: CalendarProvider,
    values: Mapping[str, Any] | None,
    *,
    errors: Mapping[str, str] | None = None,
    form_errors: Sequence[str] = (),
    saved: bool = False,
    links: Sequence[FormLink] = (),
    status: str = "",
    remote_choices: Mapping[str, Choices] | None = None,
) -> ConfigForm:
    """Describe the form with ``values`` (stored settings, or what was submitted after an error).

    ``remote_choices`` offers choices the provider fetched for table columns, keyed ``table.column``
    (for example the connected account's calendars for ``calendar_mapping.calendar_id``)."""
    schema = provider.settings_schema()
    secrets = _secret_names(schema)
    values = values or {}
    errors = errors or {}
    form_fields = []
    for name, field in schema.fields.items():
        value = values.get(name)
        if value is None and name not in values and not field.required and name not in secrets:
            default = field.load_default
            value = default() if callable(default) else default
        form_fields.append(
            _form_field(host, name, field, value, name in secrets, errors.get(name, ""), remote_choices or {})
        )
    unknown = [v if k == "_schema" else f"{k}: {v}" for k, v in errors.items() if k not in schema.fields]
    return ConfigForm(
        integration_id=integration.id,
        title=f"{provider.title} - {integration.name or integration.id}",
        fields=tuple(form_fields),
        links=tuple(links),
        errors=tuple(form_errors) + tuple(unknown),
        saved=saved,
        status=status,
    )


def _flatten(messages: Any) -> str:
    """Turn marshmallow's nested error messages into one readable line."""
    if isinstance(messages, str):
        return messages
    if isinstance(messages, list):
        return " ".join(_flatten(m) for m in messages)
    if isinstance(messages, dict):
        parts = []
        for key, value in messages.items():
            text = _flatten(value)
            parts.append(f"row {int(key) + 1}: {text}" if isinstance(key, int) else
                         text if key == "_schema" else f"{key}: {text}")
        return "; ".join(parts)
    return str(messages)


def _clean_submitted(schema: Schema, submitted: Mapping[str, object]) -> tuple[dict[str, Any], dict[str, str]]:
    """Drop unknown names, turn empty strings into "not given", bound text sizes."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in submitted.items():
        field = schema.fields.get(name)
        if field is None:
            continue  # hosts may send their own bookkeeping fields (csrf tokens, buttons)
        if isinstance(value, str):
            if len(value) > _MAX_TEXT:
                errors[name] = "Too long."
                continue
            value = value.strip()
            if value == "" and isinstance(field, fields.Integer | fields.Float):
                value = None
        clean[name] = value
    return clean, errors


def submit_form(
    host: HostApi,
    integration: Integration,
    provider: CalendarProvider,
    store: SecureConfig,
    submitted: Mapping[str, object],
    *,
    links: Sequence[FormLink] = (),
    extra_checks: Callable[[Mapping[str, Any]], dict[str, str]] | None = None,
) -> tuple[ConfigForm, dict[str, Any] | None]:
    """Validate and store submitted settings. Returns the form and the stored settings (None on error).

    ``extra_checks`` sees the loaded settings and returns ``{field: message}`` for problems only the
    caller can see (for example a clash with another integration)."""
    schema = provider.settings_schema()
    secrets = _secret_names(schema)
    current = store.load(SETTINGS_KEY)
    stored: dict[str, Any] = dict(current.data or {})
    clean, errors = _clean_submitted(schema, submitted)
    for name in secrets:
        if clean.get(name) in (None, "", SECRET_MASK) and stored.get(name):
            clean[name] = stored[name]
        elif clean.get(name) == SECRET_MASK:
            errors[name] = "Enter the secret."
    merged = {**stored, **clean}
    display = {k: v for k, v in merged.items() if k not in secrets or k in stored}
    if not errors:
        try:
            data = schema.load(merged)
        except ValidationError as exc:
            errors = {name: _flatten(msg) for name, msg in exc.normalized_messages().items()}
        else:
            errors = provider.validate_settings(host, data)
            if not errors and extra_checks is not None:
                errors = extra_checks(data)
            if not errors:
                if store.save(SETTINGS_KEY, data, expected_version=current.version):
                    return build_form(host, integration, provider, data, saved=True, links=links), data
                return build_form(
                    host, integration, provider, display,
                    form_errors=["The settings were changed by someone else meanwhile; nothing was saved."],
                    links=links,
                ), None
    return build_form(host, integration, provider, display, errors=errors, links=links), None
