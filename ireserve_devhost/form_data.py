"""From a posted HTML admin form back to the mapping ``on_config_form(submitted=...)`` expects.

Public API: :func:`submitted_values`, :func:`cell_name`, :data:`CSRF_FIELD`, :data:`REMOVE_FIELD`,
:data:`TRUE`, :data:`FALSE`.

The conversion is driven by the form description the plugin gave (:class:`hookspecs.forms.ConfigForm`),
so only the plugin's own field names reach it, never the host's bookkeeping inputs:

* ``text``, ``url``, ``integer``, ``select``: the string as typed (left out when the input was absent);
* ``secret``: the string as typed, left out when empty (an untouched secret field keeps what is stored;
  the page never contains the stored value);
* ``boolean``: ``"true"`` or ``"false"`` (the page sends a hidden ``false`` before the checkbox, so an
  unticked box still submits ``false``);
* ``multiselect``: the list of chosen values (empty when none is chosen);
* ``table``: a list of row mappings from the inputs named ``<field>.<row>.<column>`` (see
  :func:`cell_name`), in row order, without the rows ticked for removal (:data:`REMOVE_FIELD`) and
  without fully empty rows (an unticked boolean cell counts as empty).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from werkzeug.datastructures import MultiDict

from hookspecs.forms import ConfigForm
from hookspecs.forms import FormColumn
from hookspecs.forms import FormField

__all__ = ["CSRF_FIELD", "FALSE", "REMOVE_FIELD", "TRUE", "cell_name", "submitted_values"]

#: The hidden input carrying the admin pages' anti-CSRF token.
CSRF_FIELD = "_host_csrf"
#: Checkboxes whose value ``<field>.<row>`` marks a table row for removal.
REMOVE_FIELD = "_host_remove"

TRUE = "true"
FALSE = "false"
_TRUTHY = frozenset({"true", "on", "1", "yes"})

#: More rows than this in one table field are ignored (a browser never sends that many).
MAX_ROWS = 1000


def cell_name(field_name: str, row: int, column: str) -> str:
    """The input name of one table cell."""
    return f"{field_name}.{row}.{column}"


def submitted_values(form: ConfigForm, data: MultiDict[str, str]) -> dict[str, object]:
    """Turn posted form data into the ``submitted`` mapping for ``form``'s fields (see the module doc)."""
    removed = set(data.getlist(REMOVE_FIELD))
    out: dict[str, object] = {}
    for field in form.fields:
        if field.kind == "readonly":
            continue  # shown to copy, never submitted
        if field.kind == "table":
            out[field.name] = _table_rows(field, data, removed)
        elif field.kind == "multiselect":
            out[field.name] = [value for value in data.getlist(field.name) if value != ""]
        elif field.kind == "boolean":
            values = data.getlist(field.name)
            if values:
                out[field.name] = _boolean(values)
        elif field.kind == "secret":
            secret = data.get(field.name, "")
            if secret != "":
                out[field.name] = secret
        elif field.name in data:
            out[field.name] = data.get(field.name, "")
    return out


def _boolean(values: list[str]) -> str:
    """The last value wins: the checkbox comes after its hidden ``false``."""
    return TRUE if values and values[-1].strip().lower() in _TRUTHY else FALSE


def _table_rows(field: FormField, data: MultiDict[str, str], removed: set[str]) -> list[dict[str, str]]:
    pattern = re.compile(rf"^{re.escape(field.name)}\.(\d{{1,4}})\.(.+)$")
    columns = {column.name: column for column in field.columns}
    rows: dict[int, dict[str, list[str]]] = {}
    for key in data:
        match = pattern.match(key)
        if not match or match.group(2) not in columns:
            continue
        index = int(match.group(1))
        if index >= MAX_ROWS or f"{field.name}.{index}" in removed:
            continue
        rows.setdefault(index, {})[match.group(2)] = data.getlist(key)
    out = []
    for index in sorted(rows):
        row = {name: _cell(columns[name], rows[index].get(name, [])) for name in columns}
        if not _row_is_empty(field.columns, row):
            out.append(row)
    return out


def _cell(column: FormColumn, values: list[str]) -> str:
    if column.kind == "boolean":
        return _boolean(values)
    return values[-1] if values else ""


def _row_is_empty(columns: tuple[FormColumn, ...], row: Mapping[str, str]) -> bool:
    for column in columns:
        value = row[column.name]
        if (value != FALSE) if column.kind == "boolean" else value.strip():
            return False
    return True
