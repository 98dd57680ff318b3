"""Operator commands on the reference host's database, with progress on the terminal.

Public API: :func:`sync_now`, :func:`rotate_keys`, :func:`sealed_key_ids`, :func:`stale_holders`.

Both go through the host contract only (a cron tick, then the host's job worker), exactly as the
running host would, so what they show is what the host does: ``sync_now`` runs every due job now
(an initial sync of thousands of events logs its progress page by page), ``rotate_keys`` makes a new
key current, lets the plugin re-encrypt everything it stored, and can then drop the old key.
This module is an edge of the project (like ``cli``): the plugin core never imports it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from typing import TextIO

from ireserve_devhost import ReferenceHost
from ireserve_devhost import Worker

__all__ = ["rotate_keys", "sealed_key_ids", "stale_holders", "sync_now"]


def _run_jobs(host: ReferenceHost, out: TextIO, label: str) -> int:
    """Run queued jobs until none is due, printing one progress line per job."""
    worker = Worker(host, owner=f"cli-{label}")
    done = 0
    while True:
        queued = len(host.jobs.all(state="queued"))
        if not worker.run_once():
            break
        done += 1
        print(f"\r{label}: {done} job(s) done, {max(queued - 1, 0)} queued", end="", file=out, flush=True)
    print(f"\r{label}: {done} job(s) done{' ' * 20}", file=out, flush=True)
    return done


def _logging_to(out: TextIO) -> None:
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    logger = logging.getLogger("ireserve_calendar_plugin")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def sync_now(db_path: str, *, out: TextIO | None = None, key_file: str | None = None) -> int:
    """One cron tick, then every due job (polls, channel renewals, queued writes). Returns an exit code."""
    stream = out or sys.stderr
    _logging_to(stream)
    with ReferenceHost(db_path, key_file=key_file) as host:
        host.cron_tick()
        _run_jobs(host, stream, "sync")
        failed = host.jobs.all(state="failed")
    if failed:
        print(f"{len(failed)} job(s) failed; see 'ireserve-devhost status'", file=stream)
    return 1 if failed else 0


def sealed_key_ids(host: ReferenceHost) -> Counter[str]:
    """How many stored config values name each key id.

    Config values are the plugins' opaque strings; the plugins' envelopes (``<format>.<key id>.<data>``)
    name the key they were sealed with, which is all the host reads of them.
    """
    counts: Counter[str] = Counter()
    with host.db.transaction(write=False) as conn:
        for (value,) in conn.execute("SELECT value FROM config WHERE value IS NOT NULL"):
            if str(value).startswith("{"):
                continue  # a plugin's plain JSON document (the calendar plugin's links): sealed by no key
            parts = str(value).split(".")
            if len(parts) == 3 and parts[1]:
                counts[parts[1]] += 1
    return counts


def stale_holders(host: ReferenceHost, old: set[str]) -> str:
    """Which integrations still hold values sealed with a key in ``old``, and why, in words (for the refusal)."""
    held: Counter[str] = Counter()
    with host.db.transaction(write=False) as conn:
        for integration_id, value in conn.execute("SELECT integration_id, value FROM config WHERE value IS NOT NULL"):
            parts = str(value).split(".")
            if len(parts) == 3 and parts[1] in old:
                held[str(integration_id)] += 1
    lines = []
    for integration_id, count in sorted(held.items()):
        integration = host.integrations.get(integration_id)
        try:
            served = integration is not None and host.hooks.config_form(integration, None) is not None
        except Exception as exc:  # noqa: BLE001 - the operator is told which plugin fails, not a traceback
            served, failure = True, type(exc).__name__
        else:
            failure = ""
        if integration is None:
            why = "no longer listed as an integration (its plugin has not removed what it stored yet)"
        elif failure:
            why = f"its plugin fails on it ({failure}): see 'ireserve-devhost status' and the integration's log"
        elif not served:
            why = (
                f"no installed plugin serves its provider {integration.provider!r}: install that plugin, "
                "or delete the integration"
            )
        else:
            why = "its plugin has not re-encrypted it yet: see 'ireserve-devhost status' and the integration's log"
        lines.append(f"  integration {integration_id!r}: {count} value(s); {why}")
    return "\n".join(lines)


def rotate_keys(
    db_path: str,
    *,
    drop_old: bool = False,
    out: TextIO | None = None,
    key_file: str | None = None,
    wait: float = 300.0,
    settle: float = 10.0,
    poll: float = 0.5,
) -> int:
    """Make a new key current, let the plugins re-encrypt, optionally drop the old keys. Returns an exit code.

    Safe while hosts and workers run on the same database: they follow the key file (see
    :class:`.keyring.LiveKeyRing`). Re-encryption runs here and in any running worker; this command
    waits (at most ``wait`` seconds, printing progress) until no stored value names an old key. A
    value another process sealed just before the rotation may still be on its way to the database
    (waiting for the write lock), so old keys are dropped only once the rotation is ``settle``
    seconds old (the database's busy timeout by default) and a scan after that finds none. If time
    runs out, the old keys stay and the exit status is 1.
    """
    stream = out or sys.stderr
    _logging_to(stream)
    with ReferenceHost(db_path, key_file=key_file) as host:
        new = host.rotate_key()
        rotated_at = time.monotonic()
        print(f"new current key {new}; re-encrypting what the plugins stored ...", file=stream)
        deadline = rotated_at + wait
        while True:
            host.cron_tick()  # plugins notice the new key and queue their re-encryption (again, if a worker died)
            _run_jobs(host, stream, "re-encrypt")
            keep = {new, host.keyring.current}  # another rotation may have made a newer key current meanwhile
            stale = {kid: n for kid, n in sealed_key_ids(host).items() if kid not in keep and kid in host.keyring.keys}
            settled = time.monotonic() - rotated_at >= settle
            if not stale and (settled or not drop_old):
                break
            if time.monotonic() >= deadline:
                what = ", ".join(f"{n} with {kid}" for kid, n in sorted(stale.items())) or "none yet settled"
                print(
                    f"gave up after {wait:.0f} s: value(s) still sealed with an old key ({what}); "
                    "old keys kept. Run rotate-keys again once the cause below is fixed.",
                    file=stream,
                )
                holders = stale_holders(host, set(stale))
                if holders:
                    print(holders, file=stream)
                return 1
            if stale:
                total = sum(stale.values())
                print(
                    f"waiting: {total} value(s) still sealed with {', '.join(sorted(stale))}", file=stream, flush=True
                )
            time.sleep(poll)
        print("every stored value is sealed with the new key", file=stream)
        if drop_old:
            keep = {new, host.keyring.current}
            old = [kid for kid in host.keyring.keys if kid not in keep]
            for kid in old:
                host.drop_key(kid)
            print(f"dropped old key(s): {', '.join(old) or 'none'}", file=stream)
    return 0
