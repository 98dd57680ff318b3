"""The admin form a plugin returns from ``on_config_form``: a host-renderable description.

Public API: :class:`FormField`, :class:`FormColumn`, :class:`FormLink`, :class:`ConfigForm`.

A host renders a :class:`ConfigForm` without knowing the plugin: one input per :class:`FormField` by its
``kind``, the current ``value`` (secrets arrive masked and are never sent back in clear), ``choices``
for selects, ``help`` under the field and ``error`` next to it. Submitted data goes back to the same
hook as a mapping of field name to string (or list of strings for ``multiselect``, list of row
mappings for ``table``).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

__all__ = ["ConfigForm", "FormColumn", "FormField", "FormLink", "FIELD_KINDS"]

#: The input kinds a host must be able to render.
FIELD_KINDS = ("text", "secret", "integer", "boolean", "select", "multiselect", "table", "url")


@dataclass(frozen=True)
class FormColumn:
    """One column of a ``table`` field (for example object -> calendar rows)."""

    name: str
    label: str
    kind: str = "text"
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FormField:
    """One input. ``choices`` are ``(value, label)`` pairs; ``value`` is the current value as the
    host should show it (a masked placeholder for secrets that are set)."""

    name: str
    label: str
    kind: str
    value: object = None
    required: bool = False
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    columns: tuple[FormColumn, ...] = ()
    error: str = ""
    section: str = ""


@dataclass(frozen=True)
class FormLink:
    """An action the host shows as a button or link (for example "Connect Google account")."""

    label: str
    url: str
    kind: str = "primary"


@dataclass(frozen=True)
class ConfigForm:
    """The whole form of one integration, as the plugin wants it shown.

    ``saved`` is True when submitted data was validated and stored; ``errors`` holds form-wide errors
    (field errors sit on the fields); ``status`` is a short health line for the admin.
    """

    integration_id: str
    title: str
    fields: tuple[FormField, ...] = ()
    links: tuple[FormLink, ...] = ()
    errors: tuple[str, ...] = ()
    saved: bool = False
    status: str = ""
    health: tuple[dict[str, str], ...] = field(default_factory=tuple)

    @property
    def field_errors(self) -> dict[str, str]:
        """Return ``{field name: error}`` for the fields that have one."""
        return {f.name: f.error for f in self.fields if f.error}
