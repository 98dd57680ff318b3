"""What a provider tells about its directory of rooms: the vocabulary of room discovery.

Public API: :class:`DiscoveredRoom`, :class:`RoomGroup`, :class:`RoomCatalog`, :func:`room_label`.

A provider that can list a tenant's rooms (Graph ``places``, the Admin SDK's resource calendars)
implements :meth:`CalendarProvider.discover_rooms`, returning a :class:`RoomCatalog`; the plugin's
discovery job (:mod:`ireserve_calendar_plugin.discovery`) stores it and the admin form offers it.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

__all__ = ["DiscoveredRoom", "RoomCatalog", "RoomGroup", "room_label"]


@dataclass(frozen=True)
class DiscoveredRoom:
    """One room: ``address`` is what the provider syncs (a mailbox UPN, a resource calendar id)."""

    address: str
    name: str
    capacity: int | None = None
    building: str = ""
    floor: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "name": self.name,
            "capacity": self.capacity,
            "building": self.building,
            "floor": self.floor,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DiscoveredRoom:
        capacity = data.get("capacity")
        return cls(
            address=str(data["address"]),
            name=str(data.get("name") or data["address"]),
            capacity=int(capacity) if isinstance(capacity, int) else None,
            building=str(data.get("building") or ""),
            floor=str(data.get("floor") or ""),
        )


@dataclass(frozen=True)
class RoomGroup:
    """A group of rooms the admin may pick at once (a Graph room list, a Google building)."""

    id: str
    name: str
    members: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "members": list(self.members)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoomGroup:
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or data["id"]),
            members=tuple(str(m) for m in data.get("members") or ()),
        )


@dataclass(frozen=True)
class RoomCatalog:
    """Every room the provider listed, and its groups. ``calls`` counts the list requests it took."""

    rooms: tuple[DiscoveredRoom, ...] = ()
    groups: tuple[RoomGroup, ...] = ()
    calls: int = 0
    rooms_by_address: dict[str, DiscoveredRoom] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.rooms_by_address.update({r.address.lower(): r for r in self.rooms})

    def room(self, address: str) -> DiscoveredRoom | None:
        return self.rooms_by_address.get(address.lower())


def room_label(room: DiscoveredRoom) -> str:
    """``Board Room (12 seats, HQ, floor 3)``: the name with what is known of capacity, building, floor."""
    facts = []
    if room.capacity is not None:
        facts.append(f"{room.capacity} seats")
    if room.building:
        facts.append(room.building)
    if room.floor:
        facts.append(f"floor {room.floor}")
    return f"{room.name} ({', '.join(facts)})" if facts else room.name
