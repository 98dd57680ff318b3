"""Fixtures for the browser tests: Debian's headless chromium driven by selenium, offline.

The ``browser`` fixture skips (with the reason) only when no chromium or chromedriver binary is
installed; ``.ci/run`` installs both on CI. Selenium is pointed at the system binaries explicitly, so
Selenium Manager never runs and nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

_BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_DRIVERS = ("chromedriver",)
_DRIVER_FALLBACK = "/usr/bin/chromedriver"


def _which(names: tuple[str, ...]) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    """One headless chromium for the whole session (cookies and storage are cleared per test)."""
    binary = _which(_BROWSERS)
    driver_path = _which(_DRIVERS) or (_DRIVER_FALLBACK if os.access(_DRIVER_FALLBACK, os.X_OK) else None)
    if binary is None or driver_path is None:
        pytest.skip(
            "no chromium/chromedriver binary found (apt-get install chromium chromium-driver); "
            f"browser={binary!r}, driver={driver_path!r}"
        )
    profile = tempfile.mkdtemp(prefix="ireserve-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--window-size=1280,1600",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(15)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
