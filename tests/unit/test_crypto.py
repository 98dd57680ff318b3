"""Encryption of stored values: round trip, tamper, swap, wrong key, rotation."""

from __future__ import annotations

import base64
import os

import pytest

from hookspecs.types import KeyRing
from ireserve_calendar_plugin.config.crypto import Sealer
from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.config.store import rotate_integration_keys
from ireserve_calendar_plugin.errors import ConfigDecryptError
from ireserve_calendar_plugin.errors import StaleStateError
from tests.unit.memory_config import MemoryConfig

SECRET = "ya29.canary-secret-token"


def ring(*kids: str, current: str | None = None) -> KeyRing:
    return KeyRing(current=current or kids[-1], keys={k: os.urandom(32) for k in kids})


def test_round_trip_and_no_plaintext() -> None:
    sealer = Sealer(ring("k1"))
    envelope = sealer.seal("int-1", "tokens", SECRET)
    assert SECRET not in envelope
    assert envelope.startswith("icp1.k1.")
    assert sealer.open("int-1", "tokens", envelope) == SECRET


def test_same_plaintext_gives_different_ciphertexts() -> None:
    sealer = Sealer(ring("k1"))
    assert sealer.seal("i", "k", SECRET) != sealer.seal("i", "k", SECRET)


def test_tampered_value_is_a_clear_error_naming_integration_and_key() -> None:
    sealer = Sealer(ring("k1"))
    envelope = sealer.seal("int-1", "tokens", SECRET)
    prefix, kid, blob = envelope.split(".")
    raw = bytearray(base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4)))
    raw[20] ^= 0x01
    tampered = f"{prefix}.{kid}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    with pytest.raises(ConfigDecryptError) as info:
        sealer.open("int-1", "tokens", tampered)
    assert "int-1" in str(info.value) and "tokens" in str(info.value)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("integration,key", [("int-2", "tokens"), ("int-1", "settings")])
def test_swapped_value_does_not_open(integration: str, key: str) -> None:
    sealer = Sealer(ring("k1"))
    envelope = sealer.seal("int-1", "tokens", SECRET)
    with pytest.raises(ConfigDecryptError, match="authentication failed"):
        sealer.open(integration, key, envelope)


def test_wrong_key_and_unknown_key_id() -> None:
    envelope = Sealer(ring("k1")).seal("i", "k", SECRET)
    with pytest.raises(ConfigDecryptError, match="authentication failed"):
        Sealer(ring("k1")).open("i", "k", envelope)  # same id, other bytes
    with pytest.raises(ConfigDecryptError, match="not in the key ring"):
        Sealer(ring("k2")).open("i", "k", envelope)


@pytest.mark.parametrize("garbage", ["", "plain text", "icp1.k1.***", "icp1.k1.AAAA", "icp9.k1.AAAA"])
def test_garbage_is_rejected(garbage: str) -> None:
    with pytest.raises(ConfigDecryptError):
        Sealer(ring("k1")).open("i", "k", garbage)


def test_bad_key_rings_are_refused() -> None:
    with pytest.raises(ValueError):
        Sealer(KeyRing(current="k2", keys={"k1": os.urandom(32)}))
    with pytest.raises(ValueError):
        Sealer(KeyRing(current="k1", keys={"k1": b"short"}))


def test_store_round_trip_and_compare_and_set() -> None:
    config = MemoryConfig()
    store = SecureConfig(config, ring("k1"), "int-1")
    assert not store.load("tokens").exists
    assert store.save("tokens", {"refresh_token": SECRET}, expected_version=0)
    doc = store.load("tokens")
    assert doc.data == {"refresh_token": SECRET} and doc.version == 1
    assert not store.save("tokens", {"refresh_token": "other"}, expected_version=0)
    assert store.load("tokens").data == {"refresh_token": SECRET}
    assert all(SECRET not in value for value, _ in config.data.values())


def test_update_retries_a_lost_race() -> None:
    config = MemoryConfig()
    store = SecureConfig(config, ring("k1"), "i")
    store.save("n", 0, expected_version=0)
    calls = []

    def bump(value: int) -> int:
        calls.append(value)
        if len(calls) == 1:  # another writer gets in between our read and our write
            store.save("n", 10, expected_version=None)
        return value + 1

    assert store.update("n", bump) == 11
    assert store.load("n").data == 11


def test_update_gives_up_with_stale_state_error() -> None:
    config = MemoryConfig()
    store = SecureConfig(config, ring("k1"), "i")

    def always_interfere(value: object) -> int:
        store.save("n", 1, expected_version=None)
        return 2

    with pytest.raises(StaleStateError):
        store.update("n", always_interfere, attempts=3)


def test_rotation_reencrypts_everything_and_old_key_can_go() -> None:
    config = MemoryConfig()
    old = ring("k1")
    SecureConfig(config, old, "i").save("tokens", {"t": SECRET}, expected_version=0)
    SecureConfig(config, old, "i").save("settings", {"a": 1}, expected_version=0)
    both = KeyRing(current="k2", keys={**old.keys, "k2": os.urandom(32)})
    assert rotate_integration_keys(config, both, "i") == 2
    assert rotate_integration_keys(config, both, "i") == 0  # idempotent
    assert all(value.startswith("icp1.k2.") for value, _ in config.data.values())
    new_only = KeyRing(current="k2", keys={"k2": both.keys["k2"]})
    assert SecureConfig(config, new_only, "i").load("tokens").data == {"t": SECRET}
