"""Room discovery: a job lists the tenant's rooms; the form offers them from host storage; a pick maps them.

Public API: :class:`CachedRooms`, :func:`cached_rooms`, :func:`queue_discovery`, :func:`refresh_rooms`,
:func:`match_by_name`, :func:`pick_choices`, :func:`apply_pick`, :func:`discovery_note`,
:data:`JOB_DISCOVER`, :data:`ROOMS_KEY`, :data:`PICK_FIELD`, :data:`MAX_AGE`.

Building the form never calls the provider: it reads the last catalog from the integration's store
(``cache/rooms``, with the time it was taken) and queues the discovery job when there is none or it is
older than :data:`MAX_AGE`. The job asks the provider (:meth:`CalendarProvider.discover_rooms`) and
stores the catalog; a refusal for lack of permission is stored as such, so the form can say which
permission would enable discovery while the manual table stays. A failed listing keeps the previous
catalog. The job is idempotent.

The admin picks all rooms, one group (a Graph room list) or one room in the :data:`PICK_FIELD` select;
on save every picked room is mapped to the host object of the same name (compared without case and
without spaces) and added to the mapping; rooms with no such object are named on the form as "no
matching object", to be mapped by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from hookspecs.types import HostApi
from ireserve_calendar_plugin.config.form import SETTINGS_KEY
from ireserve_calendar_plugin.config.form import load_settings
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import DiscoveryNotPermittedError
from ireserve_calendar_plugin.providers.rooms import DiscoveredRoom
from ireserve_calendar_plugin.providers.rooms import RoomCatalog
from ireserve_calendar_plugin.providers.rooms import RoomGroup
from ireserve_calendar_plugin.providers.rooms import room_label
from ireserve_calendar_plugin.runtime import IntegrationContext
from ireserve_calendar_plugin.runtime import backend_context

__all__ = [
    "JOB_DISCOVER",
    "MAX_AGE",
    "PICK_FIELD",
    "ROOMS_KEY",
    "CachedRooms",
    "apply_pick",
    "cached_rooms",
    "discovery_note",
    "match_by_name",
    "pick_choices",
    "queue_discovery",
    "refresh_rooms",
]

log = logging.getLogger("ireserve_calendar_plugin.discovery")

JOB_DISCOVER = "calendar.discover"
ROOMS_KEY = "cache/rooms"
#: the settings field the admin picks rooms in (consumed on save, never stored)
PICK_FIELD = "discover_pick"
#: a catalog older than this is refreshed (in the background) when the form is shown
MAX_AGE = timedelta(hours=12)
#: a failed listing is tried again (when the form is shown) after this long
RETRY_FAILED = timedelta(minutes=5)
#: how many unmatched room names the form spells out
SHOW_UNMATCHED = 25


@dataclass(frozen=True)
class CachedRooms:
    """The last catalog and when it was taken (None: never), or why the last listing failed."""

    catalog: RoomCatalog
    fetched: datetime | None = None
    problem: str = ""
    not_permitted: bool = False
    failed_at: datetime | None = None


def cached_rooms(ctx: IntegrationContext) -> CachedRooms:
    """Read the stored catalog (no provider call)."""
    data: dict[str, Any] = ctx.store.load(ROOMS_KEY, {}).data or {}
    catalog = RoomCatalog(
        rooms=tuple(DiscoveredRoom.from_json(r) for r in data.get("rooms") or ()),
        groups=tuple(RoomGroup.from_json(g) for g in data.get("groups") or ()),
        calls=int(data.get("calls") or 0),
    )
    return CachedRooms(
        catalog=catalog,
        fetched=datetime.fromisoformat(data["fetched"]) if data.get("fetched") else None,
        problem=str(data.get("problem") or ""),
        not_permitted=bool(data.get("not_permitted")),
        failed_at=datetime.fromisoformat(data["failed_at"]) if data.get("failed_at") else None,
    )


def queue_discovery(ctx: IntegrationContext) -> bool:
    """Queue the discovery job (deduplicated)."""
    iid = ctx.integration.id
    return ctx.host.jobs.enqueue(JOB_DISCOVER, {"integration": iid}, dedupe_key=f"{JOB_DISCOVER}:{iid}")


def wants_refresh(cache: CachedRooms, now: datetime) -> bool:
    """No catalog yet, an old one, or a failed listing a few minutes ago (a permission may be granted now)."""
    if cache.failed_at is not None and (cache.fetched is None or cache.failed_at > cache.fetched):
        return now - cache.failed_at > RETRY_FAILED
    return cache.fetched is None or now - cache.fetched > MAX_AGE


def refresh_rooms(ctx: IntegrationContext) -> CachedRooms:
    """The job's body: ask the provider for its rooms and store them (a failure is stored, not raised)."""
    now = ctx.host.now()
    settings = load_settings(ctx.store, ctx.provider)
    if not ctx.provider.supports_discovery(settings):
        return cached_rooms(ctx)
    try:
        catalog = ctx.provider.discover_rooms(backend_context(ctx, settings))
    except CalendarPluginError as exc:
        log.info("integration %s: room discovery failed: %s", ctx.integration.id, type(exc).__name__)
        refused = isinstance(exc, DiscoveryNotPermittedError)
        problem = str(exc)[:500]

        def failed(data: dict[str, Any] | None) -> dict[str, Any]:
            return {**(data or {}), "problem": problem, "not_permitted": refused, "failed_at": now.isoformat()}

        ctx.store.update(ROOMS_KEY, failed, default={})
        return cached_rooms(ctx)
    doc = {
        "rooms": [r.to_json() for r in catalog.rooms],
        "groups": [g.to_json() for g in catalog.groups],
        "calls": catalog.calls,
        "fetched": now.isoformat(),
        "problem": "",
        "not_permitted": False,
        "failed_at": None,
    }
    ctx.store.save(ROOMS_KEY, doc, expected_version=None)
    return cached_rooms(ctx)


