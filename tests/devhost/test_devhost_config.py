"""The per-integration config store: versions, compare-and-set, deletes, concurrent writers."""

from __future__ import annotations

import threading

import pytest

from hookspecs import ConfigEntry
from ireserve_devhost import ReferenceHost

pytestmark = pytest.mark.backends  # the storage contract: on SQLite and on PostgreSQL


def test_absent_keys_read_as_version_zero(host: ReferenceHost) -> None:
    assert host.config.get("gcal", "token") == ConfigEntry(None, 0)


def test_compare_and_set(host: ReferenceHost) -> None:
    config = host.config
    assert config.put("gcal", "token", "a", expected_version=0)
    assert not config.put("gcal", "token", "b", expected_version=0)  # no longer absent
    assert config.get("gcal", "token") == ConfigEntry("a", 1)
    assert config.put("gcal", "token", "b", expected_version=1)
    assert not config.put("gcal", "token", "stale", expected_version=1)
    assert config.get("gcal", "token") == ConfigEntry("b", 2)
    assert config.put("gcal", "token", "c", expected_version=None)  # unconditional
    assert config.get("gcal", "token") == ConfigEntry("c", 3)


def test_versions_keep_rising_across_a_delete(host: ReferenceHost) -> None:
    config = host.config
    config.put("gcal", "token", "a", expected_version=None)
    assert not config.put("gcal", "token", None, expected_version=7)
    assert config.put("gcal", "token", None, expected_version=1)
    assert config.get("gcal", "token") == ConfigEntry(None, 0)
    assert config.put("gcal", "token", None, expected_version=0)  # deleting what is absent
    assert config.put("gcal", "token", "b", expected_version=0)
    # a writer still holding version 1 from before the delete must not win (no ABA)
    assert config.get("gcal", "token").version > 1
    assert not config.put("gcal", "token", "stale", expected_version=1)


def test_keys_are_per_integration_sorted_and_skip_deleted(host: ReferenceHost) -> None:
    for key in ("state/b", "state/a", "secret", "state/c"):
        host.config.put("gcal", key, "v", expected_version=None)
    host.config.put("other", "state/z", "v", expected_version=None)
    host.config.put("gcal", "state/c", None, expected_version=None)
    assert host.config.keys("gcal") == ["secret", "state/a", "state/b"]
    assert host.config.keys("gcal", "state/") == ["state/a", "state/b"]
    assert host.config.get("other", "secret") == ConfigEntry(None, 0)


def test_values_are_strings(host: ReferenceHost) -> None:
    with pytest.raises(TypeError):
        host.config.put("gcal", "n", 5, expected_version=None)  # type: ignore[arg-type]


def test_concurrent_writers_exactly_one_wins(file_host: ReferenceHost) -> None:
    file_host.config.put("gcal", "state", "v0", expected_version=0)
    writers = 8
    barrier = threading.Barrier(writers)
    results: list[bool] = []
    lock = threading.Lock()

    def write(number: int) -> None:
        barrier.wait()
        won = file_host.config.put("gcal", "state", f"v{number}", expected_version=1)
        with lock:
            results.append(won)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1 and len(results) == writers
    assert file_host.config.get("gcal", "state").version == 2


def test_concurrent_read_modify_write_loses_no_update(file_host: ReferenceHost) -> None:
    """The retry loop a plugin writes around put() counts correctly under contention."""

    def increment() -> None:
        for _ in range(20):
            while True:
                entry = file_host.config.get("gcal", "counter")
                value = str(int(entry.value or "0") + 1)
                if file_host.config.put("gcal", "counter", value, expected_version=entry.version):
                    break

    threads = [threading.Thread(target=increment) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert file_host.config.get("gcal", "counter") == ConfigEntry("80", 80)
