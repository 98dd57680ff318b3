"""The PostgreSQL backend itself: a real server runs, the schema matches SQLite's, and the locks that stand in
for SQLite's one-writer-at-a-time hold across connections (each host is its own pool, as on another machine)."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pluggy
import pytest

from hookspecs.types import BookingConflictError
from ireserve_devhost import ReferenceHost
from ireserve_devhost.cli import main
from ireserve_devhost.db import SCHEMA_VERSION
from ireserve_devhost.db import Database
from ireserve_devhost.keyring import KeyFileError
from ireserve_devhost.postgres import PG_MIGRATIONS
from ireserve_devhost.postgres import redact_url
from ireserve_lab.postgres_server import PostgresServer


@pytest.fixture
def pg_host(pm: pluggy.PluginManager, clock: Any, pg_url: str, tmp_path: Path) -> Any:
    with ReferenceHost(pg_url, plugin_manager=pm, clock=clock, key_file=tmp_path / "keys.json") as host:
        yield host


def _second_host(first: ReferenceHost, pm: pluggy.PluginManager, clock: Any, tmp_path: Path) -> ReferenceHost:
    """Another host on the same database with its own connections (a worker on another machine)."""
    return ReferenceHost(first.db.url, plugin_manager=pm, clock=clock, key_file=tmp_path / "keys.json")


def test_a_real_postgresql_server_serves_the_host(pg_host: ReferenceHost, postgres_server: PostgresServer) -> None:
    with pg_host.db.transaction(write=False) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = ?", (schema,))}
    assert int(version.split(".")[0]) >= 12 and version == postgres_server.server_version
    assert pg_host.db.dialect.name == "postgresql"
    assert {"bookings", "config", "jobs", "objects", "customers", "integrations", "host_processes"} <= tables


def test_the_schema_has_the_same_tables_and_columns_as_on_sqlite(pg_host: ReferenceHost) -> None:
    assert len(PG_MIGRATIONS) == SCHEMA_VERSION
    lite = Database()
    with lite.transaction(write=False) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        sqlite_columns = {
            table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            for table in tables
            if not table.startswith("sqlite_")
        }
        sqlite_indexes = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        }
    lite.close()
    with pg_host.db.transaction(write=False) as conn:
        pg_columns = {
            table: [
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                    (table,),
                )
            ]
            for table in sqlite_columns
        }
        pg_indexes = {
            row[0] for row in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        }
    assert pg_columns == sqlite_columns
    assert sqlite_indexes <= pg_indexes


def test_a_newer_schema_is_refused(pg_host: ReferenceHost) -> None:
    with pg_host.db.transaction() as conn:
        conn.execute("UPDATE ireserve_schema SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(RuntimeError, match="schema version"):
        ReferenceHost(pg_host.db.url, keyring=pg_host.keyring)


def test_two_hosts_starting_on_an_empty_database_create_the_schema_once(
    postgres_server: PostgresServer, pm: pluggy.PluginManager, tmp_path: Path
) -> None:
    url = postgres_server.new_database()
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            ReferenceHost(url, plugin_manager=pm, key_file=tmp_path / "keys.json").close()
        except BaseException as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_claim_skips_a_job_another_worker_holds_instead_of_waiting(
    pg_host: ReferenceHost, pm: pluggy.PluginManager, clock: Any, tmp_path: Path
) -> None:
    """FOR UPDATE SKIP LOCKED: a worker in the middle of claiming job 1 makes another take job 2 at once."""
    pg_host.jobs.enqueue("sync", {"n": "1"})
    pg_host.jobs.enqueue("sync", {"n": "2"})
    other = _second_host(pg_host, pm, clock, tmp_path)
    claimed: list[Any] = []
    with pg_host.db.transaction() as conn:
        conn.execute("SELECT id FROM jobs WHERE id = 1 FOR UPDATE")  # worker A holds job 1, not yet committed
        thread = threading.Thread(target=lambda: claimed.append(other.jobs.claim("worker-b")))
        thread.start()
        thread.join(timeout=5)
        assert not thread.is_alive(), "the claim waited for the other worker's lock"
    other.close()
    assert [job.payload for job in claimed] == [{"n": "2"}]


def test_a_late_completion_loses_to_the_worker_that_took_the_job_over(
    pg_host: ReferenceHost, pm: pluggy.PluginManager, clock: Any, tmp_path: Path
) -> None:
    """complete() locks the job's row before checking its lease: a takeover in flight wins, not the late worker."""
    pg_host.jobs.enqueue("sync", {})
    late = pg_host.jobs.claim("worker-a", timedelta(minutes=5))
    assert late is not None
    other = _second_host(pg_host, pm, clock, tmp_path)
    results: list[bool] = []
    with other.db.transaction() as conn:  # worker B takes the job over (its lease expired), not yet committed
        conn.execute("UPDATE jobs SET lease_owner = 'worker-b' WHERE id = ?", (int(late.id),))
        thread = threading.Thread(target=lambda: results.append(pg_host.jobs.complete(late, "worker-a")))
        thread.start()
        time.sleep(0.3)  # worker A checks its lease meanwhile
    thread.join(timeout=10)
    other.close()
    [record] = pg_host.jobs.all()
    assert results == [False]
    assert (record.state, record.lease_owner) == ("running", "worker-b")


