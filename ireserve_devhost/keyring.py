"""The reference host's key material for plugins: a :class:`hookspecs.types.KeyRing` and its key file.

Public API: :class:`KeyStore`, :class:`LiveKeyRing`, :class:`KeyFileError`, :func:`key_file_for`,
:func:`check_key_file_place`, :data:`KEY_BYTES`, :data:`KEY_FILE_ENV`.

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
Every process on the same key file follows it: :attr:`KeyStore.keyring` is a :class:`LiveKeyRing`
that re-reads the file when it changed, so a rotation by ``ireserve-devhost rotate-keys`` reaches
running hosts and workers without a restart.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import re
import secrets
import stat
import threading
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

from hookspecs.types import KeyRing
from ireserve_devhost.dialect import is_database_url

__all__ = [
    "KEY_BYTES",
    "KEY_FILE_ENV",
    "KeyFileError",
    "KeyStore",
    "LiveKeyRing",
    "check_key_file_place",
    "key_file_for",
]

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
    if is_database_url(db_path):
        raise KeyFileError(
            f"a host on a PostgreSQL database has no folder to keep its key file in: give --key-file PATH or "
            f"{KEY_FILE_ENV}=PATH (every host and worker on the database needs the same key file)"
        )
    path = Path(db_path)
    return path.with_name(path.name + ".keys.json")


def check_key_file_place(key_path: str | os.PathLike[str], db_path: str | os.PathLike[str]) -> None:
    """Raise :class:`KeyFileError` when the key file and the database would sit in one folder others can read."""
    if is_database_url(db_path):
        return  # the data lives on a database server, not in a folder
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
    """Holds the host's :class:`KeyRing`, following its key file as other processes rotate it.

    With a ``path`` the ring is loaded from (or created in) that key file; :attr:`keyring` is a
    :class:`LiveKeyRing` that re-reads the file whenever it changed (one ``stat`` per use), so a
    rotation or drop by any process reaches every running host without a restart. :meth:`rotate` and
    :meth:`drop` re-read the file under an exclusive lock before they change it, so concurrent
    rotations from several processes never lose a key. With a ``keyring`` or with neither, the ring
    lives in memory only.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, keyring: KeyRing | None = None) -> None:
        if path is not None and keyring is not None:
            raise ValueError("give a key file path or a keyring, not both")
        self.path = Path(path) if path is not None else None
        self._lock = threading.RLock()
        self._signature: tuple[int, ...] | None = None
        #: Why the last re-read of the key file failed (the last good ring stays in use), or None.
        self.load_error: str | None = None
        if keyring is not None:
            self._ring = _checked(keyring, "the given keyring")
        elif self.path is None:
            self._ring = KeyRing(current="k1", keys={"k1": secrets.token_bytes(KEY_BYTES)})
        else:
            self._ring = _load_or_create(self.path)
            self._signature = _signature(self.path)
        self._live = LiveKeyRing(self)

    @property
    def keyring(self) -> KeyRing:
        """The ring as plugins see it: a :class:`LiveKeyRing`, always the key file's latest."""
        return self._live

    def snapshot(self) -> KeyRing:
        """The latest ring as a plain :class:`KeyRing`: the key file is re-read when it changed."""
        if self.path is None:
            return self._ring
        with self._lock:
            try:
                signature = _signature(self.path)
            except OSError as err:
                self.load_error = f"cannot read the key file {self.path}: {err.strerror or err}"
                return self._ring
            if signature != self._signature:
                self._reload(signature)
            return self._ring

    def rotate(self) -> str:
        """Add a fresh key, make it current, keep the old ones; return the new key id."""
        with self._exclusive() as ring:
            numbers = [int(m.group(1)) for kid in ring.keys if (m := _KID.fullmatch(kid))]
            kid = f"k{max(numbers, default=0) + 1}"
            while kid in ring.keys:  # pragma: no cover - only with hand-made key ids
                kid += "x"
            self._save(KeyRing(current=kid, keys={**ring.keys, kid: secrets.token_bytes(KEY_BYTES)}))
            return kid

    def drop(self, kid: str) -> None:
        """Remove an old key; ValueError for the current key, KeyError for an unknown one."""
        with self._exclusive() as ring:
            if kid == ring.current:
                raise ValueError(f"{kid} is the current key; rotate first")
            if kid not in ring.keys:
                raise KeyError(kid)
            self._save(KeyRing(current=ring.current, keys={k: v for k, v in ring.keys.items() if k != kid}))

    # ------------------------------------------------------------------ internals

    def _reload(self, signature: tuple[int, ...]) -> None:
        assert self.path is not None
        try:
            ring = _read(self.path)
        except (OSError, KeyFileError) as err:
            self.load_error = str(err)  # keep serving with the last good ring; status and the admin page say so
            log.error("key file %s could not be re-read; still using the keys loaded before: %s", self.path, err)
            return
        if ring.current != self._ring.current or set(ring.keys) != set(self._ring.keys):
            log.info("key file %s changed: current key %s, keys %s", self.path, ring.current, ", ".join(ring.keys))
        self._ring, self._signature, self.load_error = ring, signature, None

    @contextmanager
    def _exclusive(self) -> Iterator[KeyRing]:
        """The ring as the key file holds it now, under an exclusive lock across processes."""
        with self._lock:
            if self.path is None:
                yield self._ring
                return
            lock_path = self.path.with_name(f".{self.path.name}.lock")
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._reload(_signature(self.path))
                if self.load_error is not None:
                    raise KeyFileError(self.load_error)
                yield self._ring
            finally:
                os.close(fd)  # closing releases the lock

    def _save(self, ring: KeyRing) -> None:
        if self.path is not None:
            _write(self.path, ring, exclusive=False)
            self._signature = _signature(self.path)
        self._ring = ring


