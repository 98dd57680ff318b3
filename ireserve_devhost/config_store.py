"""The reference host's per-integration config store with compare-and-set.

Public API: :class:`ConfigStore` (``host.config``, a :class:`hookspecs.types.ConfigApi`).

Each ``(integration_id, key)`` has a version that only ever goes up, deletes included: a delete
leaves a tombstone row (value NULL) that reads as absent (``ConfigEntry(None, 0)``) but remembers the
last version, so a writer still holding a version from before the delete can never win (no ABA).
Each ``put`` reads and writes inside one write transaction that excludes every other ``put`` of the
same key (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a lock on the key, held until commit), so of
several writers that present the same ``expected_version`` exactly one succeeds, across threads,
processes and machines.
"""

from __future__ import annotations

from hookspecs.types import ConfigEntry
from ireserve_devhost.db import Transactions

__all__ = ["ConfigStore"]


class ConfigStore:
    """Raw string values per integration and key, stored as given (plugins encrypt what is secret)."""

    def __init__(self, db: Transactions) -> None:
        self._db = db

    def get(self, integration_id: str, key: str) -> ConfigEntry:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT value, version FROM config WHERE integration_id = ? AND key = ?",
                (integration_id, key),
            ).fetchone()
        if row is None or row[0] is None:
            return ConfigEntry(None, 0)
        return ConfigEntry(row[0], row[1])

    def put(self, integration_id: str, key: str, value: str | None, *, expected_version: int | None) -> bool:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"config values are strings, not {type(value).__name__}")
        if not key:
            raise ValueError("a config key must not be empty")
        with self._db.transaction() as conn:
            self._db.dialect.lock(conn, "config", integration_id, key)
            row = conn.execute(
                "SELECT value, version FROM config WHERE integration_id = ? AND key = ?",
                (integration_id, key),
            ).fetchone()
            stored_version = row[1] if row else 0
            visible_version = stored_version if row and row[0] is not None else 0
            if expected_version is not None and expected_version != visible_version:
                return False
            if value is None and visible_version == 0:
                return True  # deleting what is absent: nothing to write
            conn.execute(
                "INSERT INTO config (integration_id, key, value, version) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (integration_id, key)"
                " DO UPDATE SET value = excluded.value, version = excluded.version",
                (integration_id, key, value, stored_version + 1),
            )
        return True

    def keys(self, integration_id: str, prefix: str = "") -> list[str]:
        # A key range on the primary key's index (prefix <= key < the prefix with its last character
        # bumped), so listing one calendar's links does not scan every key of the integration.
        args: tuple[object, ...]
        if prefix and ord(prefix[-1]) < 0x10FFFF:
            sql, args = " AND key >= ? AND key < ?", (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1))
        else:
            sql, args = " AND substr(key, 1, ?) = ?", (len(prefix), prefix)
        with self._db.transaction(write=False) as conn:
            rows = conn.execute(
                f"SELECT key FROM config WHERE integration_id = ? AND value IS NOT NULL{sql} ORDER BY key",
                (integration_id, *args),
            ).fetchall()
        return [row[0] for row in rows]
