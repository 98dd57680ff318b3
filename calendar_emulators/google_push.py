"""Push notification channels of the Calendar emulator (``events.watch``, ``channels.stop``).

Public API: :class:`ChannelRegistry`, :class:`Channel`, :data:`PUSH_USER_AGENT`.

A channel watches one calendar's events. Creating it sends a ``sync`` message (number 1); every later
change of the calendar sends ``exists`` with a higher, gapped message number, until the channel expires
or is stopped. Messages are empty POSTs with the ``X-Goog-*`` headers of the protocol doc section 7.2,
sent through the shared :class:`~.core.Deliverer` (so drop / duplicate / delay / hold faults apply).
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.utils import format_datetime as rfc1123
from typing import Any
from urllib.parse import quote
from urllib.parse import urlsplit

from calendar_emulators.core import Clock
from calendar_emulators.core import Deliverer
from calendar_emulators.google_errors import ApiError

__all__ = ["PUSH_USER_AGENT", "Channel", "ChannelRegistry"]

PUSH_USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"
_CHANNEL_ID = re.compile(r"^[A-Za-z0-9\-_+/=]{1,64}$")
PROJECT = "emulator"


@dataclass
class Channel:
    """One notification channel."""

    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    address: str
    token: str | None
    expiration: datetime
    user: str
    client_id: str
    message_number: int = 1
    stopped: bool = False

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "api#channel",
            "id": self.id,
            "resourceId": self.resource_id,
            "resourceUri": self.resource_uri,
            "expiration": str(int(self.expiration.timestamp() * 1000)),
        }
        if self.token is not None:
            body["token"] = self.token
        return body


def _resource_id(calendar_id: str) -> str:
    digest = hashlib.sha1(calendar_id.encode("utf-8")).digest()
    return base64.b32hexencode(digest).decode("ascii").lower()[:27]


class ChannelRegistry:
    """The channels of one emulator and the notifications they get.

    ``allow_http_push`` accepts ``http://`` addresses (the real service requires HTTPS);
    ``default_ttl``/``max_ttl`` bound the lifetime (seconds); ``sync_before_response`` makes the
    emulator deliver the ``sync`` message before it answers the watch call.
    """

    def __init__(
        self,
        clock: Clock,
        deliverer: Deliverer,
        *,
        allow_http_push: bool = False,
        default_ttl: float = 604800,
        max_ttl: float = 604800,
        sync_before_response: bool = False,
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self.deliverer = deliverer
        self.allow_http_push = allow_http_push
        self.default_ttl = default_ttl
        self.max_ttl = max_ttl
        self.sync_before_response = sync_before_response
        self.rng = random.Random(seed)
        self.channels: dict[str, Channel] = {}

    def watch(
        self, calendar_id: str, body: Mapping[str, Any], *, user: str, client_id: str, base_url: str
    ) -> dict[str, Any]:
        """Create a channel from a watch request body, send its ``sync`` message, return ``api#channel``."""
        channel_id = self._channel_id(body)
        address = self._address(body)
        token = body.get("token")
        if token is not None and (not isinstance(token, str) or len(token) > 256):
            raise ApiError(400, "invalid", "Channel token must be at most 256 characters.", location="token")
        uri = f"{base_url.rstrip('/')}/calendar/v3/calendars/{quote(calendar_id, safe='')}/events?alt=json"
        channel = Channel(
            channel_id,
            _resource_id(calendar_id),
            uri,
            calendar_id,
            address,
            token,
            self._expiration(body),
            user,
            client_id,
        )
        self.channels[channel_id] = channel
        self._send(channel, "sync")
        return channel.as_json()

    def stop(self, body: Mapping[str, Any], *, user: str, client_id: str) -> None:
        """``channels.stop``: 404 unless the channel is live and was made by this user and client."""
        channel_id = str(body.get("id") or "")
        if not channel_id:
            raise ApiError(400, "required", location="id")
        channel = self.channels.get(channel_id)
        if (
            channel is None
            or channel.stopped
            or channel.expiration <= self.clock.now()
            or channel.resource_id != body.get("resourceId")
            or (channel.user, channel.client_id) != (user, client_id)
        ):
            raise ApiError(404, "notFound", f"Channel '{channel_id}' not found for project '{PROJECT}'", location="")
        channel.stopped = True

    def notify(self, calendar_id: str) -> int:
        """Send ``exists`` on every live channel of ``calendar_id``; return how many were sent."""
        sent = 0
        now = self.clock.now()
        for channel in self.channels.values():
            if channel.calendar_id != calendar_id or channel.stopped or channel.expiration <= now:
                continue
            channel.message_number += self.rng.randint(2, 40)
            self._send(channel, "exists")
            sent += 1
        return sent

    def expire(self, channel_id: str) -> bool:
        """Expire a channel now (as if its lifetime had run out); False if unknown."""
        channel = self.channels.get(channel_id)
        if channel is None:
            return False
        channel.expiration = self.clock.now() - timedelta(milliseconds=1)
        return True

    def describe(self, calendar_id: str | None = None) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [
            {
                **c.as_json(),
                "calendarId": c.calendar_id,
                "address": c.address,
                "user": c.user,
                "clientId": c.client_id,
                "messageNumber": c.message_number,
                "stopped": c.stopped,
                "expired": c.expiration <= now,
            }
            for c in self.channels.values()
            if calendar_id is None or c.calendar_id == calendar_id
        ]

    # -- internals --------------------------------------------------------------------------
    def _channel_id(self, body: Mapping[str, Any]) -> str:
        value = body.get("id")
        if not value:
            raise ApiError(400, "required", location="id")
        if not isinstance(value, str) or not _CHANNEL_ID.match(value):
            raise ApiError(400, "invalid", f"Invalid channel id value: {value}", location="id")
        if value in self.channels:
            raise ApiError(400, "channelIdNotUnique", f"Channel id {value} not unique", location="")
        kind = body.get("type")
        if not kind:
            raise ApiError(400, "required", location="type")
        if str(kind).lower() not in {"web_hook", "webhook"}:
            raise ApiError(400, "invalid", f"Invalid channel type: {kind}", location="type")
        return value

    def _address(self, body: Mapping[str, Any]) -> str:
        address = body.get("address")
        if not address or not isinstance(address, str):
            raise ApiError(400, "required", location="address")
        parts = urlsplit(address)
        if parts.scheme == "https" or (self.allow_http_push and parts.scheme == "http"):
            if parts.hostname:
                return address
            raise ApiError(400, "invalid", f"Invalid WebHook callback: {address}", location="address")
        raise ApiError(400, "push.webhookUrlNotHttps", f"WebHook callback must be HTTPS: {address}", location="")

    def _expiration(self, body: Mapping[str, Any]) -> datetime:
        params = body.get("params") or {}
        raw_ttl = params.get("ttl") if isinstance(params, Mapping) else None
        try:
            ttl = float(raw_ttl) if raw_ttl is not None else self.default_ttl
        except (TypeError, ValueError):
            raise ApiError(400, "invalid", f"Invalid ttl value: {raw_ttl}", location="params.ttl") from None
        if ttl <= 0:
            raise ApiError(400, "invalid", f"Invalid ttl value: {raw_ttl}", location="params.ttl")
        now = self.clock.now()
        expiration = now + timedelta(seconds=min(ttl, self.max_ttl))
        requested = body.get("expiration")
        if requested is not None:
            try:
                wanted = datetime.fromtimestamp(int(requested) / 1000, tz=UTC)
            except (TypeError, ValueError, OverflowError):
                raise ApiError(400, "invalid", location="expiration") from None
            if wanted <= now:
                raise ApiError(400, "invalid", "Expiration must be in the future.", location="expiration")
            expiration = min(expiration, wanted)
        return expiration

    def _send(self, channel: Channel, state: str) -> None:
        headers = {
            "User-Agent": PUSH_USER_AGENT,
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": rfc1123(
                channel.expiration.astimezone(UTC).replace(microsecond=0), usegmt=True
            ),
            "X-Goog-Message-Number": str(channel.message_number),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-State": state,
            "X-Goog-Resource-URI": channel.resource_uri,
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        self.deliverer.send(channel.address, headers, b"")
