"""How the Graph emulator writes events as JSON: time zones, body formats, ``$select`` and ``$expand``.

Public API: :class:`RenderOptions`, :func:`render_event`, :func:`parse_expand`, :func:`removed_item`.

Times are written in UTC unless the request said ``Prefer: outlook.timezone="..."`` (Windows or IANA
name, echoed back as given). All-day events are floating: midnight to midnight whatever the zone.
Bodies come back as HTML unless ``Prefer: outlook.body-content-type="text"``. Extended properties
and open extensions are only written when asked for with ``$expand``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC
from datetime import tzinfo
from typing import Any
from urllib.parse import quote

from .graph_common import GraphError
from .graph_common import format_local
from .graph_common import format_utc
from .graph_common import parse_prefer
from .graph_common import zone_or_none
from .graph_directory import User
from .graph_events import Instance

__all__ = ["RenderOptions", "parse_expand", "removed_item", "render_event"]

NAVIGATION = {
    "singlevalueextendedproperties": "singleValueExtendedProperties",
    "multivalueextendedproperties": "multiValueExtendedProperties",
    "extensions": "extensions",
    "attachments": "attachments",
    "calendar": "calendar",
    "instances": "instances",
}
_FILTER_ID = re.compile(r"^\$filter\s*=\s*id\s+eq\s+'(.*)'\s*$", re.IGNORECASE | re.DOTALL)


@dataclass
class RenderOptions:
    """Per-request output choices. ``expand`` maps a navigation property to an id filter (or None = all)."""

    zone_name: str = "UTC"
    zone: tzinfo = UTC
    text_body: bool = False
    expand: dict[str, str | None] | None = None
    select: list[str] | None = None
    applied: tuple[str, ...] = ()

    @classmethod
    def from_headers(cls, prefer_headers: list[str]) -> RenderOptions:
        prefs = parse_prefer(prefer_headers)
        options = cls()
        applied = []
        name = prefs.get("outlook.timezone")
        zone = zone_or_none(name) if name else None
        if name and zone is not None:
            options.zone_name, options.zone = name, zone
            applied.append(f'outlook.timezone="{name}"')
        if prefs.get("outlook.body-content-type", "").lower() == "text":
            options.text_body = True
            applied.append('outlook.body-content-type="text"')
        options.applied = tuple(applied)
        return options


def _split_top(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def parse_expand(value: str | None) -> dict[str, str | None] | None:
    """Parse ``$expand`` such as ``singleValueExtendedProperties($filter=id eq '...')``."""
    if not value:
        return None
    result: dict[str, str | None] = {}
    for item in _split_top(value):
        name, _, rest = item.partition("(")
        canonical = NAVIGATION.get(name.strip().lower())
        if canonical is None:
            raise GraphError(
                400, "BadRequest", f"Could not find a property named '{name.strip()}' on type 'microsoft.graph.event'."
            )
        id_filter = None
        if rest:
            match = _FILTER_ID.match(rest.rstrip(")"))
            if not match:
                raise GraphError(400, "BadRequest", f"Invalid $expand option: '{item}'.")
            id_filter = match.group(1).replace("''", "'")
        result[canonical] = id_filter
    return result


# --------------------------------------------------------------------------- bodies


_HTML_HEAD = '<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n</head>'


def html_body(content: str, content_type: str) -> str:
    """The body as Exchange stores it: a whole HTML document (plain text is escaped and wrapped)."""
    if content_type == "html":
        if "<html" in content.lower():
            return content
        return f"{_HTML_HEAD}<body>{content}</body></html>"
    escaped = html.escape(content).replace("\r\n", "\n").replace("\n", "<br>\r\n")
    return f"{_HTML_HEAD}<body><div>{escaped}</div></body></html>"


def text_body(content: str, content_type: str) -> str:
    if content_type == "text":
        return content
    without_head = re.sub(r"(?is)<head.*?</head>", "", content)
    with_breaks = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", without_head)
    return html.unescape(re.sub(r"<[^>]+>", "", with_breaks)).strip()


# --------------------------------------------------------------------------- events


def _date_time_tz(inst_local: Any, utc_value: Any, all_day: bool, options: RenderOptions) -> dict[str, str]:
    if all_day:
        return {"dateTime": format_local(inst_local), "timeZone": options.zone_name}
    local = utc_value.astimezone(options.zone).replace(tzinfo=None)
    return {"dateTime": format_local(local), "timeZone": options.zone_name}


def _matching(props: list[dict[str, Any]], id_filter: str | None, key: str = "id") -> list[dict[str, Any]]:
    if id_filter is None:
        return [dict(p) for p in props]
    return [dict(p) for p in props if str(p.get(key, "")).lower() == id_filter.lower()]


def render_event(inst: Instance, owner: User, options: RenderOptions) -> dict[str, Any]:
    """The full JSON of an event instance, as ``GET /events/{id}`` or calendarView return it."""
    rec, props = inst.record, inst.props
    body = props.get("body") or {"contentType": "html", "content": ""}
    content_type = "text" if options.text_body else "html"
    converter = text_body if options.text_body else html_body
    preview = text_body(body["content"], body["contentType"])[:255]
    is_occurrence = inst.kind in ("occurrence", "exception")
    data: dict[str, Any] = {
        "@odata.etag": rec.etag,
        "id": inst.id,
        "createdDateTime": format_utc(rec.created),
        "lastModifiedDateTime": format_utc(rec.modified),
        "changeKey": rec.change_key,
        "categories": list(props.get("categories", [])),
        "transactionId": rec.transaction_id,
        "originalStartTimeZone": rec.start_tz,
        "originalEndTimeZone": rec.end_tz,
        "iCalUId": rec.ical_uid,
        "reminderMinutesBeforeStart": props.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": props.get("isReminderOn", True),
        "hasAttachments": False,
        "subject": props.get("subject") or "",
        "bodyPreview": preview,
        "importance": props.get("importance", "normal"),
        "sensitivity": props.get("sensitivity", "normal"),
        "isAllDay": rec.all_day,
        "isCancelled": props.get("isCancelled", False),
        "isOrganizer": props.get("isOrganizer", True),
        "responseRequested": props.get("responseRequested", True),
        "seriesMasterId": rec.id if is_occurrence else None,
        "showAs": props.get("showAs", "busy"),
        "type": inst.kind,
        "webLink": f"https://outlook.office365.com/owa/?itemid={quote(inst.id, safe='')}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": props.get("isOnlineMeeting", False),
        "onlineMeetingProvider": props.get("onlineMeetingProvider", "unknown"),
        "allowNewTimeProposals": props.get("allowNewTimeProposals", True),
        "isDraft": False,
        "hideAttendees": props.get("hideAttendees", False),
        "responseStatus": props.get("responseStatus"),
        "body": {"contentType": content_type, "content": converter(body["content"], body["contentType"])},
        "start": _date_time_tz(inst.start, inst.start_utc, rec.all_day, options),
        "end": _date_time_tz(inst.end, inst.end_utc, rec.all_day, options),
        "location": props.get("location"),
        "locations": props.get("locations", []),
        "recurrence": rec.recurrence if inst.kind == "seriesMaster" else None,
        "attendees": props.get("attendees", []),
        "organizer": props.get("organizer"),
        "onlineMeeting": props.get("onlineMeeting"),
    }
    if inst.original_start is not None:
        data["originalStart"] = format_utc(inst.original_start)
    _add_expanded(data, inst, options.expand)
    if options.select:
        keep = {"@odata.etag", "id", *options.select}
        data = {k: v for k, v in data.items() if k in keep}
    return data


def _add_expanded(data: dict[str, Any], inst: Instance, expand: dict[str, str | None] | None) -> None:
    if not expand:
        return
    rec = inst.record
    for name, id_filter in expand.items():
        if name == "singleValueExtendedProperties":
            found = _matching(rec.ext_props, id_filter)
        elif name == "multiValueExtendedProperties":
            found = _matching(rec.multi_ext_props, id_filter)
        elif name == "extensions":
            found = [
                {**e, "id": f"Microsoft.OutlookServices.OpenTypeExtension.{e.get('extensionName', '')}"}
                for e in rec.extensions
            ]
            found = _matching(found, id_filter)
        elif name == "attachments":
            found = []
        else:
            continue
        if found or name in ("extensions", "attachments"):
            data[name] = found


def removed_item(event_id: str) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.event", "id": event_id, "@removed": {"reason": "deleted"}}
