"""Graph ``patternedRecurrence``: validation and expansion into occurrence dates (pure functions).

Public API: :func:`normalize_recurrence`, :func:`occurrence_dates`, :func:`occurrence_id`,
:func:`parse_occurrence_id`.

Supported patterns: ``daily``, ``weekly`` (``daysOfWeek``, ``firstDayOfWeek``), ``absoluteMonthly``,
``relativeMonthly``, ``absoluteYearly``, ``relativeYearly``; ranges ``endDate``, ``numbered`` and
``noEnd``, the RRULE equivalents Outlook offers. Expansion works on local dates of the series' zone;
the caller adds the time of day, so a 09:00 meeting stays at 09:00 across DST changes, as in Outlook.
"""

from __future__ import annotations

import base64
import calendar
from collections.abc import Iterator
from datetime import date
from datetime import timedelta
from typing import Any

from .graph_common import GraphError

__all__ = ["normalize_recurrence", "occurrence_dates", "occurrence_id", "parse_occurrence_id"]

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
INDEXES = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1}
PATTERNS = {"daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"}
RANGES = {"endDate", "noEnd", "numbered"}
#: Expansion stops after this many candidate dates, so a noEnd series cannot run forever.
MAX_STEPS = 20000
_OCCURRENCE_PREFIX = "AAMkAGOc"


def _bad(message: str) -> GraphError:
    return GraphError(400, "ErrorInvalidRequest", message)


def _parse_date(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise _bad(f"Invalid value for recurrence range {name}: '{value}'.") from None


def _enum(value: Any, allowed: set[str] | list[str], name: str) -> str:
    for option in allowed:
        if str(value).lower() == option.lower():
            return option
    raise _bad(f"Invalid value '{value}' for recurrence property '{name}'.")


def normalize_recurrence(value: Any, first_day: date) -> dict[str, Any] | None:
    """Validate a ``recurrence`` value and return it in Graph's full output shape (None clears it)."""
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("pattern"), dict)
        or not isinstance(value.get("range"), dict)
    ):
        raise _bad("The recurrence must contain a pattern and a range.")
    pattern, rng = value["pattern"], value["range"]
    kind = _enum(pattern.get("type"), PATTERNS, "pattern.type")
    interval = pattern.get("interval", 1)
    if not isinstance(interval, int) or interval < 1:
        raise _bad("The recurrence pattern interval must be a positive integer.")
    days = [_enum(d, DAYS, "daysOfWeek") for d in pattern.get("daysOfWeek") or []]
    if kind in ("weekly", "relativeMonthly", "relativeYearly") and not days:
        raise _bad(f"The recurrence pattern '{kind}' requires daysOfWeek.")
    month = int(pattern.get("month") or 0)
    day_of_month = int(pattern.get("dayOfMonth") or 0)
    if kind in ("absoluteMonthly", "absoluteYearly") and not 1 <= day_of_month <= 31:
        raise _bad(f"The recurrence pattern '{kind}' requires dayOfMonth between 1 and 31.")
    if kind in ("absoluteYearly", "relativeYearly") and not 1 <= month <= 12:
        raise _bad(f"The recurrence pattern '{kind}' requires month between 1 and 12.")
    range_kind = _enum(rng.get("type"), RANGES, "range.type")
    start = _parse_date(rng.get("startDate") or first_day.isoformat(), "startDate")
    end = _parse_date(rng["endDate"], "endDate") if range_kind == "endDate" and rng.get("endDate") else None
    if range_kind == "endDate" and (end is None or end < start):
        raise _bad("The recurrence range endDate must be on or after its startDate.")
    count = int(rng.get("numberOfOccurrences") or 0)
    if range_kind == "numbered" and count < 1:
        raise _bad("The recurrence range numberOfOccurrences must be at least 1.")
    return {
        "pattern": {
            "type": kind,
            "interval": interval,
            "month": month,
            "dayOfMonth": day_of_month,
            "daysOfWeek": days,
            "firstDayOfWeek": _enum(pattern.get("firstDayOfWeek") or "sunday", DAYS, "firstDayOfWeek"),
            "index": _enum(pattern.get("index") or "first", list(INDEXES), "index"),
        },
        "range": {
            "type": range_kind,
            "startDate": start.isoformat(),
            "endDate": end.isoformat() if end else "0001-01-01",
            "recurrenceTimeZone": rng.get("recurrenceTimeZone") or "UTC",
            "numberOfOccurrences": count if range_kind == "numbered" else 0,
        },
    }


def occurrence_dates(recurrence: dict[str, Any], until: date) -> Iterator[date]:
    """Yield the series' local dates in order, up to and including ``until`` (and the range's end)."""
    rng = recurrence["range"]
    start = date.fromisoformat(rng["startDate"])
    last = until
    if rng["type"] == "endDate":
        last = min(last, date.fromisoformat(rng["endDate"]))
    remaining = rng["numberOfOccurrences"] if rng["type"] == "numbered" else None
    for steps, day in enumerate(_candidates(recurrence["pattern"], start)):
        if day > last or steps > MAX_STEPS:
            return
        if day < start:
            continue
        yield day
        if remaining is not None:
            remaining -= 1
            if remaining == 0:
                return


def _candidates(pattern: dict[str, Any], start: date) -> Iterator[date]:
    kind, interval = pattern["type"], pattern["interval"]
    if kind == "daily":
        day = start
        while True:
            yield day
            day += timedelta(days=interval)
    elif kind == "weekly":
        yield from _weekly(pattern, start)
    elif kind in ("absoluteMonthly", "relativeMonthly"):
        year, month = start.year, start.month
        while True:
            yield from _in_month(pattern, year, month)
            month += interval
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    else:
        year = start.year
        while True:
            yield from _in_month(pattern, year, pattern["month"])
            year += interval


def _weekly(pattern: dict[str, Any], start: date) -> Iterator[date]:
    first = DAYS.index(pattern["firstDayOfWeek"])
    week = start - timedelta(days=(start.weekday() - first) % 7)
    offsets = sorted((DAYS.index(d) - first) % 7 for d in pattern["daysOfWeek"])
    while True:
        for offset in offsets:
            yield week + timedelta(days=offset)
        week += timedelta(weeks=pattern["interval"])


def _in_month(pattern: dict[str, Any], year: int, month: int) -> list[date]:
    length = calendar.monthrange(year, month)[1]
    if pattern["type"] in ("absoluteMonthly", "absoluteYearly"):
        return [date(year, month, min(pattern["dayOfMonth"], length))]
    found = []
    index = INDEXES[pattern["index"]]
    for name in pattern["daysOfWeek"]:
        matches = [
            date(year, month, d) for d in range(1, length + 1) if date(year, month, d).weekday() == DAYS.index(name)
        ]
        found.append(matches[index] if index < len(matches) else matches[-1])
    return sorted(set(found))


def occurrence_id(master_id: str, day: date) -> str:
    """The id of one occurrence: opaque, but decodable back to (series master id, local date)."""
    raw = f"{master_id}\x1f{day.isoformat()}".encode()
    return _OCCURRENCE_PREFIX + base64.urlsafe_b64encode(raw).decode()


def parse_occurrence_id(event_id: str) -> tuple[str, date] | None:
    if not event_id.startswith(_OCCURRENCE_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(event_id[len(_OCCURRENCE_PREFIX) :].encode()).decode()
        master_id, day = raw.split("\x1f")
        return master_id, date.fromisoformat(day)
    except (ValueError, UnicodeDecodeError):
        return None
