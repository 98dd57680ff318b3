"""A real PostgreSQL for the tests: one server per test run, a fresh empty schema per test.

Fixtures (registered for the whole suite by ``tests/conftest.py``):

* ``postgres_server`` (session): a :class:`ireserve_lab.postgres_server.PostgresServer` from the machine's
  Debian binaries on a free loopback port in a temp folder, stopped by its PID at the end of the run.
  Skips with the install line when the binaries or psycopg are missing.
* ``pg_url`` (function): the URL of a fresh, empty schema on that server (``CREATE SCHEMA``: a few ms),
  so each test starts from an empty database without restarting anything.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ireserve_lab.postgres_server import PostgresServer
from ireserve_lab.postgres_server import postgres_unavailable


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    why = postgres_unavailable()
    if why is not None:
        pytest.skip(why)
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    return postgres_server.new_database()
