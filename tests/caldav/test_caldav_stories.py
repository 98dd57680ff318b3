"""CalDAV end to end on a real Radicale: reference host + plugin (by entry point) + a person's calendar app.

Each test reads as a story: an admin saves the settings (discovery runs in a job), cron polls, a person
edits the calendar with python-caldav, bookings change in the host, and both sides stay in step.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.caldav.conftest import require_caldav_libraries

require_caldav_libraries()  # before the imports that need them: a skip with the install line, not an error

from icalendar import Calendar  # noqa: E402

from ireserve_calendar_plugin.providers.caldav.backend import calendar_key  # noqa: E402
from ireserve_calendar_plugin.runtime import context_for  # noqa: E402
from ireserve_calendar_plugin.sync.state import StateStore  # noqa: E402
from ireserve_lab.faultproxy import FaultProxy  # noqa: E402
from ireserve_lab.world import World  # noqa: E402
from tests.caldav.conftest import Account  # noqa: E402
from tests.caldav.conftest import CalDavStory  # noqa: E402
from tests.caldav.conftest import hour  # noqa: E402


def _vevent(text: str):  # type: ignore[no-untyped-def]
    return next(iter(Calendar.from_ical(text).walk("VEVENT")))


def test_discovery_runs_in_a_job_and_the_form_offers_the_calendars(story: CalDavStory) -> None:
    form = story.host.hooks.config_form(story.integration, None)
    assert form is not None
    assert form.status.startswith(f"Connected ({story.account.user} @ 127.0.0.1)")
    (mapping,) = [f for f in form.fields if f.name == "calendar_mapping"]
    calendar_column = mapping.columns[1]
    assert (story.account.path, "Work") in calendar_column.choices
    (secret,) = [f for f in form.fields if f.name == "app_password"]
    assert secret.value == "********" and story.account.password not in repr(form)
    # rendering the form asks the server nothing
    before = story.proxy.count()
    story.host.hooks.config_form(story.integration, None)
    assert story.proxy.count() == before
    assert not [f for f in form.fields if f.name in ("client_id", "client_secret")]


def test_a_persons_events_become_bookings_and_an_idle_poll_is_one_request(story: CalDavStory) -> None:
    calendar = story.account.person()
    calendar.save_event(dtstart=hour(30), dtend=hour(31), summary="Board meeting", uid="board")
    calendar.save_event(
        dtstart=hour(50).date(), dtend=(hour(50) + timedelta(days=1)).date(), summary="Offsite", uid="offsite"
    )
    story.poll()
    by_title = {b.title: b for b in story.bookings()}
    assert set(by_title) == {"Board meeting", "Offsite"}
    assert by_title["Board meeting"].start == hour(30) and by_title["Board meeting"].channel == "external/caldav"
    assert by_title["Board meeting"].fields["external_id"] == "board.ics"
    assert by_title["Offsite"].all_day
    versions = {b.id: b.version for b in story.bookings()}
    story.proxy.reset_counts()
    story.poll()
    assert story.proxy.count() == 1 and story.proxy.count("REPORT") == 1
    assert {b.id: b.version for b in story.bookings()} == versions  # an unchanged calendar writes nothing


def test_cron_polls_at_the_poll_interval_and_never_asks_for_a_channel(story: CalDavStory) -> None:
    story.poll()
    ctx = context_for(story.host, story.integration)
    assert ctx is not None
    from ireserve_calendar_plugin.runtime import engine_for

    with engine_for(ctx) as engine:
        assert engine.push_address is None
        state = StateStore(ctx.store).load(calendar_key(story.account.path))
        assert state.channel is None and state.phase == "incremental"
        now = story.host.now()
        assert engine.due(now + timedelta(minutes=4)) == []
        (job,) = engine.due(now + timedelta(minutes=5, seconds=1))
        assert job.name == "calendar.sync"


def test_a_person_moving_and_deleting_events_moves_and_cancels_bookings(story: CalDavStory) -> None:
    calendar = story.account.person()
    moved = calendar.save_event(dtstart=hour(30), dtend=hour(31), summary="Moves", uid="moves")
    gone = calendar.save_event(dtstart=hour(40), dtend=hour(41), summary="Goes", uid="goes")
    story.poll()
    component = moved.icalendar_component
    component["DTSTART"].dt = hour(33)
    component["DTEND"].dt = hour(35)
    moved.save()
    gone.delete()
    story.poll()
    by_title = {b.title: b for b in story.bookings()}
    assert (by_title["Moves"].start, by_title["Moves"].end) == (hour(33), hour(35))
    assert by_title["Goes"].status == "cancelled" and not by_title["Goes"].fields.get("external_id")


def test_a_stale_sync_token_relists_and_catches_the_deletions(story: CalDavStory) -> None:
    calendar = story.account.person()
    keep = calendar.save_event(dtstart=hour(30), dtend=hour(31), summary="Keep", uid="keep")
    drop = calendar.save_event(dtstart=hour(40), dtend=hour(41), summary="Drop", uid="drop")
    story.poll()
    drop.delete()
    # the server forgets its history (as one that prunes old tokens, or was restored from a backup)
    story.account.server.forget_sync_tokens(story.account.path)
    story.proxy.reset_counts()
    story.poll()
    by_title = {b.title: b for b in story.bookings()}
    assert by_title["Drop"].status == "cancelled" and by_title["Keep"].status == "confirmed"
    # the refused token, the full listing, and the one GET that confirmed the deletion
    assert story.proxy.count("REPORT") == 2 and story.proxy.count("GET") == 1
    state = StateStore(context_for(story.host, story.integration).store).load(calendar_key(story.account.path))  # type: ignore[union-attr]
    assert state.last_error == "" and state.phase == "incremental"
    del keep


def test_bookings_are_written_moved_and_cancelled_with_our_uid_and_zone(story: CalDavStory) -> None:
    story.poll()
    booking = story.book(24, 2, "Team")
    story.world.settle()
    (name,) = story.members()
    assert name == story.host.bookings.get(booking.id).fields["external_id"] and name.startswith("ireserve-")
    text = story.members()[name]
    event = _vevent(text)
    assert str(event["SUMMARY"]) == f"Team [{booking.id}]" and str(event["X-IRESERVE-BOOKING-ID"]) == str(booking.id)
    assert event["DTSTART"].params["TZID"] == "Europe/Amsterdam" and "BEGIN:VTIMEZONE" in text
    assert event.decoded("DTSTART") == booking.start
    # the poll that sees our own write changes nothing (echo by etag)
    version = story.host.bookings.get(booking.id).version
    story.poll()
    assert story.host.bookings.get(booking.id).version == version
    # moved in the host: the event follows (If-Match on the etag just read)
    story.host.bookings.update_times(booking.id, start=hour(26), end=hour(27), origin="user:1")
    story.world.settle()
    assert _vevent(story.members()[name]).decoded("DTSTART") == hour(26)
    story.proxy.reset_counts()
    story.host.bookings.set_status(booking.id, "cancelled", origin="user:1")
    story.world.settle()
    assert story.members() == {}
    assert story.proxy.count("DELETE") == 1
    story.poll()
    assert story.host.bookings.get(booking.id).status == "cancelled"


def test_all_day_bookings_are_date_events(story: CalDavStory) -> None:
    story.poll()
    start = hour(0).replace(hour=0) + timedelta(days=3)
    from zoneinfo import ZoneInfo

    local = start.astimezone(ZoneInfo("Europe/Amsterdam")).replace(hour=0)
    booking = story.host.bookings.create(
        object_id=story.room.id,
        start=local,
        end=local + timedelta(days=1),
        status="confirmed",
        title="Closed",
        channel="web",
        origin="user:1",
        all_day=True,
    )
    story.world.settle()
    (text,) = story.members().values()
    assert "DTSTART;VALUE=DATE:" + local.strftime("%Y%m%d") in text
    version = story.host.bookings.get(booking.id).version
    story.poll()
    assert story.host.bookings.get(booking.id).version == version


def test_a_recurring_event_is_one_booking_per_instance_with_exdate_and_override(story: CalDavStory) -> None:
    calendar = story.account.person()
    series = calendar.save_event(
        dtstart=hour(24), dtend=hour(25), summary="Weekly", uid="weekly", rrule={"FREQ": "WEEKLY", "COUNT": 3}
    )
    story.poll()
    weekly = sorted((b for b in story.bookings() if b.title == "Weekly"), key=lambda b: b.start)
    assert [b.start for b in weekly] == [hour(24), hour(24 + 168), hour(24 + 336)]
    # the person cancels the second instance and moves the third one hour later
    cal = Calendar.from_ical(series.data)
    (master,) = cal.walk("VEVENT")
    master.add("EXDATE", hour(24 + 168))
    override = type(master)()
    for key in ("UID", "SUMMARY", "DTSTAMP"):
        override[key] = master[key]
    override.add("RECURRENCE-ID", hour(24 + 336))
    override.add("DTSTART", hour(24 + 337))
    override.add("DTEND", hour(24 + 338))
    cal.add_component(override)
    series.data = cal.to_ical().decode()
    series.save()
    story.poll()
    after = {b.id: b for b in story.bookings()}
    assert after[weekly[0].id].status == "confirmed" and after[weekly[0].id].start == hour(24)
    assert after[weekly[1].id].status == "cancelled"
    assert after[weekly[2].id].status == "confirmed" and after[weekly[2].id].start == hour(24 + 337)
    assert len(after) == 3


def test_a_wrong_password_is_said_in_words_and_a_new_one_resumes(story: CalDavStory) -> None:
    form = story.host.hooks.config_form(story.integration, {"app_password": "not-the-password"})
    assert form is not None and form.saved
    story.account.person().save_event(dtstart=hour(30), dtend=hour(31), summary="Waiting", uid="waiting")
    story.poll()
    form = story.host.hooks.config_form(story.integration, None)
    assert form is not None and "The CalDAV server refused the username or app password" in form.status
    assert (
        "The CalDAV server refused the username or app password; nothing is synced until they are corrected. "
        "Enter the username and a valid app password on the settings page and save" in " ".join(story.log())
    )
    assert not any("not-the-password" in line for line in story.log())
    story.poll()
    assert story.bookings() == []  # cron leaves an integration that needs new credentials alone
    form = story.host.hooks.config_form(story.integration, {"app_password": story.account.password})
    assert form is not None and form.saved
    story.world.settle()
    form = story.host.hooks.config_form(story.integration, None)
    assert form is not None and form.status.startswith("Connected")
    assert [b.title for b in story.bookings()] == ["Waiting"]


def test_a_server_that_goes_down_mid_sync_loses_nothing(tmp_path: Path, account: Account, proxy: FaultProxy) -> None:
    # retries wait on the world's clock (virtual sleep), so the backoff costs no real time
    with World(tmp_path / "host.sqlite3", virtual_sleep=True) as world:
        story = CalDavStory(world, account, proxy)
        world.settle()
        _down_and_up(story)


def _down_and_up(story: CalDavStory) -> None:
    story.poll()
    story.account.person().save_event(dtstart=hour(30), dtend=hour(31), summary="Inbound", uid="inbound")
    story.proxy.down = True
    first = story.book(24, 1, "Outbound one")
    second = story.book(28, 1, "Outbound two")
    story.world.advance(6 * 60)
    story.world.tick()
    story.world.run_jobs()  # what is due now: the poll and both writes fail, and are queued again
    state = StateStore(context_for(story.host, story.integration).store).load(calendar_key(story.account.path))  # type: ignore[union-attr]
    assert state.error_count == 1 and "TransientError" in state.last_error
    assert not story.host.bookings.get(first.id).fields.get("external_id")
    story.proxy.down = False
    for _ in range(4):  # the backoff passes; outbound jobs and the next poll run again
        story.world.advance(3600)
        story.world.tick()
        story.world.settle()
    titles = sorted(str(_vevent(t)["SUMMARY"]) for t in story.members().values())
    assert titles == sorted(["Inbound", f"Outbound one [{first.id}]", f"Outbound two [{second.id}]"]), story.log()
    assert [b.title for b in story.bookings() if b.channel == "external/caldav"] == ["Inbound"]
    state = StateStore(context_for(story.host, story.integration).store).load(calendar_key(story.account.path))  # type: ignore[union-attr]
    assert state.error_count == 0, story.log()


def test_a_server_without_sync_collection_is_polled_by_ctag_and_etags(story: CalDavStory) -> None:
    story.proxy.no_sync_collection = True
    calendar = story.account.person()
    moved = calendar.save_event(dtstart=hour(30), dtend=hour(31), summary="Moves", uid="moves")
    gone = calendar.save_event(dtstart=hour(40), dtend=hour(41), summary="Goes", uid="goes")
    story.poll()
    assert sorted(b.title for b in story.bookings()) == ["Goes", "Moves"]
    story.proxy.reset_counts()
    story.poll()
    assert story.proxy.count() == 1 and story.proxy.count("PROPFIND") == 1  # the ctag did not change
    component = moved.icalendar_component
    component["DTSTART"].dt = hour(33)
    component["DTEND"].dt = hour(34)
    moved.save()
    gone.delete()
    story.poll()
    by_title = {b.title: b for b in story.bookings()}
    assert by_title["Moves"].start == hour(33) and by_title["Goes"].status == "cancelled"


def test_a_wrong_password_met_by_the_calendar_listing_is_said_in_words(
    tmp_path: Path, account: Account, proxy: FaultProxy
) -> None:
    with World(tmp_path / "host.sqlite3") as world:
        story = CalDavStory(world, account, proxy, app_password="typed-wrong")
        world.settle()  # the discovery job meets 401
        form = story.host.hooks.config_form(story.integration, None)
        assert form is not None and "The CalDAV server refused the username or app password" in form.status
        said = [line for line in story.log() if "refused the username or app password" in line]
        assert len(said) == 1 and "Enter the username and a valid app password on the settings page" in said[0]
        assert not any("typed-wrong" in line for line in story.log())
        story.poll()
        assert story.proxy.count("REPORT") == 0, "cron leaves an integration that needs new credentials alone"
        form = story.host.hooks.config_form(story.integration, {"app_password": account.password})
        assert form is not None and form.saved
        world.settle()
        form = story.host.hooks.config_form(story.integration, None)
        assert form is not None and form.status.startswith("Connected"), form.status


def test_a_new_server_url_needs_the_app_password_again(story: CalDavStory) -> None:
    moved = "http://127.0.0.1:9/"  # nothing listens there: the password must not be sent before approval
    form = story.host.hooks.config_form(story.integration, {"server_url": moved})
    assert form is not None and not form.saved
    (secret,) = [f for f in form.fields if f.name == "app_password"]
    assert "Enter the app password again to approve it." in secret.error, secret.error
    assert "client secret" not in secret.error and "connected again" not in secret.error
    form = story.host.hooks.config_form(story.integration, {"server_url": moved, "app_password": "new-password"})
    assert form is not None and form.saved, form.field_errors
