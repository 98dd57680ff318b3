"""Push channels the plugin no longer wants: taken off their calendars, stopped at the provider, unindexed.

Public API: :func:`take_channels`, :func:`stop_taken`, :func:`sweep_orphans`, :class:`StopOutcome`,
:data:`PENDING_KEY`, :data:`ORPHAN_GRACE`, :data:`MAX_STOP_ATTEMPTS`.

When an account is disconnected (or its integration removed) the provider must stop sending
notifications: :func:`take_channels` moves every calendar's channels (the live one and those being
retired) from the calendar's state to a stop list, touching host storage only (it runs while an admin
waits), and :func:`stop_taken` (in a job) asks the provider to stop each one, then drops its
``chan/<id>`` index entry. Stopping is best effort: a channel the provider refuses to stop (the grant is
gone, say) is told to the admin in words and forgotten, as it expires by itself; a transient failure
keeps it listed for the job's next attempt, at most :data:`MAX_STOP_ATTEMPTS` times.

The calendar's state is cleared first and the stop list written after: a worker dying in between leaves
index entries nobody refers to, never a calendar believing in a channel that was stopped. Such entries,
and those left by earlier versions (a worker killed between indexing a channel and storing it on its
calendar), are what :func:`sweep_orphans` removes: an entry referred to by no calendar state and by no
stop list is stamped when first seen so, and deleted once it has stayed so for :data:`ORPHAN_GRACE`
(a channel being created right now is referred to within seconds). Storage only; bookings are never
touched by anything here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from enum import StrEnum
from typing import Any

from ireserve_calendar_plugin.config.store import SecureConfig
from ireserve_calendar_plugin.errors import CalendarPluginError
from ireserve_calendar_plugin.errors import RetryableError
from ireserve_calendar_plugin.errors import StaleStateError
from ireserve_calendar_plugin.errors import TransientError
from ireserve_calendar_plugin.sync.model import CalendarRef
from ireserve_calendar_plugin.sync.model import Channel
from ireserve_calendar_plugin.sync.ports import CalendarBackend
from ireserve_calendar_plugin.sync.state import StateStore

__all__ = [
    "MAX_STOP_ATTEMPTS",
    "ORPHAN_GRACE",
    "PENDING_KEY",
    "StopOutcome",
    "stop_taken",
    "sweep_orphans",
    "take_channels",
]

log = logging.getLogger("ireserve_calendar_plugin.sync")

#: The stop list: ``[{"calendar": key, "channel": Channel JSON, "attempts": n}, ...]``.
PENDING_KEY = "unwatch/pending"
#: How long an index entry must stay unreferenced before :func:`sweep_orphans` deletes it.
ORPHAN_GRACE = timedelta(hours=1)
#: Job attempts that met a transient failure before a channel is given up (it then expires by itself).
MAX_STOP_ATTEMPTS = 5
_SEEN = "unreferenced_since"


class StopOutcome(StrEnum):
    """What became of one listed channel."""

    STOPPED = "stopped"
    #: the provider refused (or could not be asked): forgotten here, it expires at the provider
    GIVEN_UP = "given up"
    #: a transient failure: still listed for the next attempt
    KEPT = "kept"


def take_channels(store: SecureConfig) -> int:
    """Move every calendar's channels to the stop list (host storage only). Returns how many."""
    states = StateStore(store)
    taken: list[dict[str, Any]] = []
    for key in states.keys():  # noqa: SIM118 - a method of StateStore, not a dict
        for _ in range(20):
            state = states.load(key)
            found = [data for data in (state.channel, *state.retiring) if data]
            if not found:
                break
            if states.commit(key, state.but(channel=None, retiring=())):
                taken += [{"calendar": key, "channel": data, "attempts": 0} for data in found]
                break
        else:
            raise StaleStateError(f"channel state of calendar {key} kept changing")
    if taken:
        store.update(PENDING_KEY, lambda listed: [*(listed or []), *taken], default=[])
    return len(taken)


Say = Callable[[Channel, CalendarPluginError], None]


def _stop_one(backend: CalendarBackend, item: dict[str, Any], say: Say) -> StopOutcome:
    channel = Channel.from_json(item["channel"])
    try:
        backend.unwatch(CalendarRef(str(item["calendar"]), "", None), channel)
    except RetryableError as exc:
        if int(item.get("attempts", 0)) + 1 < MAX_STOP_ATTEMPTS:
            log.info("could not stop channel of calendar %s yet (%s)", item["calendar"], type(exc).__name__)
            return StopOutcome.KEPT
        say(channel, exc)
        return StopOutcome.GIVEN_UP
    except CalendarPluginError as exc:
        say(channel, exc)
        return StopOutcome.GIVEN_UP
    return StopOutcome.STOPPED


def stop_taken(store: SecureConfig, backend: CalendarBackend, say: Say) -> dict[StopOutcome, int]:
    """Stop every listed channel at the provider and drop its index entry (a job's body).

    ``say(channel, error)`` tells the admin about a channel that could not be stopped. Raises
    :class:`TransientError` when some stay listed for another attempt (the host retries the job)."""
    counts = dict.fromkeys(StopOutcome, 0)
    for item in list(store.load(PENDING_KEY, []).data or []):
        outcome = _stop_one(backend, item, say)
        counts[outcome] += 1
        channel_id = str(item["channel"]["id"])
        if outcome != StopOutcome.KEPT:
            store.delete(f"chan/{channel_id}")

        kept = outcome == StopOutcome.KEPT

        def done(listed: list[Any] | None, cid: str = channel_id, kept: bool = kept) -> list[Any]:
            out = []
            for entry in listed or []:
                if str(entry["channel"]["id"]) != cid:
                    out.append(entry)
                elif kept:
                    out.append({**entry, "attempts": int(entry.get("attempts", 0)) + 1})
            return out

        store.update(PENDING_KEY, done, default=[])
    if counts[StopOutcome.KEPT]:
        raise TransientError(f"{counts[StopOutcome.KEPT]} push channel(s) could not be stopped yet")
    return counts


def _referenced(store: SecureConfig) -> set[str]:
    """The channel ids some calendar state or the stop list still refers to."""
    states = StateStore(store)
    ids: set[str] = set()
    for key in states.keys():  # noqa: SIM118 - a method of StateStore, not a dict
        state = states.load(key)
        ids |= {str(data["id"]) for data in (state.channel, *state.retiring) if data}
    ids |= {str(item["channel"]["id"]) for item in store.load(PENDING_KEY, []).data or []}
    return ids


def sweep_orphans(store: SecureConfig, now: datetime) -> int:
    """Delete ``chan/<id>`` entries no calendar and no stop list has referred to for :data:`ORPHAN_GRACE`.
    Storage only. Returns how many were deleted."""
    keys = store.list_keys("chan/")
    if not keys:
        return 0
    referenced = _referenced(store)
    deleted = 0
    for key in keys:
        if key[len("chan/") :] in referenced:
            continue
        doc = store.load(key)
        if not doc.exists or not isinstance(doc.data, dict):
            continue
        seen = doc.data.get(_SEEN)
        if not isinstance(seen, str):
            store.save(key, {**doc.data, _SEEN: now.isoformat()}, expected_version=doc.version)
        elif now - datetime.fromisoformat(seen) >= ORPHAN_GRACE:
            # by version: an entry (re)indexed meanwhile is kept
            deleted += store.save(key, None, expected_version=doc.version)
    if deleted:
        log.info("integration %s: dropped %d push channel entries nobody refers to", store.integration_id, deleted)
    return deleted
