"""Keep the contract and the import rules true (datasette / DESIGN.md style checks)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import hookspecs
from hookspecs import spec

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "ireserve_calendar_plugin"
HOOKS = [name for name, fn in inspect.getmembers(spec, inspect.isfunction) if name.startswith("on_")]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_the_five_hooks_and_the_optional_one_exist() -> None:
    five = ["on_booking_status_changed", "on_config_form", "on_cron_tick", "on_http_route", "on_job"]
    assert sorted([*five, "on_integration_removed"]) == HOOKS


@pytest.mark.parametrize("name", HOOKS)
def test_every_hookspec_documents_every_argument(name: str) -> None:
    fn = getattr(spec, name)
    doc = inspect.getdoc(fn) or ""
    params = list(inspect.signature(fn).parameters)
    assert doc.splitlines()[0].strip(), f"{name} needs a summary line"
    for param in params:
        assert f":param {param}:" in doc, f"{name} does not document {param}"
    assert ":returns:" in doc
    assert all(fn.__annotations__.get(p) for p in params), f"{name} has an untyped argument"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test(name: str) -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    assert f"def test_hook_{name}" in sources, f"no test_hook_{name}"


LAB = ("ireserve_devhost", "calendar_emulators", "ireserve_lab", "benchmarks", "tests")


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _bad_imports(folder: Path, forbidden: tuple[str, ...]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in _modules(folder):
        bad = {m for m in _imports(path) if _top(m) in forbidden}
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_hookspecs_import_nothing_of_the_plugin_or_the_lab() -> None:
    assert not _bad_imports(Path(hookspecs.__file__).parent, ("ireserve_calendar_plugin", *LAB))


def test_the_plugin_imports_no_lab_package() -> None:
    """What a host installs never reaches for the reference host, the emulators, the world or the tests."""
    assert not _bad_imports(PKG, LAB)


def test_emulators_import_nothing_of_the_plugin_the_contract_or_the_host() -> None:
    forbidden = ("ireserve_calendar_plugin", "hookspecs", "ireserve_devhost", "ireserve_lab")
    assert not _bad_imports(ROOT / "calendar_emulators", forbidden)


def test_devhost_uses_only_the_contract() -> None:
    """A host loads the plugin only by entry point: the reference host imports the contract, not the plugin."""
    forbidden = ("ireserve_calendar_plugin", "calendar_emulators", "ireserve_lab")
    assert not _bad_imports(ROOT / "ireserve_devhost", forbidden)


def test_the_import_rule_checker_sees_a_violation(tmp_path: Path) -> None:
    """The checker itself can fail: a module importing a lab package is reported."""
    (tmp_path / "bad.py").write_text("from ireserve_devhost import ReferenceHost\nimport calendar_emulators.core\n")
    found = {m for mods in _bad_imports_in(tmp_path, LAB).values() for m in mods}
    assert found == {"ireserve_devhost", "calendar_emulators.core"}


def _bad_imports_in(folder: Path, forbidden: tuple[str, ...]) -> dict[str, set[str]]:
    return {str(path): bad for path in _modules(folder) if (bad := {m for m in _imports(path) if _top(m) in forbidden})}


def test_sync_engine_knows_no_provider() -> None:
    for path in _modules(PKG / "sync"):
        bad = {m for m in _imports(path) if m.startswith("ireserve_calendar_plugin.providers")}
        assert not bad, f"sync/{path.name} imports {bad}"
