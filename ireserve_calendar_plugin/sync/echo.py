"""Echo prevention: our own writes must never come back as work.

Public API: :func:`applying_inbound`, :func:`outbound_suppressed`, :func:`is_own_origin`, :func:`origin_of`,
:data:`ORIGIN_PREFIX` (the one definition of the origin format).

Three layers, each enough on its own for its path:

- in-process: while an inbound change is applied, :func:`outbound_suppressed` is True, so a host
  that calls ``on_booking_status_changed`` synchronously from its write does not queue an outbound job;
- across processes: every write carries the origin ``calendar:<integration id>``; the hook ignores
  changes whose origin is the integration itself (:func:`is_own_origin`);
- remote echo: an event whose etag is the one our last write produced is skipped by the inbound
  plan (``sync.plan``), so our own PATCH coming back through sync touches no booking.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

__all__ = ["ORIGIN_PREFIX", "applying_inbound", "is_own_origin", "origin_of", "outbound_suppressed"]

#: Origins of this plugin's own writes are ``calendar:<integration id>`` (the host contract's format).
ORIGIN_PREFIX = "calendar:"

_inbound_of: contextvars.ContextVar[str | None] = contextvars.ContextVar("ireserve_calendar_inbound", default=None)


@contextlib.contextmanager
def applying_inbound(integration_id: str) -> Iterator[None]:
    """Mark the current context as applying inbound changes of ``integration_id``."""
    token = _inbound_of.set(integration_id)
    try:
        yield
    finally:
        _inbound_of.reset(token)


def outbound_suppressed(integration_id: str) -> bool:
    """True while this context applies inbound changes of that integration."""
    return _inbound_of.get() == integration_id


def origin_of(integration_id: str) -> str:
    """The origin every write of this integration carries."""
    return f"{ORIGIN_PREFIX}{integration_id}"


def is_own_origin(origin: str, integration_id: str) -> bool:
    """True when a change was made by this integration itself."""
    return origin == origin_of(integration_id)
