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
