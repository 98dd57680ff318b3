"""Anti-CSRF tokens for the admin pages: signed and time-limited with itsdangerous.

Public API: :class:`CsrfTokens`, :class:`CsrfVerdict`, :data:`CSRF_MAX_AGE`.

A token is ``itsdangerous.URLSafeTimedSerializer`` output over a fixed payload, signed with a key
derived from the host's key ring (``HMAC-SHA256(key, "ireserve-devhost admin csrf")`` for each key), so
it needs no server-side state: a form opened before a restart still posts, as long as the key file
beside the database is the same and the token is younger than :data:`CSRF_MAX_AGE`. After a key
rotation, tokens signed with an older key that is still in the ring keep working. The derived key is
never the ring's key itself, so a leaked token reveals nothing a plugin stored.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime

from itsdangerous import BadSignature
from itsdangerous import SignatureExpired
from itsdangerous import TimestampSigner
from itsdangerous import URLSafeTimedSerializer

from hookspecs.types import KeyRing

__all__ = ["CSRF_MAX_AGE", "CsrfTokens", "CsrfVerdict"]

#: How long a rendered form may be posted back, in seconds (a working day).
CSRF_MAX_AGE = 12 * 3600

_CONTEXT = b"ireserve-devhost admin csrf"
_SALT = "ireserve-devhost.admin-form"
_PAYLOAD = "admin"
_MAX_TOKEN = 512


class CsrfVerdict(enum.Enum):
    """What :meth:`CsrfTokens.check` found."""

    VALID = "valid"
    MISSING = "missing"
    EXPIRED = "expired"
    FORGED = "forged"


class CsrfTokens:
    """Issues and checks the admin forms' tokens with keys derived from ``keyring()``.

    ``keyring`` is called on each use, so a rotation is picked up without a restart; ``clock`` is the
    host's clock (timezone-aware), which stamps and ages the tokens.
    """

    def __init__(
        self, keyring: Callable[[], KeyRing], clock: Callable[[], datetime], *, max_age: int = CSRF_MAX_AGE
    ) -> None:
        self._keyring = keyring
        self._clock = clock
        self.max_age = max_age

    def _serializer(self) -> URLSafeTimedSerializer:
        ring = self._keyring()
        older = [kid for kid in sorted(ring.keys) if kid != ring.current]
        # itsdangerous signs with the last key and accepts any of them
        secrets = [_derive(ring.keys[kid]) for kid in (*older, ring.current)]
        return URLSafeTimedSerializer(secrets, salt=_SALT, signer=_ClockSigner, signer_kwargs={"clock": self._clock})

    def issue(self) -> str:
        """A fresh token to embed in a form."""
        token = self._serializer().dumps(_PAYLOAD)
        return token if isinstance(token, str) else token.decode("ascii")

    def check(self, token: str) -> CsrfVerdict:
        """Whether ``token`` came from :meth:`issue` of this host within :attr:`max_age` seconds."""
        if not token:
            return CsrfVerdict.MISSING
        if len(token) > _MAX_TOKEN:
            return CsrfVerdict.FORGED
        try:
            payload = self._serializer().loads(token, max_age=self.max_age)
        except SignatureExpired:
            return CsrfVerdict.EXPIRED
        except BadSignature:
            return CsrfVerdict.FORGED
        return CsrfVerdict.VALID if payload == _PAYLOAD else CsrfVerdict.FORGED


class _ClockSigner(TimestampSigner):
    """A timestamp signer that reads the host's clock instead of ``time.time()``."""

    def __init__(self, *args: object, clock: Callable[[], datetime], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


def _derive(key: bytes) -> bytes:
    return hmac.new(key, _CONTEXT, hashlib.sha256).digest()
