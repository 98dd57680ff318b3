"""Room discovery through Graph ``places`` (application mode, ``Place.Read.All``).

Public API: :func:`discover`, :data:`PAGE_SIZE`, :data:`NOT_PERMITTED`.

Three listings, each paged (``$top`` = :data:`PAGE_SIZE`, Graph's default and maximum for places) and
followed through ``@odata.nextLink`` with the delta listing's safety rules: a link is requested only
through :meth:`ApiClient.request` (so never outside the configured Graph root), a link seen twice in
one listing is a loop (:class:`TransientError`), and a listing longer than :data:`MAX_PAGES` pages
stops. ``GET /places/microsoft.graph.room`` gives every room with its capacity, building and floor;
``GET /places/microsoft.graph.roomlist`` the room lists, and
``GET /places/{list}/microsoft.graph.roomlist/rooms`` each list's members. A 403 is
:class:`DiscoveryNotPermittedError` naming the permission that would enable it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests

from ireserve_calendar_plugin.errors import DiscoveryNotPermittedError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.outlook.client import PROVIDER
from ireserve_calendar_plugin.providers.rooms import DiscoveredRoom
from ireserve_calendar_plugin.providers.rooms import RoomCatalog
from ireserve_calendar_plugin.providers.rooms import RoomGroup

__all__ = ["MAX_PAGES", "NOT_PERMITTED", "PAGE_SIZE", "discover"]

#: places per page (Graph returns 100 by default and at most that many)
PAGE_SIZE = 100
#: a places listing longer than this many pages is treated as a loop
MAX_PAGES = 1000
NOT_PERMITTED = (
    "Room discovery needs the application permission Place.Read.All with admin consent; until it "
    "is granted, type each room's mailbox address in the table."
)


class _Pager:
    """Counts the list calls of one discovery."""

    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.calls = 0

    def items(self, url: str) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        link: str | None = url
        params: dict[str, str] | None = {"$top": str(PAGE_SIZE)}
        for _ in range(MAX_PAGES):
            if link is None:
                return
            try:
                response = self.api.request("GET", link, params=params)
            except PermanentError as exc:
                if exc.status == 403:
                    raise DiscoveryNotPermittedError(
                        NOT_PERMITTED, provider=PROVIDER, status=403, reason=exc.reason
                    ) from exc
                raise
            data = _object(response)
            self.calls += 1
            values = data.get("value")
            for item in values if isinstance(values, list) else ():
                if isinstance(item, dict):
                    yield item
            next_link = data.get("@odata.nextLink")
            if not isinstance(next_link, str) or not next_link:
                return
            if next_link in seen:
                raise TransientError("outlook: places returned the same nextLink twice", provider=PROVIDER)
            seen.add(next_link)
            link, params = next_link, None
        raise TransientError("outlook: a places listing did not end", provider=PROVIDER)


def _object(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise TransientError("outlook: a places answer was not JSON", provider=PROVIDER) from exc
    if not isinstance(data, dict):
        raise TransientError("outlook: a places answer was not a JSON object", provider=PROVIDER)
    return data


def _room(item: dict[str, Any]) -> DiscoveredRoom | None:
    address = item.get("emailAddress")
    if not isinstance(address, str) or "@" not in address:
        return None
    capacity = item.get("capacity")
    floor = item.get("floorLabel") or item.get("floorNumber")
    return DiscoveredRoom(
        address=address,
        name=str(item.get("displayName") or address),
        capacity=capacity if isinstance(capacity, int) else None,
        building=str(item.get("building") or ""),
        floor=str(floor) if floor is not None else "",
    )


def discover(api: ApiClient, base_url: str) -> RoomCatalog:
    """Every room of the tenant and its room lists (see the module docstring)."""
    root = base_url.rstrip("/") + "/v1.0/places"
    pager = _Pager(api)
    rooms = [room for room in map(_room, pager.items(f"{root}/microsoft.graph.room")) if room is not None]
    groups = []
    for item in list(pager.items(f"{root}/microsoft.graph.roomlist")):
        address = item.get("emailAddress")
        if not isinstance(address, str) or not address:
            continue
        url = f"{root}/{quote(address, safe='@')}/microsoft.graph.roomlist/rooms"
        members = tuple(room.address for room in map(_room, pager.items(url)) if room is not None)
        groups.append(RoomGroup(id=address, name=str(item.get("displayName") or address), members=members))
    return RoomCatalog(rooms=tuple(rooms), groups=tuple(groups), calls=pager.calls)
