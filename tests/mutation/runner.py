"""Run mutants' focused tests, each in a forked child of one warm process.

Usage: ``python tests/mutation/runner.py TREE SPEC.json RESULTS.json``: ``TREE`` is a copy of the
repository, ``SPEC.json`` a list of ``{"name", "path", "old", "new", "tests"}``. For each entry the
runner writes the mutant into ``TREE``, forks a child that runs ``pytest`` on the entry's tests there
(the child imports the plugin afresh, so it gets the mutated code), and restores the file. The parent
only pre-imports third-party libraries, never a package of the repository, so the children share those
imports and each mutant costs about one test run instead of one interpreter start.

Results: one ``{"name", "outcome", "seconds", "log"}`` per entry, ``outcome`` one of ``killed`` (a
test failed), ``survived`` (all passed), ``error`` (collection or setup failed: no verdict) or
``timeout``. Linux (``fork``) only, like the rest of the lab's process tests.
"""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import signal
import sys
import time
from pathlib import Path
from typing import Any

#: exit codes of a child
KILLED, SURVIVED, ERROR = 10, 11, 12
TIMEOUT_SECONDS = 180


class _Verdict:
    """A pytest plugin that tells a failing test (killed) from a failing setup or collection (no verdict)."""

    def __init__(self) -> None:
        self.failed = 0
        self.errors = 0

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            if report.when == "call":
                self.failed += 1
            else:
                self.errors += 1

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.errors += 1


def _child(tests: list[str], log: Path) -> None:
    import pytest

    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    code = ERROR
    try:
        verdict = _Verdict()
        pytest.main(["-q", "-x", "-p", "no:cacheprovider", "--no-header", "-o", "addopts=", *tests], plugins=[verdict])
        if verdict.errors:
            code = ERROR
        elif verdict.failed:
            code = KILLED
        else:
            code = SURVIVED
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int) -> int | None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def main(tree: Path, spec: list[dict[str, Any]], results_path: Path) -> None:
    os.chdir(tree)
    sys.path.insert(0, str(tree))
    # bytecode validated by source hash, not mtime: a mutant written within the same second as the
    # original, with the same size, can never be run from the original's cached bytecode (or back)
    for package in ("ireserve_calendar_plugin", "hookspecs", "ireserve_devhost", "calendar_emulators", "ireserve_lab"):
        compileall.compile_dir(tree / package, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    # warm the third-party imports every child needs (never a package of the repository)
    import cryptography.hazmat.primitives.ciphers.aead  # noqa: F401
    import google.auth.transport.requests  # noqa: F401
    import marshmallow  # noqa: F401
    import pluggy  # noqa: F401
    import pytest  # noqa: F401
    import requests  # noqa: F401
    import werkzeug  # noqa: F401

    results = []
    for index, entry in enumerate(spec):
        path = tree / entry["path"]
        original = path.read_text(encoding="utf-8")
        if original.count(entry["old"]) != 1:
            results.append(
                {
                    "name": entry["name"],
                    "outcome": "error",
                    "seconds": 0.0,
                    "log": f"snippet not found exactly once in {entry['path']}",
                }
            )
            continue
        log = tree / f"mutant-{index}.log"
        started = time.monotonic()
        path.write_text(original.replace(entry["old"], entry["new"]), encoding="utf-8")
        try:
            pid = os.fork()
            if pid == 0:
                _child(list(entry["tests"]), log)
            code = _wait(pid)
        finally:
            path.write_text(original, encoding="utf-8")
        outcome = {KILLED: "killed", SURVIVED: "survived", None: "timeout"}.get(code, "error")
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        results.append(
            {
                "name": entry["name"],
                "outcome": outcome,
                "seconds": round(time.monotonic() - started, 2),
                "log": "" if outcome == "killed" else text[-3000:],
            }
        )
    results_path.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text(encoding="utf-8")), Path(sys.argv[3]))
