"""The reference host's page templates: one Jinja2 environment with autoescaping on.

Public API: :func:`render`, :data:`CONTENT_SECURITY_POLICY`, :func:`dom_id`, :func:`safe_href`.

The templates live in ``templates/`` beside this module (package data of the ireserve-devhost
distribution). Autoescaping is on for every template, so every value a template prints (titles, names,
status lines, log messages and remarks that may come from calendars) is HTML-escaped unless the code
marks it safe, which only the style sheet is. Undefined names fail loudly (``StrictUndefined``).

The pages need no script at all; the only inline style sheet (``templates/admin.css``) is allowed by its
hash in :data:`CONTENT_SECURITY_POLICY`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment
from jinja2 import FileSystemLoader
from jinja2 import StrictUndefined
from markupsafe import Markup

from hookspecs.forms import ACTION_FIELD
from hookspecs.forms import TARGET_FIELD
from ireserve_devhost import form_view
from ireserve_devhost import health_view
from ireserve_devhost.booking_forms import DEFAULT_DURATION
from ireserve_devhost.booking_forms import DEFAULT_STATUS
from ireserve_devhost.booking_forms import DEFAULT_TIMEZONE
from ireserve_devhost.booking_forms import MAX_DURATION
from ireserve_devhost.bookings_view import CANCELLED
from ireserve_devhost.form_data import CSRF_FIELD
from ireserve_devhost.form_data import REMOVE_FIELD
from ireserve_devhost.form_data import cell_name
from ireserve_devhost.urls import ADMIN_ROOT
from ireserve_devhost.urls import BOOKINGS_PATH
from ireserve_devhost.urls import bookings_url
from ireserve_devhost.urls import integration_url

__all__ = ["CONTENT_SECURITY_POLICY", "dom_id", "render", "safe_href"]

_TEMPLATES = Path(__file__).with_name("templates")
_CSS = (_TEMPLATES / "admin.css").read_text("utf-8")
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")

#: No scripts, no foreign resources, forms only to this host, never framed.
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def dom_id(*parts: object) -> str:
    """Build an element id from parts (anything outside ``[A-Za-z0-9_-]`` becomes ``_``)."""
    return "-".join(_NOT_ID.sub("_", str(part)) for part in parts)


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


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["dom_id"] = dom_id
    env.filters["safe_href"] = safe_href
    env.globals.update(
        ADMIN_ROOT=ADMIN_ROOT,
        BOOKINGS_PATH=BOOKINGS_PATH,
        bookings_url=bookings_url,
        integration_url=integration_url,
        dom_id=dom_id,
        css=Markup(_CSS),  # our own style sheet, allowed by its hash
        CSRF_FIELD=CSRF_FIELD,
        ACTION_FIELD=ACTION_FIELD,
        TARGET_FIELD=TARGET_FIELD,
        state_words=health_view.state_words,
        local_time=health_view.local_time,
        activity_bars=health_view.activity_bars,
        REMOVE_FIELD=REMOVE_FIELD,
        CANCELLED=CANCELLED,
        INPUT_TYPES=form_view.INPUT_TYPES,
        cell_name=cell_name,
        default_duration=DEFAULT_DURATION,
        default_status=DEFAULT_STATUS,
        default_timezone=DEFAULT_TIMEZONE,
        max_duration=MAX_DURATION,
    )
    for name in (
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
    ):
        env.globals[name] = getattr(form_view, name)
    return env


_ENV = _environment()


def render(template: str, **context: Any) -> str:
    """Render one page template with ``context``."""
    return _ENV.get_template(template).render(**context)
