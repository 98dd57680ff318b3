"""Suite-wide options: ``--run-slow`` runs the long variants (``@pytest.mark.slow``), skipped by default;
the PostgreSQL fixtures (:mod:`tests.postgres_fixtures`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ireserve_lab.radicale import RadicaleServer
from ireserve_lab.radicale import caldav_libraries_missing
from tests import parallel

# one PostgreSQL server per run, for every test directory (tests/devhost, tests/scale, ...)
from tests.postgres_fixtures import pg_url  # noqa: F401
from tests.postgres_fixtures import postgres_server  # noqa: F401


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which turns -n into workers
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The default run (no paths) runs on two xdist workers: see :mod:`tests.parallel`."""
    parallel.parallel_by_default(config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends: run on each storage backend, SQLite and PostgreSQL")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow", action="store_true", default=False, help="also run the long variants marked @pytest.mark.slow"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if parallel.is_worker(config):
        parallel.long_files_first(items)
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="a long variant: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def radicale() -> Iterator[RadicaleServer]:
    """One real Radicale for the whole session (tests/caldav, the CalDAV contract rig, the reliability
    rig): each test makes its own user and calendar on it. Skips, with the install lines, without the
    CalDAV libraries."""
    reason = caldav_libraries_missing()
    if reason:
        pytest.skip(reason)
    server = RadicaleServer(users={})
    server.start()
    yield server
    server.close()
