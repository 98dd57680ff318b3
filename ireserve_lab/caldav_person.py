"""A person's calendar app on a CalDAV server: the python-caldav library, as a real client edits a calendar.

Public API: :class:`CalendarApp`, :func:`vcalendar`.

Used by the lab wherever "a person" changes a CalDAV calendar behind the plugin's back (the provider
contract rig, the reliability rig, the demo) and to seed large calendars (:meth:`CalendarApp.upload`:
one PUT of a whole calendar to the collection, which Radicale splits into members). Needs the
``caldav`` and ``icalendar`` libraries (the test extra); they are imported when an app is made.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlsplit

import requests

__all__ = ["CalendarApp", "PersonEvent", "vcalendar"]

PRODID = "-//a person//their calendar app//EN"
_LIST_ALL = (
    b'<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    b'<D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter>'
    b"</C:calendar-query>"
)


@dataclass(frozen=True)
class PersonEvent:
    """One event as a person writes it: a UTC time range, or dates for an all-day event."""

    uid: str
    title: str
    start: datetime | date
    end: datetime | date
    rrule: dict[str, Any] | None = None


def _vevent(event: PersonEvent) -> Any:
    from icalendar import Event

    component = Event()
    component.add("UID", event.uid)
    component.add("DTSTAMP", datetime.now(UTC))
    component.add("SUMMARY", event.title)
    for name, value in (("DTSTART", event.start), ("DTEND", event.end)):
        component.add(name, value.astimezone(UTC) if isinstance(value, datetime) else value)
    if event.rrule:
        component.add("RRULE", event.rrule)
    return component


def vcalendar(events: Iterable[PersonEvent]) -> bytes:
    """A VCALENDAR holding ``events`` (UTC times, no VTIMEZONE needed)."""
    from icalendar import Calendar

    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    for event in events:
        cal.add_component(_vevent(event))
    return bytes(cal.to_ical())


class CalendarApp:
    """One person's view of one calendar collection (``server_url`` + ``path``), through python-caldav."""

    def __init__(self, server_url: str, path: str, username: str, password: str) -> None:
        import caldav

        self.server_url = server_url.rstrip("/")
        self.path = path
        self.auth = (username, password)
        self.client = caldav.DAVClient(url=self.server_url, username=username, password=password)
        self.calendar = self.client.calendar(url=self.server_url + path)
        self._http = requests.Session()
        self._http.auth = self.auth

    # -- writing ----------------------------------------------------------------------------------
    def create(self, event: PersonEvent) -> str:
        """Save a new event; returns its member name (``<uid>.ics`` as python-caldav names it)."""
        saved = self.calendar.save_event(vcalendar([event]).decode())
        return _name(str(saved.url))

    def move(self, name: str, start: datetime | date, end: datetime | date) -> None:
        """Give the event (not an instance of a series) new times, as a person dragging it would."""
        item = self._load(name)
        component = item.icalendar_component
        for prop, value in (("DTSTART", start), ("DTEND", end)):
            component.pop(prop, None)
            component.add(prop, value.astimezone(UTC) if isinstance(value, datetime) else value)
        item.save()

    def cancel(self, name: str) -> None:
        """Mark the event cancelled (``STATUS:CANCELLED``), as a calendar app does for a called-off meeting."""
        item = self._load(name)
        component = item.icalendar_component
        component.pop("STATUS", None)
        component.add("STATUS", "CANCELLED")
        item.save()

    def delete(self, name: str) -> None:
        self._load(name).delete()

    def upload(self, events: Iterable[PersonEvent]) -> None:
        """Replace the whole calendar with ``events`` in one PUT (an import; Radicale splits it into one
        member per UID and indexes them as it writes). Loses the collection's properties except the
        display name and the component set, which Radicale takes from the uploaded calendar."""
        response = requests.put(
            self.server_url + self.path,
            data=vcalendar(events),
            auth=self.auth,
            headers={"Content-Type": "text/calendar; charset=utf-8"},
            timeout=600,
        )
        if response.status_code not in (200, 201, 204):
            raise RuntimeError(f"uploading the calendar: HTTP {response.status_code} {response.text[:200]}")

    # -- reading ----------------------------------------------------------------------------------
    def members(self) -> dict[str, str]:
        """Every member as the server has it: name -> iCalendar text (one ``calendar-query`` REPORT,
        read as sent: python-caldav's own listing re-serializes each event, which is slow)."""
        response = self._http.request(
            "REPORT",
            self.server_url + self.path,
            data=_LIST_ALL,
            headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
            timeout=60,
        )
        response.raise_for_status()
        out = {}
        for item in ET.fromstring(response.content).iter("{DAV:}response"):
            data = item.find(".//{urn:ietf:params:xml:ns:caldav}calendar-data")
            href = item.findtext("{DAV:}href") or ""
            if data is not None and data.text:
                out[_name(href)] = data.text
        return out

    def _load(self, name: str) -> Any:
        item = self.calendar.event_by_url(self.server_url + self.path + name)
        item.load()
        return item

    def close(self) -> None:
        self._http.close()
        self.client.close()


def _name(url: str) -> str:
    return PurePosixPath(unquote(urlsplit(url).path)).name
