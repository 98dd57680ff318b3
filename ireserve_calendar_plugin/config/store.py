"""Encrypted, versioned JSON documents on top of the host's raw config store.

Public API: :class:`SecureConfig`, :class:`Document`, :func:`rotate_integration_keys`.

Every value the plugin writes goes through here (except the booking <-> event links, which hold no
secret and are plain JSON: :mod:`ireserve_calendar_plugin.sync.links`): JSON-encoded, sealed by
:class:`~.crypto.Sealer`, written with the host's compare-and-set. Reads decrypt and authenticate; a value
that fails raises :class:`~ireserve_calendar_plugin.errors.ConfigDecryptError`, never garbage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hookspecs.types import ConfigApi
from hookspecs.types import KeyRing
from ireserve_calendar_plugin.config.crypto import Sealer
from ireserve_calendar_plugin.errors import ConfigDecryptError
from ireserve_calendar_plugin.errors import StaleStateError

__all__ = ["Document", "SecureConfig", "rotate_integration_keys"]


@dataclass(frozen=True)
class Document:
    """A decrypted JSON value and the version to pass back for compare-and-set (0 = absent)."""

    data: Any
    version: int

    @property
    def exists(self) -> bool:
        return self.version != 0


class SecureConfig:
    """One integration's encrypted view of the host config store."""

    def __init__(self, config: ConfigApi, keyring: KeyRing, integration_id: str) -> None:
        self._config = config
        self._sealer = Sealer(keyring)
        self.integration_id = integration_id

    @property
    def raw_config(self) -> ConfigApi:
        """The host's config store underneath (for the few documents kept in plain JSON: links)."""
        return self._config

    def open_value(self, key: str, value: str) -> Any:
        """Decrypt and parse one stored ``value`` of ``key`` read elsewhere (for example in a unit of work)."""
        plain = self._sealer.open(self.integration_id, key, value)
        try:
            return json.loads(plain)
        except json.JSONDecodeError:
            raise ConfigDecryptError(self.integration_id, key, "decrypted value is not JSON") from None

    def load(self, key: str, default: Any = None) -> Document:
        """Return the decrypted document at ``key`` (``default`` with version 0 when absent)."""
        entry = self._config.get(self.integration_id, key)
        if entry.value is None:
            return Document(default, entry.version)
        plain = self._sealer.open(self.integration_id, key, entry.value)
        try:
            return Document(json.loads(plain), entry.version)
        except json.JSONDecodeError:
            raise ConfigDecryptError(self.integration_id, key, "decrypted value is not JSON") from None

    def save(self, key: str, data: Any, *, expected_version: int | None) -> bool:
        """Encrypt and write. With ``expected_version`` only if nobody wrote in between; returns success."""
        value = None if data is None else self._sealer.seal(self.integration_id, key, json.dumps(data))
        return self._config.put(self.integration_id, key, value, expected_version=expected_version)

    def update(self, key: str, change: Callable[[Any], Any], *, default: Any = None, attempts: int = 20) -> Any:
        """Read-modify-write with compare-and-set, retrying on a lost race. Returns the new data.

        ``change`` receives the current data and returns the new data (it may be called more than once).
        """
        for _ in range(attempts):
            doc = self.load(key, default)
            new = change(doc.data)
            if self.save(key, new, expected_version=doc.version):
                return new
        raise StaleStateError(f"config key {key!r} of integration {self.integration_id!r} kept changing")

    def delete(self, key: str) -> None:
        self._config.put(self.integration_id, key, None, expected_version=None)

    def list_keys(self, prefix: str = "") -> list[str]:
        return self._config.keys(self.integration_id, prefix)

    def reseal(self, key: str) -> bool:
        """Re-encrypt one value under the current key if it is under an older one. Returns whether it did."""
        entry = self._config.get(self.integration_id, key)
        if entry.value is None or self._sealer.key_id_of(entry.value) == self._sealer.current_key_id:
            return False
        if entry.value.startswith("{"):  # a plain JSON document (a link: sync/links.py), sealed by nobody
            return False
        plain = self._sealer.open(self.integration_id, key, entry.value)
        sealed = self._sealer.seal(self.integration_id, key, plain)
        if not self._config.put(self.integration_id, key, sealed, expected_version=entry.version):
            # someone wrote meanwhile; what they wrote is already under the current key
            return self.reseal(key)
        return True


def rotate_integration_keys(
    config: ConfigApi,
    keyring: KeyRing,
    integration_id: str,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Re-encrypt every stored value of one integration under the key ring's current key.

    Safe while sync runs: each value is rewritten by compare-and-set. ``progress(done, total)`` is called
    every 100 values and at the end. Returns how many were rewritten.
    """
    store = SecureConfig(config, keyring, integration_id)
    keys = store.list_keys()
    rewritten = 0
    for done, key in enumerate(keys, 1):
        rewritten += store.reseal(key)
        if progress is not None and (done % 100 == 0 or done == len(keys)):
            progress(done, len(keys))
    return rewritten
