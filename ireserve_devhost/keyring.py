"""The reference host's key material for plugins: a :class:`hookspecs.types.KeyRing` and its key file.

Public API: :class:`KeyStore`, :class:`KeyFileError`, :func:`key_file_for`, :func:`check_key_file_place`,
:data:`KEY_BYTES`, :data:`KEY_FILE_ENV`.

A host with a database file keeps its keys in a key file, created on first use with permissions 0600::

    {"current": "k1", "keys": {"k1": "<base64 of 32 random bytes>"}}

Where: the ``key_file`` the host was given (``--key-file``), else :data:`KEY_FILE_ENV`, else
``<db file>.keys.json`` beside the database. Keys and data in one folder that others can read would
hand anyone who can copy that folder both the ciphertext and its key, so the host refuses to start
then (:func:`check_key_file_place`); it also refuses a key file that group or others can read, and
says how to fix it.

A ``:memory:`` host gets a random in-memory key (or the :class:`KeyRing` it was given). Rotation
follows the contract: :meth:`KeyStore.rotate` adds a new current key and keeps the old ones so
existing values still decrypt; :meth:`KeyStore.drop` removes an old key once plugins re-encrypted.
A running host sees only its own rotations; other processes pick up a rotation when they restart.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import secrets
import stat
import threading
from pathlib import Path

from hookspecs.types import KeyRing

__all__ = ["KEY_BYTES", "KEY_FILE_ENV", "KeyFileError", "KeyStore", "check_key_file_place", "key_file_for"]

log = logging.getLogger(__name__)

#: Size of every key, in bytes.
KEY_BYTES = 32

#: The environment variable naming the key file (``--key-file`` wins over it).
KEY_FILE_ENV = "IRESERVE_DEVHOST_KEY_FILE"

_KID = re.compile(r"k(\d+)")


class KeyFileError(ValueError):
    """The key file cannot be used as it is (unsafe mode or place, unreadable); the message says how to fix it."""


def key_file_for(db_path: str | os.PathLike[str], key_file: str | os.PathLike[str] | None = None) -> Path:
    """Return where the key file of a database file lives: ``key_file``, else $IRESERVE_DEVHOST_KEY_FILE,
    else ``<db file>.keys.json`` beside the database."""
    if key_file is not None and os.fspath(key_file):
        return Path(key_file)
    if os.environ.get(KEY_FILE_ENV):
        return Path(os.environ[KEY_FILE_ENV])
    path = Path(db_path)
    return path.with_name(path.name + ".keys.json")


def check_key_file_place(key_path: str | os.PathLike[str], db_path: str | os.PathLike[str]) -> None:
    """Raise :class:`KeyFileError` when the key file and the database would sit in one folder others can read."""
    key_dir = Path(key_path).resolve().parent
    db_dir = Path(db_path).resolve().parent
    if key_dir != db_dir:
        return
    try:
        mode = stat.S_IMODE(key_dir.stat().st_mode)
    except OSError:
        return  # a missing folder fails later, with its own error
    if mode & stat.S_IROTH:
        raise KeyFileError(
            f"the key file {key_path} would sit beside the database in {key_dir}, a folder others can read "
            f"(mode {mode:o}): anyone who can copy the folder would get both the data and its key. Keep the "
            f"key elsewhere (--key-file PATH or {KEY_FILE_ENV}=PATH), or make the folder private: chmod 700 {key_dir}"
        )


class KeyStore:
    """Holds the host's current :class:`KeyRing`.

    With a ``path`` the ring is loaded from (or created in) that key file and every rotation is
    written back; with a ``keyring`` or with neither, it lives in memory only.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, keyring: KeyRing | None = None) -> None:
        if path is not None and keyring is not None:
            raise ValueError("give a key file path or a keyring, not both")
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        if keyring is not None:
            self._ring = _checked(keyring, "the given keyring")
        elif self.path is None:
            self._ring = KeyRing(current="k1", keys={"k1": secrets.token_bytes(KEY_BYTES)})
        else:
            self._ring = _load_or_create(self.path)

    @property
    def keyring(self) -> KeyRing:
        """The current keyring (an immutable snapshot)."""
        with self._lock:
            return self._ring

    def rotate(self) -> str:
        """Add a fresh key, make it current, keep the old ones; return the new key id."""
        with self._lock:
            numbers = [int(m.group(1)) for kid in self._ring.keys if (m := _KID.fullmatch(kid))]
            kid = f"k{max(numbers, default=0) + 1}"
            while kid in self._ring.keys:  # pragma: no cover - only with hand-made key ids
                kid += "x"
            ring = KeyRing(current=kid, keys={**self._ring.keys, kid: secrets.token_bytes(KEY_BYTES)})
            self._save(ring)
            return kid

    def drop(self, kid: str) -> None:
        """Remove an old key; ValueError for the current key, KeyError for an unknown one."""
        with self._lock:
            if kid == self._ring.current:
                raise ValueError(f"{kid} is the current key; rotate first")
            if kid not in self._ring.keys:
                raise KeyError(kid)
            self._save(KeyRing(current=self._ring.current, keys={k: v for k, v in self._ring.keys.items() if k != kid}))

    def _save(self, ring: KeyRing) -> None:
        if self.path is not None:
            _write(self.path, ring, exclusive=False)
        self._ring = ring


# ---------------------------------------------------------------------- the key file


def _load_or_create(path: Path) -> KeyRing:
    if not path.exists():
        ring = KeyRing(current="k1", keys={"k1": secrets.token_bytes(KEY_BYTES)})
        try:
            _write(path, ring, exclusive=True)
            return ring
        except FileExistsError:
            pass  # another host created it first: use theirs
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"the key file {path} can be read or written by group or others (mode {mode:o}); "
            f"the host will not use it. Fix: chmod 600 {path}"
        )
    try:
        data = json.loads(path.read_text("utf-8"))
        ring = KeyRing(
            current=data["current"],
            keys={kid: base64.b64decode(text, validate=True) for kid, text in data["keys"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise KeyFileError(f"cannot read the key file {path}: {err}") from err
    return _checked(ring, f"the key file {path}")


def _write(path: Path, ring: KeyRing, *, exclusive: bool) -> None:
    """Write the key file atomically with mode 0600; with ``exclusive``, only if it does not exist."""
    text = json.dumps(
        {
            "current": ring.current,
            "keys": {kid: base64.b64encode(key).decode("ascii") for kid, key in ring.keys.items()},
        },
        indent=2,
    )
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        if exclusive:
            os.link(tmp, path)  # atomic create-if-absent: FileExistsError when another host won
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _checked(ring: KeyRing, where: str) -> KeyRing:
    if ring.current not in ring.keys:
        raise ValueError(f"{where}: the current key {ring.current!r} is not among the keys")
    for kid, key in ring.keys.items():
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise ValueError(f"{where}: key {kid!r} must be {KEY_BYTES} bytes")
    return KeyRing(current=ring.current, keys=dict(ring.keys))
