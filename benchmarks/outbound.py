"""Outbound writes: the API calls a booking's create, update and delete cost, with a meeting link.

Public API: :func:`run`.

Method: a connected, settled integration with ``meeting_link`` on (Google Meet / Teams). A person books
the room in the host, then moves the booking, then cancels it; after each step the World settles, so
the outbound job runs, the provider pushes the echo of our own write, and the inbound round that echo
triggers runs too. Counted in the emulator's log for each step: writes of events (insert/patch/delete),
single-event reads, and list calls (the echo's incremental round). A write beyond the first would be a
write caused by the echo (or a retry); the target is exactly one write and no read.
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from benchmarks.harness import Figure
from benchmarks.harness import Options
from benchmarks.harness import median
from benchmarks.harness import outlook_pending
from benchmarks.worlds import GOOGLE_LIST
from benchmarks.worlds import GRAPH_LIST
from benchmarks.worlds import Setup
from benchmarks.worlds import google_setup
from benchmarks.worlds import outlook_setup

__all__ = ["run"]

USER = "user:1"
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_EVENTS = {
    "google": (re.compile(r"/calendars/[^/]+/events(/[^/]+)?$"), re.compile(r"/calendars/[^/]+/events/[^/]+$")),
    "outlook": (re.compile(r"^/v1\.0/.*/events(/[^/]+)?$"), re.compile(r"^/v1\.0/.*/events/[^/]+$")),
}


def _count(setup: Setup, provider: str, since: int) -> dict[str, int]:
    any_event, one_event = _EVENTS[provider]
    listing = re.compile(GOOGLE_LIST if provider == "google" else GRAPH_LIST)
    counts = {"writes": 0, "reads": 0, "lists": 0}
    for e in setup.app.requests.entries()[since:]:
        if e.path.endswith("/watch"):
            continue
        if e.method in _WRITE_METHODS and any_event.search(e.path):
            counts["writes"] += 1
        elif e.method == "GET" and one_event.search(e.path) and not listing.search(e.path):
            counts["reads"] += 1
        elif e.method == "GET" and listing.search(e.path):
            counts["lists"] += 1
    return counts


def _settle(setup: Setup, provider: str) -> None:
    for _ in range(2):  # the write's echo is pushed after the outbound job: deliver it, run its round
        if provider == "outlook":
            setup.app.flush_notifications()
        setup.world.settle()


def _story(provider: str, opts: Options) -> dict[str, Any]:
    make = google_setup if provider == "google" else outlook_setup
    setup = make(opts.scratch(f"outbound-{provider}"), meeting_link=True)
    host = setup.host
    try:
        _settle(setup, provider)
        out: dict[str, Any] = {}
        start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)

        since = len(setup.app.requests.entries())
        booking = host.bookings.create(
            object_id=setup.room.id,
            start=start,
            end=start + timedelta(hours=1),
            status="confirmed",
            title="Team",
            channel="web",
            origin=USER,
        )
        _settle(setup, provider)
        out["create"] = _count(setup, provider, since)
        fields = host.bookings.get(booking.id).fields
        out["create"]["linked"] = int(bool(fields.get("external_id")))
        out["create"]["meeting_url"] = int(bool(fields.get("meeting_url")))

        since = len(setup.app.requests.entries())
        host.bookings.update_times(
            booking.id, start=start + timedelta(hours=2), end=start + timedelta(hours=3), origin=USER
        )
        _settle(setup, provider)
        out["update"] = _count(setup, provider, since)

        since = len(setup.app.requests.entries())
        host.bookings.set_status(booking.id, "cancelled", origin=USER)
        _settle(setup, provider)
        out["delete"] = _count(setup, provider, since)
        return out
    finally:
        setup.world.close()


def run(opts: Options) -> list[Figure]:
    figures: list[Figure] = []
    target = "exactly 1 write, 0 extra reads, 0 writes from the echo"
    for provider in ("google", "outlook"):
        title, link = ("Google", "Meet") if provider == "google" else ("Outlook", "Teams")
        pending = outlook_pending() if provider == "outlook" else None
        if pending:
            figures += [
                Figure(
                    f"outbound.{provider}.{op}",
                    f"outbound booking {op}, {title} ({link} link): API calls",
                    target,
                    pending,
                    None,
                )
                for op in ("create", "update", "delete")
            ]
            continue
        opts.log(f"   {provider}: booking create / update / delete")
        stories = [_story(provider, opts) for _ in range(opts.runs)]
        for op in ("create", "update", "delete"):
            writes = median(s[op]["writes"] for s in stories)
            reads = median(s[op]["reads"] for s in stories)
            lists = median(s[op]["lists"] for s in stories)
            ok = writes == 1 and reads == 0
            extra = ""
            if op == "create":
                has_link = all(s[op]["meeting_url"] and s[op]["linked"] for s in stories)
                ok = ok and has_link
                extra = f"; {link} link {'stored' if has_link else 'MISSING'}"
            figures.append(
                Figure(
                    f"outbound.{provider}.{op}",
                    f"outbound booking {op}, {title} ({link} link): API calls",
                    target,
                    f"{writes:.0f} write, {reads:.0f} reads, {max(writes - 1, 0):.0f} echo writes{extra} "
                    f"(the echo's round: {lists:.0f} list call)",
                    ok,
                    value=writes,
                    unit="writes",
                    samples=[s[op]["writes"] for s in stories],
                    detail={"runs": [s[op] for s in stories]},
                )
            )
    return figures
