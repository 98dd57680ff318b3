"""The initial sync of a large calendar on a real Radicale: one request, every event once.

A person's calendar app imports the calendar in one PUT (:meth:`CalendarApp.upload`); the plugin's
first poll then lists it with one ``sync-collection`` REPORT carrying every member's etag and data (the
minimum a CalDAV server allows: nothing is fetched member by member), and the next poll of the unchanged
calendar is one request that writes nothing. 2,000 events cost Radicale itself half a minute to import
and answer on a busy two-core machine, so that size runs with ``--run-slow``; the default run takes 150.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from tests.caldav.conftest import require_caldav_libraries

require_caldav_libraries()

from ireserve_lab.caldav_person import CalendarApp  # noqa: E402
from ireserve_lab.caldav_person import PersonEvent  # noqa: E402
from tests.caldav.conftest import CalDavStory  # noqa: E402
from tests.caldav.conftest import hour  # noqa: E402


@pytest.mark.parametrize("size", [150, pytest.param(2000, marks=pytest.mark.slow)])
def test_the_initial_sync_of_a_large_calendar_is_one_request_and_duplicates_nothing(
    story: CalDavStory, size: int
) -> None:
    account = story.account
    app = CalendarApp(account.server.url, account.path, account.user, account.password)
    try:
        app.upload(
            PersonEvent(f"seed-{i}", f"Seeded {i}", hour(24 + i), hour(24 + i) + timedelta(minutes=30))
            for i in range(size)
        )
    finally:
        app.close()
    story.proxy.reset_counts()
    story.poll()
    assert story.proxy.count() == 1 and story.proxy.count("REPORT") == 1, story.proxy.requests
    bookings = story.bookings()
    assert len(bookings) == size
    assert Counter(b.title for b in bookings) == Counter(f"Seeded {i}" for i in range(size))
    assert len({b.fields["external_id"] for b in bookings}) == size, "one booking per event, each linked once"
    by_title = {b.title: b for b in bookings}
    assert by_title[f"Seeded {size - 1}"].start == hour(24 + size - 1)
    versions = {b.id: b.version for b in bookings}
    story.proxy.reset_counts()
    story.poll()
    assert story.proxy.count() == 1
    assert {b.id: b.version for b in story.bookings()} == versions, "an unchanged calendar writes nothing"