# --------------------------------------------------------------------------- picking and matching


def _key(name: str) -> str:
    return "".join(name.split()).casefold()


def match_by_name(rooms: Iterable[DiscoveredRoom], host: HostApi) -> tuple[list[tuple[str, int]], list[str]]:
    """Pair each room with the object of the same name (case- and space-insensitive).

    Returns ``([(room address, object id)], [names of rooms without a matching object])``. A name two
    objects share is ambiguous: those rooms are left to map by hand too."""
    by_name: dict[str, list[int]] = {}
    for obj in host.objects.all():
        by_name.setdefault(_key(obj.name), []).append(obj.id)
    pairs: list[tuple[str, int]] = []
    unmatched: list[str] = []
    for room in rooms:
        found = by_name.get(_key(room.name), [])
        if len(found) == 1:
            pairs.append((room.address, found[0]))
        else:
            unmatched.append(room.name)
    return pairs, unmatched


def pick_choices(cache: CachedRooms) -> list[tuple[str, str]]:
    """What the pick select offers: nothing, all rooms, each group, each room."""
    catalog = cache.catalog
    if not catalog.rooms:
        return []
    choices = [("", "(pick nothing)"), ("all", f"All rooms ({len(catalog.rooms)})")]
    choices += [(f"group:{g.id}", f"Room list: {g.name} ({len(g.members)} rooms)") for g in catalog.groups]
    choices += [(f"room:{r.address}", f"Room: {room_label(r)}") for r in catalog.rooms]
    return choices


def picked(cache: CachedRooms, pick: str) -> list[DiscoveredRoom]:
    """The rooms a pick names (unknown picks name none)."""
    catalog = cache.catalog
    if pick == "all":
        return list(catalog.rooms)
    if pick.startswith("group:"):
        group = next((g for g in catalog.groups if g.id == pick[len("group:") :]), None)
        return [room for room in (catalog.room(m) for m in (group.members if group else ())) if room is not None]
    if pick.startswith("room:"):
        room = catalog.room(pick[len("room:") :])
        return [room] if room is not None else []
    return []


def apply_pick(ctx: IntegrationContext, submitted: Mapping[str, object]) -> tuple[dict[str, object], list[str]]:
    """Turn a pick into mapping rows laid over the submitted (or stored) ones.

    Returns the submission without the pick and the names of picked rooms that matched no object."""
    values = dict(submitted)
    pick = str(values.pop(PICK_FIELD, "") or "").strip()
    if not pick:
        return values, []
    stored = ctx.store.load(SETTINGS_KEY).data or {}
    current = {**stored, **values}
    rooms = picked(cached_rooms(ctx), pick)
    mapped = ctx.provider.mapped_rooms(current)
    pairs, unmatched = match_by_name((r for r in rooms if r.address.lower() not in mapped), ctx.host)
    if pairs:
        values.update(ctx.provider.map_rooms(current, pairs))
    return values, unmatched


def discovery_note(
    ctx: IntegrationContext, settings: Mapping[str, Any], cache: CachedRooms, unmatched: list[str] | None = None
) -> str:
    """The words under the pick field: what was found and when, what did not match, or which permission
    would enable discovery."""
    parts: list[str] = []
    if cache.not_permitted:
        parts.append(cache.problem)
    elif cache.fetched is None:
        parts.append(
            "The tenant's rooms are being listed in the background; reload this page in a moment."
            if not cache.problem
            else f"Listing the tenant's rooms failed: {cache.problem}"
        )
    else:
        catalog = cache.catalog
        parts.append(
            f"{len(catalog.rooms)} rooms in {len(catalog.groups)} room lists, as of "
            f"{cache.fetched:%Y-%m-%d %H:%M} UTC. Each picked room is mapped to the object of the same "
            "name; the others are listed here to map by hand."
        )
        if cache.problem and cache.failed_at and cache.failed_at > cache.fetched:
            parts.append(f"The last refresh failed: {cache.problem}")
        if unmatched is None:
            mapped = ctx.provider.mapped_rooms(settings)
            _, unmatched = match_by_name((r for r in catalog.rooms if r.address.lower() not in mapped), ctx.host)
    if unmatched:
        shown = ", ".join(unmatched[:SHOW_UNMATCHED])
        more = f" and {len(unmatched) - SHOW_UNMATCHED} more" if len(unmatched) > SHOW_UNMATCHED else ""
        parts.append(f"No matching object: {shown}{more}.")
    return " ".join(parts)
