"""The review queue's pure rules: what a round keeps, what an admin's choice means."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from ireserve_calendar_plugin.sync.conflicts import Choice
from ireserve_calendar_plugin.sync.conflicts import ConflictEntry
from ireserve_calendar_plugin.sync.conflicts import ConflictKind
from ireserve_calendar_plugin.sync.conflicts import ConflictStatus
from ireserve_calendar_plugin.sync.conflicts import Resolution
from ireserve_calendar_plugin.sync.conflicts import Wanted
from ireserve_calendar_plugin.sync.conflicts import conflict_id
from ireserve_calendar_plugin.sync.conflicts import merge
from ireserve_calendar_plugin.sync.conflicts import resolve

T = datetime(2026, 12, 3, 9, tzinfo=UTC)


def entry(booking: int | None = None, deleted: bool = False, start: datetime = T, **changes: object) -> ConflictEntry:
    wanted = Wanted(deleted=deleted, start=start, end=start + timedelta(hours=1))
    base = ConflictEntry(
        id=conflict_id("gk", "ev1"),
        calendar_key="gk",
        event_id="ev1",
        etag="e1",
        kind=ConflictKind.OVERLAP,
        wanted=wanted,
        reason="overlaps booking 3",
        detected=T,
        booking_id=booking,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_round_meeting_the_same_conflict_keeps_the_first_detection() -> None:
    later = entry(detected=T + timedelta(hours=2))
    assert merge(entry(), later).detected == T
    assert merge(None, later) == later


def test_dismissed_stays_dismissed_until_the_calendar_wants_something_else() -> None:
    dismissed = entry(status=ConflictStatus.DISMISSED)
    assert merge(dismissed, entry(detected=T + timedelta(days=1))).status is ConflictStatus.DISMISSED
    moved = entry(start=T + timedelta(hours=1))
    assert merge(dismissed, moved).status is ConflictStatus.OPEN


def test_an_ignored_foreign_event_is_never_asked_about_again() -> None:
    ignored = entry(status=ConflictStatus.IGNORED)
    assert merge(ignored, entry(start=T + timedelta(hours=5))).status is ConflictStatus.IGNORED


def test_choices_mean_what_the_admin_sees() -> None:
    assert resolve(entry(), Choice.APPLY, ours=False) is Resolution.CREATE_BOOKING
    assert resolve(entry(booking=7), Choice.APPLY, ours=True) is Resolution.MOVE_BOOKING
    assert resolve(entry(booking=7, deleted=True), Choice.APPLY, ours=True) is Resolution.CANCEL_BOOKING
    assert resolve(entry(booking=7), Choice.KEEP, ours=True) is Resolution.PUT_EVENT_BACK
    assert resolve(entry(booking=7, deleted=True), Choice.KEEP, ours=True) is Resolution.RECREATE_EVENT
    assert resolve(entry(booking=7), Choice.KEEP, ours=False) is Resolution.IGNORE
    assert resolve(entry(), Choice.KEEP, ours=False) is Resolution.IGNORE
    assert resolve(entry(booking=7), Choice.DISMISS, ours=True) is Resolution.DISMISS


def test_entries_survive_storage_and_ids_name_their_calendar() -> None:
    original = entry(booking=7, has_start=T, has_end=T + timedelta(hours=1), has_status="confirmed")
    assert ConflictEntry.from_json(original.to_json()) == original
    assert original.id.rpartition(".")[0] == "gk"
