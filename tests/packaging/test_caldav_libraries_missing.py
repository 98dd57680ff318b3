"""Without the CalDAV libraries the CalDAV tests skip with the install line; they do not fail to import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BLOCKER = """
import sys
for name in ("icalendar", "recurring_ical_events"):
    sys.modules[name] = None  # as if the [caldav] extra were not installed
"""


def test_the_caldav_tests_skip_with_the_install_line_when_the_extra_is_missing(tmp_path: Path) -> None:
    (tmp_path / "no_caldav_extra.py").write_text(BLOCKER)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no_caldav_extra", "-q", "-rs", "--co", "-p", "no:cacheprovider"]
        + ["tests/caldav/test_caldav_stories.py", "tests/providers/caldav/test_caldav_contract.py"],
        cwd=ROOT,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout + run.stderr
    assert "error" not in out.lower(), out
    assert "SKIPPED [2]" in out and "pip install 'ireserve-calendar-plugin[caldav]'" in out, out
