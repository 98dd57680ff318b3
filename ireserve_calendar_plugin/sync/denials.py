"""Calendars the provider lets this integration read but not write, remembered per calendar.

Public API: :class:`WriteDenials`, :data:`DENIED_PREFIX`.

A write refused with :class:`~ireserve_calendar_plugin.errors.WriteDeniedError` (Graph's 403
``ErrorAccessDenied`` on a room mailbox the app may only read) is a configuration problem for a person,
not a failure to retry: the outbound worker records it here once per calendar (one admin log line per
calendar, however many bookings run into it), the admin form's health table shows the message next
to that calendar, and the next successful write to the calendar clears it. Inbound sync of the
calendar is not touched: reads go on.

Keys in the integration's encrypted config: ``denied/<calendar key>`` -> ``{"message", "since"}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ireserve_calendar_plugin.config.store import SecureConfig

__all__ = ["DENIED_PREFIX", "WriteDenials"]

DENIED_PREFIX = "denied/"


class WriteDenials:
    """Per-calendar memory of refused writes (see the module docstring)."""

    def __init__(self, store: SecureConfig) -> None:
        self.store = store

    def record(self, calendar_key: str, message: str, now: datetime) -> bool:
        """Remember the refusal; True when it is new for this calendar (the caller then tells the admin)."""
        fresh: list[bool] = []

        def change(current: dict[str, Any] | None) -> dict[str, Any]:
            fresh[:] = [not current or current.get("message") != message]
            return {"message": message, "since": (current or {}).get("since") or now.isoformat()}

        self.store.update(DENIED_PREFIX + calendar_key, change, default=None)
        return bool(fresh and fresh[0])

    def clear(self, calendar_key: str) -> None:
        """Forget a refusal after a write to the calendar went through (no storage write when none)."""
        if self.store.load(DENIED_PREFIX + calendar_key).exists:
            self.store.delete(DENIED_PREFIX + calendar_key)

    def message(self, calendar_key: str) -> str:
        """The recorded refusal of one calendar, or ``""``."""
        data = self.store.load(DENIED_PREFIX + calendar_key).data
        return str(data.get("message", "")) if isinstance(data, dict) else ""
