"""What the bookings page shows, as plain values for ``templates/bookings.html``.

Public API: :class:`BookingsView`, :class:`BookingRow`, :func:`booking_rows`, :data:`CANCELLED`.

Times are shown and typed in each booking's object's time zone. Escaping is the template's
(autoescape); this module knows nothing of HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import timedelta
from zoneinfo import ZoneInfo

from hookspecs.forms import BOOKING_NOTICE_PREFIX
from hookspecs.types import BookableObject
from hookspecs.types import Booking
from ireserve_devhost.booking_forms import local_parts

__all__ = ["CANCELLED", "BookingRow", "BookingsView", "booking_rows"]

#: The cancel button's status.
CANCELLED = "cancelled"


@dataclass(frozen=True)
class BookingsView:
    """What the bookings page shows.

    ``bookings`` newest first; ``objects`` by id; ``selected`` the object filter (None: all);
    ``new_values`` the "new booking" form's values; ``move_values`` typed values of one booking's move
    form (after a refused move); ``today`` the date the form proposes; ``total`` how many bookings
    there are in all (more than ``bookings`` when the list is cut).
    """

    bookings: Sequence[Booking]
    objects: Mapping[int, BookableObject]
    today: date
    selected: int | None = None
    total: int = 0
    error: str = ""
    new_values: Mapping[str, str] = field(default_factory=dict)
    move_values: tuple[int, Mapping[str, str]] | None = None


@dataclass(frozen=True)
class BookingRow:
    """One booking as its row shows it: local times in its object's zone, the move form's values, the
    plugins' notices (free fields named ``notice:...``, shown prominently) and the other free fields."""

    booking: Booking
    object: BookableObject | None
    timezone: str
    when: str
    move_date: str
    move_time: str
    notices: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()


def booking_rows(view: BookingsView) -> list[BookingRow]:
    """The rows of the page, in the order of ``view.bookings``."""
    rows = []
    for booking in view.bookings:
        obj = view.objects.get(booking.object_id)
        timezone = obj.timezone if obj else "UTC"
        day, moment = local_parts(booking.start, timezone)
        typed: Mapping[str, str] = {}
        if view.move_values is not None and view.move_values[0] == booking.id:
            typed = view.move_values[1]
        notices = tuple(
            value for name, value in sorted(booking.fields.items()) if name.startswith(BOOKING_NOTICE_PREFIX) and value
        )
        fields = tuple(
            (name, value)
            for name, value in sorted(booking.fields.items())
            if not name.startswith(BOOKING_NOTICE_PREFIX)
        )
        rows.append(
            BookingRow(
                booking,
                obj,
                timezone,
                _when(booking, timezone),
                typed.get("date", day),
                typed.get("time", moment),
                notices,
                fields,
            )
        )
    return rows


def _when(booking: Booking, timezone: str) -> str:
    zone = ZoneInfo(timezone)
    start, end = booking.start.astimezone(zone), booking.end.astimezone(zone)
    if booking.all_day:
        last = (end - timedelta(days=1)).date()
        return start.date().isoformat() if last <= start.date() else f"{start.date()} \u2013 {last}"
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}\u2013{end:%H:%M}"
    return f"{start:%Y-%m-%d %H:%M} \u2013 {end:%Y-%m-%d %H:%M}"
