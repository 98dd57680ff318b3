"""The admin form of an integration, built from its provider's settings schema.

Public API: :func:`build_form`, :func:`submit_form`, :data:`SETTINGS_KEY`, :func:`load_settings`.

Showing: every schema field becomes a :class:`~hookspecs.forms.FormField`; stored secrets are shown as
:data:`~.schemas.SECRET_MASK`. Submitting: the submitted values are laid over the stored ones (so a
host may send only what changed, and a secret left as the mask or empty keeps its stored value), the
result is validated by the schema and by the provider's host-aware checks, and either stored whole,
encrypted, by compare-and-set, or not at all with per-field errors.

Endpoint changes are a re-approval (issue 12): when a submit changes any of the provider's
:meth:`~ireserve_calendar_plugin.providers.base.CalendarProvider.endpoint_fields` (API base, auth, token,
revoke, Graph or login URL), it is refused with an error on the secret field unless the client secret
is entered again in the same submit; when accepted, everything a grant obtained under the old endpoints
(the provider's ``grant_keys``: tokens, app tokens; pending sign-ins too) is dropped *before* the new
settings are written, the status becomes "not connected" and one log line tells the admin to connect
again. So nothing stored under the old endpoints is ever sent to the new ones: a worker that reads the
new settings finds no token to send.
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
from ireserve_calendar_plugin.auth.tokens import AuthStatus
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
    host: HostApi,
    name: str,
    field: fields.Field[Any],
    value: Any,
    secret: bool,
    error: str,
    remote: Mapping[str, Choices],
) -> FormField:
    meta = field.metadata
    kind = meta.get("kind", "text")
    choices = tuple(meta.get("choices", ()))
    columns: tuple[FormColumn, ...] = ()
    if kind == "table":
        columns = tuple(_column(host, name, spec, remote) for spec in meta.get("columns", ()))
    elif meta.get("remote"):  # a select filled from what a job fetched from the provider
        choices = tuple(remote.get(name, ())) or (("", "(nothing discovered yet)"),)
    elif meta.get("objects"):
        choices = (
            (("", "(none)"),) + _object_choices(host, wildcard=False)
            if not field.required
            else _object_choices(host, wildcard=False)
        )
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

    ``remote_choices`` offers choices the provider fetched for table columns, keyed ``table.column``,
    and for ``select`` fields marked ``remote`` in their metadata, keyed by the field name
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
            parts.append(
                f"row {int(key) + 1}: {text}"
                if isinstance(key, int)
                else text
                if key == "_schema"
                else f"{key}: {text}"
            )
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


def _moved_endpoints(provider: CalendarProvider, stored: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
    """The endpoint settings this submit changes (compared as loaded: defaults filled, slash dropped)."""
    before, after = provider.endpoint_settings(stored), provider.endpoint_settings(data)
    return [name for name in provider.endpoint_fields() if before[name] != after[name]]


def _label(schema: Schema, name: str) -> str:
    field = schema.fields.get(name)
    return str(field.metadata.get("label", name)) if field is not None else name


def _reapproval_errors(
    schema: Schema, moved: Sequence[str], not_entered: set[str], *, reconnect: bool = True
) -> dict[str, str]:
    """Refuse an endpoint change unless every secret was typed again in the same submit. The message names
    the provider's own secret fields (client secret, app password, ...); ``reconnect``: the provider
    signs in with an authorization code, so the account must then be connected again."""
    if not moved or not not_entered:
        return {}
    what = ", ".join(_label(schema, name) for name in moved)
    labels = [_label(schema, name) for name in sorted(not_entered)]
    secrets = " and ".join(label[:1].lower() + label[1:] for label in labels)
    then = " (the account must then be connected again)" if reconnect else ""
    message = (
        f"You changed {what}: the credentials would be sent to a new place. "
        f"Enter the {secrets} again to approve it{then}."
    )
    return dict.fromkeys(sorted(not_entered), message)


def _forget_grant(
    host: HostApi,
    integration: Integration,
    provider: CalendarProvider,
    store: SecureConfig,
    moved: Sequence[str],
    settings: Mapping[str, Any],
) -> None:
    """Drop what was obtained under the old endpoints; the status says "not connected", once in the log."""
    for key in provider.grant_keys:
        store.delete(key)
    for key in store.list_keys("oauth/"):  # a sign-in begun at the old endpoints finishes nowhere
        store.delete(key)
    reason = "endpoint settings changed (" + ", ".join(moved) + ")"
    AuthStatus(store).mark_not_connected(reason, host.now())
    then = (
        "Connect the account again."
        if provider.uses_authorization_code(settings)
        else "The next token is requested from the new endpoints with the client secret just entered."
    )
    host.integrations.log(
        integration.id,
        "warning",
        f"The {reason}: the stored authorization was dropped, so nothing obtained under the "
        f"old endpoints is sent to the new ones. {then}",
    )


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
    entered = {name for name in secrets if clean.get(name) not in (None, "", SECRET_MASK)}
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
            moved = _moved_endpoints(provider, stored, data) if current.exists else []
            in_use = {name for name in secrets if data.get(name)}  # a mode may leave another mode's secret empty
            errors = _reapproval_errors(
                schema, moved, in_use - entered, reconnect=provider.uses_authorization_code(data)
            )
            errors = errors or provider.validate_settings(host, data)
            if not errors and extra_checks is not None:
                errors = extra_checks(data)
            if not errors:
                if moved:  # before the new settings exist: no worker may pair them with an old token
                    _forget_grant(host, integration, provider, store, [_label(schema, n) for n in moved], data)
                if store.save(SETTINGS_KEY, data, expected_version=current.version):
                    return build_form(host, integration, provider, data, saved=True, links=links), data
                return build_form(
                    host,
                    integration,
                    provider,
                    display,
                    form_errors=["The settings were changed by someone else meanwhile; nothing was saved."],
                    links=links,
                ), None
    return build_form(host, integration, provider, display, errors=errors, links=links), None
