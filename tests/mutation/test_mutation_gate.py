"""The mutation gate: every listed mutant of a safety rule must be killed by its focused tests.

Each mutant of :mod:`tests.mutation.mutants` is applied, one at a time, to a copy of the repository's
packages and tests in a temporary directory; the mutant's focused tests then run there in a
subprocess (``PYTHONPATH`` and the working directory point at the copy, so the mutated plugin is the
one imported, also through its entry point). A mutant is killed when those tests fail. The score is
printed; the gate fails if any mutant survives, or if a snippet no longer matches the code.

The default run covers the rules issue 13 names (100% required); ``--run-slow`` adds the rest of
``plan.py`` and the echo / idempotency code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.mutation.mutants import MUTANTS
from tests.mutation.mutants import Mutant

ROOT = Path(__file__).resolve().parents[2]
#: what the copy holds: the packages (the plugin is the one mutated), the tests, the pytest config
COPIED = (
    "ireserve_calendar_plugin",
    "hookspecs",
    "ireserve_devhost",
    "calendar_emulators",
    "ireserve_lab",
    "benchmarks",
    "tests",
    "pyproject.toml",
    "setup.cfg",
)
#: per mutant run; a hang counts as a failure of the gate, not as a kill
TIMEOUT = 180


def _copy_tree(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", "results")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, target / name)


def _imports_the_copy(tree: Path) -> bool:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    probe = subprocess.run(
        [sys.executable, "-c", "import ireserve_calendar_plugin as p; print(p.__file__)"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return Path(probe.stdout.strip()).resolve().is_relative_to(tree.resolve())


def _run_mutants(tree: Path, spec: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All entries through ``runner.py`` in one warm subprocess (each mutant in a forked child)."""
    spec_file, results_file = tree / "mutants.json", tree / "results.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # see runner.py
    env["PYTHONPATH"] = str(tree)
    command = [
        sys.executable,
        "-P",
        str(tree / "tests/mutation/runner.py"),
        str(tree),
        str(spec_file),
        str(results_file),
    ]
    subprocess.run(command, cwd=tree, env=env, timeout=TIMEOUT * (len(spec) + 1), check=True)
    results: list[dict[str, Any]] = json.loads(results_file.read_text(encoding="utf-8"))
    return results


def _entry(mutant: Mutant) -> dict[str, Any]:
    return {"name": mutant.name, "path": mutant.path, "old": mutant.old, "new": mutant.new, "tests": list(mutant.tests)}


def _selected(config: pytest.Config) -> list[Mutant]:
    slow = bool(config.getoption("--run-slow"))
    return [m for m in MUTANTS if m.named or slow]


def test_every_snippet_names_the_code_once() -> None:
    """Cheap and always on: a refactor that moves a rule must update its mutant, not drop it."""
    for mutant in MUTANTS:
        source = (ROOT / mutant.path).read_text(encoding="utf-8")
        assert source.count(mutant.old) == 1, (
            f"{mutant.name}: snippet found {source.count(mutant.old)}x in "
            f"{mutant.path}; update tests/mutation/mutants.py with the rule"
        )
        for test in mutant.tests:
            assert (ROOT / test.split("::")[0]).exists(), f"{mutant.name}: no test file {test}"


def test_no_listed_mutant_survives(pytestconfig: pytest.Config, tmp_path: Path) -> None:
    mutants = _selected(pytestconfig)
    tree = tmp_path / "tree"
    _copy_tree(tree)
    assert _imports_the_copy(tree), "the subprocess would import the original plugin, not the copy"
    spec = [_entry(m) for m in mutants]
    if pytestconfig.getoption("--run-slow"):
        # the focused tests pass on the unmutated copy (they also run in the normal suite, and a kill
        # must be a failing test, never a setup error, so the default run leaves this out)
        focused = list(dict.fromkeys(t for m in mutants for t in m.tests))
        first = mutants[0]
        spec.insert(0, {"name": "baseline", "path": first.path, "old": first.old, "new": first.old, "tests": focused})
    started = time.monotonic()
    results = _run_mutants(tree, spec)
    elapsed = time.monotonic() - started
    if results and results[0]["name"] == "baseline":
        baseline = results.pop(0)
        assert baseline["outcome"] == "survived", f"focused tests fail without any mutation:\n{baseline['log']}"
    named = {m.name for m in mutants if m.named}
    killed = [r for r in results if r["outcome"] == "killed"]
    lines = [f"  {r['outcome']:<9} {r['seconds']:5.1f}s  {r['name']}" for r in results]
    report = (
        f"mutation gate: {len(killed)}/{len(results)} mutants killed ({100 * len(killed) / len(results):.0f}%); "
        f"named rules {len([r for r in killed if r['name'] in named])}/{len(named)}; {elapsed:.1f}s\n"
        + "\n".join(lines)
    )
    print(report)
    not_killed = [r for r in results if r["outcome"] != "killed"]
    assert not not_killed, report + "\n" + "\n".join(f"--- {r['name']}:\n{r['log']}" for r in not_killed)
