"""Authenticated encryption of every value the plugin stores through the host config API.

Public API: :class:`Sealer`, :data:`ENVELOPE_PREFIX`.

Each value is sealed with AES-256-GCM under the key ring's current key. The associated data binds the
ciphertext to its integration and config key, so a value copied to another key or another integration
fails to open (swap protection), as does any flipped bit (tamper protection). The envelope is text:

    icp1.<key id>.<base64url(12-byte nonce || ciphertext || 16-byte tag)>

``icp1`` versions the format; the key id lets older keys of the ring still decrypt after a rotation.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hookspecs.types import KeyRing
from ireserve_calendar_plugin.errors import ConfigDecryptError

__all__ = ["ENVELOPE_PREFIX", "Sealer"]

ENVELOPE_PREFIX = "icp1"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NONCE_BYTES = 12


def _aad(integration_id: str, key: str) -> bytes:
    return b"\x00".join([b"ireserve-calendar", ENVELOPE_PREFIX.encode(), integration_id.encode(), key.encode()])


class Sealer:
    """Seals and opens config values with a host :class:`~hookspecs.types.KeyRing`."""

    def __init__(self, keyring: KeyRing) -> None:
        if keyring.current not in keyring.keys:
            raise ValueError("the key ring's current key id is not among its keys")
        for kid, material in keyring.keys.items():
            if not _KEY_ID.match(kid):
                raise ValueError("key ids must be 1-64 characters of A-Z a-z 0-9 _ -")
            if len(material) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes (AES-256)")
        self._keyring = keyring

    @property
    def current_key_id(self) -> str:
        return self._keyring.current

    def seal(self, integration_id: str, key: str, plaintext: str) -> str:
        """Encrypt ``plaintext`` for (integration, key) under the current key."""
        kid = self._keyring.current
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self._keyring.keys[kid]).encrypt(nonce, plaintext.encode("utf-8"), _aad(integration_id, key))
        blob = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{ENVELOPE_PREFIX}.{kid}.{blob}"

    def key_id_of(self, envelope: str) -> str | None:
        """Return the key id an envelope names, or None if it is not one of ours."""
        parts = envelope.split(".")
        return parts[1] if len(parts) == 3 and parts[0] == ENVELOPE_PREFIX else None

    def open(self, integration_id: str, key: str, envelope: str) -> str:
        """Decrypt and authenticate. Raises :class:`ConfigDecryptError` naming integration and key."""
        parts = envelope.split(".")
        if len(parts) != 3 or parts[0] != ENVELOPE_PREFIX:
            raise ConfigDecryptError(integration_id, key, "not an encrypted envelope of a known version")
        _, kid, blob = parts
        material = self._keyring.keys.get(kid)
        if material is None:
            raise ConfigDecryptError(integration_id, key, f"key id {kid!r} is not in the key ring")
        try:
            raw = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
        except (binascii.Error, ValueError):
            raise ConfigDecryptError(integration_id, key, "envelope is not valid base64") from None
        if len(raw) < _NONCE_BYTES + 16:
            raise ConfigDecryptError(integration_id, key, "envelope is truncated")
        try:
            plain = AESGCM(material).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(integration_id, key))
        except InvalidTag:
            raise ConfigDecryptError(
                integration_id, key, "authentication failed (tampered, moved from another key, or wrong key)"
            ) from None
        return plain.decode("utf-8")
