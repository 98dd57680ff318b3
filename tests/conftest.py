"""Suite-wide options: ``--run-slow`` runs the tests marked ``@pytest.mark.slow`` (skipped otherwise)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the long-running variants marked @pytest.mark.slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow variant: give --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
