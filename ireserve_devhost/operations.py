"""Operator commands on the reference host's database, with progress on the terminal.

Public API: :func:`sync_now`, :func:`rotate_keys`.

Both go through the host contract only (a cron tick, then the host's job worker), exactly as the
running host would, so what they show is what the host does: ``sync_now`` runs every due job now
(an initial sync of thousands of events logs its progress page by page), ``rotate_keys`` makes a new
key current, lets the plugin re-encrypt everything it stored, and can then drop the old key.
This module is an edge of the project (like ``cli``): the plugin core never imports it.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from ireserve_devhost import ReferenceHost
from ireserve_devhost import Worker

__all__ = ["rotate_keys", "sync_now"]


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


def rotate_keys(
    db_path: str, *, drop_old: bool = False, out: TextIO | None = None, key_file: str | None = None
) -> int:
    """Make a new key current, let the plugins re-encrypt, optionally drop the old keys. Returns an exit code."""
    stream = out or sys.stderr
    _logging_to(stream)
    with ReferenceHost(db_path, key_file=key_file) as host:
        old = [kid for kid in host.keyring.keys if kid != host.keyring.current]
        old.append(host.keyring.current)
        new = host.rotate_key()
        print(f"new current key {new}; re-encrypting what the plugins stored ...", file=stream)
        host.cron_tick()  # plugins notice the new key and queue their re-encryption
        _run_jobs(host, stream, "re-encrypt")
        stale = [
            (integration.id, key)
            for integration in host.integrations.all()
            for key in host.config.keys(integration.id)
            if (host.config.get(integration.id, key).value or "").split(".")[1:2] != [new]
        ]
        if stale:
            print(f"{len(stale)} value(s) are still sealed with an old key; old keys kept", file=stream)
            return 1
        print("every stored value is sealed with the new key", file=stream)
        if drop_old:
            for kid in old:
                host.drop_key(kid)
            print(f"dropped old key(s): {', '.join(old)}", file=stream)
    return 0
