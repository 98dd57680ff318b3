"""The engine's port to Microsoft Graph: :class:`OutlookBackend` implements ``CalendarBackend``.

Public API: :class:`OutlookBackend`, :func:`room_key`, :func:`calendars_from_settings`,
:func:`shared_gate`, :data:`APP_TOKEN_KEY`, :data:`SUBSCRIPTION_MINUTES`, :data:`EXPIRY_MARGIN`.

- Delegated mode: one calendar, the user's default calendar (``me``), key ``me``, on the configured
  object, written both ways; its label is the connected account. Application mode: one inbound-only
  calendar per room row, key ``r`` + 16 hex of the SHA-256 of the lower-cased UPN, remote id the UPN.
- Tokens: delegated, :class:`AccessTokens` over the integration's ``tokens`` with the rotating refresh
  grant; application, one client-credentials token per integration (= per tenant) under
  :data:`APP_TOKEN_KEY`, shared by every room and worker, renewed five minutes before it expires.
- Every call goes through :class:`ApiClient` (host pinning, one refresh on 401, retries honouring
  ``Retry-After``) with at most ``max_concurrency`` requests in flight in this process (semaphores
  shared by all of the integration's clients, :func:`shared_gate`): per integration in delegated mode
  (one mailbox), per mailbox in application mode, where Graph's limit (4 concurrent requests per app
  and mailbox) is per mailbox too, so 500 rooms are not squeezed through one mailbox's allowance.
  Across processes each mailbox sees one request of ours at a time anyway: every round, channel call
  and write of a calendar holds its lease in host storage.
- Inbound: :meth:`OutlookBackend.list_changes` streams calendarView/delta pages lazily; only the last
  page carries the new cursor (its ``@odata.deltaLink``). A stored cursor is requested verbatim; one
  that no longer lies under the configured Graph root (the admin changed it) counts as invalid, so
  the engine starts a fresh listing instead of sending the token elsewhere.
- Outbound: delegated mode writes ``me/events``; application mode writes ``users/{room}/events`` only
  when ``room_outbound`` is on (off by default: the rooms are inbound only and a write raises
  :class:`PermanentError` defensively). The room is then the organiser and no Teams link is asked
  for (room mailboxes have no Teams licence). Creates carry the idempotency key as ``transactionId``,
  so a retried POST returns the event the first one made (patched to the draft if the booking changed
  in between); a Teams link that is still null is re-read a few times; updates PATCH without the
  online-meeting fields (the link stays); deletes treat 404 as done. A 403 ``ErrorAccessDenied`` on
  a room write (the app holds only ``Calendars.Read``, or a policy keeps it out of that room) becomes
  :class:`WriteDeniedError` saying, in words, what to grant.
- Push: one subscription per calendar (``me/events`` or ``users/{upn}/events``) with a random
  ``clientState`` secret, asking for :data:`SUBSCRIPTION_MINUTES` minus :data:`EXPIRY_MARGIN`; a 400
  "can only be N minutes in the future" is retried once with N minus the margin. The expiry Graph
  returns is the channel's. Renewal PATCHes the same subscription (a 404 makes a new one).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
import threading
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import unquote
from urllib.parse import urlsplit

import requests

from ireserve_calendar_plugin.auth.tokens import AccessTokens
from ireserve_calendar_plugin.auth.tokens import AuthStatus
from ireserve_calendar_plugin.errors import PermanentError
from ireserve_calendar_plugin.errors import SyncTokenInvalidError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.errors import UnsafeUrlError
from ireserve_calendar_plugin.errors import WriteDeniedError
from ireserve_calendar_plugin.providers.base import BackendContext
from ireserve_calendar_plugin.providers.http import ApiClient
from ireserve_calendar_plugin.providers.http import RetryPolicy
from ireserve_calendar_plugin.providers.limits import SharedPause
from ireserve_calendar_plugin.providers.outlook import auth
from ireserve_calendar_plugin.providers.outlook import mapping
from ireserve_calendar_plugin.providers.outlook.client import PROVIDER
from ireserve_calendar_plugin.providers.outlook.client import OutlookClient
from ireserve_calendar_plugin.providers.outlook.client import api_paths
from ireserve_calendar_plugin.providers.outlook.client import delta_paths
from ireserve_calendar_plugin.providers.outlook.client import raise_for_status
from ireserve_calendar_plugin.providers.outlook.client import resource_of
from ireserve_calendar_plugin.providers.outlook.settings import DEFAULT_URLS
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import ChangePage
from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.model import EventDraft
from ireserve_calendar_plugin.sync.model import RemoteEvent
from ireserve_calendar_plugin.sync.model import Window

__all__ = [
    "APP_TOKEN_KEY",
    "EXPIRY_MARGIN",
    "SUBSCRIPTION_MINUTES",
    "OutlookBackend",
    "calendars_from_settings",
    "room_key",
    "shared_gate",
]

log = logging.getLogger("ireserve_calendar_plugin.outlook")

#: where the application-mode token lives in the integration's storage
APP_TOKEN_KEY = "app_token"
#: requested subscription lifetime: Outlook's current maximum for events (7 days)
SUBSCRIPTION_MINUTES = 10080
#: asked for this much less than the maximum, for clock skew and request time
EXPIRY_MARGIN = timedelta(minutes=10)
#: waits (seconds) for Graph to fill in a Teams join URL before giving up on it for now
JOIN_URL_WAITS = (0.5, 1.0, 2.0)
#: a delta round longer than this many pages is treated as a loop
MAX_PAGES = 100_000
ME = "me"
DEFAULT_LABEL = "Outlook calendar"

_gates: dict[tuple[str, str, int], threading.BoundedSemaphore] = {}
_gates_lock = threading.Lock()


def shared_gate(integration_id: str, limit: int, scope: str = "") -> threading.BoundedSemaphore:
    """The one semaphore of this process capping an integration's requests in flight at ``limit``
    (with ``scope``, e.g. a mailbox: that scope's requests)."""
    key = (integration_id, scope, limit)
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = threading.BoundedSemaphore(limit)
        return gate


def mailbox_of(url: str, base_url: str) -> str | None:
    """The mailbox a Graph request touches (``users/{upn}/...`` or ``me/...``), the scope Graph throttles
    per app; None for requests outside any mailbox (subscriptions, places)."""
    path = urlsplit(url).path
    prefix = urlsplit(base_url).path.rstrip("/") + "/v1.0/"
    if not path.startswith(prefix):
        return None
    parts = path[len(prefix) :].split("/")
    if parts[0] == "me":
        return ME
    if parts[0] == "users" and len(parts) > 1 and parts[1]:
        return unquote(parts[1]).lower()
    return None


@functools.lru_cache(maxsize=4096)
def room_key(upn: str) -> str:
    """The engine's stable key of a room mailbox (cached: every job of a 200-room integration asks)."""
    return "r" + hashlib.sha256(upn.lower().encode("utf-8")).hexdigest()[:16]


@functools.lru_cache(maxsize=16)
def _room_calendars(rows: tuple[tuple[str, int], ...], writes: bool) -> tuple[CalendarRef, ...]:
    """One calendar per room row (the first row of a mailbox wins), cached by the rows themselves: every
    job of an application-mode integration asks, and building 500 refs cost about 8 ms each time."""
    refs: dict[str, CalendarRef] = {}
    for upn, object_id in rows:
        key = room_key(upn)
        if key not in refs:
            refs[key] = CalendarRef(key=key, remote_id=upn, inbound_object_id=object_id, outbound=writes, label=upn)
    return tuple(refs.values())


def calendars_from_settings(settings: Mapping[str, Any], label: str = DEFAULT_LABEL) -> list[CalendarRef]:
    """The calendars an integration syncs: ``me`` (delegated) or one per room row (application)."""
    if settings.get("auth_mode") == "application":
        rows = tuple((str(row["upn"]), int(row["object"])) for row in settings.get("rooms") or [])
        return list(_room_calendars(rows, bool(settings.get("room_outbound"))))
    if not settings.get("object_id"):
        return []
    return [
        CalendarRef(
            key=ME,
            remote_id=ME,
            inbound_object_id=int(settings["object_id"]),
            outbound=True,
            label=label or DEFAULT_LABEL,
        )
    ]


class OutlookBackend:
    """One Outlook integration's connection (see the module docstring)."""

    def __init__(self, ctx: BackendContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.application = ctx.settings.get("auth_mode") == "application"
        self.base_url = str(ctx.settings.get("graph_base_url") or DEFAULT_URLS["graph_base_url"]).rstrip("/")
        self._own_session = ctx.session is None
        session = ctx.session or requests.Session()
        if self.application:
            refresh = auth.client_credentials(ctx.settings, session, ctx.store, now=ctx.now, sleep=ctx.sleep)
            self.tokens = AccessTokens(
                ctx.store, refresh, now=ctx.now, key=APP_TOKEN_KEY, needs_grant=False, issuer=ctx.issuer
            )
        else:
            refresh = auth.refresher(ctx.settings, session, now=ctx.now, sleep=ctx.sleep)
            self.tokens = AccessTokens(ctx.store, refresh, now=ctx.now, key=ctx.token_key, issuer=ctx.issuer)
        limit = int(ctx.settings.get("max_concurrency") or 4)
        self.api_timeout = float(ctx.settings.get("request_timeout") or 30)
        self._limit = limit
        pauses: dict[str, SharedPause] = {}
        max_wait = RetryPolicy().max_wait

        def pause_for(url: str) -> SharedPause:
            scope = f"mailbox:{mailbox_of(url, self.base_url) or '-'}"  # Graph throttles per app and mailbox
            if scope not in pauses:
                pauses[scope] = SharedPause(
                    ctx.store, PROVIDER, scope=scope, max_wait=max_wait, now=ctx.now, sleep=ctx.sleep
                )
            return pauses[scope]

        self.api = ApiClient(
            provider=PROVIDER,
            allowed_bases=[self.base_url + "/v1.0"],
            allowed_paths=api_paths,
            token=self.tokens.get,
            invalidate_token=self.tokens.invalidate,
            raise_for_status=raise_for_status,
            max_in_flight=limit,
            gate=self._gate_for if self.application else shared_gate(ctx.integration_id, limit),
            sleep=ctx.sleep,
            session=session,
            timeout=self.api_timeout,
            pause=pause_for,
        )
        self.client = OutlookClient(self.api, self.base_url)
        self._calendars: list[CalendarRef] | None = None

    def _gate_for(self, url: str) -> threading.BoundedSemaphore:
        """Application mode: the semaphore of the mailbox ``url`` touches (requests outside any mailbox,
        such as subscriptions and places, share the integration's own)."""
        mailbox = mailbox_of(url, self.base_url)
        return shared_gate(self.ctx.integration_id, self._limit, f"mailbox:{mailbox}" if mailbox else "")

    def close(self) -> None:
        """Release the HTTP session when this backend made it (an injected one stays open)."""
        if self._own_session:
            self.api.close()

    # -- calendars --------------------------------------------------------------------------
    def calendars(self) -> list[CalendarRef]:
        if self._calendars is None:
            label = "" if self.application else str(AuthStatus(self.ctx.store).get().get("account") or "")
            self._calendars = calendars_from_settings(self.settings, label)
        return list(self._calendars)

    def calendar_for_object(self, object_id: int) -> CalendarRef | None:
        return next((c for c in self.calendars() if c.inbound_object_id == object_id), None)

    def _mailbox(self, calendar: CalendarRef) -> str:
        return calendar.remote_id if self.application else ME

    # -- inbound ----------------------------------------------------------------------------
    def list_changes(self, calendar: CalendarRef, cursor: str | None, window: Window) -> Iterator[ChangePage]:
        mailbox = self._mailbox(calendar)
        if cursor:
            try:
                self.api.check_url(cursor, delta_paths)
            except UnsafeUrlError:
                log.warning(
                    "outlook: the stored delta link of %s is not under the configured Graph root; "
                    "starting a new listing",
                    calendar.key,
                )
                raise SyncTokenInvalidError(
                    "outlook: the stored delta link is for another Graph host",
                    provider=PROVIDER,
                    reason="foreign_delta_link",
                ) from None
        link = cursor
        followed: set[str] = set()
        for _ in range(MAX_PAGES):
            page = mapping.delta_page(self.client.delta(mailbox, window=None if link else window, link=link))
            if page.next_link is not None:
                if page.next_link in followed:
                    raise TransientError(
                        "outlook: calendarView/delta returned the same nextLink twice", provider=PROVIDER
                    )
                followed.add(page.next_link)
                yield ChangePage(page.events)
                link = page.next_link
                continue
            if page.delta_link is None:
                raise TransientError(
                    "outlook: a delta page carried neither a nextLink nor a deltaLink", provider=PROVIDER
                )
            yield ChangePage(page.events, cursor=page.delta_link)
            return
        raise TransientError("outlook: calendarView/delta did not end", provider=PROVIDER)

    # -- outbound ---------------------------------------------------------------------------
    def new_idempotency_key(self) -> str:
        return str(uuid.uuid4())

    def _writable(self, calendar: CalendarRef) -> str:
        """The mailbox to write ``calendar`` in; refuses an inbound-only room."""
        if not calendar.outbound:
            raise PermanentError(
                f"outlook: {calendar.label or calendar.key} is inbound only (application mode); "
                "nothing is written to it",
                provider=PROVIDER,
                reason="inbound_only",
            )
        return self._mailbox(calendar)

    def _denied(self, calendar: CalendarRef, exc: PermanentError) -> PermanentError:
        """A room write refused with 403 ``ErrorAccessDenied`` says in words what to grant."""
        if not (self.application and exc.status == 403 and exc.reason == "ErrorAccessDenied"):
            return exc
        room = calendar.label or calendar.remote_id
        return WriteDeniedError(
            f"This app may read but not write room {room}: grant Calendars.ReadWrite (application) and "
            "admin-consent, and make sure no application access policy leaves this room out.",
            calendar=room,
            provider=PROVIDER,
            status=403,
            reason=exc.reason,
        )

    def create_event(self, calendar: CalendarRef, draft: EventDraft, idempotency_key: str) -> RemoteEvent:
        mailbox = self._writable(calendar)
        if self.application:
            draft = replace(draft, meeting_link=False)  # a room mailbox has no Teams licence
        try:
            data = self.client.create_event(mailbox, mapping.create_body(draft, idempotency_key))
            if not mapping.same_content(data, draft):
                # the answer is what an earlier attempt with this transactionId made; the booking moved since
                data = self.client.patch_event(mailbox, str(data["id"]), mapping.patch_body(draft))
        except PermanentError as exc:
            raise self._denied(calendar, exc) from exc
        if draft.meeting_link:
            data = self._await_join_url(mailbox, data)
        return mapping.event_from_json(data)

    def _await_join_url(self, mailbox: str, data: dict[str, Any]) -> dict[str, Any]:
        """Graph may answer a Teams create before the join URL exists: re-read a few times (bounded)."""
        for wait in JOIN_URL_WAITS:
            if not mapping.join_url_pending(data):
                break
            self.ctx.sleep(wait)
            data = self.client.get_event(mailbox, str(data["id"]))
        return data

    def update_event(self, calendar: CalendarRef, event_id: str, draft: EventDraft) -> RemoteEvent:
        mailbox = self._writable(calendar)
        try:
            data = self.client.patch_event(mailbox, event_id, mapping.patch_body(draft))
        except PermanentError as exc:
            raise self._denied(calendar, exc) from exc
        return mapping.event_from_json(data)

    #: calendarView delta reports an event moved out of the window as ``@removed`` too.
    ambiguous_removals = True

    def recheck_removed(self, calendar: CalendarRef, event_id: str) -> RemoteEvent | None:
        try:
            event = mapping.event_from_json(self.client.get_event(self._mailbox(calendar), event_id))
        except PermanentError as exc:
            if exc.status in (404, 410):
                return None
            raise
        return None if event.deleted else event

    def delete_event(self, calendar: CalendarRef, event_id: str) -> bool:
        mailbox = self._writable(calendar)
        try:
            self.client.delete_event(mailbox, event_id)
        except PermanentError as exc:
            if exc.status not in (404, 410):
                raise self._denied(calendar, exc) from exc
            log.debug("outlook: event already gone (HTTP %s)", exc.status)
            return False
        return True

    # -- push -------------------------------------------------------------------------------
    def _with_expiry_limit(self, call: Callable[[datetime], dict[str, Any]]) -> tuple[dict[str, Any], datetime]:
        """Call with the longest expiry; once more with Graph's own limit if it names a shorter one."""
        now = self.ctx.now()
        expires = now + timedelta(minutes=SUBSCRIPTION_MINUTES) - EXPIRY_MARGIN
        try:
            return call(expires), expires
        except PermanentError as exc:
            limit = mapping.max_expiry_minutes(str(exc)) if exc.status == 400 else None
            shorter = now + timedelta(minutes=limit) - EXPIRY_MARGIN if limit is not None else None
            if shorter is None or shorter <= now or shorter >= expires:
                raise
            log.info("outlook: subscriptions live at most %d minutes here; asking for less", limit)
            return call(shorter), shorter

    def watch(self, calendar: CalendarRef, address: str) -> Channel:
        resource = resource_of(self._mailbox(calendar))
        secret = secrets.token_urlsafe(32)
        data, requested = self._with_expiry_limit(
            lambda expires: self.client.create_subscription(
                mapping.subscription_body(resource, address, secret, expires)
            )
        )
        return mapping.channel_from_json(data, secret=secret, fallback_expiry=requested)

    def renew(self, calendar: CalendarRef, channel: Channel, address: str) -> Channel:
        try:
            data, requested = self._with_expiry_limit(
                lambda expires: self.client.renew_subscription(channel.id, mapping.renew_body(expires))
            )
        except PermanentError as exc:
            if exc.status != 404:
                raise
            log.info("outlook: subscription of %s is gone; making a new one", calendar.key)
            return self.watch(calendar, address)
        return mapping.channel_from_json(data, secret=channel.secret, fallback_id=channel.id, fallback_expiry=requested)

    def unwatch(self, calendar: CalendarRef, channel: Channel) -> None:
        try:
            self.client.delete_subscription(channel.id)
        except PermanentError as exc:
            if exc.status != 404:
                raise
