"""Where the reference host's own pages live.

Public API: :data:`ADMIN_ROOT`, :data:`BOOKINGS_PATH`, :func:`integration_url`, :func:`bookings_url`.
"""

from __future__ import annotations

from urllib.parse import quote
from urllib.parse import urlencode

__all__ = ["ADMIN_ROOT", "BOOKINGS_PATH", "bookings_url", "integration_url"]

#: Where the admin pages live.
ADMIN_ROOT = "/admin/"

#: Where the bookings page lives.
BOOKINGS_PATH = "/admin/bookings"


def integration_url(integration_id: str, suffix: str = "") -> str:
    """The admin URL of one integration (``suffix`` like ``/enabled``)."""
    return f"{ADMIN_ROOT}integrations/{quote(integration_id, safe='')}{suffix}"


def bookings_url(object_id: int | None = None, *, suffix: str = "", anchor: str = "") -> str:
    """The bookings page (of one object), or one booking's action with ``suffix`` like ``/5/cancel``."""
    query = f"?{urlencode({'object': object_id})}" if object_id is not None and not suffix else ""
    return f"{BOOKINGS_PATH}{suffix}{query}{'#' + anchor if anchor else ''}"
