"""Event bodies for the Calendar emulator: validation, normalisation, PATCH merging and Meet links.

Public API: :data:`EVENT_PROPERTIES`, :data:`READ_ONLY`, :func:`merge_patch`, :func:`normalize`,
:func:`normalize_reminders`, :func:`apply_conference`, :func:`complete_conference`, :func:`is_pending`,
:func:`ordered`.

:func:`normalize` turns what a client (or a person in the emulator) sent into the stored form: only
properties of the discovery document's ``Event`` schema, ``start``/``end`` rendered as the API renders
them, reminders/attendees/extended properties validated with the real service's errors.
Conference data is applied separately by :func:`apply_conference` because it depends on the
``conferenceDataVersion`` query parameter.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Mapping
from typing import Any

from calendar_emulators.google_errors import ApiError
from calendar_emulators.google_time import event_time
from calendar_emulators.google_time import expand
from calendar_emulators.google_time import render_event_time

__all__ = [
    "EVENT_PROPERTIES",
    "READ_ONLY",
    "apply_conference",
    "complete_conference",
    "is_pending",
    "merge_patch",
    "normalize",
    "normalize_reminders",
    "ordered",
]

#: the properties of the ``Event`` schema, in the order the API returns them
EVENT_PROPERTIES: tuple[str, ...] = (
    "kind", "etag", "id", "status", "htmlLink", "created", "updated", "summary", "description", "location",
    "colorId", "creator", "organizer", "start", "end", "endTimeUnspecified", "recurrence", "recurringEventId",
    "originalStartTime", "transparency", "visibility", "iCalUID", "sequence", "attendees", "attendeesOmitted",
    "extendedProperties", "hangoutLink", "conferenceData", "gadget", "anyoneCanAddSelf",
    "guestsCanInviteOthers", "guestsCanModify", "guestsCanSeeOtherGuests", "privateCopy", "locked",
    "reminders", "source", "workingLocationProperties", "outOfOfficeProperties", "focusTimeProperties",
    "attachments", "birthdayProperties", "eventType", "eventLabelId",
)  # fmt: skip

#: properties a client cannot set on insert/patch (the server owns them; conference data has its own rules)
READ_ONLY = frozenset(
    {
        "kind", "etag", "id", "htmlLink", "created", "updated", "creator", "organizer", "hangoutLink",
        "recurringEventId", "originalStartTime", "iCalUID", "conferenceData", "locked", "privateCopy",
    }
)  # fmt: skip

_ATTENDEE_FIELDS = ("email", "displayName", "optional", "resource", "responseStatus", "comment", "additionalGuests")
_RESPONSE_STATUSES = {"needsAction", "declined", "tentative", "accepted"}
_ENUMS = {
    "status": {"confirmed", "tentative", "cancelled"},
    "transparency": {"opaque", "transparent"},
    "visibility": {"default", "public", "private", "confidential"},
    "eventType": {"default", "outOfOffice", "focusTime", "workingLocation", "birthday", "fromGmail"},
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MEET_ICON = (
    "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png"
)


def ordered(body: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``body`` with its keys in the API's order."""
    rank = {name: i for i, name in enumerate(EVENT_PROPERTIES)}
    return {k: body[k] for k in sorted(body, key=lambda k: rank.get(k, len(rank)))}


