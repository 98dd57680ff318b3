"""The host's key material: a 0600 key file next to the database, rotation, in-memory keys."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pluggy
import pytest

from hookspecs import KeyRing
from ireserve_devhost import ReferenceHost
from ireserve_devhost.keyring import key_file_for


def test_a_file_host_creates_its_key_file_with_0600(pm: pluggy.PluginManager, db_file: Path) -> None:
    with ReferenceHost(db_file, plugin_manager=pm) as host:
        ring = host.keyring
    key_file = key_file_for(db_file)
    assert key_file.parent == db_file.parent
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    data = json.loads(key_file.read_text())
    assert data["current"] == ring.current == "k1"
    assert base64.b64decode(data["keys"]["k1"]) == ring.keys["k1"] and len(ring.keys["k1"]) == 32
    with ReferenceHost(db_file, plugin_manager=pm) as reopened:
        assert reopened.keyring == ring


def test_rotation_keeps_old_keys_until_dropped(pm: pluggy.PluginManager, db_file: Path) -> None:
    with ReferenceHost(db_file, plugin_manager=pm) as host:
        old = host.keyring
        assert host.rotate_key() == "k2"
        assert host.keyring.current == "k2" and host.keyring.keys["k1"] == old.keys["k1"]
        with pytest.raises(ValueError, match="current"):
            host.drop_key("k2")
        with pytest.raises(KeyError):
            host.drop_key("k9")
    with ReferenceHost(db_file, plugin_manager=pm) as reopened:
        assert set(reopened.keyring.keys) == {"k1", "k2"} and reopened.keyring.current == "k2"
        reopened.drop_key("k1")
    assert stat.S_IMODE(key_file_for(db_file).stat().st_mode) == 0o600
    with ReferenceHost(db_file, plugin_manager=pm) as again:
        assert set(again.keyring.keys) == {"k2"}


def test_memory_hosts_get_a_random_key_or_the_given_one(pm: pluggy.PluginManager) -> None:
    with ReferenceHost(plugin_manager=pm) as first, ReferenceHost(plugin_manager=pm) as second:
        assert len(first.keyring.keys["k1"]) == 32
        assert first.keyring.keys["k1"] != second.keyring.keys["k1"]
    fixed = KeyRing(current="a", keys={"a": b"\x01" * 32})
    with ReferenceHost(plugin_manager=pm, keyring=fixed) as host:
        assert host.keyring == fixed
        host.rotate_key()
        assert host.keyring.current == "k1" and set(host.keyring.keys) == {"a", "k1"}
    with pytest.raises(ValueError, match="32 bytes"):
        ReferenceHost(plugin_manager=pm, keyring=KeyRing(current="a", keys={"a": b"short"}))


def test_a_broken_key_file_is_refused(pm: pluggy.PluginManager, db_file: Path) -> None:
    key_file_for(db_file).write_text('{"current": "k1", "keys": {}}')
    key_file_for(db_file).chmod(0o600)
    with pytest.raises(ValueError, match="current key"):
        ReferenceHost(db_file, plugin_manager=pm)


# ---------------------------------------------------------------------- other processes rotate (issue 12)


def test_a_ring_in_use_follows_a_rotation_made_elsewhere(pm: pluggy.PluginManager, db_file: Path) -> None:
    from ireserve_calendar_plugin.config.crypto import Sealer

    with ReferenceHost(db_file, plugin_manager=pm) as running, ReferenceHost(db_file, plugin_manager=pm) as operator:
        held = running.keyring  # what a plugin keeps for the length of a job
        sealer = Sealer(held)
        before = sealer.seal("g1", "secret", "v1")
        assert operator.rotate_key() == "k2"
        assert held.current == "k2"  # new values are sealed with the new key at once
        resealed = Sealer(operator.keyring).seal("g1", "secret", "v2")
        assert sealer.open("g1", "secret", resealed) == "v2"  # a key id it had not seen: it looked again
        assert sealer.seal("g1", "secret", "v3").split(".")[1] == "k2"
        operator.drop_key("k1")
        assert set(held.keys) == {"k2"}
        assert sealer.key_id_of(before) == "k1"


def test_rotations_from_stale_processes_never_lose_a_key(pm: pluggy.PluginManager, db_file: Path) -> None:
    from ireserve_devhost.keyring import KeyStore

    first, second = KeyStore(key_file_for(db_file)), KeyStore(key_file_for(db_file))
    assert first.rotate() == "k2"
    assert second.rotate() == "k3"  # it re-read the file under the lock instead of writing its stale ring
    assert set(KeyStore(key_file_for(db_file)).snapshot().keys) == {"k1", "k2", "k3"}


def test_an_unreadable_key_file_keeps_the_last_good_ring_and_says_why(pm: pluggy.PluginManager, db_file: Path) -> None:
    with ReferenceHost(db_file, plugin_manager=pm) as host:
        ring = dict(host.keyring.keys)
        key_file_for(db_file).chmod(0o644)
        assert dict(host.keyring.keys) == ring
        assert host.key_store.load_error is not None and "chmod 600" in host.key_store.load_error
        key_file_for(db_file).chmod(0o600)
        assert dict(host.keyring.keys) == ring and host.key_store.load_error is None
        key_file_for(db_file).write_text("not json")  # edited by hand
        assert dict(host.keyring.keys) == ring
        assert "cannot read the key file" in (host.key_store.load_error or "")
