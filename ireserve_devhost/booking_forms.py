"""Read and check the admin's object and booking forms, before anything is written.

Public API: :func:`object_values`, :func:`booking_values`, :func:`move_times`, :func:`local_parts`,
:func:`known_timezone`, :func:`timezone_names`, :class:`FormProblem`, :class:`NewBooking`,
:data:`DEFAULT_TIMEZONE`, :data:`DEFAULT_STATUS`, :data:`DEFAULT_DURATION`, :data:`MAX_DURATION`.

Dates and times are typed in the booked object's own time zone (``YYYY-MM-DD`` and ``HH:MM``, what
``<input type="date">`` and ``<input type="time">`` submit). A local time that does not exist there
(skipped by a daylight saving change) is refused; an ambiguous one (repeated) means its first
occurrence. Durations are whole minutes. Every check raises :class:`FormProblem` (a ValueError) with a
sentence for the page; the booking store still applies its own rules (overlaps, all-day bounds) on write.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError
from zoneinfo import available_timezones

from hookspecs.types import BookableObject
from hookspecs.types import Booking

__all__ = [
    "DEFAULT_DURATION",
    "DEFAULT_STATUS",
    "DEFAULT_TIMEZONE",
    "MAX_DURATION",
    "FormProblem",
    "NewBooking",
    "booking_values",
    "known_timezone",
    "local_parts",
    "move_times",
    "object_values",
    "timezone_names",
]

#: The time zone the "add object" form proposes.
DEFAULT_TIMEZONE = "Europe/Amsterdam"
#: The status the "new booking" form proposes.
DEFAULT_STATUS = "confirmed"
#: The duration (minutes) the "new booking" form proposes.
DEFAULT_DURATION = 60
#: The longest booking the form creates: 31 days, in minutes.
MAX_DURATION = 31 * 24 * 60

MAX_NAME = 200
MAX_TITLE = 200
MAX_STATUS = 64
_FIRST_YEAR, _LAST_YEAR = 1970, 9998


class FormProblem(ValueError):
    """A posted value is missing or malformed; the message is meant for the person who typed it."""


@dataclass(frozen=True)
class NewBooking:
    """A checked "new booking" form: aware UTC start and end."""

    object_id: int
    start: datetime
    end: datetime
    title: str
    status: str


@functools.cache
def timezone_names() -> tuple[str, ...]:
    """The IANA zone names this system knows, sorted (empty when it ships no zone list)."""
    return tuple(sorted(available_timezones()))


def known_timezone(name: str) -> bool:
    """True when ``name`` is an IANA zone name ``zoneinfo`` can load."""
    names = timezone_names()
    if names and name not in names:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def object_values(values: Mapping[str, str]) -> tuple[str, str]:
    """Return ``(name, timezone)`` from the "add object" form."""
    name, timezone = values.get("name", ""), values.get("timezone", "")
    if not name:
        raise FormProblem("An object needs a name.")
    if len(name) > MAX_NAME:
        raise FormProblem(f"The name takes at most {MAX_NAME} characters.")
    if not known_timezone(timezone):
        raise FormProblem(f"{timezone!r} is not a known IANA time zone (for example {DEFAULT_TIMEZONE}).")
    return name, timezone


def booking_values(values: Mapping[str, str], objects: Mapping[int, BookableObject]) -> NewBooking:
    """Return the checked booking from the "new booking" form (``object``, ``date``, ``time``,
    ``duration`` in minutes, ``title``, ``status``)."""
    object_id = _number(values.get("object", ""), "object")
    if object_id not in objects:
        raise FormProblem("Choose one of the objects.")
    start = _local_start(values.get("date", ""), values.get("time", ""), objects[object_id].timezone)
    minutes = _number(values.get("duration", ""), "duration")
    if not 1 <= minutes <= MAX_DURATION:
        raise FormProblem(f"The duration takes 1 to {MAX_DURATION} minutes.")
    title, status = values.get("title", ""), values.get("status", "")
    if len(title) > MAX_TITLE:
        raise FormProblem(f"The title takes at most {MAX_TITLE} characters.")
    if not status:
        raise FormProblem("A booking needs a status.")
    if len(status) > MAX_STATUS:
        raise FormProblem(f"The status takes at most {MAX_STATUS} characters.")
    return NewBooking(object_id, start, start + timedelta(minutes=minutes), title, status)


def move_times(values: Mapping[str, str], booking: Booking, timezone: str) -> tuple[datetime, datetime]:
    """Return the new ``(start, end)`` of ``booking`` from its "move" form (``date``, ``time``).

    A timed booking keeps its length. An all-day booking moves to local midnight of the new date and
    keeps its number of local days (``time`` is ignored)."""
    if not booking.all_day:
        start = _local_start(values.get("date", ""), values.get("time", ""), timezone)
        return start, start + (booking.end - booking.start)
    zone = ZoneInfo(timezone)
    day = _date(values.get("date", ""))
    days = (booking.end.astimezone(zone).date() - booking.start.astimezone(zone).date()).days
    return _midnight(day, zone), _midnight(day + timedelta(days=max(days, 1)), zone)


def local_parts(value: datetime, timezone: str) -> tuple[str, str]:
    """``value`` as the ``(YYYY-MM-DD, HH:MM)`` a person reads in ``timezone``."""
    local = value.astimezone(ZoneInfo(timezone))
    return local.date().isoformat(), local.strftime("%H:%M")


# ---------------------------------------------------------------------- helpers


def _number(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise FormProblem(f"The {what} must be a whole number." if what == "duration" else f"Choose an {what}.")
    return int(text)


def _date(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise FormProblem("The date must look like 2024-05-31.") from None
    if not _FIRST_YEAR <= day.year <= _LAST_YEAR:
        raise FormProblem(f"The date must lie between {_FIRST_YEAR} and {_LAST_YEAR}.")
    return day


def _time(text: str) -> time:
    try:
        if len(text) not in (5, 8):
            raise ValueError(text)
        moment = time.fromisoformat(text)
    except ValueError:
        raise FormProblem("The time must look like 09:30.") from None
    return moment


def _local_start(date_text: str, time_text: str, timezone: str) -> datetime:
    zone = ZoneInfo(timezone)
    local = datetime.combine(_date(date_text), _time(time_text), tzinfo=zone)
    start = local.astimezone(UTC)
    if start.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise FormProblem(f"{local:%Y-%m-%d %H:%M} does not exist in {timezone} (a daylight saving change).")
    return start


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
