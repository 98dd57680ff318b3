"""Echo prevention: our own writes must never come back as work.

Public API: :func:`applying_inbound`, :func:`outbound_suppressed`, :func:`own_round_write`,
:func:`is_own_origin`, :func:`origin_of`, :data:`ORIGIN_PREFIX` (the one definition of the origin format).

Three layers, each enough on its own for its path:

- in-process: while an inbound change is applied, :func:`outbound_suppressed` is True, so a host
  that calls ``on_booking_status_changed`` synchronously from its write does not queue an outbound job;
- across processes: every write carries the origin ``calendar:<integration id>``; the hook ignores
  changes whose origin is the integration itself (:func:`is_own_origin`);
- remote echo: an event whose etag is the one our last write produced is skipped by the inbound
  plan (``sync.plan``), so our own PATCH coming back through sync touches no booking.

A round that found no other enabled integration on the host when it started says so
(``applying_inbound(..., alone=True)``): then the hook has no work at all for the round's own writes and
returns at once, reading nothing (:func:`own_round_write`), which matters when a unit of work fires the
hooks of a whole page's bookings at its commit.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ORIGIN_PREFIX", "applying_inbound", "is_own_origin", "origin_of", "outbound_suppressed", "own_round_write"]

#: Origins of this plugin's own writes are ``calendar:<integration id>`` (the host contract's format).
ORIGIN_PREFIX = "calendar:"


@dataclass(frozen=True)
class _Applying:
    integration_id: str
    #: no other enabled integration was configured when the round started
    alone: bool


_inbound_of: contextvars.ContextVar[_Applying | None] = contextvars.ContextVar(
    "ireserve_calendar_inbound", default=None
)


@contextlib.contextmanager
def applying_inbound(integration_id: str, *, alone: bool = False) -> Iterator[None]:
    """Mark the current context as applying inbound changes of ``integration_id``; ``alone``: the host had no
    other enabled integration when the round started (so its own writes concern nobody else)."""
    token = _inbound_of.set(_Applying(integration_id, alone))
    try:
        yield
    finally:
        _inbound_of.reset(token)


def outbound_suppressed(integration_id: str) -> bool:
    """True while this context applies inbound changes of that integration."""
    applying = _inbound_of.get()
    return applying is not None and applying.integration_id == integration_id


def own_round_write(origin: str) -> bool:
    """True for a write of the round this context applies when that round is alone on the host: no
    integration needs to hear about it, and the hook returns without reading anything."""
    applying = _inbound_of.get()
    return applying is not None and applying.alone and origin == origin_of(applying.integration_id)


def origin_of(integration_id: str) -> str:
    """The origin every write of this integration carries."""
    return f"{ORIGIN_PREFIX}{integration_id}"


def is_own_origin(origin: str, integration_id: str) -> bool:
    """True when a change was made by this integration itself."""
    return origin == origin_of(integration_id)