def merge_patch(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """PATCH semantics: objects merge key by key, arrays and scalars replace, ``null`` clears."""
    out = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge_patch(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def normalize(
    data: Mapping[str, Any],
    *,
    calendar_id: str,
    calendar_zone: str,
    organizer_email: str,
    is_instance: bool = False,
    lenient_reminders: bool = False,
) -> dict[str, Any]:
    """Validate the writable part of ``data`` and return it in stored form (400 on bad input)."""
    out = {k: copy.deepcopy(v) for k, v in data.items() if k in EVENT_PROPERTIES and k not in READ_ONLY}
    out = {k: v for k, v in out.items() if v is not None}
    start = event_time(out.get("start"), calendar_zone, "start")
    end = event_time(out.get("end"), calendar_zone, "end")
    if start.all_day != end.all_day:
        raise ApiError(400, "invalid", "Invalid end time.", location="")
    if end.moment < start.moment:
        raise ApiError(400, "timeRangeEmpty", location="")
    out["start"] = render_event_time(start, calendar_zone)
    out["end"] = render_event_time(end, calendar_zone)
    _check_recurrence(out, start, calendar_zone, is_instance)
    for name, allowed in _ENUMS.items():
        if name in out and out[name] not in allowed:
            raise ApiError(400, "invalid", location="")
    out.setdefault("status", "confirmed")
    out.setdefault("eventType", "default")
    out["reminders"] = normalize_reminders(out.get("reminders"), lenient=lenient_reminders)
    if "attendees" in out:
        out["attendees"] = _attendees(out["attendees"], calendar_id, organizer_email)
        if not out["attendees"]:
            del out["attendees"]
    if "extendedProperties" in out:
        out["extendedProperties"] = _extended_properties(out["extendedProperties"])
        if not out["extendedProperties"]:
            del out["extendedProperties"]
    return out


def _check_recurrence(out: dict[str, Any], start: Any, calendar_zone: str, is_instance: bool) -> None:
    recurrence = out.get("recurrence")
    if is_instance or not recurrence:
        out.pop("recurrence", None)
        return
    if not isinstance(recurrence, list) or not all(isinstance(line, str) for line in recurrence):
        raise ApiError(400, "invalid", "Invalid recurrence rule.")
    if not start.all_day and not start.time_zone:
        raise ApiError(400, "required", "Missing time zone definition for start time.")
    expand(start, recurrence, calendar_zone, start.moment)  # parses every line; 400 if unsupported


def normalize_reminders(value: Any, *, lenient: bool = False) -> dict[str, Any]:
    """Validate ``reminders``: max 5 overrides, ``email``/``popup``, 0..40320 minutes, not with useDefault.

    With ``lenient`` the emulator behaves as one third party observed the live API: out-of-range minutes
    are clamped and unknown methods dropped instead of refused.
    """
    if value is None:
        return {"useDefault": True}
    if not isinstance(value, Mapping):
        raise ApiError(400, "invalid", location="")
    use_default = bool(value.get("useDefault", False))
    overrides = value.get("overrides") or []
    if not isinstance(overrides, list):
        raise ApiError(400, "invalid", location="")
    if use_default and overrides:
        raise ApiError(400, "cannotUseDefaultRemindersAndSpecifyOverride")
    if len(overrides) > 5:
        raise ApiError(400, "eventRemindersCountExceedsLimit")
    kept = [item for item in (_reminder(o, lenient) for o in overrides) if item is not None]
    return {"useDefault": use_default, "overrides": kept} if kept else {"useDefault": use_default}


def _reminder(item: Any, lenient: bool) -> dict[str, Any] | None:
    if not isinstance(item, Mapping):
        raise ApiError(400, "invalid", location="")
    method, minutes = item.get("method"), item.get("minutes")
    if not method:
        raise ApiError(400, "required", "Missing override reminder method.")
    if minutes is None:
        raise ApiError(400, "required", "Missing override reminder minutes.")
    try:
        minutes = int(minutes)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid", "Invalid override reminder minutes value.") from None
    if method not in {"email", "popup"}:
        if lenient:
            return None
        raise ApiError(400, "invalid", "Invalid override reminder method value.")
    if not 0 <= minutes <= 40320:
        if not lenient:
            raise ApiError(400, "invalid", "Invalid override reminder minutes value.")
        minutes = min(max(minutes, 0), 40320)
    return {"method": method, "minutes": minutes}


def _attendees(value: Any, calendar_id: str, organizer_email: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ApiError(400, "invalid", location="")
    out = []
    for raw in value:
        if not isinstance(raw, Mapping):
            raise ApiError(400, "invalid", location="")
        email = raw.get("email")
        if not email:
            raise ApiError(400, "required", "Missing attendee email.")
        if not isinstance(email, str) or not _EMAIL.match(email):
            raise ApiError(400, "invalid", "Invalid attendee email.")
        item = {k: raw[k] for k in _ATTENDEE_FIELDS if raw.get(k) is not None}
        item.setdefault("responseStatus", "needsAction")
        if item["responseStatus"] not in _RESPONSE_STATUSES:
            raise ApiError(400, "invalid", location="")
        if email.lower() == organizer_email.lower():
            item["organizer"] = True
        if email.lower() == calendar_id.lower():
            item["self"] = True
        out.append(item)
    return out


def _extended_properties(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, Mapping):
        raise ApiError(400, "invalid", location="")
    out: dict[str, dict[str, str]] = {}
    for scope in ("private", "shared"):
        props = value.get(scope)
        if props is None:
            continue
        if not isinstance(props, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in props.items()
        ):
            raise ApiError(400, "invalid", location="")
        if props:
            out[scope] = dict(props)
    return out


# --------------------------------------------------------------------------- conference data


def apply_conference(
    old: Mapping[str, Any] | None,
    new: dict[str, Any],
    request: Mapping[str, Any],
    *,
    version: int,
    allowed_types: tuple[str, ...],
    mode: str,
    rng: random.Random,
) -> None:
    """Carry over or create ``conferenceData``/``hangoutLink`` by the rules of protocol doc section 6.2.

    Version 0 ignores the request's conference data; version 1 without ``conferenceData`` keeps what
    is stored; ``null`` removes it; a ``createRequest`` with a new ``requestId`` creates a Meet
    conference (``mode``: ``success``, ``pending`` or ``failure``); other conference data is stored as sent.
    """
    for key in ("conferenceData", "hangoutLink"):
        if old is not None and key in old:
            new[key] = copy.deepcopy(old[key])
    if version < 1 or "conferenceData" not in request:
        return
    value = request["conferenceData"]
    if value is None:
        new.pop("conferenceData", None)
        new.pop("hangoutLink", None)
        return
    if not isinstance(value, Mapping):
        raise ApiError(400, "invalid", location="")
    create = value.get("createRequest")
    if not isinstance(create, Mapping):
        new["conferenceData"] = copy.deepcopy(dict(value))
        link = _video_uri(value)
        new.pop("hangoutLink", None)
        if link:
            new["hangoutLink"] = link
        return
    kind = (create.get("conferenceSolutionKey") or {}).get("type")
    if kind not in allowed_types:
        raise ApiError(400, "invalid", "Invalid conference type value.")
    request_id = create.get("requestId")
    if not request_id:
        raise ApiError(400, "required", "Missing conference request id.")
    stored = ((old or {}).get("conferenceData") or {}).get("createRequest") or {}
    if stored.get("requestId") == request_id:
        return  # the same requestId again: ignored
    new.pop("hangoutLink", None)
    new["conferenceData"] = {
        "createRequest": {
            "requestId": request_id,
            "conferenceSolutionKey": {"type": kind},
            "status": {"statusCode": "pending"},
        }
    }
    if mode != "pending":
        complete_conference(new, rng, success=mode != "failure")


def complete_conference(body: dict[str, Any], rng: random.Random, *, success: bool = True) -> None:
    """Finish a pending create request: a Meet link on success, ``failure`` status otherwise."""
    data = body["conferenceData"]
    kind = data["createRequest"]["conferenceSolutionKey"]["type"]
    data["createRequest"]["status"] = {"statusCode": "success" if success else "failure"}
    if not success:
        return
    code = "-".join("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n)) for n in (3, 4, 3))
    uri = f"https://meet.google.com/{code}"
    data["entryPoints"] = [{"entryPointType": "video", "uri": uri, "label": f"meet.google.com/{code}"}]
    data["conferenceSolution"] = {"key": {"type": kind}, "name": "Google Meet", "iconUri": MEET_ICON}
    data["conferenceId"] = code
    body["hangoutLink"] = uri


def is_pending(body: Mapping[str, Any]) -> bool:
    status = ((body.get("conferenceData") or {}).get("createRequest") or {}).get("status") or {}
    return bool(status.get("statusCode") == "pending")


def _video_uri(data: Mapping[str, Any]) -> str | None:
    if ((data.get("conferenceSolution") or {}).get("key") or {}).get("type") != "hangoutsMeet":
        return None
    for entry in data.get("entryPoints") or []:
        if isinstance(entry, Mapping) and entry.get("entryPointType") == "video":
            return str(entry.get("uri") or "") or None
    return None
