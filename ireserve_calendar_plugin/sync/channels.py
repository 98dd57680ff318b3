"""Push channels (Google watch channels, Graph subscriptions): create, renew, retire, route.

Public API: :class:`ChannelKeeper`, :class:`ChannelForce`, :class:`ChannelOutcome`, :func:`route_notification`,
:func:`reserve_channel`, :func:`release_channel`, :data:`RENEW_BEFORE`.

Each calendar has at most one live channel, kept in its state with the secret we gave it, and an
index entry ``chan/<channel id>`` so a notification is routed to its calendar with one read. Renewal
happens once the expiry the provider returned is within :data:`RENEW_BEFORE`: the new channel is made
first and indexed, then the old one is stopped, so notifications on either are accepted during the
handover. Notifications are only triggers: they queue a sync, never carry data we trust.

A provider that chooses the channel id and secret itself (Google) indexes them with
:func:`reserve_channel` *before* asking the service to create the channel, and takes them back with
:func:`release_channel` if that call fails: the service may deliver the channel's first message
before its create call has answered (Google's ``sync``), and it must be acknowledged 2xx. Once the
channel exists its index entry also holds the watched resource's id (:attr:`Channel.resource`), which
every later notification must repeat.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from enum import StrEnum
from typing import Any

from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import StaleStateError
from ireserve_calendar_plugin.sync.inbound import CalendarBusyError
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.ports import CalendarBackend
from ireserve_calendar_plugin.sync.state import DEFAULT_LEASE_TTL
from ireserve_calendar_plugin.sync.state import CalendarState
from ireserve_calendar_plugin.sync.state import Leases
from ireserve_calendar_plugin.sync.state import Schedule
from ireserve_calendar_plugin.sync.state import StateStore

__all__ = [
    "RENEW_BEFORE",
    "ChannelForce",
    "ChannelKeeper",
    "ChannelOutcome",
    "release_channel",
    "reserve_channel",
    "route_notification",
]

log = logging.getLogger("ireserve_calendar_plugin.sync")

#: Renew a channel once its expiry is this close (the seeds: within 2 days).
RENEW_BEFORE = timedelta(days=2)


class ChannelForce(StrEnum):
    """What a channel job must do even when the channel looks fine (the value travels in job payloads)."""

    NOTHING = ""
    #: the provider asked for a renewal (Graph ``reauthorizationRequired``)
    RENEW = "renew"
    #: the provider dropped the channel (Graph ``subscriptionRemoved``): make a new one
    RECREATE = "recreate"


class ChannelOutcome(StrEnum):
    """What :meth:`ChannelKeeper.ensure` did."""

    OK = "ok"
    CREATED = "created"
    RENEWED = "renewed"
    RECREATED = "recreated"
    #: the integration has no public push address: nothing to keep
    NO_PUSH_ADDRESS = "no push address"

    @property
    def is_new(self) -> bool:
        """A new channel, which cannot tell about changes made before it existed (catch up with a sync)."""
        return self in (ChannelOutcome.CREATED, ChannelOutcome.RECREATED)


def route_notification(store: SecureConfig, channel_id: str, secret: str, resource: str = "") -> str | None:
    """The calendar key of a genuine notification, or None (unknown channel, wrong secret, or a resource
    id other than the channel's).

    The secret and the resource id are compared in constant time. A channel reserved but not yet
    confirmed by the provider has no resource id yet: its notices are accepted on the secret alone
    (they can only queue a sync). Unknown ids cost one read and nothing else.
    """
    if not channel_id or len(channel_id) > 256:
        return None
    doc = store.load(f"chan/{channel_id}")
    if not doc.exists:
        return None
    expected = str(doc.data.get("secret", ""))
    if not hmac.compare_digest(expected.encode(), secret.encode()):
        return None
    known = str(doc.data.get("resource") or "")
    if known and not hmac.compare_digest(known.encode(), resource.encode()):
        return None
    return str(doc.data["calendar"])


def reserve_channel(store: SecureConfig, channel_id: str, secret: str, calendar_key: str) -> None:
    """Index a channel the provider is about to be asked for (see the module docstring)."""
    store.save(f"chan/{channel_id}", {"calendar": calendar_key, "secret": secret}, expected_version=None)


def release_channel(store: SecureConfig, channel_id: str) -> None:
    """Take back a reservation whose create call failed (its notices are then refused)."""
    store.delete(f"chan/{channel_id}")


class ChannelKeeper:
    """Keeps one push channel per calendar alive, and routes notifications to calendars."""

    def __init__(
        self,
        *,
        backend: CalendarBackend,
        store: SecureConfig,
        now: Callable[[], datetime],
        lease_ttl: timedelta = DEFAULT_LEASE_TTL,
    ) -> None:
        self.backend = backend
        self.lease_ttl = lease_ttl
        self.store = store
        self.now = now
        self.states = StateStore(store)
        self.leases = Leases(store)
        self.schedule = Schedule(store)

    # -- lifecycle ------------------------------------------------------------------------------
    def ensure(
        self, calendar: CalendarRef, address: str, *, force: ChannelForce = ChannelForce.NOTHING
    ) -> ChannelOutcome:
        """Make sure ``calendar`` has a live channel (renewed or recreated when ``force`` says so)."""
        lease = self.leases.acquire(calendar.key, self.now(), self.lease_ttl)
        if lease is None:
            raise CalendarBusyError(f"calendar {calendar.key} is busy")
        try:
            return self._ensure(calendar, address, force)
        finally:
            self.leases.release(lease)

    def _ensure(self, calendar: CalendarRef, address: str, force: ChannelForce) -> ChannelOutcome:
        state = self.states.load(calendar.key)
        now = self.now()
        current = Channel.from_json(state.channel) if state.channel else None
        outcome = ChannelOutcome.OK
        if current is None or force == ChannelForce.RECREATE or current.expires <= now:
            new = self.backend.watch(calendar, address)
            outcome = ChannelOutcome.CREATED if current is None else ChannelOutcome.RECREATED
        elif force == ChannelForce.RENEW or current.expires - now <= RENEW_BEFORE:
            new = self.backend.renew(calendar, current, address)
            outcome = ChannelOutcome.RENEWED
        else:
            new = current
        retiring = list(state.retiring)
        if new is not current:
            self._index(new, calendar.key)
            if current is not None and current.id != new.id:
                retiring.append(current.to_json())
            if not self.states.commit(calendar.key, state.but(channel=new.to_json(), retiring=tuple(retiring))):
                # lost a race: stop what we just made, the other writer's channel stands
                self._stop(calendar, new)
                raise StaleStateError(f"channel state of calendar {calendar.key} changed meanwhile")
            self.schedule.next_renewal(calendar.key, new.expires - RENEW_BEFORE)
            state = self.states.load(calendar.key)
        if retiring:
            self._retire(calendar, state)
        return outcome

    def _retire(self, calendar: CalendarRef, state: CalendarState) -> None:
        """Stop old channels (after the new one is live) and drop them from the index."""
        kept: list[dict[str, Any]] = []
        for data in state.retiring:
            old = Channel.from_json(data)
            try:
                self._stop(calendar, old)
            except Exception:  # a stop that fails is retried on the next run; the old channel expires anyway
                log.info("could not stop old channel of calendar %s yet", calendar.key)
                kept.append(data)
        if not self.states.commit(calendar.key, state.but(retiring=tuple(kept))):
            log.debug("retiring list of %s changed meanwhile", calendar.key)

    def _stop(self, calendar: CalendarRef, channel: Channel) -> None:
        self.backend.unwatch(calendar, channel)
        self.store.delete(f"chan/{channel.id}")

    def _index(self, channel: Channel, calendar_key: str) -> None:
        self.store.save(
            f"chan/{channel.id}",
            {"calendar": calendar_key, "secret": channel.secret, "resource": channel.resource},
            expected_version=None,
        )

    def drop(self, calendar: CalendarRef) -> None:
        """Stop every channel of a calendar that is no longer synced."""
        state = self.states.load(calendar.key)
        for data in [state.channel, *state.retiring]:
            if data:
                try:
                    self._stop(calendar, Channel.from_json(data))
                except Exception:
                    log.info("could not stop a channel of removed calendar %s", calendar.key)
        self.states.commit(calendar.key, state.but(channel=None, retiring=()))
