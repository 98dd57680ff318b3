"""The demo's rooms story holds every check it prints (20 rooms per provider; slow: about 20 s)."""

from __future__ import annotations

import io

import pytest

from ireserve_lab.demo import run_demo


@pytest.mark.slow
def test_the_rooms_story_holds() -> None:
    out = io.StringIO()
    assert run_demo("rooms", out=out) == 0, out.getvalue()
    assert "FAILED" not in out.getvalue() and "may read but not write room" in out.getvalue()
