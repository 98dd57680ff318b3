"""The engine's memory of booking <-> event pairs, in the host config store (plain JSON, not encrypted).

Public API: :class:`Link`, :class:`LinkState`, :class:`LinkStore`.

One document per pair at ``link/<calendar key>/<booking id>``. It remembers the event id, the etag
and content hash of our last write (echo detection), and, while a create is in flight, the
idempotency key that makes a retried create adopt the first one instead of making a second event.
Listing the keys under ``link/<calendar key>/`` gives every booking linked to a calendar, which a
full resync needs to notice events deleted while its sync token was stale.

Nothing in a link is a secret (the provider holds the same event ids and etags; a join URL is a booking
field too), so links are written as plain JSON: applying an event costs no encryption, and with a host's
unit of work the link row is written in the same transaction as the booking (see
:meth:`LinkStore.within`). Installs from before kept them sealed (``icp1.`` envelopes, see
:mod:`ireserve_calendar_plugin.config.crypto`): those still read, and each is rewritten as plain JSON the
next time it is saved, or by :meth:`LinkStore.migrate` (run by the re-encryption job).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import fields
from dataclasses import replace
from enum import StrEnum
from typing import Any

from hookspecs.types import ConfigApi
from ireserve_calendar_plugin.config.crypto import ENVELOPE_PREFIX
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import ConfigDecryptError

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
    """Reads and writes :class:`Link` documents by compare-and-set, through ``config`` (the host's
    per-call API, or a unit of work's: :meth:`within`); ``store`` opens links sealed by older versions."""

    def __init__(self, store: SecureConfig, config: ConfigApi | None = None) -> None:
        self._store = store
        self._config = config if config is not None else store.raw_config
        self._iid = store.integration_id

    def within(self, config: ConfigApi) -> LinkStore:
        """The same links, read and written through ``config`` (a unit of work's)."""
        return LinkStore(self._store, config)

    @staticmethod
    def key(calendar_key: str, booking_id: int) -> str:
        return f"{_PREFIX}{calendar_key}/{booking_id}"

    def get(self, calendar_key: str, booking_id: int) -> Link | None:
        key = self.key(calendar_key, booking_id)
        entry = self._config.get(self._iid, key)
        if entry.value is None:
            return None
        return Link.from_json(self._decode(key, entry.value), entry.version)

    def _decode(self, key: str, value: str) -> dict[str, Any]:
        if value.startswith(f"{ENVELOPE_PREFIX}."):  # sealed by a version before plain links
            data = self._store.open_value(key, value)
        else:
            try:
                data = json.loads(value)
            except json.JSONDecodeError:
                raise ConfigDecryptError(self._iid, key, "a link document is not JSON") from None
        if not isinstance(data, dict):
            raise ConfigDecryptError(self._iid, key, "a link document is not a JSON object")
        return data

    def find(self, booking_id: int, calendar_keys: list[str]) -> Link | None:
        """The booking's link on any of ``calendar_keys`` (the booking may have changed object)."""
        for calendar_key in calendar_keys:
            link = self.get(calendar_key, booking_id)
            if link is not None:
                return link
        suffix = f"/{booking_id}"
        for key in self._config.keys(self._iid, _PREFIX):
            if key.endswith(suffix):
                calendar_key = key[len(_PREFIX) : -len(suffix)]
                return self.get(calendar_key, booking_id)
        return None

    def save(self, link: Link) -> bool:
        """Write ``link`` if nobody changed it since it was read (its ``version``); False when another
        writer won (re-read and decide again)."""
        key = self.key(link.calendar_key, link.booking_id)
        value = json.dumps(link.to_json(), separators=(",", ":"))
        return self._config.put(self._iid, key, value, expected_version=link.version)

    def delete(self, calendar_key: str, booking_id: int) -> None:
        self._config.put(self._iid, self.key(calendar_key, booking_id), None, expected_version=None)

    def booking_ids(self, calendar_key: str) -> list[int]:
        prefix = f"{_PREFIX}{calendar_key}/"
        return [int(k[len(prefix) :]) for k in self._config.keys(self._iid, prefix)]

    def migrate(self) -> int:
        """Rewrite every link still sealed by an older version as plain JSON (compare-and-set: a link
        written meanwhile is already plain). Returns how many were rewritten."""
        done = 0
        for key in self._config.keys(self._iid, _PREFIX):
            entry = self._config.get(self._iid, key)
            if entry.value is None or not entry.value.startswith(f"{ENVELOPE_PREFIX}."):
                continue
            plain = json.dumps(self._decode(key, entry.value), separators=(",", ":"))
            done += self._config.put(self._iid, key, plain, expected_version=entry.version)
        return done
