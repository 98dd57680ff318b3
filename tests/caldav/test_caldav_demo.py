"""The demo's CalDAV story (``ireserve-lab demo --provider caldav``) runs and every check holds (slow: it
starts its own Radicale; 5 to 8 s on a busy machine)."""

from __future__ import annotations

import io

import pytest

from tests.caldav.conftest import require_caldav_libraries

require_caldav_libraries()

from ireserve_lab.demo import run_demo  # noqa: E402


@pytest.mark.slow
def test_the_caldav_demo_story_holds() -> None:
    out = io.StringIO()
    assert run_demo("caldav", out=out) == 0, out.getvalue()
    text = out.getvalue()
    assert "Dana moved it in her calendar app (python-caldav)" in text
    assert "ok : a poll of the unchanged calendar: 1 request" in text
    assert "FAILED" not in text
