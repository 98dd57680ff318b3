"""The reference host's admin page in a real browser, with the real plugin and the Google emulator.

Every scenario starts as a person on a fresh host would: the room is added on the admin index's
"Objects" card, then mapped on the integration page. (a) configure a Google integration through the
page and see it saved; (b) a bad value shows its error next to its field and stores nothing; (c) the
connect button goes through the emulator's consent and back, the page then says "Connected" and, after
the host's jobs ran, shows the first sync; then a booking created on the bookings page is synced out:
once the jobs ran, its ``external_id`` field shows on that page and the emulator holds the event.
The last scenario also leaves screenshots of the admin and bookings pages under the temp directory.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from calendar_emulators.core import EmulatorServer
from calendar_emulators.google import GoogleCalendarEmulator
from hookspecs import Integration
from ireserve_devhost import HostServer
from ireserve_devhost import ReferenceHost
from ireserve_devhost import Worker
from ireserve_devhost.status import EXIT_OK
from ireserve_devhost.status import collect
from ireserve_devhost.status import exit_code

ROOM_CALENDAR = "room-a@group.calendar.google.com"
ROOM_NAME = "Room A"
SCREENSHOT = Path(tempfile.gettempdir()) / "ireserve-admin-google.png"
BOOKINGS_SCREENSHOT = Path(tempfile.gettempdir()) / "ireserve-admin-bookings.png"


@dataclass
class Setup:
    host: ReferenceHost
    server: HostServer
    google: EmulatorServer
    integration: Integration
    emulator: GoogleCalendarEmulator
    room_id: int = 0  # set once the room is added through the page

    @property
    def admin_url(self) -> str:
        return f"{self.server.url}/admin/integrations/{self.integration.id}"

    def urls(self) -> dict[str, str]:
        base = self.google.url
        return {
            "api_base_url": base + "/calendar/v3",
            "auth_url": base + "/o/oauth2/v2/auth",
            "token_url": base + "/token",
            "revoke_url": base + "/revoke",
        }


@pytest.fixture
def setup(tmp_path: Path, browser: webdriver.Chrome) -> Iterator[Setup]:
    emulator = GoogleCalendarEmulator(allow_http_push=True, allow_loopback_redirects=True)
    emulator.seed_demo()
    with (
        EmulatorServer(emulator) as google,
        ReferenceHost(tmp_path / "host.db") as host,  # the installed plugins, by entry point
        HostServer(host, cron_interval=None, workers=0) as server,
    ):
        integration = host.add_integration("gcal", provider="google", name="Team calendar")
        browser.delete_all_cookies()
        yield Setup(host, server, google, integration, emulator)
        browser.get("about:blank")  # no request to a stopped server after the test
    emulator.close()


def _wait(browser: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
    return WebDriverWait(browser, 8)


def _fill(browser: webdriver.Chrome, name: str, value: str) -> None:
    element = browser.find_element(By.NAME, name)
    element.clear()
    element.send_keys(value)


def _gone(element: WebElement) -> Any:
    """Like ``staleness_of``, but any driver error while the old page unloads also counts as gone (chromium
    sometimes answers "node does not belong to the document" instead of a stale-element error)."""

    def check(_: webdriver.Chrome) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:
            return True
        return False

    return check


def _submit(browser: webdriver.Chrome, button: WebElement) -> None:
    """Click a form's button and wait for the answer page (a redirect's target included)."""
    button.click()
    _wait(browser).until(_gone(button))
    _wait(browser).until(lambda b: b.execute_script("return document.readyState") == "complete")


def _save(browser: webdriver.Chrome) -> None:
    button = browser.find_element(By.CSS_SELECTOR, "form.config button[type=submit]")
    button.click()
    _wait(browser).until(_gone(button))
    # the answer page has loaded once its banner (saved or not) is there
    _wait(browser).until(ec.presence_of_element_located((By.ID, "banner")))
    _wait(browser).until(lambda b: b.execute_script("return document.readyState") == "complete")


def _field(browser: webdriver.Chrome, name: str) -> WebElement:
    return browser.find_element(By.ID, f"field-{name}")


def _add_room_in_browser(browser: webdriver.Chrome, setup: Setup) -> None:
    """On the admin index, add the room the integration will map (the time zone is proposed)."""
    browser.get(f"{setup.server.url}/admin/")
    assert browser.find_element(By.ID, "object-timezone").get_attribute("value") == "Europe/Amsterdam"
    name = browser.find_element(By.ID, "object-name")
    name.send_keys(ROOM_NAME)
    _submit(browser, browser.find_element(By.ID, "add-object"))
    [row] = browser.find_elements(By.CSS_SELECTOR, "#objects-table tbody tr")
    cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
    assert cells[1:3] == [ROOM_NAME, "Europe/Amsterdam"]
    setup.room_id = int(cells[0])
    assert setup.host.objects.get(setup.room_id) is not None


def _configure_in_browser(browser: webdriver.Chrome, setup: Setup) -> None:
    _add_room_in_browser(browser, setup)
    browser.get(setup.admin_url)
    _fill(browser, "client_id", "demo-client")
    _fill(browser, "client_secret", "demo-secret")
    Select(browser.find_element(By.NAME, "calendar_mapping.0.object")).select_by_visible_text(ROOM_NAME)
    _fill(browser, "calendar_mapping.0.calendar_id", ROOM_CALENDAR)
    for summary in browser.find_elements(By.CSS_SELECTOR, "details.advanced:not([open]) > summary"):
        summary.click()  # the provider URLs sit under the collapsed "Advanced"
    for name, url in setup.urls().items():
        _fill(browser, name, url)


def test_a_configure_and_save(browser: webdriver.Chrome, setup: Setup) -> None:
    _configure_in_browser(browser, setup)
    _save(browser)
    assert browser.find_element(By.ID, "banner").text == "Settings saved."
    assert "demo-secret" not in browser.page_source
    form = setup.host.hooks.config_form(setup.integration, None)
    assert form is not None
    values = {field.name: field.value for field in form.fields}
    assert values["client_id"] == "demo-client" and values["client_secret"] not in ("", "demo-secret")
    assert values["calendar_mapping"] == [{"object": str(setup.room_id), "calendar_id": ROOM_CALENDAR}]
    assert values["api_base_url"] == setup.google.url + "/calendar/v3"
    # the saved row is shown, with a fresh empty row to add another
    assert browser.find_element(By.NAME, "calendar_mapping.0.calendar_id").get_attribute("value") == ROOM_CALENDAR
    assert browser.find_element(By.NAME, "calendar_mapping.1.calendar_id").get_attribute("value") == ""


def test_b_a_bad_value_shows_its_error_and_stores_nothing(browser: webdriver.Chrome, setup: Setup) -> None:
    _configure_in_browser(browser, setup)
    _fill(browser, "popup_reminder_minutes", "99999")
    _save(browser)
    field = _field(browser, "popup_reminder_minutes")
    assert "has-error" in (field.get_attribute("class") or "")
    error = field.find_element(By.CSS_SELECTOR, "p.error")
    assert error.is_displayed() and "40320" in error.text
    assert "Nothing was saved." in browser.find_element(By.ID, "banner").text
    assert browser.find_elements(By.CSS_SELECTOR, "#field-client_id p.error") == []
    assert browser.find_element(By.NAME, "client_id").get_attribute("value") == "demo-client"  # kept for a retry
    assert setup.host.config.keys(setup.integration.id) == []


def test_c_connect_then_first_sync(browser: webdriver.Chrome, setup: Setup) -> None:
    _configure_in_browser(browser, setup)
    _save(browser)
    connect = browser.find_element(By.CSS_SELECTOR, "#health-card .links a")
    assert connect.text.startswith("Connect")
    connect.click()  # host start route -> emulator consent -> back to the plugin's callback
    _wait(browser).until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Account connected"))
    assert browser.current_url.startswith(setup.server.url + "/ext/calendar/oauth/callback")
    # the result page is the admin's own style, with a way back to the settings
    assert "banner ok" in (browser.find_element(By.ID, "banner").get_attribute("class") or "")
    _submit(browser, browser.find_element(By.ID, "back"))
    assert browser.current_url == setup.admin_url
    assert browser.find_element(By.ID, "status").text.startswith("Connected")
    Worker(setup.host).run_until_idle()
    browser.refresh()
    health = browser.find_element(By.ID, "calendars")
    headers = [th.text.lower() for th in health.find_elements(By.CSS_SELECTOR, "thead th")]
    [row] = health.find_elements(By.CSS_SELECTOR, "tbody tr")
    cells = dict(zip(headers, (td.text for td in row.find_elements(By.TAG_NAME, "td")), strict=True))
    assert cells["calendar"] == ROOM_NAME  # by its name, not its id
    assert cells["state"].startswith("Working")
    assert cells["last success"] not in ("", "never") and cells["last failure"] == "never"
    assert browser.find_element(By.ID, "state").text == "Working"
    assert "Account connected" in browser.find_element(By.ID, "log").text
    assert exit_code(collect(setup.host)) == EXIT_OK  # and the operator's status command agrees

    _screenshot(browser, SCREENSHOT)

    # a booking made on the bookings page goes out to the calendar
    browser.get(f"{setup.server.url}/admin/")
    _submit(browser, browser.find_element(By.ID, "bookings-link"))
    Select(browser.find_element(By.ID, "new-object")).select_by_visible_text(ROOM_NAME)
    browser.find_element(By.ID, "new-title").send_keys("Made in the browser")
    _submit(browser, browser.find_element(By.ID, "create-booking"))
    [booking] = setup.host.list_bookings(setup.room_id)
    assert (booking.title, booking.status, booking.channel) == ("Made in the browser", "confirmed", "admin")
    assert "Made in the browser" in browser.find_element(By.ID, f"booking-{booking.id}").text

    Worker(setup.host).run_until_idle()
    browser.refresh()
    event_id = setup.host.bookings.get(booking.id).fields["external_id"]
    fields = browser.find_element(By.CSS_SELECTOR, f"#booking-{booking.id} td.col-fields").text
    assert "external_id" in fields and event_id in fields
    event = setup.emulator.event(ROOM_CALENDAR, event_id)
    assert event is not None and event["status"] == "confirmed"
    assert event["summary"].startswith("Made in the browser")
    _screenshot(browser, BOOKINGS_SCREENSHOT)


def _screenshot(browser: webdriver.Chrome, path: Path) -> None:
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))
