"""Reading Google's push notifications (protocol doc section 7.2). No I/O and no trust.

Public API: :func:`parse_push`, :data:`MAX_CHANNEL_ID`, :data:`MAX_CHANNEL_TOKEN`.

A notification is an empty POST whose headers say which channel it is for
(``X-Goog-Channel-ID``), our per-channel secret (``X-Goog-Channel-Token``), the watched resource
(``X-Goog-Resource-ID``, which must match the one ``events.watch`` returned) and what happened
(``X-Goog-Resource-State``): ``sync`` is the channel's first message (a handshake), ``exists`` and
``not_exists`` mean "something changed, sync". An unknown state also asks for a sync (an extra
incremental sync is cheap, a missed change is not). Missing, oversized or non-printable channel id,
token or state headers are refused with 400 and no notice. The engine checks the token against the
stored channel secret (in constant time) before acting.
"""

from __future__ import annotations

from hookspecs.types import HttpRequest
from ireserve_calendar_plugin.providers.base import NoticeKind
from ireserve_calendar_plugin.providers.base import PushNotice
from ireserve_calendar_plugin.providers.base import PushParse

__all__ = ["MAX_CHANNEL_ID", "MAX_CHANNEL_TOKEN", "parse_push"]

#: Google's limits on a channel id and a channel token
MAX_CHANNEL_ID = 64
MAX_CHANNEL_TOKEN = 256
#: a longer X-Goog-Resource-ID is treated as absent (so it cannot match a stored one)
MAX_RESOURCE_ID = 256
_MAX_STATE = 32
_KINDS = {"sync": NoticeKind.HANDSHAKE, "exists": NoticeKind.CHANGED, "not_exists": NoticeKind.CHANGED}


def _clean(value: str, limit: int) -> str | None:
    value = value.strip()
    if not value or len(value) > limit or not value.isprintable():
        return None
    return value


def parse_push(request: HttpRequest) -> PushParse:
    """One notice for a well-formed notification (acknowledged 200), else none (acknowledged 400)."""
    channel_id = _clean(request.header("x-goog-channel-id"), MAX_CHANNEL_ID)
    token = _clean(request.header("x-goog-channel-token"), MAX_CHANNEL_TOKEN)
    state = _clean(request.header("x-goog-resource-state"), _MAX_STATE)
    if channel_id is None or token is None or state is None:
        return PushParse(notices=(), ack_status=400)
    resource = _clean(request.header("x-goog-resource-id"), MAX_RESOURCE_ID) or ""
    kind = _KINDS.get(state.lower(), NoticeKind.CHANGED)
    return PushParse(
        notices=(PushNotice(channel_id=channel_id, secret=token, kind=kind, resource=resource),), ack_status=200
    )
