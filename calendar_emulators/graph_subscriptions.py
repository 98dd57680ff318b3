"""Change-notification subscriptions of the Graph emulator: create with the validation handshake,
renew, delete, list, silent expiry, batched change notifications and lifecycle notifications.

Public API: :class:`Subscription`, :class:`SubscriptionService`, :class:`Notifier`,
:func:`validate_endpoint`, :data:`LIFECYCLE_EVENTS`.

Creating a subscription first POSTs ``notificationUrl?validationToken=<token>`` (and the same for
``lifecycleNotificationUrl``) with ``Content-Type: text/plain; charset=utf-8``; the endpoint must answer
200 with the URL-decoded token as its body, as ``text/plain``, within ``validation_timeout`` seconds, or
the create fails with 400 ``InvalidRequest``. The token contains spaces and colons, so a receiver that echoes the raw
query string fails, as it would against Graph.

Notifications raised for the same URL within ``notification_batch_window`` seconds are sent as one
POST ``{"value": [...]}``, even when they belong to different subscriptions; delivery (retries,
drop / duplicate / reorder / hold faults) is the core :class:`~.core.Deliverer`'s job.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import quote_plus
from urllib.parse import urlsplit

import requests

from .core import Deliverer
from .graph_common import GraphError
from .graph_common import GraphSettings
from .graph_common import format_utc
from .graph_common import new_guid
from .graph_common import new_item_id
from .graph_common import parse_iso
from .graph_events import EventRecord
from .graph_events import Mailbox
from .graph_oauth import AccessToken

__all__ = ["LIFECYCLE_EVENTS", "Notifier", "Subscription", "SubscriptionService", "validate_endpoint"]

CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
VALIDATION_FAILED = (
    "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
)


@dataclass
class Subscription:
    id: str
    resource: str
    mailbox_id: str
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires: datetime
    application_id: str
    creator_id: str
    tenant_id: str
    user_id: str | None
    latest_tls: str = "v1_2"
    needs_reauthorization: bool = False

    def as_graph(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": ",".join(self.change_types),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": format_utc(self.expires),
            "creatorId": self.creator_id,
            "includeResourceData": False,
            "latestSupportedTlsVersion": self.latest_tls,
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }


def _invalid(message: str) -> GraphError:
    return GraphError(400, "InvalidRequest", message)


def validate_endpoint(url: str, timeout: float) -> bool:
    """Run Graph's validation handshake against ``url``; True if it echoed the token in time, as
    ``text/plain`` (Graph refuses any other content type)."""
    token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
    target = url + ("&" if "?" in url else "?") + "validationToken=" + quote_plus(token)
    started = time.monotonic()
    try:
        resp = requests.post(target, data=b"", headers={"Content-Type": "text/plain; charset=utf-8"}, timeout=timeout)
    except requests.RequestException:
        return False
    in_time = time.monotonic() - started <= timeout
    plain = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower() == "text/plain"
    return in_time and resp.status_code == 200 and plain and resp.content == token.encode()


class Notifier:
    """Collects notifications per URL for a short window, then sends each URL's batch as one POST."""

    def __init__(self, deliverer: Deliverer, window: Callable[[], float]) -> None:
        self.deliverer = deliverer
        self.window = window
        self._lock = threading.Lock()
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._timers: dict[str, threading.Timer] = {}
        self.posts = 0

    def add(self, url: str, item: dict[str, Any]) -> None:
        window = self.window()
        with self._lock:
            batch = self._pending.setdefault(url, [])
            batch.append(item)
            if len(batch) > 1 or window <= 0:
                if window <= 0:
                    self._send_locked(url)
                return
            timer = threading.Timer(window, self._flush, args=(url,))
            timer.daemon = True
            self._timers[url] = timer
            timer.start()

    def flush(self) -> None:
        """Send every pending batch now."""
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            for url in list(self._pending):
                self._send_locked(url)

    def close(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
            self._pending.clear()

    def _flush(self, url: str) -> None:
        with self._lock:
            self._send_locked(url)

    def _send_locked(self, url: str) -> None:
        self._timers.pop(url, None)
        items = self._pending.pop(url, [])
        if not items:
            return
        self.posts += 1
        body = json.dumps({"value": items}, separators=(",", ":")).encode()
        self.deliverer.send(url, {"Content-Type": "application/json; charset=utf-8"}, body)


Resolver = Callable[[str, AccessToken], Mailbox]


class SubscriptionService:
    """Subscriptions on mailbox events. ``resolve(resource, token)`` maps a resource to a mailbox,
    raising the GraphError (403 / 404 / 400) the events API would raise for that token."""

    def __init__(
        self,
        now: Callable[[], datetime],
        settings: GraphSettings,
        lock: threading.RLock,
        notifier: Notifier,
        resolve: Resolver,
    ) -> None:
        self.now = now
        self.settings = settings
        self.lock = lock
        self.notifier = notifier
        self.resolve = resolve
        self.subscriptions: dict[str, Subscription] = {}

    # -- API ------------------------------------------------------------------------------
    def create(self, payload: dict[str, Any], token: AccessToken, creator_id: str) -> Subscription:
        with self.lock:
            sub = self._parse(payload, token, creator_id)
        for url in (sub.notification_url, sub.lifecycle_url):
            if url and not validate_endpoint(url, self.settings.validation_timeout):
                raise _invalid(VALIDATION_FAILED)
        with self.lock:
            self.subscriptions[sub.id] = sub
        return sub

    def get(self, sub_id: str, token: AccessToken) -> Subscription:
        with self.lock:
            self._purge()
            sub = self.subscriptions.get(sub_id)
            if sub is None or not self._visible(sub, token):
                raise GraphError(404, "ResourceNotFound", "The object was not found.")
            return sub

    def list_for(self, token: AccessToken) -> list[Subscription]:
        with self.lock:
            self._purge()
            return [s for s in self.subscriptions.values() if self._visible(s, token)]

    def renew(self, sub_id: str, payload: dict[str, Any], token: AccessToken) -> Subscription:
        sub = self.get(sub_id, token)
        new_url = payload.get("notificationUrl")
        if new_url and new_url != sub.notification_url:
            self._check_url(new_url, "notificationUrl")
            if not validate_endpoint(new_url, self.settings.validation_timeout):
                raise _invalid(VALIDATION_FAILED)
        with self.lock:
            if "expirationDateTime" in payload:
                sub.expires = self._expiry(payload.get("expirationDateTime"))
            if new_url:
                sub.notification_url = new_url
            sub.needs_reauthorization = False
            return sub

    def reauthorize(self, sub_id: str, token: AccessToken) -> None:
        sub = self.get(sub_id, token)
        with self.lock:
            sub.needs_reauthorization = False

    def delete(self, sub_id: str, token: AccessToken) -> None:
        sub = self.get(sub_id, token)
        with self.lock:
            self.subscriptions.pop(sub.id, None)

    # -- events ---------------------------------------------------------------------------
    def on_change(self, mbx: Mailbox, rec: EventRecord, change: str) -> None:
        """Queue a notification for every live subscription on ``mbx`` that wants ``change``."""
        with self.lock:
            self._purge()
            subs = [s for s in self.subscriptions.values() if s.mailbox_id == mbx.id and change in s.change_types]
        resource = f"Users/{mbx.owner.id}/Events/{rec.id}"
        for sub in subs:
            self.notifier.add(
                sub.notification_url,
                {
                    "id": new_item_id("lsg"),
                    "subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": format_utc(sub.expires),
                    "changeType": change,
                    "resource": resource,
                    "resourceData": {
                        "@odata.type": "#Microsoft.Graph.Event",
                        "@odata.id": resource,
                        "@odata.etag": rec.etag,
                        "id": rec.id,
                    },
                    "clientState": sub.client_state,
                    "tenantId": sub.tenant_id,
                },
            )

    def fire_lifecycle(self, sub_id: str, event: str) -> Subscription:
        """Send a lifecycle notification; ``subscriptionRemoved`` also removes the subscription."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"unknown lifecycle event {event!r}")
        with self.lock:
            sub = self.subscriptions.get(sub_id)
            if sub is None:
                raise KeyError(sub_id)
            if not sub.lifecycle_url:
                raise ValueError(f"subscription {sub_id} has no lifecycleNotificationUrl")
            if event == "subscriptionRemoved":
                del self.subscriptions[sub_id]
            if event == "reauthorizationRequired":
                sub.needs_reauthorization = True
            item = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": format_utc(sub.expires),
                "tenantId": sub.tenant_id,
                "clientState": sub.client_state,
                "lifecycleEvent": event,
            }
        self.notifier.add(sub.lifecycle_url, item)
        return sub

    def all(self) -> list[Subscription]:
        with self.lock:
            self._purge()
            return list(self.subscriptions.values())

    # -- internals ------------------------------------------------------------------------
    def _visible(self, sub: Subscription, token: AccessToken) -> bool:
        if sub.application_id != token.client_id or sub.tenant_id != token.tenant_id:
            return False
        return token.app_only or sub.user_id == token.user_id

    def _purge(self) -> None:
        now = self.now()
        for sub_id in [s.id for s in self.subscriptions.values() if s.expires <= now]:
            del self.subscriptions[sub_id]

    def _check_url(self, url: Any, name: str) -> None:
        parts = urlsplit(str(url))
        allowed = ("https", "http") if self.settings.allow_http_notifications else ("https",)
        if parts.scheme not in allowed or not parts.netloc:
            raise _invalid(f"The {name} '{url}' is invalid: an absolute https URL is required.")

    def _expiry(self, raw: Any) -> datetime:
        if not raw:
            raise _invalid("The expirationDateTime of the subscription is required.")
        try:
            expires = parse_iso(str(raw))
        except ValueError:
            raise _invalid(f"Invalid expirationDateTime '{raw}'.") from None
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=self.now().tzinfo)
        limit = self.settings.max_subscription_minutes
        if expires <= self.now() or expires > self.now() + timedelta(minutes=limit):
            raise GraphError(
                400, "ExtensionError", f"Subscription expiration can only be {limit} minutes in the future."
            )
        return expires

    def _parse(self, payload: dict[str, Any], token: AccessToken, creator_id: str) -> Subscription:
        raw_types = str(payload.get("changeType") or "")
        types = tuple(t.strip() for t in raw_types.split(",") if t.strip())
        bad = [t for t in types if t not in CHANGE_TYPES]
        if not types or bad:
            raise _invalid(f"Invalid 'changeType' attribute: '{raw_types}'.")
        self._check_url(payload.get("notificationUrl"), "notificationUrl")
        if payload.get("lifecycleNotificationUrl"):
            self._check_url(payload["lifecycleNotificationUrl"], "lifecycleNotificationUrl")
        client_state = payload.get("clientState")
        if client_state is not None and len(str(client_state)) > 128:
            raise _invalid("The clientState of a subscription can be at most 128 characters long.")
        if payload.get("includeResourceData"):
            raise _invalid("A valid encryptionCertificate is required when includeResourceData is true.")
        expires = self._expiry(payload.get("expirationDateTime"))
        resource = str(payload.get("resource") or "")
        mbx = self.resolve(resource, token)
        return Subscription(
            id=new_guid(),
            resource=resource,
            mailbox_id=mbx.id,
            change_types=types,
            notification_url=str(payload["notificationUrl"]),
            lifecycle_url=payload.get("lifecycleNotificationUrl"),
            client_state=client_state,
            expires=expires,
            application_id=token.client_id,
            creator_id=creator_id,
            tenant_id=token.tenant_id,
            user_id=token.user_id,
            latest_tls=str(payload.get("latestSupportedTlsVersion") or "v1_2"),
        )
