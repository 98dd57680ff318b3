"""The object -> calendar table that Google and CalDAV share: rows of ``{"object", "calendar_id"}``.

Public API: :data:`WILDCARD`, :func:`calendars_from_mapping`, :func:`calendar_for_object`.

A row's object is an object id or ``*`` (every object without a row of its own). Each provider gives
its own stable key function for a calendar id; everything else about the table is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from ireserve_calendar_plugin.sync.model import CalendarRef

__all__ = ["WILDCARD", "calendar_for_object", "calendars_from_mapping"]

WILDCARD = "*"


def calendars_from_mapping(
    rows: Sequence[Mapping[str, Any]], default_object: int | None, key: Callable[[str], str]
) -> list[CalendarRef]:
    """One :class:`CalendarRef` per distinct calendar id of the table, in order of first appearance.

    New events of a calendar land on the smallest object mapped to it explicitly; a calendar mapped
    only through ``*`` uses ``default_object`` (the settings' ``inbound_object_id``), or takes no new
    bookings when that is not set (its linked bookings still follow it)."""
    objects: dict[str, list[int]] = {}  # insertion order = order of first appearance
    for row in rows:
        mapped = objects.setdefault(str(row["calendar_id"]), [])
        if str(row["object"]) != WILDCARD:
            mapped.append(int(row["object"]))
    return [
        CalendarRef(
            key=key(cid),
            remote_id=cid,
            inbound_object_id=min(mapped) if mapped else default_object,
            outbound=True,
            label=cid,
        )
        for cid, mapped in objects.items()
    ]


def calendar_for_object(
    rows: Sequence[Mapping[str, Any]], calendars: Sequence[CalendarRef], object_id: int
) -> CalendarRef | None:
    """The calendar of ``object_id``: its own row, else the ``*`` row, else None."""
    chosen = next((r for r in rows if str(r["object"]) == str(object_id)), None)
    chosen = chosen or next((r for r in rows if str(r["object"]) == WILDCARD), None)
    if chosen is None:
        return None
    return next((c for c in calendars if c.remote_id == str(chosen["calendar_id"])), None)
