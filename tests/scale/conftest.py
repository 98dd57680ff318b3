"""The scale tests' shared services: the host database and a real redis-server on a free loopback port.

Every scale test gets its host storage from :func:`host_database` alone (the reference host's database,
handed to the test's ``World`` and to each worker process as ``IRESERVE_DEVHOST_DB``), so switching all
of them to another backend is a change to that one fixture. It is PostgreSQL (issue 16: workers on
several machines share a database server, not a SQLite file): a fresh schema on the run's one server
(``tests/postgres_fixtures.py``), with the key file every process shares named in
``IRESERVE_DEVHOST_KEY_FILE``. PostgreSQL and Redis are skipped, with the install line, when their
binaries (or psycopg) are missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def host_database(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty host database for one test, as the string ``World`` and ``IRESERVE_DEVHOST_DB`` take:
    a PostgreSQL URL. The test process and its worker processes (which inherit the environment) find the
    shared key file through ``IRESERVE_DEVHOST_KEY_FILE``."""
    monkeypatch.setenv("IRESERVE_DEVHOST_KEY_FILE", str(tmp_path / "host.keys.json"))
    yield pg_url


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: Any) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary (apt-get install redis-server; .ci/run does)")
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def rq_queue(redis_url: str) -> Any:
    """The reference host's RQ job queue on the test's Redis, emptied first (``RedisJobQueue``)."""
    pytest.importorskip("rq", reason="the scale tests need the rq extra: pip install -e './ireserve_devhost[rq]'")
    from ireserve_devhost.rq_queue import RedisJobQueue

    backend = RedisJobQueue(redis_url, job_timeout=60)
    backend.queue.connection.flushdb()
    return backend
