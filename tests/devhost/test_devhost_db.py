"""The storage layer: schema version, transactions, time columns; the host's clock and URLs."""

from __future__ import annotations

import sqlite3
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

import pluggy
import pytest
from freezegun import freeze_time

from ireserve_devhost import Database
from ireserve_devhost import ReferenceHost
from ireserve_devhost.db import SCHEMA_VERSION
from ireserve_devhost.db import from_db_time
from ireserve_devhost.db import to_db_time


def test_a_file_database_is_wal_with_a_schema_version(tmp_path: Path) -> None:
    with Database(tmp_path / "a.db") as db, db.transaction(write=False) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    Database(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="schema version"):
        Database(path)


def test_transactions_roll_back_on_error_and_do_not_nest() -> None:
    with Database() as db:
        with pytest.raises(ZeroDivisionError), db.transaction() as conn:
            conn.execute("INSERT INTO objects (name) VALUES ('x')")
            1 / 0  # noqa: B018
        with db.transaction() as conn:
            assert conn.execute("SELECT COUNT(*) FROM objects").fetchone()[0] == 0
            with pytest.raises(RuntimeError, match="nested"), db.transaction():
                pass


def test_times_are_stored_as_sortable_utc_and_come_back_aware() -> None:
    plus_two = timezone(timedelta(hours=2))
    stored = to_db_time(datetime(2024, 5, 1, 10, 0, tzinfo=plus_two))
    assert stored == "2024-05-01T08:00:00.000000+00:00"
    assert from_db_time(stored) == datetime(2024, 5, 1, 8, tzinfo=UTC) and from_db_time(stored).tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        to_db_time(datetime(2024, 5, 1, 10, 0))


def test_the_default_clock_follows_freezegun(pm: pluggy.PluginManager) -> None:
    with ReferenceHost(plugin_manager=pm) as host, freeze_time("2024-05-01 08:00:00") as frozen:
        assert host.now() == datetime(2024, 5, 1, 8, tzinfo=UTC)
        frozen.tick(timedelta(minutes=1))
        assert host.now() == datetime(2024, 5, 1, 8, 1, tzinfo=UTC)


def test_a_naive_clock_is_refused(pm: pluggy.PluginManager) -> None:
    with ReferenceHost(plugin_manager=pm, clock=lambda: datetime(2024, 5, 1)) as host, pytest.raises(ValueError):
        host.now()


def test_url_for_joins_public_url_prefix_and_path(pm: pluggy.PluginManager) -> None:
    with ReferenceHost(plugin_manager=pm, public_url="https://book.example/", prefix="/plugins") as host:
        assert host.url_for("/oauth/callback") == "https://book.example/plugins/oauth/callback"
        with pytest.raises(ValueError):
            host.url_for("oauth")
    with pytest.raises(ValueError, match="prefix"):
        ReferenceHost(plugin_manager=pm, prefix="ext/")