class LiveKeyRing(KeyRing):
    """A :class:`KeyRing` whose ``current`` and ``keys`` are always its :class:`KeyStore`'s latest.

    Plugins keep the ring they were given for as long as a job runs; this one never goes stale: a
    value sealed now uses the key that is current now, and a key id this process has not seen yet
    (another process rotated a moment ago) makes it look at the key file again before it fails.
    """

    def __init__(self, store: KeyStore) -> None:  # noqa: D107 - the dataclass fields are properties here
        object.__setattr__(self, "_store", store)

    @property  # type: ignore[override]
    def current(self) -> str:
        return self._store.snapshot().current

    @property  # type: ignore[override]
    def keys(self) -> Mapping[str, bytes]:
        return _LiveKeys(self._store)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyRing):
            return NotImplemented
        return (self.current, dict(self.keys)) == (other.current, dict(other.keys))

    __hash__ = object.__hash__

    def __repr__(self) -> str:  # never the key material
        ring = self._store.snapshot()
        return f"LiveKeyRing(current={ring.current!r}, keys={sorted(ring.keys)!r})"


class _LiveKeys(Mapping[str, bytes]):
    """The keys of the latest ring; a key id not among them makes the store look at its file once more."""

    def __init__(self, store: KeyStore) -> None:
        self._store = store
        self._keys = store.snapshot().keys

    def __getitem__(self, kid: str) -> bytes:
        try:
            return self._keys[kid]
        except KeyError:
            self._keys = self._store.snapshot().keys  # another process may have rotated since
            return self._keys[kid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


# ---------------------------------------------------------------------- the key file


def _signature(path: Path) -> tuple[int, ...]:
    """What changes whenever the key file is replaced (every write replaces it atomically)."""
    info = path.stat()
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode)


def _load_or_create(path: Path) -> KeyRing:
    if not path.exists():
        ring = KeyRing(current="k1", keys={"k1": secrets.token_bytes(KEY_BYTES)})
        try:
            _write(path, ring, exclusive=True)
            return ring
        except FileExistsError:
            pass  # another host created it first: use theirs
    return _read(path)


def _read(path: Path) -> KeyRing:
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
