"""Smoke test of the benchmark harness: the quick mode of two groups runs end to end and reports.

Only that the harness works is checked here (figures measured, table printed, JSON written); how fast
the plugin is, is what ``python -m benchmarks`` prints, never a unit test's assertion.
"""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest

from benchmarks.__main__ import main
from benchmarks.harness import render_table
from benchmarks.pacing import rolling_peak


def test_quick_benchmarks_of_two_groups_measure_print_and_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    assert main(["--quick", "--only", "outbound.google", "--only", "pacing", "--json", str(out), "--quiet"]) == 0

    printed = capsys.readouterr().out
    assert "| figure | target | measured | met? |" in printed
    doc = json.loads(out.read_text())
    assert doc["options"] == {"quick": True, "runs": 1}
    assert {"nproc", "cpu", "python", "date"} <= set(doc["machine"])
    ids = [f["id"] for f in doc["figures"]]
    assert ids == [
        "outbound.google.create",
        "outbound.google.update",
        "outbound.google.delete",
        "pacing.rolling_minute",
    ]
    for figure in doc["figures"]:
        assert figure["met"] is not None and figure["value"] is not None, figure
        assert figure["verdict"] in ("met", "MISSED")
        assert figure["figure"] in printed


def test_rolling_peak_and_table_helpers() -> None:
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    starts = [t0, t0 + timedelta(seconds=30), t0 + timedelta(seconds=59.9), t0 + timedelta(seconds=60)]
    assert rolling_peak(starts) == 3  # [t0, t0 + 60 s) is half-open
    assert rolling_peak([]) == 0
    assert render_table([]).splitlines()[1] == "|---|---|---|---|"


def test_the_floor_parses_maps_and_inserts_every_live_event_of_the_pages() -> None:
    from benchmarks.floor import floor_seconds

    def item(i: int) -> dict[str, object]:
        return {
            "id": f"ev{i}",
            "etag": f'"{i}"',
            "status": "confirmed",
            "summary": f"Event {i}",
            "start": {"dateTime": f"2030-01-01T{i:02d}:00:00Z"},
            "end": {"dateTime": f"2030-01-01T{i:02d}:30:00Z"},
        }

    pages = [
        json.dumps({"items": [item(i) for i in range(10)]}).encode(),
        json.dumps({"items": [item(i) for i in range(10, 15)] + [{"id": "gone", "status": "cancelled"}]}).encode(),
    ]
    seconds, inserted = floor_seconds("google", pages)
    assert inserted == 15  # the tombstone is not a booking
    assert seconds > 0
