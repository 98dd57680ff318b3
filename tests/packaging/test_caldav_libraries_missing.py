"""Without the CalDAV libraries the CalDAV tests skip with the install line; they do not fail to import."""

from __future__ import annotations

import importlib
import sys

import pytest

MODULES = ("tests.caldav.test_caldav_stories", "tests.providers.caldav.test_caldav_contract")


@pytest.mark.parametrize("module", MODULES)
def test_a_caldav_test_module_skips_with_the_install_line_when_the_extra_is_missing(
    monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    for name in ("icalendar", "recurring_ical_events"):
        monkeypatch.setitem(sys.modules, name, None)  # as if the [caldav] extra were not installed
    for name in [m for m in sys.modules if m == module or m.startswith("ireserve_calendar_plugin.providers.caldav.")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh (monkeypatch puts them back afterwards)
    with pytest.raises(pytest.skip.Exception) as skipped:
        importlib.import_module(module)
    assert "pip install 'ireserve-calendar-plugin[caldav]'" in str(skipped.value)
