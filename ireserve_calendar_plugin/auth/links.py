"""Signed, expiring links that only an admin page can mint (the "connect" button).

Public API: :func:`sign_link`, :func:`verify_link`.

Starting an OAuth flow must be an admin's act: otherwise anyone could connect an integration to an
account of their own (login CSRF). The admin form carries a link signed with a key derived (HKDF)
from the host's key ring; the start route accepts it only while it is fresh and untampered.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from datetime import timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hookspecs.types import KeyRing

__all__ = ["sign_link", "verify_link"]

LINK_TTL = timedelta(minutes=30)


def _key(material: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ireserve-calendar signed link").derive(material)


def _mac(material: bytes, purpose: str, integration_id: str, expires: int) -> str:
    message = f"{purpose}|{integration_id}|{expires}".encode()
    return hmac.new(_key(material), message, hashlib.sha256).hexdigest()


def sign_link(keyring: KeyRing, purpose: str, integration_id: str, now: datetime) -> str:
    """A token ``<expires>.<kid>.<mac>`` for ``purpose`` on ``integration_id``."""
    expires = int((now + LINK_TTL).timestamp())
    mac = _mac(keyring.keys[keyring.current], purpose, integration_id, expires)
    return f"{expires}.{keyring.current}.{mac}"


def verify_link(keyring: KeyRing, purpose: str, integration_id: str, token: str, now: datetime) -> bool:
    """True when ``token`` was signed for this purpose and integration and has not expired."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return False
    expires, kid, mac = int(parts[0]), parts[1], parts[2]
    material = keyring.keys.get(kid)
    if material is None or expires < now.timestamp():
        return False
    return hmac.compare_digest(mac, _mac(material, purpose, integration_id, expires))
