"""Reading Microsoft Graph change and lifecycle notifications (protocol doc section 6). No I/O, no trust.

Public API: :func:`parse_push`, :data:`MAX_VALIDATION_TOKEN`, :data:`MAX_CLIENT_STATE`.

- Validation handshake: a POST with a ``validationToken`` query parameter (to the notification or
  the lifecycle URL) is answered at once with 200, ``text/plain`` and the URL-decoded token as the
  body, byte for byte (never HTML, ``nosniff``, so a token carrying markup is inert). A token that is
  empty or longer than :data:`MAX_VALIDATION_TOKEN` bytes is refused with 400.
- Otherwise the body must be a JSON object with a ``value`` list (else 400 and no notice). Each item
  with a ``subscriptionId`` and a ``clientState`` (our per-subscription secret, checked in constant
  time by the route) is one notice: a plain change is ``changed``; ``lifecycleEvent``
  ``reauthorizationRequired`` -> ``renew``, ``subscriptionRemoved`` -> ``recreate``, ``missed`` ->
  ``resync``; an unknown lifecycle event is ignored. A batch may mix subscriptions; repeated notices
  are folded. Acknowledged 202 (processed later, by queued jobs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hookspecs.types import HttpRequest
from hookspecs.types import HttpResponse
from ireserve_calendar_plugin.providers.base import NoticeKind
from ireserve_calendar_plugin.providers.base import PushNotice
from ireserve_calendar_plugin.providers.base import PushParse

__all__ = ["MAX_CLIENT_STATE", "MAX_VALIDATION_TOKEN", "parse_push"]

#: the longest validation token echoed (bytes); Graph's are about 120
MAX_VALIDATION_TOKEN = 1024
#: Graph's limit on ``clientState``
MAX_CLIENT_STATE = 128
_MAX_SUBSCRIPTION_ID = 128
_LIFECYCLE = {
    "reauthorizationrequired": NoticeKind.RENEW,
    "subscriptionremoved": NoticeKind.RECREATE,
    "missed": NoticeKind.RESYNC,
}
_ACK = 202


def _validation(token: str) -> PushParse:
    raw = token.encode("utf-8")
    if not raw or len(raw) > MAX_VALIDATION_TOKEN:
        return PushParse(notices=(), ack_status=400)
    headers = {
        "Content-Type": "text/plain; charset=utf-8",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return PushParse(notices=(), ack_status=200, response=HttpResponse(200, raw, headers))


def _clean(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > limit or not text.isprintable():
        return None
    return text


def _notice(item: Any) -> PushNotice | None:
    if not isinstance(item, Mapping):
        return None
    subscription_id = _clean(item.get("subscriptionId"), _MAX_SUBSCRIPTION_ID)
    client_state = _clean(item.get("clientState"), MAX_CLIENT_STATE)
    if subscription_id is None or client_state is None:
        return None
    lifecycle = item.get("lifecycleEvent")
    if lifecycle is None:
        kind = NoticeKind.CHANGED
    else:
        found = _LIFECYCLE.get(lifecycle.lower()) if isinstance(lifecycle, str) else None
        if found is None:
            return None
        kind = found
    return PushNotice(channel_id=subscription_id, secret=client_state, kind=kind)


def parse_push(request: HttpRequest) -> PushParse:
    """The handshake answer, or the notices of a notification POST (see the module docstring)."""
    if "validationToken" in request.query:
        return _validation(request.arg("validationToken"))
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        return PushParse(notices=(), ack_status=400)
    items = data.get("value") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return PushParse(notices=(), ack_status=400)
    notices: dict[PushNotice, None] = {}
    for item in items:
        notice = _notice(item)
        if notice is not None:
            notices[notice] = None
    return PushParse(notices=tuple(notices), ack_status=_ACK)
