"""The engine's port to Google Calendar: :class:`GoogleBackend` implements ``CalendarBackend``.

Public API: :class:`GoogleBackend`, :func:`calendar_key`, :func:`calendars_from_mapping`,
:data:`CHANNEL_TTL`.

- Calendars come from the ``calendar_mapping`` rows: one :class:`CalendarRef` per distinct calendar
  id (key ``g`` + 16 hex of its SHA-256). A calendar's inbound object is the smallest explicit object
  id mapped to it; a calendar mapped only by the ``*`` row has none (it only keeps linked bookings
  in step).
- :meth:`GoogleBackend.list_changes` streams events.list pages lazily; only the last page carries
  the new sync token.
- Creates are idempotent by a client-chosen event id (the idempotency key): a retried insert that
  meets 409 ``duplicate`` fetches the event the first attempt made instead of making a second one,
  and patches it (status ``confirmed`` plus the draft) when a person deleted it meanwhile or the
  booking changed between the attempts.
- Updates PATCH without ``conferenceData`` (the Meet link stays); deletes treat 404/410 as done.
- Push: a watch channel with a random id and a random token (the channel secret), indexed before
  events.watch is called (its ``sync`` message may arrive first) and taken back if the call fails;
  its ``resourceId`` is kept with it and checked on every notification. Renewal makes a new channel
  (Google cannot extend one) and the engine stops the old one with :meth:`unwatch`.
- Tokens: :class:`AccessTokens` over the integration's store with google-auth refresh (OAuth mode), or
  the service account's shared JWT-bearer token (:mod:`.service_account`); every API call goes through
  :class:`ApiClient` (host pinning, 401 refresh, retries) and the :class:`Pacer`. In service-account
  mode a 404 listing a calendar says the resource calendar is gone or not visible to the subject.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import requests

from ireserve_calendar_plugin.auth.tokens import AccessTokens
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.providers import calendar_table
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.google import mapping
from ireserve_calendar_plugin.providers.google.auth import SCOPES
from ireserve_calendar_plugin.providers.google.auth import refresher
from ireserve_calendar_plugin.providers.google.client import PROVIDER
from ireserve_calendar_plugin.providers.google.client import GoogleClient
from ireserve_calendar_plugin.providers.google.client import api_paths
from ireserve_calendar_plugin.providers.google.client import raise_for_status
from ireserve_calendar_plugin.providers.google.service_account import CALENDAR_TOKEN_KEY
from ireserve_calendar_plugin.providers.google.service_account import service_account_tokens
from ireserve_calendar_plugin.providers.google.settings import DEFAULT_URLS
from ireserve_calendar_plugin.providers.google.settings import AuthMode
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.http import Pacer
from ireserve_calendar_plugin.providers.http import RetryPolicy
from ireserve_calendar_plugin.providers.limits import SharedPause
from ireserve_calendar_plugin.sync.channels import release_channel
from ireserve_calendar_plugin.sync.channels import reserve_channel
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import ChangePage
from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.model import EventDraft
from ireserve_calendar_plugin.sync.model import RemoteEvent
from ireserve_calendar_plugin.sync.model import Window

__all__ = ["CHANNEL_TTL", "GoogleBackend", "calendar_key", "calendars_from_mapping", "pacer_for"]

log = logging.getLogger("ireserve_calendar_plugin.google")

#: requested lifetime of a watch channel (seconds): Google's default and usual maximum, 7 days
CHANNEL_TTL = 604800
#: waits (seconds) for Google to finish creating a Meet link before giving up on it for now
MEET_POLL_WAITS = (0.5, 1.0, 2.0)
#: a listing longer than this many pages is treated as a loop
MAX_PAGES = 100_000


def calendar_key(calendar_id: str) -> str:
    """The engine's stable key of a Google calendar id."""
    return "g" + hashlib.sha256(calendar_id.encode("utf-8")).hexdigest()[:16]


def calendars_from_mapping(rows: list[Mapping[str, Any]], default_object: int | None = None) -> list[CalendarRef]:
    """The calendars of an object -> calendar table (see :mod:`~ireserve_calendar_plugin.providers.calendar_table`)."""
    return calendar_table.calendars_from_mapping(rows, default_object, calendar_key)


