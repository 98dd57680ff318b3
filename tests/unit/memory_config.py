"""A dict-backed ConfigApi for unit tests of the encrypted store (the reference host has the real one)."""

from __future__ import annotations

import threading

from hookspecs.types import ConfigEntry


class MemoryConfig:
    def __init__(self) -> None:
        self.data: dict[tuple[str, str], tuple[str, int]] = {}
        self._lock = threading.Lock()

    def get(self, integration_id: str, key: str) -> ConfigEntry:
        value, version = self.data.get((integration_id, key), (None, 0))
        return ConfigEntry(value, version)

    def put(self, integration_id: str, key: str, value: str | None, *, expected_version: int | None) -> bool:
        with self._lock:
            _, version = self.data.get((integration_id, key), (None, 0))
            if expected_version is not None and expected_version != version:
                return False
            if value is None:
                self.data.pop((integration_id, key), None)
            else:
                self.data[(integration_id, key)] = (value, version + 1)
            return True

    def keys(self, integration_id: str, prefix: str = "") -> list[str]:
        return sorted(k for (i, k) in self.data if i == integration_id and k.startswith(prefix))
