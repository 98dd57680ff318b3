"""Secrets stay secret: not in the database file, not in any log, not in any error text.

What it proves, per provider:

- a whole story with canary credentials (connect, sync both ways, token refreshes, provider errors,
  a revoked grant and a reconnect) leaves 0 occurrences of the client secret, of any access token,
  refresh token, authorization code, PKCE verifier or channel secret, and of the host's key material,
  in the raw bytes of the host's SQLite files (WAL included), in every log record of every logger at
  DEBUG (werkzeug's included, tracebacks included), in the integration log and in job errors;
- a tampered ciphertext in the host's config table is a controlled ``ConfigDecryptError`` naming the
  key, never the value: a job that meets it records an error and the worker goes on;
- rotating the host key while syncing re-encrypts every stored value (no envelope names the old key
  afterwards) and loses nothing; dropping the old key afterwards leaves everything working.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from calendar_emulators.core import Fault
from ireserve_calendar_plugin.auth import oauth
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import ConfigDecryptError
from ireserve_calendar_plugin.services import enqueue
from ireserve_calendar_plugin.sync.engine import sync_job
from ireserve_lab.world import World
from tests.reliability.conftest import USER
from tests.reliability.conftest import GoogleRig
from tests.reliability.conftest import hour_after
from tests.reliability.conftest import install_clock_sleep
from tests.reliability.conftest import make_rig
from tests.reliability.conftest import report

CANARY = "canary-secret-5b1e0d7c9a"


class Capture(logging.Handler):
    """Every record of every logger, formatted with its traceback; the browser's own requests aside."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.browsing = threading.Event()
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        browser = threading.current_thread() is threading.main_thread() and record.name.startswith("urllib3")
        if self.browsing.is_set() and browser:
            return  # the test's browser (it is handed the callback URL with the code, as any browser is)
        try:
            self.lines.append(self.format(record))
        except Exception as exc:  # a record that cannot be formatted is still counted
            self.lines.append(f"{record.name} unformattable: {type(exc).__name__}")


@pytest.fixture
def capture() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    werkzeug = logging.getLogger("werkzeug")
    old_werkzeug = werkzeug.level
    werkzeug.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        werkzeug.setLevel(old_werkzeug)


def _connect(rig: GoogleRig, capture: Capture) -> None:
    capture.browsing.set()
    try:
        rig.connect()
    finally:
        capture.browsing.clear()


def _files(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(db.parent.glob(db.name + "*")) if not p.name.endswith(".json"))


def test_no_secret_reaches_the_database_the_logs_or_an_error(
    world: World, provider: str, capture: Capture, monkeypatch: pytest.MonkeyPatch, long_run: bool
) -> None:
    verifiers: list[str] = []
    original_pair = oauth.pkce_pair

    def pkce_pair() -> tuple[str, str]:
        verifier, challenge = original_pair()
        verifiers.append(verifier)
        return verifier, challenge

    monkeypatch.setattr(oauth, "pkce_pair", pkce_pair)
    rig = make_rig(
        provider, world, client_id="canary-client", client_secret=CANARY, settings={"allow_booking_update": True}
    )
    install_clock_sleep(monkeypatch, world)
    _connect(rig, capture)
    host = world.host
    start = hour_after(world.clock(), 30)
    for i in range(4):
        host.bookings.create(
            object_id=rig.room.id,
            start=start + timedelta(hours=2 * i),
            end=start + timedelta(hours=2 * i + 1),
            status="confirmed",
            title=f"b{i}",
            channel="web",
            origin=USER,
        )
        rig.person_create(f"e{i}", start + timedelta(days=2, hours=2 * i), start + timedelta(days=2, hours=2 * i + 1))
    world.settle()
    rig.expire_access_tokens()
    world.advance(2 * 3600)  # tokens age out: refreshes
    rig.app.faults.add(Fault(status=503, path=rig.api_prefix, times=6))
    rig.app.faults.add(Fault(status=400, path=rig.api_prefix, times=1))
    world.tick()
    world.settle()
    rig.revoke_grant()
    host.bookings.create(
        object_id=rig.room.id,
        start=start + timedelta(days=5),
        end=start + timedelta(days=5, hours=1),
        status="confirmed",
        title="during outage",
        channel="web",
        origin=USER,
    )
    world.settle()
    _connect(rig, capture)
    world.settle()

    secrets = {CANARY, *rig.issued_secrets(), *verifiers}
    store = SecureConfig(host.config, host.keyring, rig.integration.id)
    for key in store.list_keys("chan/"):
        secrets.add(str(store.load(key).data.get("secret", "")))
    material = host.keyring.keys.values()
    keys = {base64.b64encode(k).decode() for k in material} | {k.hex() for k in material}
    secrets = {s for s in secrets | keys if len(s) >= 8}
    assert len(secrets) > 10 and verifiers  # the story really minted tokens, codes and verifiers

    db = Path(host.db.path)
    raw = _files(db)
    texts = {
        "database files": raw,
        "log records": "\n".join(capture.lines).encode(),
        "integration log": "\n".join(e.message for e in host.integration_log(rig.integration.id, 10_000)).encode(),
        "job errors": "\n".join(j.last_error for j in host.jobs.all()).encode(),
    }
    found = {where: sorted({s[:6] + "..." for s in secrets if s.encode() in blob}) for where, blob in texts.items()}
    found = {k: v for k, v in found.items() if v}
    report(
        f"secrets-{provider}",
        {
            "secrets_checked": len(secrets),
            "log_records": len(capture.lines),
            "database_bytes": len(raw),
            "occurrences": found,
        },
        long_run=long_run,
    )
    assert not found
    assert any("ERROR" in line for line in capture.lines) or any(
        e.level == "error" for e in host.integration_log(rig.integration.id)
    )  # errors were logged, and clean


