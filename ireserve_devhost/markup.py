"""A few lines of HTML building where escaping is the default, for the reference host's pages.

Public API: :class:`Html`, :func:`esc`, :func:`tag`, :func:`join`, :func:`safe_href`, :func:`dom_id`.

Every string that is not already :class:`Html` is escaped on its way into markup: ``tag("td", {},
title)`` is safe for any ``title``, attribute values included. Only this module (and literal markup
written in code) creates :class:`Html`; untrusted text (titles, log lines, plugin labels) never does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from html import escape
from urllib.parse import urlsplit

__all__ = ["Html", "dom_id", "esc", "join", "safe_href", "tag"]

_VOID = frozenset({"br", "hr", "input", "meta", "link", "img"})
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


class Html(str):
    """A string of markup that is safe to emit as is."""

    __slots__ = ()


def esc(value: object) -> Html:
    """Return ``value`` as safe markup: :class:`Html` unchanged, anything else as escaped text."""
    if isinstance(value, Html):
        return value
    return Html(escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[object], separator: str = "\n") -> Html:
    """Concatenate parts, escaping those that are not :class:`Html`."""
    return Html(separator.join(esc(part) for part in parts))


def tag(name: str, attrs: Mapping[str, object] | None = None, *children: object) -> Html:
    """Build one element. Attribute values are escaped; ``True`` gives a bare attribute, ``None`` and
    ``False`` leave it out. Children are escaped unless they are :class:`Html`."""
    if not _NAME.match(name):
        raise ValueError(f"not a tag name: {name!r}")
    rendered = []
    for key, value in (attrs or {}).items():
        if not _NAME.match(key):
            raise ValueError(f"not an attribute name: {key!r}")
        if value is None or value is False:
            continue
        rendered.append(f" {key}" if value is True else f' {key}="{esc(value)}"')
    opening = f"<{name}{''.join(rendered)}>"
    if name in _VOID:
        if children:
            raise ValueError(f"<{name}> cannot have children")
        return Html(opening)
    return Html(opening + "".join(esc(child) for child in children) + f"</{name}>")


def safe_href(url: str) -> str | None:
    """Return ``url`` when it is fit for an ``href`` (http, https, or a same-site path), else None."""
    url = url.strip()
    if url.startswith("/") and not url.startswith("//"):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def dom_id(*parts: str) -> str:
    """Build an element id from parts (anything outside ``[A-Za-z0-9_-]`` becomes ``_``)."""
    return "-".join(_NOT_ID.sub("_", part) for part in parts)
