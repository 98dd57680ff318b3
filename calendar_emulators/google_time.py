"""Times for the Calendar emulator: RFC 3339, ``EventDateTime`` and RRULE expansion.

Public API: :func:`parse_rfc3339`, :func:`format_datetime`, :func:`format_timestamp`, :func:`zone`,
:class:`EventTime`, :func:`event_time`, :func:`render_event_time`, :func:`expand`,
:func:`instance_suffix`, :func:`parse_instance_suffix`.

Recurrence supports what booking calendars use: ``RRULE`` with ``FREQ`` ``DAILY``/``WEEKLY``/``MONTHLY``
(same day of month)/``YEARLY`` (same date), ``INTERVAL``, ``COUNT``, ``UNTIL``, ``BYDAY`` (plain weekdays,
with ``DAILY`` or ``WEEKLY``) and ``WKST``, plus ``EXDATE`` and ``RDATE`` lines. Occurrences are computed
in the wall time of the event's ``timeZone``, so a weekly 09:00 meeting stays at 09:00 across DST.
Anything else is refused with 400 ``invalid`` (the real service accepts more; see the module notes in
:mod:`.google`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from calendar_emulators.google_errors import ApiError

__all__ = [
    "EventTime",
    "event_time",
    "expand",
    "format_datetime",
    "format_timestamp",
    "instance_suffix",
    "parse_instance_suffix",
    "parse_rfc3339",
    "render_event_time",
    "zone",
]

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE)
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
_MAX_STEPS = 100_000


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp with a mandatory offset; raise ``ValueError`` otherwise."""
    if not _RFC3339.match(value):
        raise ValueError(f"not an RFC 3339 timestamp with offset: {value!r}")
    return datetime.fromisoformat(value.upper())


def format_datetime(moment: datetime) -> str:
    """Format like the API's ``dateTime`` fields: seconds precision, ``Z`` for UTC."""
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def format_timestamp(moment: datetime) -> str:
    """Format like ``created``/``updated``: UTC with milliseconds, e.g. ``2025-01-01T10:00:00.123Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def zone(name: str, field: str = "start") -> ZoneInfo:
    """Return the IANA zone ``name``; 400 ``invalid`` as the real service words it if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(400, "invalid", f"Invalid time zone definition for {field} time.") from None


@dataclass(frozen=True)
class EventTime:
    """A resolved ``EventDateTime``: the instant it starts, whether it is a date, and its own zone."""

    moment: datetime
    day: date | None
    time_zone: str | None

    @property
    def all_day(self) -> bool:
        return self.day is not None


def event_time(edt: object, calendar_zone: str, field: str) -> EventTime:
    """Resolve an ``EventDateTime`` (``field`` is ``start`` or ``end``); raise 400 like the real service."""
    if not isinstance(edt, Mapping) or not (edt.get("date") or edt.get("dateTime")):
        raise ApiError(400, "required", f"Missing {field} time.")
    own_zone = edt.get("timeZone") or None
    if own_zone is not None and not isinstance(own_zone, str):
        raise ApiError(400, "invalid", f"Invalid time zone definition for {field} time.")
    tz = zone(own_zone or calendar_zone, field)
    if edt.get("date"):
        if edt.get("dateTime"):
            raise ApiError(400, "invalid", f"Invalid {field} time.")
        raw = str(edt["date"])
        if not _DATE.match(raw):
            raise ApiError(400, "invalid", f"Invalid {field} time.")
        day = date.fromisoformat(raw)
        return EventTime(datetime(day.year, day.month, day.day, tzinfo=tz), day, own_zone)
    raw = str(edt["dateTime"])
    if _RFC3339.match(raw):
        return EventTime(datetime.fromisoformat(raw.upper()), None, own_zone)
    if _LOCAL.match(raw):
        if own_zone is None:
            raise ApiError(400, "required", f"Missing time zone definition for {field} time.")
        return EventTime(datetime.fromisoformat(raw.upper()).replace(tzinfo=tz), None, own_zone)
    raise ApiError(400, "invalid", f"Invalid {field} time.")


def render_event_time(value: EventTime, display_zone: str) -> dict[str, str]:
    """Render as the API returns it: dates as ``date``; times in the event's own zone, else the calendar's."""
    out: dict[str, str] = {}
    if value.day is not None:
        out["date"] = value.day.isoformat()
    else:
        out["dateTime"] = format_datetime(value.moment.astimezone(zone(value.time_zone or display_zone)))
    if value.time_zone:
        out["timeZone"] = value.time_zone
    return out


def instance_suffix(original: datetime | date) -> str:
    """The part after ``_`` in an instance id: ``20250101T090000Z`` for times, ``20250101`` for dates."""
    if isinstance(original, datetime):
        return original.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return original.strftime("%Y%m%d")


def parse_instance_suffix(suffix: str) -> datetime | date | None:
    """Invert :func:`instance_suffix`; None if ``suffix`` is not one."""
    try:
        if re.fullmatch(r"\d{8}T\d{6}Z", suffix):
            return datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if re.fullmatch(r"\d{8}", suffix):
            return datetime.strptime(suffix, "%Y%m%d").date()
    except ValueError:
        return None
    return None


# --------------------------------------------------------------------------- recurrence


@dataclass(frozen=True)
class _Rule:
    freq: str
    interval: int = 1
    count: int | None = None
    until: datetime | date | None = None
    byday: tuple[int, ...] = ()


def _bad_rule() -> ApiError:
    return ApiError(400, "invalid", "Invalid recurrence rule.")


