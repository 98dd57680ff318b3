"""The default run in two processes: ``python -m pytest -q`` with no paths runs the suite on two pytest-xdist
workers, each test file whole on one worker (``--dist loadfile``), the longest files first.

Why: about a third of a serial run is waiting (real servers, subprocesses, browser round trips), which
a second process fills; on CI's two cores the default run takes well under half the serial time.

What stays as it was:

* a run naming paths (``pytest -q tests/e2e -x``), or with ``-s`` or ``--pdb``, stays in one process,
  so focused runs keep their output and their fast start;
* ``-n 0`` runs the whole suite serially, ``-n N`` / ``--dist`` choose otherwise;
* a file's tests run in their order in one process, with its module fixtures built once (as serially);
  files share nothing but the machine (each worker has its own temporary directories, free ports and
  its own servers: PostgreSQL, Redis, Radicale, chromium).
"""

from __future__ import annotations

import os

import pytest

WORKERS = 2

#: the files that take longest (measured), sent first so that no long file starts last and keeps one
#: worker busy while the other is idle; other files follow in their collection order
LONG_FIRST = (
    "tests/scale/test_rq_scale.py",
    "tests/reliability/test_convergence.py",
    "tests/mutation/test_mutation_gate.py",
    "tests/e2e/test_outlook_stories.py",
    "tests/browser/test_failure_stories.py",
    "tests/browser/test_admin_browser.py",
    "tests/packaging/test_distribution.py",
    "tests/reliability/test_time.py",
    "tests/reliability/test_hostile_input.py",
    "tests/devhost/test_key_rotation_live.py",
    "tests/e2e/test_google_stories.py",
    "tests/caldav/test_caldav_stories.py",
)


def is_worker(config: pytest.Config) -> bool:
    """True in an xdist worker process."""
    return hasattr(config, "workerinput")


def parallel_by_default(config: pytest.Config) -> None:
    """Turn a default run (no paths, no ``-n``) into a two-worker, file-by-file run; leave any other alone."""
    option = config.option
    if (
        not config.pluginmanager.hasplugin("xdist")
        or is_worker(config)
        or "PYTEST_XDIST_WORKER" in os.environ  # a pytest started from inside a worker's test
        or config.args_source != pytest.Config.ArgsSource.TESTPATHS
        or option.numprocesses is not None
        or getattr(option, "dist", "no") != "no"
        or option.capture == "no"
        or option.usepdb
        or option.collectonly
    ):
        return
    option.numprocesses = WORKERS
    option.dist = "loadfile"
    option.loadscopereorder = False  # xdist would send the files with most tests first; ours come first


def long_files_first(items: list[pytest.Item]) -> None:
    """Reorder ``items`` (stable): the files of :data:`LONG_FIRST` in that order, then all others."""
    rank = {path: index for index, path in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
