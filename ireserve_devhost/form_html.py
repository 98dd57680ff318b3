"""Render any plugin's :class:`hookspecs.forms.ConfigForm` as HTML, knowing nothing of the plugin.

Public API: :func:`render_form`, :func:`render_links`, :func:`render_health`, :func:`render_banner`.

One input per :class:`~hookspecs.forms.FormField`, grouped into a ``<fieldset>`` per ``section`` (in
order of first appearance), each with its label, a ``*`` when required, its error right after the
input and its help under it. By ``kind``: ``text``, ``url`` and ``integer`` are inputs of that type;
``secret`` is a password input that never carries a value (a placeholder says whether one is stored);
``boolean`` a checkbox preceded by a hidden ``false``; ``select`` and ``multiselect`` selects with the
field's choices; ``table`` a grid of inputs named ``<field>.<row>.<column>`` with a "remove" box per
row and one empty row to add a new one. Unknown kinds fall back to a text input. :mod:`.form_data`
reads the posted result back. Every value passes through :func:`.markup.esc`.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence

from hookspecs.forms import ConfigForm
from hookspecs.forms import FormColumn
from hookspecs.forms import FormField
from hookspecs.forms import FormLink
from ireserve_devhost.form_data import CSRF_FIELD
from ireserve_devhost.form_data import FALSE
from ireserve_devhost.form_data import REMOVE_FIELD
from ireserve_devhost.form_data import TRUE
from ireserve_devhost.form_data import cell_name
from ireserve_devhost.markup import Html
from ireserve_devhost.markup import dom_id
from ireserve_devhost.markup import join
from ireserve_devhost.markup import safe_href
from ireserve_devhost.markup import tag

__all__ = ["render_banner", "render_form", "render_health", "render_links"]

_TRUTHY = frozenset({"true", "on", "1", "yes"})
_INPUT_TYPES = {"text": "text", "url": "url", "integer": "number"}


# --------------------------------------------------------------------------- the form


def render_form(form: ConfigForm, *, action: str, csrf_token: str) -> Html:
    """The ``<form>`` with every field, the CSRF token and a save button (validation is the plugin's)."""
    sections: dict[str, list[FormField]] = {}
    for field in form.fields:
        sections.setdefault(field.section, []).append(field)
    named = len(sections) > 1 or "" not in sections
    blocks = []
    for section, fields in sections.items():
        legend = tag("legend", {}, section or "Settings") if named else Html("")
        blocks.append(tag("fieldset", {"class": "section"}, legend, join(_field(f) for f in fields)))
    return tag(
        "form",
        {"method": "post", "action": action, "class": "config", "novalidate": True, "autocomplete": "off"},
        tag("input", {"type": "hidden", "name": CSRF_FIELD, "value": csrf_token}),
        join(blocks),
        tag("div", {"class": "actions"}, tag("button", {"type": "submit", "class": "button primary"}, "Save")),
    )


def _field(field: FormField) -> Html:
    fid = dom_id("f", field.name)
    error_id, help_id = f"{fid}-error", f"{fid}-help"
    described = " ".join(i for i, text in ((error_id, field.error), (help_id, field.help)) if text) or None
    common = {"aria-describedby": described, "aria-invalid": "true" if field.error else None}
    required = tag("span", {"class": "required", "title": "required"}, "*") if field.required else Html("")
    label_text = join((field.label, required), " ") if field.required else join((field.label,))
    if field.kind == "boolean":
        head = tag(
            "div",
            {"class": "check"},
            tag("input", {"type": "hidden", "name": field.name, "value": FALSE}),
            tag("input", {"type": "checkbox", "name": field.name, "value": TRUE, "id": fid,
                          "checked": _truthy(field.value), **common}),
            tag("label", {"for": fid}, label_text),
        )
    elif field.kind == "table":
        head = join((tag("span", {"class": "label", "id": f"{fid}-label"}, label_text), _table(field, fid, common)))
    else:
        head = join((tag("label", {"for": fid}, label_text), _control(field, fid, common)))
    error = tag("p", {"class": "error", "id": error_id}, field.error) if field.error else Html("")
    help_text = tag("p", {"class": "help", "id": help_id}, field.help) if field.help else Html("")
    classes = " ".join(c for c in ("field", f"kind-{dom_id(field.kind)}", "has-error" if field.error else "") if c)
    return tag("div", {"class": classes, "id": dom_id("field", field.name)}, head, error, help_text)


def _control(field: FormField, fid: str, common: Mapping[str, object]) -> Html:
    attrs = {"name": field.name, "id": fid, "aria-required": "true" if field.required else None, **common}
    if field.kind == "secret":
        stored = bool(field.value)
        placeholder = "stored; leave empty to keep it" if stored else "not set"
        return tag("input", {"type": "password", "autocomplete": "new-password", "placeholder": placeholder, **attrs})
    if field.kind == "select":
        return _select(attrs, field.choices, _text(field.value), blank=not field.required)
    if field.kind == "multiselect":
        chosen = _many(field.value)
        options = [tag("option", {"value": v, "selected": v in chosen}, label) for v, label in field.choices]
        options += [tag("option", {"value": v, "selected": True}, v) for v in chosen if v not in dict(field.choices)]
        size = max(2, min(len(options), 8))
        return tag("select", {**attrs, "multiple": True, "size": size}, join(options))
    input_type = _INPUT_TYPES.get(field.kind, "text")
    extra = {"step": "1", "inputmode": "numeric"} if field.kind == "integer" else {}
    return tag("input", {"type": input_type, "value": _text(field.value), **extra, **attrs})


def _select(attrs: Mapping[str, object], choices: Sequence[tuple[str, str]], value: str, *, blank: bool) -> Html:
    known = {v for v, _ in choices}
    options = []
    if blank or value not in known:
        options.append(tag("option", {"value": "", "selected": value == ""}, "\u2014"))
    if value and value not in known:  # keep a value the plugin echoes back even if it is not a choice
        options.append(tag("option", {"value": value, "selected": True}, value))
    options += [tag("option", {"value": v, "selected": v == value}, label) for v, label in choices]
    return tag("select", dict(attrs), join(options))


def _table(field: FormField, fid: str, common: Mapping[str, object]) -> Html:
    rows = _rows(field.value)
    head = tag("tr", {}, join(tag("th", {"scope": "col"}, c.label) for c in field.columns),
               tag("th", {"scope": "col", "class": "remove"}, "Remove"))
    body = []
    for index, row in enumerate([*rows, {}]):
        new = index == len(rows)
        cells = [tag("td", {}, _cell(field, column, index, row.get(column.name), new)) for column in field.columns]
        remove = tag("span", {"class": "new-row-hint"}, "new") if new else tag(
            "input",
            {"type": "checkbox", "name": REMOVE_FIELD, "value": f"{field.name}.{index}",
             "aria-label": f"Remove row {index + 1}"},
        )
        cells.append(tag("td", {"class": "remove"}, remove))
        body.append(tag("tr", {"class": "new-row" if new else "row"}, join(cells)))
    return tag(
        "div",
        {"class": "table-wrap", "role": "group", "aria-labelledby": f"{fid}-label", **common},
        tag(
            "table",
            {"class": "rows", "id": fid},
            tag("thead", {}, head),
            tag("tbody", {}, join(body)),
        ),
        tag("p", {"class": "hint"}, "Fill the empty last row to add one; tick Remove (or clear a row) to delete it."),
    )


def _cell(field: FormField, column: FormColumn, index: int, value: object, new: bool) -> Html:
    name = cell_name(field.name, index, column.name)
    label = f"{column.label}, {'new row' if new else f'row {index + 1}'}"
    if column.kind == "boolean":
        return join((
            tag("input", {"type": "hidden", "name": name, "value": FALSE}),
            tag("input", {"type": "checkbox", "name": name, "value": TRUE, "checked": _truthy(value),
                          "aria-label": label}),
        ))
    if column.choices or column.kind == "select":
        return _select({"name": name, "aria-label": label}, column.choices, _text(value), blank=True)
    if column.kind == "secret":
        return tag("input", {"type": "password", "name": name, "aria-label": label, "autocomplete": "new-password"})
    return tag("input", {"type": _INPUT_TYPES.get(column.kind, "text"), "name": name, "value": _text(value),
                         "aria-label": label})


# --------------------------------------------------------------------------- around the form


def render_links(links: Sequence[FormLink]) -> Html:
    """The form's actions as buttons; a link that is not http(s) or a local path is shown disabled."""
    if not links:
        return Html("")
    items = []
    for link in links:
        href = safe_href(link.url)
        css = f"button {dom_id(link.kind)}"
        items.append(
            tag("a", {"class": css, "href": href}, link.label)
            if href
            else tag("span", {"class": css + " disabled", "title": "unsafe link not shown"}, link.label)
        )
    return tag("div", {"class": "links"}, join(items, " "))


def render_health(status: str, rows: Sequence[Mapping[str, str]]) -> Html:
    """The status line and the health table (columns in order of first appearance)."""
    line = tag("p", {"class": "status-line", "id": "status"}, status or "No status reported.")
    if not rows:
        return line
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    head = tag("tr", {}, join(tag("th", {"scope": "col"}, key.replace("_", " ").capitalize()) for key in columns))
    body = join(
        tag("tr", {}, join(tag("td", {"class": dom_id("col", key)}, _text(row.get(key, ""))) for key in columns))
        for row in rows
    )
    table = tag("table", {"class": "health", "id": "health"}, tag("thead", {}, head), tag("tbody", {}, body))
    return join((line, table))


def render_banner(form: ConfigForm, *, submitted: bool) -> Html:
    """After a submission: the saved banner, or the form-wide errors (field errors sit on the fields)."""
    if form.saved:
        return tag("div", {"class": "banner ok", "role": "status", "id": "banner"}, "Settings saved.")
    if not submitted and not form.errors:
        return Html("")
    field_errors = form.field_errors
    parts = [tag("li", {}, error) for error in form.errors]
    if field_errors:
        count = len(field_errors)
        parts.append(tag("li", {}, f"{count} field{'s' if count != 1 else ''} need{'s' if count == 1 else ''} "
                                   "attention (see below)."))
    heading = "Nothing was saved." if submitted else "This form reports a problem."
    return tag("div", {"class": "banner error", "role": "alert", "id": "banner"},
               tag("p", {}, tag("strong", {}, heading)), tag("ul", {}, join(parts)) if parts else Html(""))


# --------------------------------------------------------------------------- value shapes


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return TRUE if value else FALSE
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUTHY
    return bool(value)


def _many(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v) for v in value]
    return []


def _rows(value: object) -> list[Mapping[str, object]]:
    if isinstance(value, list | tuple):
        return [row for row in value if isinstance(row, Mapping)]
    return []