def _tamper(world: World, integration_id: str, key: str) -> str:
    """Flip one character in the middle of a stored envelope; returns the original value."""
    with world.host.db.transaction() as conn:
        (value,) = conn.execute(
            "SELECT value FROM config WHERE integration_id = ? AND key = ?", (integration_id, key)
        ).fetchone()
        middle = len(value) // 2 + 7
        flipped = value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]
        conn.execute("UPDATE config SET value = ? WHERE integration_id = ? AND key = ?", (flipped, integration_id, key))
    return str(value)


def _restore(world: World, integration_id: str, key: str, value: str) -> None:
    with world.host.db.transaction() as conn:
        conn.execute("UPDATE config SET value = ? WHERE integration_id = ? AND key = ?", (value, integration_id, key))


@pytest.mark.parametrize("key", ["tokens", "settings", "cal"])
def test_tampered_ciphertext_is_a_controlled_error(
    world: World, provider: str, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(provider, world, client_id="canary-client", client_secret=CANARY)
    rig.connect()
    install_clock_sleep(monkeypatch, world)
    host, iid = world.host, rig.integration.id
    stored_key = f"cal/{rig.calendar_key()}" if key == "cal" else key
    original = _tamper(world, iid, stored_key)
    store = SecureConfig(host.config, host.keyring, iid)
    with pytest.raises(ConfigDecryptError) as info:
        store.load(stored_key)
    assert stored_key in str(info.value) and original not in str(info.value)

    enqueue(host, sync_job(iid, rig.calendar_key()))
    world.tick()
    ran = world.run_jobs()  # the worker meets the error and goes on: nothing escapes run_until_idle
    assert ran >= 1
    errors = [j.last_error for j in host.jobs.all() if j.last_error]
    logged = [e.message for e in host.integration_log(iid) if e.level in ("warning", "error")]
    assert any("ConfigDecryptError" in text for text in errors + logged), (errors, logged)
    for text in errors + logged:
        assert CANARY not in text and original not in text

    _restore(world, iid, stored_key, original)
    world.advance(3600)
    world.tick()
    world.settle()
    start = hour_after(world.clock(), 30)
    booking = host.bookings.create(
        object_id=rig.room.id,
        start=start,
        end=start + timedelta(hours=1),
        status="confirmed",
        title="after repair",
        channel="web",
        origin=USER,
    )
    world.settle()
    assert host.bookings.get(booking.id).fields.get("external_id")


def test_key_rotation_while_syncing_reencrypts_everything_and_loses_nothing(
    world: World, provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = make_rig(provider, world, settings={"allow_booking_update": True})
    rig.connect()
    install_clock_sleep(monkeypatch, world)
    host = world.host
    old = host.keyring.current
    start = hour_after(world.clock(), 30)
    made: list[Any] = []

    def change(i: int) -> None:
        made.append(
            host.bookings.create(
                object_id=rig.room.id,
                start=start + timedelta(hours=2 * i),
                end=start + timedelta(hours=2 * i + 1),
                status="confirmed",
                title=f"b{i}",
                channel="web",
                origin=USER,
            )
        )
        rig.person_create(f"e{i}", start + timedelta(days=3, hours=2 * i), start + timedelta(days=3, hours=2 * i + 1))

    for i in range(3):
        change(i)
    world.run_jobs(max_jobs=2)
    new = host.rotate_key()
    for i in range(3, 8):  # sync goes on while the rotation is picked up
        change(i)
        world.tick()
        world.wait_for_pushes()
        world.run_jobs(max_jobs=3)
        world.advance(30)
    world.tick()
    world.settle()
    with host.db.transaction(write=False) as conn:
        envelopes = [v for (v,) in conn.execute("SELECT value FROM config WHERE value IS NOT NULL")]
    assert envelopes and all(v.split(".")[1] == new for v in envelopes if v.startswith("icp1."))
    assert not [v for v in envelopes if f".{old}." in v]

    host.drop_key(old)
    for i in range(8, 10):
        change(i)
    world.advance(31 * 60)
    world.tick()
    world.settle()
    live = [e for e in rig.events() if e.live]
    bookings = host.list_bookings(rig.room.id)
    assert len(bookings) == 20 and len(live) == 20
    assert all(b.fields.get("external_id") for b in bookings)
    assert not [e for e in host.integration_log(rig.integration.id) if "Decrypt" in e.message]