def _parse_stamp(value: str, tz: ZoneInfo, all_day: bool) -> datetime | date:
    """Parse an iCalendar DATE or DATE-TIME (``Z`` = UTC, else wall time in ``tz``)."""
    try:
        if len(value) == 8:
            day = datetime.strptime(value, "%Y%m%d").date()
            return day if all_day else datetime(day.year, day.month, day.day, tzinfo=tz)
        if value.endswith("Z"):
            moment = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        else:
            moment = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=tz)
    except ValueError:
        raise _bad_rule() from None
    return moment.astimezone(tz).date() if all_day else moment


def _parse_rule(body: str, tz: ZoneInfo, all_day: bool) -> _Rule:
    parts: dict[str, str] = {}
    for item in body.split(";"):
        key, sep, value = item.partition("=")
        if not sep or not value:
            raise _bad_rule()
        parts[key.upper()] = value.upper()
    freq = parts.pop("FREQ", "")
    if freq not in {"DAILY", "WEEKLY", "MONTHLY", "YEARLY"}:
        raise _bad_rule()
    try:
        interval = int(parts.pop("INTERVAL", "1"))
        count = int(parts.pop("COUNT")) if "COUNT" in parts else None
    except ValueError:
        raise _bad_rule() from None
    raw_until = parts.pop("UNTIL", None)
    # a DATE UNTIL includes that whole (local) day, also for a timed series
    until = _parse_stamp(raw_until, tz, all_day or len(raw_until) == 8) if raw_until else None
    days = tuple(sorted({_WEEKDAYS.get(d, -1) for d in parts.pop("BYDAY").split(",")})) if "BYDAY" in parts else ()
    parts.pop("WKST", None)
    if parts or interval < 1 or (count is not None and count < 1) or -1 in days or (count and until):
        raise _bad_rule()
    if days and freq not in {"DAILY", "WEEKLY"}:
        raise _bad_rule()
    return _Rule(freq, interval, count, until, days)


def _add_months(moment: datetime, months: int) -> datetime | None:
    total = moment.month - 1 + months
    try:
        return moment.replace(year=moment.year + total // 12, month=total % 12 + 1)
    except ValueError:
        return None  # e.g. the 31st in a 30-day month: no occurrence that month


def _candidates(start: datetime, rule: _Rule) -> Iterator[datetime]:
    """Naive wall-time candidates of ``rule`` from ``start`` on, in order (unbounded)."""
    for step in range(_MAX_STEPS):
        if rule.freq == "DAILY":
            moment = start + timedelta(days=step * rule.interval)
            if not rule.byday or moment.weekday() in rule.byday:
                yield moment
        elif rule.freq == "WEEKLY":
            week = start - timedelta(days=start.weekday()) + timedelta(weeks=step * rule.interval)
            for day in rule.byday or (start.weekday(),):
                moment = week + timedelta(days=day)
                if moment >= start:
                    yield moment
        else:
            months = step * rule.interval * (12 if rule.freq == "YEARLY" else 1)
            found = _add_months(start, months)
            if found is not None:
                yield found


def _within_until(moment: datetime, rule: _Rule, tz: ZoneInfo) -> bool:
    if rule.until is None:
        return True
    if isinstance(rule.until, datetime):
        return moment.replace(tzinfo=tz) <= rule.until
    return moment.date() <= rule.until


def _rule_occurrences(start: datetime, rule: _Rule, tz: ZoneInfo, stop: datetime) -> list[datetime]:
    found: list[datetime] = []
    for moment in _candidates(start, rule):
        if not _within_until(moment, rule, tz) or moment.replace(tzinfo=tz) >= stop:
            break
        found.append(moment)
        if rule.count is not None and len(found) >= rule.count:
            break
    return found


def _date_lines(line: str, tz: ZoneInfo, all_day: bool) -> set[datetime | date]:
    head, _, values = line.partition(":")
    params = dict(p.partition("=")[::2] for p in head.split(";")[1:])
    line_tz = zone(params["TZID"]) if "TZID" in params else tz
    return {_parse_stamp(v.strip(), line_tz, all_day) for v in values.split(",") if v.strip()}


def expand(start: EventTime, recurrence: Sequence[str], calendar_zone: str, stop: datetime) -> list[datetime | date]:
    """Original start times of a series' occurrences that start before ``stop``, in order.

    Times come back as aware datetimes in the series' zone, all-day occurrences as dates.
    """
    tz = zone(start.time_zone or calendar_zone)
    all_day = start.all_day
    local = start.moment.astimezone(tz).replace(tzinfo=None)
    found: set[datetime | date] = set()
    excluded: set[datetime | date] = set()
    for raw in recurrence:
        line = str(raw).strip()
        name = line.split(":", 1)[0].split(";", 1)[0].upper()
        if name == "RRULE":
            rule = _parse_rule(line.split(":", 1)[1], tz, all_day)
            for moment in _rule_occurrences(local, rule, tz, stop):
                found.add(moment.date() if all_day else moment.replace(tzinfo=tz))
        elif name in {"EXDATE", "RDATE"}:
            (excluded if name == "EXDATE" else found).update(_date_lines(line, tz, all_day))
        else:
            raise _bad_rule()
    if not any(str(r).upper().startswith("RRULE") for r in recurrence):
        found.add(start.day if start.day is not None else start.moment.astimezone(tz))
    kept = found - excluded
    return sorted((o for o in kept if _occurrence_moment(o, tz) < stop), key=lambda o: _occurrence_moment(o, tz))


def _occurrence_moment(value: datetime | date, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=tz)
