"""The Graph emulator's ``/v1.0/places``: room lists and rooms with their capacity, building and floor.

Public API: :class:`Places`, :class:`RoomPlace`, :class:`RoomList`, :data:`PLACE_PERMISSIONS`.

Served (as Graph v1.0 does, ``microsoft.graph.*`` type casts in the path):

- ``GET /places/microsoft.graph.roomlist``: every room list of the caller's tenant;
- ``GET /places/microsoft.graph.room``: every room of the tenant;
- ``GET /places/{room list e-mail or id}/microsoft.graph.roomlist/rooms``: the rooms of one list
  (404 ``ErrorItemNotFound`` for an unknown list).

Pages hold ``$top`` items (default and maximum :attr:`Places.page_size`, 100 like Graph); the next page
is an ``@odata.nextLink`` carrying ``$skiptoken``. Access: ``Place.Read.All`` (application role, or the
delegated scope); anything else is 403 ``ErrorAccessDenied``.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

from werkzeug.wrappers import Request

__all__ = ["PLACE_PERMISSIONS", "Places", "RoomList", "RoomPlace"]

PLACE_PERMISSIONS = ("Place.Read.All", "Place.ReadWrite.All")
ROOM_CAST = "microsoft.graph.room"
LIST_CAST = "microsoft.graph.roomlist"


@dataclass
class RoomPlace:
    """The place facts of one room mailbox (its e-mail address is the mailbox UPN)."""

    id: str
    email: str
    tenant_id: str
    display_name: str
    capacity: int | None = None
    building: str = ""
    floor: int | None = None

    def as_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "emailAddress": self.email,
            "displayName": self.display_name,
            "nickname": self.display_name,
            "capacity": self.capacity,
            "building": self.building or None,
            "floorNumber": self.floor,
            "floorLabel": str(self.floor) if self.floor is not None else None,
            "label": None,
            "bookingType": "standard",
            "isWheelChairAccessible": False,
            "audioDeviceName": None,
            "videoDeviceName": None,
            "displayDeviceName": None,
            "tags": [],
            "phone": None,
            "address": None,
            "geoCoordinates": None,
        }


@dataclass
class RoomList:
    """A room list (a distribution group of rooms) and the e-mail addresses of its rooms."""

    id: str
    email: str
    tenant_id: str
    display_name: str
    rooms: list[str] = field(default_factory=list)

    def as_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "emailAddress": self.email,
            "displayName": self.display_name,
            "phone": None,
            "address": None,
            "geoCoordinates": None,
        }


class Places:
    """The tenant's places. The emulator's lock guards every call."""

    page_size = 100

    def __init__(self) -> None:
        self.rooms: dict[str, RoomPlace] = {}
        self.lists: dict[str, RoomList] = {}

    def add_room(self, room: RoomPlace) -> RoomPlace:
        self.rooms[room.email.lower()] = room
        return room

    def add_list(self, room_list: RoomList) -> RoomList:
        self.lists[room_list.email.lower()] = room_list
        return room_list

    def find_list(self, key: str, tenant_id: str) -> RoomList | None:
        key = key.lower()
        for room_list in self.lists.values():
            if room_list.tenant_id == tenant_id and key in (room_list.email.lower(), room_list.id.lower()):
                return room_list
        return None

    def listing(self, segments: list[str], tenant_id: str) -> tuple[str, list[dict[str, Any]]] | None:
        """(context suffix, items) for a places path below ``/places``; None when the path is unknown."""
        lower = [s.lower() for s in segments]
        if lower == [LIST_CAST]:
            items = [room_list for room_list in self.lists.values() if room_list.tenant_id == tenant_id]
            return f"places/{LIST_CAST}", [i.as_graph() for i in sorted(items, key=lambda i: i.email)]
        if lower == [ROOM_CAST]:
            rooms = [r for r in self.rooms.values() if r.tenant_id == tenant_id]
            return f"places/{ROOM_CAST}", [r.as_graph() for r in sorted(rooms, key=lambda r: r.email)]
        if len(lower) == 3 and lower[1] == LIST_CAST and lower[2] == "rooms":
            room_list = self.find_list(segments[0], tenant_id)
            if room_list is None:
                return None
            members = [self.rooms[e.lower()] for e in room_list.rooms if e.lower() in self.rooms]
            return f"places('{room_list.email}')/{LIST_CAST}/rooms", [r.as_graph() for r in members]
        return None

    def page(self, request: Request, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
        """One page of ``items`` and the nextLink of the rest (None on the last page)."""
        raw_top = request.args.get("$top", "")
        top = min(int(raw_top), self.page_size) if raw_top.isdigit() and int(raw_top) > 0 else self.page_size
        raw_skip = request.args.get("$skiptoken", "0")
        skip = int(raw_skip) if raw_skip.isdigit() else 0
        page = items[skip : skip + top]
        if skip + top >= len(items):
            return page, None
        params = {k: v for k, v in request.args.items() if k != "$skiptoken"}
        params["$skiptoken"] = str(skip + top)
        base = request.host_url.rstrip("/") + quote(request.path, safe="/@:$.")
        return page, f"{base}?{urlencode(params, safe='$')}"
