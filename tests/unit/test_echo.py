"""Echo prevention's two local layers as pure functions (the hook's use of them: test_safety_rules.py)."""

from __future__ import annotations

import threading

import pytest

from ireserve_calendar_plugin.sync.echo import applying_inbound
from ireserve_calendar_plugin.sync.echo import is_own_origin
from ireserve_calendar_plugin.sync.echo import outbound_suppressed


def test_outbound_is_suppressed_only_inside_the_integrations_inbound_block() -> None:
    assert not outbound_suppressed("g1")
    with applying_inbound("g1"):
        assert outbound_suppressed("g1")
        assert not outbound_suppressed("g2")
        with applying_inbound("g2"):
            assert outbound_suppressed("g2") and not outbound_suppressed("g1")
        assert outbound_suppressed("g1")
    assert not outbound_suppressed("g1")


def test_suppression_ends_when_applying_fails() -> None:
    with pytest.raises(RuntimeError), applying_inbound("g1"):
        raise RuntimeError("host refused")
    assert not outbound_suppressed("g1")


def test_suppression_does_not_leak_into_other_threads() -> None:
    seen: list[bool] = []
    with applying_inbound("g1"):
        worker = threading.Thread(target=lambda: seen.append(outbound_suppressed("g1")))
        worker.start()
        worker.join()
    assert seen == [False]


@pytest.mark.parametrize(
    ("origin", "own"),
    [
        ("calendar:g1", True),
        ("calendar:g2", False),
        ("calendar:g1x", False),
        ("user:7", False),
        ("system", False),
        ("g1", False),
    ],
)
def test_own_origin_is_exactly_this_integrations(origin: str, own: bool) -> None:
    assert is_own_origin(origin, "g1") is own
