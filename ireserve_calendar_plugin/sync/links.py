"""The engine's memory of booking <-> event pairs, in the host config store (encrypted).

Public API: :class:`Link`, :class:`LinkState`, :class:`LinkStore`.

One document per pair at ``link/<calendar key>/<booking id>``. It remembers the event id, the etag
and content hash of our last write (echo detection), and, while a create is in flight, the
idempotency key that makes a retried create adopt the first one instead of making a second event.
Listing the keys under ``link/<calendar key>/`` gives every booking linked to a calendar, which a
full resync needs to notice events deleted while its sync token was stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields
from dataclasses import replace
from enum import StrEnum
from typing import Any

from ireserve_calendar_plugin.config.store import SecureConfig

__all__ = ["Link", "LinkState", "LinkStore"]

_PREFIX = "link/"


class LinkState(StrEnum):
    """Where a booking's event stands (stored as its value)."""

    #: a create is in flight under the link's idempotency key (its event id may be unknown yet)
    CREATING = "creating"
    #: the event exists and is the booking's
    LINKED = "linked"
    #: our delete of the event is in flight: its tombstone is our own and only unlinks
    DELETING = "deleting"


@dataclass(frozen=True)
class Link:
    """One booking's event in a :class:`LinkState` (``idempotency_key`` belongs to a create in flight);
    ``etag``/``content_hash`` describe our last write, ``version`` the stored version."""

    booking_id: int
    calendar_key: str
    event_id: str = ""
    etag: str = ""
    content_hash: str = ""
    state: LinkState = LinkState.LINKED
    idempotency_key: str = ""
    join_url: str = ""
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        # not ``asdict`` (which deep-copies every value): this runs once per synced event
        return {name: getattr(self, name) for name in _STORED}

    @classmethod
    def from_json(cls, data: dict[str, Any], version: int) -> Link:
        return cls(**{**data, "state": LinkState(data.get("state", LinkState.LINKED)), "version": version})

    def but(self, **changes: Any) -> Link:
        return replace(self, **changes)


#: the fields a stored link document holds (all but ``version``, which is the store's)
_STORED = tuple(f.name for f in fields(Link) if f.name != "version")


class LinkStore:
    """Reads and writes :class:`Link` documents by compare-and-set."""

    def __init__(self, store: SecureConfig) -> None:
        self._store = store

    @staticmethod
    def key(calendar_key: str, booking_id: int) -> str:
        return f"{_PREFIX}{calendar_key}/{booking_id}"

    def get(self, calendar_key: str, booking_id: int) -> Link | None:
        doc = self._store.load(self.key(calendar_key, booking_id))
        return Link.from_json(doc.data, doc.version) if doc.exists else None

    def find(self, booking_id: int, calendar_keys: list[str]) -> Link | None:
        """The booking's link on any of ``calendar_keys`` (the booking may have changed object)."""
        for calendar_key in calendar_keys:
            link = self.get(calendar_key, booking_id)
            if link is not None:
                return link
        suffix = f"/{booking_id}"
        for key in self._store.list_keys(_PREFIX):
            if key.endswith(suffix):
                calendar_key = key[len(_PREFIX) : -len(suffix)]
                return self.get(calendar_key, booking_id)
        return None

    def save(self, link: Link) -> bool:
        """Write ``link`` if nobody changed it since it was read (its ``version``); False when another
        writer won (re-read and decide again)."""
        key = self.key(link.calendar_key, link.booking_id)
        return self._store.save(key, link.to_json(), expected_version=link.version)

    def delete(self, calendar_key: str, booking_id: int) -> None:
        self._store.delete(self.key(calendar_key, booking_id))

    def booking_ids(self, calendar_key: str) -> list[int]:
        prefix = f"{_PREFIX}{calendar_key}/"
        return [int(k[len(prefix) :]) for k in self._store.list_keys(prefix)]
