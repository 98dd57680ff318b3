"""Who sees which calendar, for the Calendar emulator: access roles and ``calendarList.list``.

Public API: :class:`Directory`, :data:`ROLE_RANK`.

Each user has a calendar list: their primary calendar (id = their email, role ``owner``) first, then
the calendars shared with them. ``calendarList.list`` pages it (``maxResults`` default 100, at most
250), filters by ``minAccessRole`` and answers ``syncToken`` requests (an incremental list repeats the
whole list when anything in it changed, which the real service allows; an unknown token is 410).
"""

from __future__ import annotations

import zlib
from typing import Any

from werkzeug.datastructures import MultiDict

from calendar_emulators.google_errors import ApiError
from calendar_emulators.google_store import CalendarStore

__all__ = ["ROLE_RANK", "Directory"]

ROLE_RANK = {"freeBusyReader": 0, "reader": 1, "writer": 2, "owner": 3}


class Directory:
    """Users' calendar lists with access roles. Not thread-safe by itself (the emulator locks)."""

    def __init__(self, store: CalendarStore) -> None:
        self.store = store
        self.users: dict[str, dict[str, str]] = {}
        self._versions: dict[str, int] = {}
        self._tokens: dict[str, tuple[str, int]] = {}

    def share(self, calendar_id: str, email: str, role: str) -> None:
        """Put ``calendar_id`` in ``email``'s list with ``role`` (the primary goes first)."""
        if role not in ROLE_RANK:
            raise ValueError(f"unknown access role {role!r}")
        self.users.setdefault(email, {})[calendar_id] = role
        self._versions[email] = self._versions.get(email, 0) + 1

    def role(self, email: str, calendar_id: str) -> str | None:
        return self.users.get(email, {}).get(calendar_id)

    def list_calendars(self, user: str, args: MultiDict[str, str]) -> dict[str, Any]:
        """Answer ``calendarList.list`` for ``user``."""
        version = self._versions.get(user, 0)
        entries = [self.entry(user, calendar_id) for calendar_id in self.users.get(user, {})]
        if args.get("syncToken"):
            for name in ("minAccessRole", "showOwnOrganizationOnly"):
                if name in args:
                    raise ApiError(400, "invalid", f"The {name} parameter cannot be used with syncToken.")
            known = self._tokens.get(args["syncToken"])
            if known is None or known[0] != user:
                raise ApiError(410, "fullSyncRequired")
            entries = entries if known[1] != version else []
        minimum = args.get("minAccessRole")
        if minimum is not None:
            if minimum not in ROLE_RANK:
                raise ApiError(400, "invalid", location="minAccessRole")
            entries = [e for e in entries if ROLE_RANK[e["accessRole"]] >= ROLE_RANK[minimum]]
        try:
            size = min(int(args.get("maxResults", "100")), 250)
            start = int(args.get("pageToken") or 0)
        except ValueError:
            raise ApiError(400, "invalid", location="") from None
        if size < 1 or start < 0:
            raise ApiError(400, "invalid", location="maxResults" if size < 1 else "pageToken")
        out: dict[str, Any] = {"kind": "calendar#calendarList", "etag": f'"p3{version:014d}"'}
        out["items"] = entries[start : start + size]
        if start + size < len(entries):
            out["nextPageToken"] = str(start + size)
        else:
            token = f"CL{len(self._tokens) + 1:08d}"
            self._tokens[token] = (user, version)
            out["nextSyncToken"] = token
        return out

    def entry(self, user: str, calendar_id: str) -> dict[str, Any]:
        """One ``calendar#calendarListEntry`` as ``user`` sees it."""
        calendar = self.store.calendars[calendar_id]
        entry: dict[str, Any] = {
            "kind": "calendar#calendarListEntry",
            "etag": f'"{zlib.crc32(f"{calendar_id} {calendar.summary}".encode()):016d}"',
            "id": calendar.id,
            "summary": calendar.summary,
            "timeZone": calendar.time_zone,
            "colorId": "14",
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": self.users[user][calendar_id],
            "defaultReminders": list(calendar.default_reminders),
            "conferenceProperties": {"allowedConferenceSolutionTypes": list(calendar.conference_types)},
        }
        if calendar_id == user:
            entry["primary"] = True
        return entry
