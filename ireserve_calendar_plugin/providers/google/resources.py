"""Resource-calendar discovery through the Admin SDK Directory API (service-account mode).

Public API: :func:`discover`, :data:`PAGE_SIZE`.

``GET {directory}/admin/directory/v1/customer/my_customer/resources/calendars`` (``resources.calendars.
list``, scope ``admin.directory.resource.calendar.readonly``), ``maxResults`` = :data:`PAGE_SIZE` (the
API's maximum), pages followed by ``pageToken`` (a token seen twice is a loop: :class:`TransientError`).
Each resource gives its ``resourceEmail`` (the calendar id synced), name, capacity, building and floor;
rooms are grouped by building for the pick. Its own token (:data:`DIRECTORY_TOKEN_KEY`) so that a
missing directory delegation never stops calendar sync. Refusals become
:class:`DiscoveryNotPermittedError` in words: delegation not granted for the directory scope, or the
subject is not an admin (403 ``forbidden``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ireserve_calendar_plugin.errors import DiscoveryNotPermittedError
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.google.client import PROVIDER
from ireserve_calendar_plugin.providers.google.client import raise_for_status
from ireserve_calendar_plugin.providers.google.service_account import DIRECTORY_TOKEN_KEY
from ireserve_calendar_plugin.providers.google.service_account import SCOPE_DIRECTORY
from ireserve_calendar_plugin.providers.google.service_account import service_account_tokens
from ireserve_calendar_plugin.providers.google.settings import DEFAULT_URLS
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.rooms import DiscoveredRoom
from ireserve_calendar_plugin.providers.rooms import RoomCatalog
from ireserve_calendar_plugin.providers.rooms import RoomGroup

__all__ = ["MAX_PAGES", "PAGE_SIZE", "discover"]

#: resources per page (the API's maximum)
PAGE_SIZE = 500
MAX_PAGES = 1000


def _items(api: ApiClient, url: str, subject: str, counter: list[int]) -> Iterator[dict[str, Any]]:
    token: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        params = {"maxResults": str(PAGE_SIZE), **({"pageToken": token} if token else {})}
        try:
            data = api.request("GET", url, params=params).json()
        except PermanentError as exc:
            if exc.status == 403:
                raise DiscoveryNotPermittedError(
                    f"Listing resource calendars was refused: the subject {subject} is not a Workspace admin (or "
                    "lacks the Calendar resources privilege). Use an admin as subject, or map the rooms by hand.",
                    provider=PROVIDER,
                    status=403,
                    reason=exc.reason,
                ) from exc
            raise
        except ValueError as exc:
            raise TransientError("google: a directory answer was not JSON", provider=PROVIDER) from exc
        counter[0] += 1
        for item in data.get("items") or () if isinstance(data, dict) else ():
            if isinstance(item, dict):
                yield item
        token = data.get("nextPageToken") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            return
        if token in seen:
            raise TransientError(
                "google: resources.calendars.list returned the same page token twice", provider=PROVIDER
            )
        seen.add(token)
    raise TransientError("google: resources.calendars.list did not end", provider=PROVIDER)


def discover(ctx: BackendContext) -> RoomCatalog:
    """Every resource calendar of the customer, grouped by building (see the module docstring)."""
    settings = ctx.settings
    base = str(settings.get("directory_base_url") or DEFAULT_URLS["directory_base_url"]).rstrip("/")
    root = f"{base}/admin/directory/v1"
    with ctx.http_session() as session:
        tokens = service_account_tokens(
            settings,
            session,
            ctx.store,
            scopes=(SCOPE_DIRECTORY,),
            key=DIRECTORY_TOKEN_KEY,
            now=ctx.now,
            wait=ctx.sleep,
            issuer=ctx.issuer,
        )

        def token() -> str:
            try:
                return tokens.get()
            except PermanentError as exc:
                if exc.reason == "delegation_not_granted":
                    raise DiscoveryNotPermittedError(
                        str(exc).replace("google: ", "Room discovery: "),
                        provider=PROVIDER,
                        status=exc.status,
                        reason=exc.reason,
                    ) from exc
                raise

        api = ApiClient(
            provider=PROVIDER,
            allowed_bases=[root],
            token=token,
            invalidate_token=tokens.invalidate,
            raise_for_status=raise_for_status,
            sleep=ctx.sleep,
            session=session,
        )
        counter = [0]
        rooms: list[DiscoveredRoom] = []
        buildings: dict[str, list[str]] = {}
        for item in _items(
            api, f"{root}/customer/my_customer/resources/calendars", str(settings.get("subject")), counter
        ):
            address = item.get("resourceEmail")
            if not isinstance(address, str) or "@" not in address:
                continue
            capacity = item.get("capacity")
            building = str(item.get("buildingId") or "")
            rooms.append(
                DiscoveredRoom(
                    address=address,
                    name=str(item.get("resourceName") or address),
                    capacity=capacity if isinstance(capacity, int) else None,
                    building=building,
                    floor=str(item.get("floorName") or ""),
                )
            )
            if building:
                buildings.setdefault(building, []).append(address)
    groups = tuple(RoomGroup(id=f"building:{b}", name=f"Building {b}", members=tuple(m)) for b, m in buildings.items())
    return RoomCatalog(rooms=tuple(rooms), groups=groups, calls=counter[0])