def test_concurrent_enqueues_with_one_dedupe_key_make_one_job(
    pg_host: ReferenceHost, pm: pluggy.PluginManager, clock: Any, tmp_path: Path
) -> None:
    hosts = [pg_host] + [_second_host(pg_host, pm, clock, tmp_path) for _ in range(3)]
    rounds = 10
    barrier = threading.Barrier(len(hosts))
    results: list[bool] = []
    errors: list[BaseException] = []

    def enqueue(host: ReferenceHost) -> None:
        for n in range(rounds):
            barrier.wait()
            try:
                results.append(host.jobs.enqueue("sync", {}, dedupe_key=f"sync:{n}"))
            except BaseException as err:  # noqa: BLE001 - collected for the assertion
                errors.append(err)

    threads = [threading.Thread(target=enqueue, args=(host,)) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for host in hosts[1:]:
        host.close()
    assert errors == []
    assert results.count(True) == rounds and pg_host.jobs.counts()["queued"] == rounds


def test_text_with_a_nul_character_is_refused_and_nothing_is_written(pg_host: ReferenceHost) -> None:
    with pytest.raises(ValueError, match="NUL"):
        pg_host.config.put("gcal", "state", "a\x00b", expected_version=0)
    assert pg_host.config.get("gcal", "state").version == 0


def test_a_host_on_postgresql_names_its_key_file(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IRESERVE_DEVHOST_KEY_FILE", raising=False)
    with pytest.raises(KeyFileError, match="--key-file"):
        ReferenceHost(pg_url)


def test_passwords_never_appear_in_what_the_host_says_about_its_database() -> None:
    assert (
        redact_url("postgresql://app:s3cret@db.example:5432/ireserve")
        == "postgresql://app:***@db.example:5432/ireserve"
    )
    assert redact_url("postgresql://app@db/ireserve") == "postgresql://app@db/ireserve"


def test_sqlite_is_still_the_default() -> None:
    with ReferenceHost() as host:
        assert host.db.dialect.name == "sqlite" and isinstance(host.db, Database)
        with host.db.transaction(write=False) as conn:
            assert isinstance(conn, sqlite3.Connection)


# --------------------------------------------------------------------------- the command line on a URL


def test_the_commands_take_a_database_url(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = str(tmp_path / "keys.json")
    assert main(["status", "--db", pg_url, "--key-file", keys]) == 2  # an empty database is not created by a typo
    assert "give --create" in capsys.readouterr().err
    with ReferenceHost(pg_url, key_file=keys):
        pass
    monkeypatch.setenv("IRESERVE_DEVHOST_DB", pg_url)  # the default of --db
    monkeypatch.setenv("IRESERVE_DEVHOST_KEY_FILE", keys)
    assert main(["status"]) == 0
    assert "No integrations configured." in capsys.readouterr().out
    assert main(["sync"]) == 0


def test_an_unreachable_server_is_one_line_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    url = f"postgresql://app:s3cret-pw@127.0.0.1:{port}/ireserve"
    assert main(["status", "--db", url, "--key-file", "/nonexistent/keys.json"]) == 2
    err = capsys.readouterr().err
    assert "s3cret-pw" not in err and "app:***@127.0.0.1" in err and len(err.strip().splitlines()) == 1


_CLAIMER = """
import os, sys, time
from ireserve_devhost import ReferenceHost
from ireserve_devhost.hooks import get_plugin_manager

url, keys, owner, go = sys.argv[1:5]
with ReferenceHost(url, key_file=keys, plugin_manager=get_plugin_manager(entrypoints=False, disabled=())) as host:
    print("ready", flush=True)
    while not os.path.exists(go):  # start together, so the processes really compete
        time.sleep(0.01)
    while (job := host.jobs.claim(owner)) is not None:
        assert host.jobs.complete(job, owner)
        print(job.payload["n"], flush=True)
"""


@pytest.mark.slow  # 5-15 s of processes; the same claims from separate connections run by default above
def test_worker_processes_claim_each_job_exactly_once(pg_host: ReferenceHost, tmp_path: Path) -> None:
    """Three processes (as on three machines) drain one queue: every job claimed and completed once."""
    jobs = 300
    for n in range(jobs):
        pg_host.jobs.enqueue("sync", {"n": str(n)})
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, pg_host.db.url, str(tmp_path / "keys.json"), f"worker-{i}", str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [proc.communicate(timeout=120)[0].split() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    claimed = [n for out in outputs for n in out]
    assert sorted(claimed, key=int) == [str(n) for n in range(jobs)]  # each exactly once
    assert sum(1 for out in outputs if out) >= 2  # the processes really shared the work
    assert pg_host.jobs.counts()["done"] == jobs


def test_a_connection_the_server_dropped_is_replaced(pg_host: ReferenceHost, postgres_server: PostgresServer) -> None:
    import psycopg

    with pg_host.db.transaction(write=False) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    postgres_server.execute(f"SELECT pg_terminate_backend({int(pid)})")  # a restart, a failover, an idle timeout
    with pytest.raises(psycopg.OperationalError):
        pg_host.integrations.all()  # the request that meets the dead connection fails cleanly...
    assert pg_host.integrations.all() == []  # ...and the next one gets a new connection


def test_concurrent_admins_adding_one_name_get_one_object_and_clear_errors(
    pg_host: ReferenceHost, pm: pluggy.PluginManager, clock: Any, tmp_path: Path
) -> None:
    hosts = [pg_host] + [_second_host(pg_host, pm, clock, tmp_path) for _ in range(3)]
    barrier = threading.Barrier(len(hosts), timeout=30)
    outcomes: list[str] = []

    def add(host: ReferenceHost, n: int) -> None:  # every host at once: object "Room n", integration "gcal-n"
        for what, action in (
            ("object", lambda: host.add_object(f"Room {n}")),
            ("integration", lambda: host.add_integration(f"gcal-{n}", "google")),
        ):
            barrier.wait()
            try:
                action()
                outcomes.append(f"{what} added")
            except ValueError:
                outcomes.append(f"{what} refused")
            except Exception as err:  # noqa: BLE001 - anything else is a wrong answer, kept for the assertion
                outcomes.append(f"{what}: {type(err).__name__}")

    threads = [threading.Thread(target=lambda h=host: [add(h, n) for n in range(5)]) for host in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for host in hosts[1:]:
        host.close()
    assert outcomes.count("object added") == 5 and outcomes.count("object refused") == 15
    assert outcomes.count("integration added") == 5 and outcomes.count("integration refused") == 15
    assert len(pg_host.objects.all()) == 5 and len(pg_host.integrations.all()) == 5


def test_a_unit_rechecks_an_object_whose_lock_a_rolled_back_savepoint_gave_up(
    pg_host: ReferenceHost, pm: pluggy.PluginManager, clock: Any, tmp_path: Path
) -> None:
    """A refused create in a unit undoes its savepoint, and with it (on PostgreSQL) the object's lock: another
    worker may then book the object, and the unit's next create must see that booking, not a kept bound."""
    start = datetime(2024, 5, 1, 8, tzinfo=UTC)
    hour, day = timedelta(hours=1), timedelta(days=1)
    room = pg_host.add_object("Room").id
    values: dict[str, Any] = {"object_id": room, "status": "confirmed", "title": "x", "channel": "web"}
    pg_host.bookings.create(start=start, end=start + hour, origin="user:1", **values)
    other = _second_host(pg_host, pm, clock, tmp_path)
    with pg_host.unit_of_work() as unit:
        with pytest.raises(BookingConflictError):
            unit.bookings.create(start=start, end=start + hour, origin="calendar:g", **values)
        writer = threading.Thread(  # another machine books three days of the room meanwhile
            target=other.bookings.create,
            kwargs={"start": start + day, "end": start + 4 * day, "origin": "user:2", **values},
        )
        writer.start()
        writer.join(timeout=10)
        assert not writer.is_alive()
        with pytest.raises(BookingConflictError):
            unit.bookings.create(start=start + 2 * day, end=start + 2 * day + hour, origin="calendar:g", **values)
    other.close()
    assert len(pg_host.list_bookings()) == 2
