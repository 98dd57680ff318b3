"""Pushed changes: list calls per change and per burst, and the webhook route's latency under a burst.

Public API: :func:`run`.

Method: a connected, settled integration (empty calendar). "One change": a person creates one event;
the emulator pushes to the host's route, the World delivers and drains the queue (``settle``); the list
calls made are counted. "Burst": the emulator holds its notifications while a person makes 50 changes,
then releases them all (Google sends one message per change; Graph batches them per 50 ms), then the
World settles: the route queues one deduplicated sync job per calendar, so the 50 changes cost one
incremental round. Latency: 1,000 genuine notifications (the live channel's headers, or a Graph change
notification with the live subscription's ``clientState``) POSTed to the host's push route by 32
concurrent senders; each request is timed by its sender with ``time.monotonic()``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import requests

from benchmarks.harness import Figure
from benchmarks.harness import Options
from benchmarks.harness import median
from benchmarks.harness import outlook_pending
from benchmarks.harness import percentile
from benchmarks.worlds import ALEX
from benchmarks.worlds import GOOGLE_LIST
from benchmarks.worlds import GRAPH_LIST
from benchmarks.worlds import Setup
from benchmarks.worlds import google_setup
from benchmarks.worlds import list_calls
from benchmarks.worlds import outlook_setup
from calendar_emulators.core import PushFaults
from calendar_emulators.google import DEMO_ROOM

__all__ = ["run", "send_all"]

BURST_CHANGES = 50
NOTIFICATIONS = 1_000
QUICK_NOTIFICATIONS = 200
SENDERS = 32
LATENCY_TARGET_MS = 500.0
REPO = Path(__file__).resolve().parent.parent


def _settle(setup: Setup, provider: str) -> None:
    if provider == "outlook":
        setup.app.flush_notifications()
    setup.world.settle()


def _create(setup: Setup, provider: str, i: int) -> None:
    start = (datetime.now(UTC) + timedelta(days=3, hours=i)).replace(minute=0, second=0, microsecond=0)
    if provider == "google":
        setup.app.create_event(DEMO_ROOM, summary=f"Change {i}", start=start, end=start + timedelta(minutes=30))
    else:
        setup.app.person_create_event(ALEX, f"Change {i}", start, start + timedelta(minutes=30))


def _changes(provider: str, opts: Options, count: int) -> tuple[int, int]:
    """(list calls, bookings) after ``count`` changes in one burst on a fresh connected world."""
    make = google_setup if provider == "google" else outlook_setup
    pattern = GOOGLE_LIST if provider == "google" else GRAPH_LIST
    setup = make(opts.scratch(f"push-{provider}-{count}"))
    try:
        _settle(setup, provider)
        since = len(setup.app.requests.entries())
        if count > 1:
            setup.app.deliverer.configure(PushFaults(hold=True))
        for i in range(count):
            _create(setup, provider, i)
        if count > 1:
            if provider == "outlook":
                setup.app.notifier.flush()
            setup.app.deliverer.configure(PushFaults())
            setup.app.deliverer.release()
        _settle(setup, provider)
        return list_calls(setup.app, pattern, since), len(setup.host.list_bookings(setup.room.id))
    finally:
        setup.world.close()


def _google_notification(setup: Setup) -> Callable[[int], tuple[dict[str, str], bytes]]:
    (channel,) = [c for c in setup.app.channels(DEMO_ROOM) if not c["stopped"] and not c["expired"]]
    expires = datetime.fromtimestamp(int(channel["expiration"]) / 1000, tz=UTC)

    def make(number: int) -> tuple[dict[str, str], bytes]:
        return {
            "X-Goog-Channel-ID": channel["id"],
            "X-Goog-Channel-Token": channel["token"],
            "X-Goog-Channel-Expiration": format_datetime(expires.replace(microsecond=0), usegmt=True),
            "X-Goog-Message-Number": str(1000 + number),
            "X-Goog-Resource-ID": channel["resourceId"],
            "X-Goog-Resource-State": "exists",
            "X-Goog-Resource-URI": channel["resourceUri"],
        }, b""

    return make


def _graph_notification(setup: Setup) -> Callable[[int], tuple[dict[str, str], bytes]]:
    (sub,) = setup.app.list_subscriptions()

    def make(number: int) -> tuple[dict[str, str], bytes]:
        item = {
            "subscriptionId": sub["id"],
            "clientState": sub.get("clientState"),
            "changeType": "updated",
            "resource": f"Users/{sub.get('mailboxId', '')}/Events/{number}",
            "tenantId": sub.get("tenantId"),
            "subscriptionExpirationDateTime": sub.get("expirationDateTime"),
        }
        return {"Content-Type": "application/json; charset=utf-8"}, json.dumps({"value": [item]}).encode()

    return make


def _burst(provider: str, opts: Options, count: int) -> dict[str, Any]:
    """POST 1,000 notifications to the host's push route from a sender process; returns latencies (ms)
    and what they queued. The senders run in their own process, as the provider's push servers would:
    they do not compete with the host for this process's interpreter lock."""
    make = google_setup if provider == "google" else outlook_setup
    setup = make(opts.scratch(f"webhook-{provider}"))
    try:
        _settle(setup, provider)
        notification = _google_notification(setup) if provider == "google" else _graph_notification(setup)
        url = setup.host.url_for(f"/calendar/push/{provider}/{setup.integration.id}")
        batch = []
        for number in range(count):
            headers, body = notification(number)
            batch.append({"headers": headers, "body": body.decode()})
        queued_before = len(setup.host.jobs.all(state="queued"))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.push", "--send", url, str(SENDERS)],
            input=json.dumps(batch),
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"push sender failed ({done.returncode}): {done.stderr[-2000:]}")
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        report["queued_jobs"] = len(setup.host.jobs.all(state="queued")) - queued_before
        return report
    finally:
        setup.world.close()


