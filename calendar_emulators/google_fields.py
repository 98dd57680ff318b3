"""The ``fields=`` partial-response selector of Google APIs, for the Calendar emulator.

Public API: :func:`parse_fields`, :func:`apply_fields`.

Grammar (as in Google's "performance tips" guide): a comma-separated list of selections; ``a/b``
selects ``b`` inside ``a``; ``a(b,c)`` selects ``b`` and ``c`` inside ``a`` (and nests); ``*`` selects
everything at its level. Selecting inside an array applies to each element. For example
``items(id,status,start(dateTime)),nextPageToken,nextSyncToken``.
"""

from __future__ import annotations

from typing import Any

from calendar_emulators.google_errors import ApiError

__all__ = ["apply_fields", "parse_fields"]

#: a selection tree: name -> sub-selection (None = the whole value)
Selection = dict[str, "Selection | None"]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self) -> ApiError:
        return ApiError(400, "invalidParameter", f"Invalid field selection {self.text}", location="fields")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] in "_*.-@"):
            self.pos += 1
        if start == self.pos:
            raise self.fail()
        return self.text[start : self.pos]

    def selection_list(self, closing: str) -> Selection:
        tree: Selection = {}
        while True:
            self.path(tree)
            char = self.peek()
            if char == ",":
                self.pos += 1
                continue
            if char == closing:
                return tree
            raise self.fail()

    def path(self, tree: Selection) -> None:
        key = self.name()
        char = self.peek()
        if char == "/":
            self.pos += 1
            sub: Selection = {}
            self.path(sub)
            _merge(tree, key, sub)
        elif char == "(":
            self.pos += 1
            sub = self.selection_list(")")
            self.pos += 1
            _merge(tree, key, sub)
        else:
            tree[key] = None


def _merge(tree: Selection, key: str, sub: Selection) -> None:
    if key in tree and tree[key] is None:
        return  # the whole value is already selected
    tree[key] = {**(tree.get(key) or {}), **sub}


def parse_fields(text: str) -> Selection:
    """Parse a ``fields`` value into a selection tree; 400 ``invalidParameter`` when malformed."""
    parser = _Parser(text.replace(" ", ""))
    if not parser.text:
        raise parser.fail()
    return parser.selection_list("")


def apply_fields(value: Any, selection: Selection | None) -> Any:
    """Keep only the selected parts of ``value`` (dicts are filtered, lists element-wise)."""
    if selection is None:
        return value
    if isinstance(value, list):
        return [apply_fields(item, selection) for item in value]
    if not isinstance(value, dict):
        return value
    if "*" in selection:
        rest = selection["*"]
        out = {k: apply_fields(v, rest) for k, v in value.items()}
        for key, sub in selection.items():
            if key != "*" and key in value:
                out[key] = apply_fields(value[key], sub)
        return out
    return {key: apply_fields(value[key], sub) for key, sub in selection.items() if key in value}
