"""What the templates need to render any plugin's :class:`hookspecs.forms.ConfigForm`, as plain values.

Public API: :func:`sections`, :func:`field_text`, :func:`truthy`, :func:`chosen`, :func:`select_options`,
:func:`multiselect_options`, :func:`table_rows`, :func:`described_by`, :func:`health_columns`,
:data:`INPUT_TYPES`.

``templates/_form.html`` draws one input per :class:`~hookspecs.forms.FormField`, grouped into a
``<fieldset>`` per ``section`` (in order of first appearance), each with its label, a ``*`` when
required, its error right after the input and its help under it. By ``kind``: ``text``, ``url`` and
``integer`` are inputs of that type; ``secret`` is a password input that never carries a value (a
placeholder says whether one is stored); ``boolean`` a checkbox preceded by a hidden ``false``;
``select`` and ``multiselect`` selects with the field's choices; ``table`` a grid of inputs named
``<field>.<row>.<column>`` with a "remove" box per row and one empty row to add a new one. Unknown
kinds fall back to a text input. :mod:`.form_data` reads the posted result back. This module knows
nothing of HTML; escaping is the templates' (autoescape).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence

from hookspecs.forms import SECTIONS
from hookspecs.forms import ConfigForm
from hookspecs.forms import FormField
from ireserve_devhost.form_data import FALSE
from ireserve_devhost.form_data import TRUE

__all__ = [
    "INPUT_TYPES",
    "chosen",
    "described_by",
    "field_lines",
    "field_text",
    "health_columns",
    "multiselect_options",
    "sections",
    "select_options",
    "table_rows",
    "truthy",
]

_TRUTHY = frozenset({"true", "on", "1", "yes"})

#: The HTML input type of each plain field kind (anything else is ``text``).
INPUT_TYPES = {"text": "text", "url": "url", "integer": "number"}

_SECTION_LABELS = {"connection": "Connection", "mapping": "Calendars and rooms", "options": "Options"}

#: What an empty choice shows.
BLANK = "\u2014"


def sections(form: ConfigForm, *, advanced: bool = False) -> list[tuple[str, list[FormField]]]:
    """The fields grouped by section: the contract's :data:`~hookspecs.forms.SECTIONS` first, in their
    order (connection, mapping, options), then other sections in order of first appearance. With
    ``advanced`` only the fields marked advanced (drawn collapsed), else only the others. The legend is
    "" when there is only the unnamed section (then no legend is drawn)."""
    grouped: dict[str, list[FormField]] = {}
    for field in form.fields:
        if field.advanced == advanced:
            grouped.setdefault(field.section, []).append(field)
    everything = {f.section for f in form.fields}
    named = len(everything) > 1 or "" not in everything
    order = [name for name in SECTIONS if name in grouped] + [name for name in grouped if name not in SECTIONS]
    return [(_legend(name) if named else "", grouped[name]) for name in order]


def _legend(section: str) -> str:
    return _SECTION_LABELS.get(section, section or "Settings")


def field_text(value: object) -> str:
    """A value as an input's text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return TRUE if value else FALSE
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def field_lines(value: object) -> list[str]:
    """A textarea's value as lines (a list is one item per line)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value).splitlines()


def truthy(value: object) -> bool:
    """Whether a checkbox with this value is ticked."""
    if isinstance(value, str):
        return value.strip().lower() in _TRUTHY
    return bool(value)


def chosen(value: object) -> list[str]:
    """The chosen values of a multiselect."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v) for v in value]
    return []


def select_options(choices: Sequence[tuple[str, str]], value: object, *, blank: bool) -> list[tuple[str, str, bool]]:
    """``(value, label, selected)`` per option: a blank first when asked for (or when the value is not a
    choice), then a value the plugin echoes back even though it is not a choice, then the choices."""
    current = field_text(value)
    known = {v for v, _ in choices}
    options: list[tuple[str, str, bool]] = []
    if blank or current not in known:
        options.append(("", BLANK, current == ""))
    if current and current not in known:
        options.append((current, current, True))
    options += [(v, label, v == current) for v, label in choices]
    return options


def multiselect_options(field: FormField) -> list[tuple[str, str, bool]]:
    """``(value, label, selected)`` per option of a multiselect, chosen values outside the choices last."""
    picked = chosen(field.value)
    labels = dict(field.choices)
    return [(v, label, v in picked) for v, label in field.choices] + [(v, v, True) for v in picked if v not in labels]


def table_rows(value: object) -> list[Mapping[str, object]]:
    """The rows of a table field's value (anything that is not a mapping is dropped)."""
    if isinstance(value, list | tuple):
        return [row for row in value if isinstance(row, Mapping)]
    return []


def described_by(field: FormField, fid: str) -> str | None:
    """The ``aria-describedby`` of a field's control: its error and help, when present."""
    ids = [i for i, text in ((f"{fid}-error", field.error), (f"{fid}-help", field.help)) if text]
    return " ".join(ids) or None


def health_columns(rows: Sequence[Mapping[str, object]]) -> list[str]:
    """The keys of the health rows, in order of first appearance."""
    columns: list[str] = []
    for row in rows:
        columns += [str(key) for key in row if key not in columns]
    return columns