def send_all(url: str, senders: int, batch: list[dict[str, Any]]) -> dict[str, Any]:
    """In the sender process: POST every notification of ``batch`` with ``senders`` concurrent senders
    (one keep-alive session each), timing each request with ``time.monotonic()``."""
    local = threading.local()

    def send(item: dict[str, Any]) -> tuple[float, int]:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        started = time.monotonic()
        answer = session.post(url, headers=item["headers"], data=item["body"].encode(), timeout=30)
        return (time.monotonic() - started) * 1000, answer.status_code

    started = time.monotonic()
    with ThreadPoolExecutor(senders) as pool:
        results = list(pool.map(send, batch))
    return {
        "latencies": [ms for ms, _ in results],
        "statuses": sorted({status for _, status in results}),
        "wall": time.monotonic() - started,
    }


def run(opts: Options) -> list[Figure]:
    figures: list[Figure] = []
    runs = opts.runs
    burst = QUICK_NOTIFICATIONS if opts.quick else NOTIFICATIONS
    for provider in ("google", "outlook"):
        title = "Google" if provider == "google" else "Outlook"
        pending = outlook_pending() if provider == "outlook" else None
        if pending:
            figures += [
                Figure(
                    f"push.{provider}.one_change",
                    f"one change in the calendar, pushed, {title}: list calls",
                    "1",
                    pending,
                    None,
                ),
                Figure(
                    f"push.{provider}.burst",
                    f"{BURST_CHANGES} changes inside one notification burst, {title}: list calls",
                    "1",
                    pending,
                    None,
                ),
                Figure(
                    f"push.{provider}.webhook_p99",
                    f"webhook route latency under a burst of {burst:,} notifications, {title}",
                    f"p99 < {LATENCY_TARGET_MS:.0f} ms",
                    pending,
                    None,
                ),
            ]
            continue
        for fid, count, label in (
            ("one_change", 1, "one change in the calendar, pushed"),
            ("burst", BURST_CHANGES, f"{BURST_CHANGES} changes inside one notification burst"),
        ):
            opts.log(f"   {provider}: {label}")
            got = [_changes(provider, opts, count) for _ in range(runs)]
            lists = median(g[0] for g in got)
            complete = all(g[1] == count for g in got)
            figures.append(
                Figure(
                    f"push.{provider}.{fid}",
                    f"{label}, {title}: list calls",
                    "1",
                    f"{lists:.0f}" + ("" if complete else " (bookings missing!)"),
                    lists == 1 and complete,
                    value=lists,
                    unit="calls",
                    samples=[g[0] for g in got],
                    detail={"bookings": [g[1] for g in got]},
                )
            )
        opts.log(f"   {provider}: webhook burst of {burst} notifications")
        bursts = [_burst(provider, opts, burst) for _ in range(runs)]
        p99s = [percentile(b["latencies"], 99) for b in bursts]
        p50s = [percentile(b["latencies"], 50) for b in bursts]
        p99 = median(p99s)
        ok = all(b["statuses"] in ([200], [202]) for b in bursts)
        figures.append(
            Figure(
                f"push.{provider}.webhook_p99",
                f"webhook route latency under a burst of {burst:,} notifications ({SENDERS} senders), {title}",
                f"p99 < {LATENCY_TARGET_MS:.0f} ms",
                f"p99 {p99:.0f} ms, p50 {median(p50s):.0f} ms; {median(b['queued_jobs'] for b in bursts):.0f} "
                f"sync job(s) queued",
                p99 < LATENCY_TARGET_MS and ok,
                value=p99,
                unit="ms",
                samples=p99s,
                detail={
                    "p50_ms": p50s,
                    "max_ms": [max(b["latencies"]) for b in bursts],
                    "statuses": [b["statuses"] for b in bursts],
                    "queued_jobs": [b["queued_jobs"] for b in bursts],
                    "burst_seconds": [round(b["wall"], 2) for b in bursts],
                },
            )
        )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.push")
    parser.add_argument(
        "--send",
        nargs=2,
        metavar=("URL", "SENDERS"),
        required=True,
        help="POST the notifications read from stdin (JSON list of {headers, body})",
    )
    args = parser.parse_args()
    print(json.dumps(send_all(args.send[0], int(args.send[1]), json.load(sys.stdin))))