def pacer_for(ctx: BackendContext) -> Pacer:
    """The integration's request pacer (its budget lives in the integration's store, shared by every
    client and worker): ``requests_per_minute`` Calendar API calls in any rolling minute."""
    return Pacer(ctx.store, int(ctx.settings.get("requests_per_minute", 300)), now=ctx.now, sleep=ctx.sleep)


class GoogleBackend:
    """One Google integration's connection (see the module docstring)."""

    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.base_url = str(ctx.settings.get("api_base_url") or DEFAULT_URLS["api_base_url"]).rstrip("/")
        self._own_session = ctx.session is None
        session = ctx.session or requests.Session()
        self.service_account = ctx.settings.get("auth_mode") == AuthMode.SERVICE_ACCOUNT.value
        if self.service_account:
            self.tokens = service_account_tokens(
                ctx.settings,
                session,
                ctx.store,
                scopes=SCOPES,
                key=CALENDAR_TOKEN_KEY,
                now=ctx.now,
                wait=ctx.sleep,
                issuer=ctx.issuer,
            )
        else:
            self.tokens = AccessTokens(
                ctx.store,
                refresher(ctx.settings, session, now=ctx.now),
                now=ctx.now,
                key=ctx.token_key,
                issuer=ctx.issuer,
            )
        self.pacer = pacer_for(ctx)
        api_timeout = 30.0
        # one user, one quota: a Retry-After pauses the whole integration, in every worker
        pause = SharedPause(ctx.store, PROVIDER, max_wait=RetryPolicy().max_wait, now=ctx.now, sleep=ctx.sleep)
        self.api = ApiClient(
            provider=PROVIDER,
            allowed_bases=[self.base_url],
            allowed_paths=api_paths,
            token=self.tokens.get,
            invalidate_token=self.tokens.invalidate,
            raise_for_status=raise_for_status,
            pacer=self.pacer,
            sleep=ctx.sleep,
            session=session,
            timeout=api_timeout,
            pause=lambda _url: pause,
        )
        self.client = GoogleClient(self.api, self.base_url)
        self._calendars = calendars_from_mapping(
            list(ctx.settings.get("calendar_mapping") or []), ctx.settings.get("inbound_object_id")
        )

    def close(self) -> None:
        """Release the HTTP session when this backend made it (an injected one stays open)."""
        if self._own_session:
            self.api.close()

    # -- calendars --------------------------------------------------------------------------
    def calendars(self) -> list[CalendarRef]:
        return list(self._calendars)

    def calendar_for_object(self, object_id: int) -> CalendarRef | None:
        rows = list(self.settings.get("calendar_mapping") or [])
        return calendar_table.calendar_for_object(rows, self._calendars, object_id)

    def calendar_list(self) -> list[dict[str, Any]]:
        """The account's calendars for the admin form: ``{"id", "name", "primary", "writable"}`` each."""
        return [mapping.calendar_entry(item) for item in self.client.calendar_list()]

    # -- inbound ----------------------------------------------------------------------------
    def list_changes(self, calendar: CalendarRef, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        try:
            yield from self._list_changes(calendar, cursor, window)
        except PermanentError as exc:
            if exc.status != 404 or not self.service_account:
                raise
            raise PermanentError(
                f"google: resource calendar {calendar.remote_id} was not found: it was deleted, or the subject "
                f"{self.settings.get('subject')} may not see it (make the subject an admin, or share the calendar)",
                provider=PROVIDER,
                status=404,
                reason=exc.reason,
            ) from exc

    def _list_changes(self, calendar: CalendarRef, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        page_token: str | None = None
        for _ in range(MAX_PAGES):
            page = mapping.events_page(
                self.client.list_events(
                    calendar.remote_id, sync_token=cursor, window=None if cursor else window, page_token=page_token
                )
            )
            if page.next_page_token is None:
                yield ChangePage(page.events, cursor=page.next_sync_token)
                return
            if page.next_page_token == page_token:
                raise TransientError("google: events.list returned the same page token twice", provider=PROVIDER)
            yield ChangePage(page.events)
            page_token = page.next_page_token
        raise TransientError("google: events.list did not end", provider=PROVIDER)

    # -- outbound ---------------------------------------------------------------------------
    def new_idempotency_key(self) -> str:
        return mapping.new_event_id()

    def create_event(self, calendar: CalendarRef, draft: EventDraft, idempotency_key: str) -> RemoteEvent:
        event_id = mapping.event_id_for(idempotency_key)
        body = mapping.insert_body(draft, idempotency_key)
        try:
            data = self.client.insert_event(
                calendar.remote_id, body, conference=draft.meeting_link, notify=bool(draft.attendee_emails)
            )
        except PermanentError as exc:
            if exc.status != 409:
                raise
            # the first attempt made it (its answer was lost): adopt that event, brought back and up to
            # date when a person deleted it or the booking changed since
            data = self.client.get_event(calendar.remote_id, event_id)
            if not mapping.same_content(data, draft):
                data = self.client.patch_event(
                    calendar.remote_id, event_id, mapping.undelete_body(draft), notify=bool(draft.attendee_emails)
                )
        if draft.meeting_link:
            data = self._await_meet(calendar, event_id, data)
        return mapping.event_from_json(data)

    def _await_meet(self, calendar: CalendarRef, event_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Google creates Meet links asynchronously: re-read a pending event a few times (bounded)."""
        for wait in MEET_POLL_WAITS:
            if not mapping.conference_pending(data):
                break
            self.ctx.sleep(wait)
            data = self.client.get_event(calendar.remote_id, event_id)
        return data

    def update_event(self, calendar: CalendarRef, event_id: str, draft: EventDraft) -> RemoteEvent:
        data = self.client.patch_event(
            calendar.remote_id, event_id, mapping.patch_body(draft), notify=bool(draft.attendee_emails)
        )
        return mapping.event_from_json(data)

    #: Google's tombstones are definitive: an event moved out of the window comes back as changed.
    ambiguous_removals = False

    def recheck_removed(self, calendar: CalendarRef, event_id: str) -> RemoteEvent | None:
        try:
            event = mapping.event_from_json(self.client.get_event(calendar.remote_id, event_id))
        except PermanentError as exc:
            if exc.status in (404, 410):
                return None
            raise
        return None if event.deleted else event

    def delete_event(self, calendar: CalendarRef, event_id: str) -> bool:
        try:
            self.client.delete_event(calendar.remote_id, event_id)
        except PermanentError as exc:
            if exc.status not in (404, 410):
                raise
            log.debug("google: event already gone (HTTP %s)", exc.status)
            return False
        return True

    # -- push -------------------------------------------------------------------------------
    def watch(self, calendar: CalendarRef, address: str) -> Channel:
        for attempt in (1, 2):
            channel_id = uuid.uuid4().hex
            secret = secrets.token_urlsafe(32)
            body = mapping.watch_body(channel_id, secret, address, CHANNEL_TTL)
            # indexed before the call: Google may deliver the channel's ``sync`` message before
            # events.watch answers, and anything but 2xx counts as a failed delivery
            reserve_channel(self.ctx.store, channel_id, secret, calendar.key)
            try:
                data = self.client.watch(calendar.remote_id, body)
            except Exception as exc:
                release_channel(self.ctx.store, channel_id)
                # a retried watch whose first answer was lost meets its own id: start over with a new
                # one (the orphan channel expires by itself; its notices match no stored channel)
                if isinstance(exc, PermanentError) and exc.reason == "channelIdNotUnique" and attempt == 1:
                    continue
                raise
            fallback = self.ctx.now() + timedelta(seconds=CHANNEL_TTL)
            return mapping.channel_from_json(data, channel_id=channel_id, secret=secret, fallback_expiry=fallback)
        raise AssertionError("unreachable")  # pragma: no cover

    def renew(self, calendar: CalendarRef, channel: Channel, address: str) -> Channel:
        return self.watch(calendar, address)

    def unwatch(self, calendar: CalendarRef, channel: Channel) -> None:
        if not channel.extra.get(mapping.RESOURCE_ID):
            log.info("google: channel has no resource id; it will expire by itself")
            return
        try:
            self.client.stop_channel(mapping.stop_body(channel))
        except PermanentError as exc:
            if exc.status != 404:
                raise
